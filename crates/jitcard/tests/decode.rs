//! Decoding: round trips of every workload, and agreement with postcard.

use std::fmt::Debug;

use facet::Facet;
use jitcard::Decoder;
use jitcard_bench::workloads::{
    GnarlyPayload, ManyVariants, Mesh, Message, NestedPair, NumericBuffer, OptionHeavy,
    PointerHeavy, Tree, WideStruct, nested_pair,
};
use serde::Serialize;

fn round_trip<T>(value: &T)
where
    T: for<'a> Facet<'a> + Serialize + PartialEq + Debug,
{
    let bytes = postcard::to_allocvec(value).unwrap();
    for engine in jitcard::diagnostics::engines_under_test() {
        let decoded: T = Decoder::<T>::new(engine)
            .unwrap()
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{} on {}: {e}", std::any::type_name::<T>(), engine.name()));
        assert_eq!(&decoded, value, "{}", engine.name());
    }
}

#[test]
fn every_workload_round_trips() {
    round_trip(&GnarlyPayload::new(16, 7));
    round_trip(&WideStruct::new(7));
    round_trip(&ManyVariants::list(64, 7));
    round_trip(&Tree::new(8, 7));
    round_trip(&NumericBuffer::new(512, 7));
    round_trip(&OptionHeavy::list(16, 7));
    round_trip(&PointerHeavy::list(16, 7));
    round_trip(&Message::new(7));
    round_trip(&nested_pair(7));
}

/// Generated code builds every part of every workload (nothing handed to
/// the interpreter), in every JIT mode available here.
#[test]
fn jit_decoders_build_every_part_of_every_workload() {
    fn strict<T: for<'a> Facet<'a>>() {
        for engine in jitcard::diagnostics::engines_under_test() {
            if let Err(error) = Decoder::<T>::strict(engine) {
                panic!("{}: {error}", engine.name());
            }
        }
    }
    strict::<GnarlyPayload>();
    strict::<WideStruct>();
    strict::<Vec<ManyVariants>>();
    strict::<Tree>();
    strict::<NumericBuffer>();
    strict::<Vec<OptionHeavy>>();
    strict::<Vec<PointerHeavy>>();
    strict::<Message>();
    strict::<Box<NestedPair>>();
    strict::<Mesh>();
}
