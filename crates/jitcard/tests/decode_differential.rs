//! Decoding against postcard: for generated values of the property-tested
//! types (shared with the encode differential), jitcard decodes postcard's
//! bytes back to an equal value; and for truncations and single-byte
//! mutations of those bytes (at every position of inputs up to 96 bytes, at
//! about 100 spread positions of longer ones: cut there, the byte set to
//! 0x00/0x01/0x7f/0x80/0xff, a byte inserted or deleted),
//! `jitcard::take_from_bytes` and
//! `postcard::take_from_bytes` agree on Ok/Err, on the value, and on the
//! bytes left over. The only allowed disagreements are jitcard's documented
//! limits (depth, zero-size elements), and the test says which they were.

#![allow(clippy::box_collection, clippy::redundant_allocation)]

#[path = "common/types.rs"]
mod types;

use std::collections::BTreeMap;
use std::fmt::Debug;

use facet::Facet;
use jitcard::{Decoder, Error, InvalidKind};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned};
use types::*;

/// Every mutation of `bytes` the test tries.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Every position of short inputs; an even spread plus both ends of long
    // ones (so a case costs about the same whatever its length).
    let positions: Vec<usize> = if bytes.len() <= 96 {
        (0..bytes.len()).collect()
    } else {
        let step = bytes.len() / 64;
        (0..16)
            .chain((16..bytes.len() - 16).step_by(step.max(1)))
            .chain(bytes.len() - 16..bytes.len())
            .collect()
    };
    for &len in &positions {
        out.push(bytes[..len].to_vec());
    }
    for &at in &positions {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            if bytes[at] != value {
                let mut mutated = bytes.to_vec();
                mutated[at] = value;
                out.push(mutated);
            }
        }
    }
    for &at in positions.iter().step_by(3) {
        let mut deleted = bytes.to_vec();
        deleted.remove(at);
        out.push(deleted);
        for value in [0x00, 0xff] {
            let mut inserted = bytes.to_vec();
            inserted.insert(at, value);
            out.push(inserted);
        }
    }
    out
}

/// A disagreement that is one of jitcard's documented limits.
fn documented_limit(error: &Error) -> bool {
    matches!(
        error,
        Error::Invalid {
            kind: InvalidKind::TooDeep { .. } | InvalidKind::TooManyZeroSized { .. },
            ..
        }
    )
}

/// Every engine decodes `input` exactly as the default API does: the same
/// value and rest, or the same error (kind, offset and path).
fn engines_agree<'de, T>(input: &'de [u8]) -> Result<(), String>
where
    T: Facet<'de> + Same + Debug,
{
    let reference = jitcard::take_from_bytes::<T>(input);
    for engine in jitcard::diagnostics::engines_under_test() {
        let decoder = Decoder::<T>::new(engine).map_err(|e| e.to_string())?;
        let result = decoder.take(input);
        let same = match (&reference, &result) {
            (Ok((a, rest_a)), Ok((b, rest_b))) => a.same(b) && rest_a.len() == rest_b.len(),
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        if !same {
            return Err(format!(
                "{input:02x?}: {} gave {result:?}, the default engine {reference:?}",
                engine.name()
            ));
        }
    }
    Ok(())
}

/// jitcard (every engine) and postcard agree on `input`.
fn agree<'de, T>(input: &'de [u8]) -> Result<(), String>
where
    T: Facet<'de> + Deserialize<'de> + Same + Debug,
{
    engines_agree::<T>(input)?;
    let ours = jitcard::take_from_bytes::<T>(input);
    let theirs = postcard::take_from_bytes::<T>(input);
    match (ours, theirs) {
        (Ok((a, rest_a)), Ok((b, rest_b))) => {
            if rest_a.len() != rest_b.len() {
                Err(format!(
                    "{input:02x?}: jitcard left {} bytes, postcard {}",
                    rest_a.len(),
                    rest_b.len()
                ))
            } else if !a.same(&b) {
                Err(format!("{input:02x?}: jitcard {a:?}\n postcard {b:?}"))
            } else {
                Ok(())
            }
        }
        (Err(_), Err(_)) => Ok(()),
        (Ok((a, _)), Err(e)) => Err(format!(
            "{input:02x?}: jitcard accepted {a:?}, postcard refused: {e}"
        )),
        (Err(e), Ok(_)) if documented_limit(&e) => Ok(()),
        (Err(e), Ok((b, _))) => Err(format!(
            "{input:02x?}: postcard accepted {b:?}, jitcard refused: {e}"
        )),
    }
}

/// Round trip of `value`, then agreement on every mutation of its bytes.
fn check_owned<T>(value: &T) -> Result<(), String>
where
    T: for<'de> Facet<'de> + DeserializeOwned + Serialize + Same + Debug,
{
    let bytes = postcard::to_allocvec(value).map_err(|e| e.to_string())?;
    let decoded: T = jitcard::from_bytes(&bytes).map_err(|e| format!("{value:?}: {e}"))?;
    if !decoded.same(value) {
        return Err(format!("round trip: {value:?}\n became {decoded:?}"));
    }
    for input in mutations(&bytes) {
        agree::<T>(&input)?;
    }
    Ok(())
}

/// As [`check_owned`] for types with `&'static` fields: their inputs must
/// live forever, so each is leaked (these types run fewer cases).
fn check_static<T>(value: &T) -> Result<(), String>
where
    T: Facet<'static> + Deserialize<'static> + Serialize + Same + Debug,
{
    let bytes: &'static [u8] = Box::leak(
        postcard::to_allocvec(value)
            .map_err(|e| e.to_string())?
            .into_boxed_slice(),
    );
    let decoded: T = jitcard::from_bytes(bytes).map_err(|e| format!("{value:?}: {e}"))?;
    if !decoded.same(value) {
        return Err(format!("round trip: {value:?}\n became {decoded:?}"));
    }
    for input in mutations(bytes) {
        agree::<T>(Box::leak(input.into_boxed_slice()))?;
    }
    Ok(())
}

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

macro_rules! decode_differential {
    ($check:ident, $cases:expr; $($test:ident: $t:ty = $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(config($cases))]
            $(
                #[test]
                fn $test(value in $strategy) {
                    let value: $t = value;
                    $check(&value).map_err(TestCaseError::fail)?;
                }
            )*
        }
    };
}

decode_differential! {
    check_owned, 16;
    scalars: Scalars = any::<Scalars>();
    sequences: Sequences = any::<Sequences>();
    collections: Collections = any::<Collections>();
    options: Options = any::<Options>();
    results: Results = any::<Results>();
    owned_pointers: OwnedPointers = any::<OwnedPointers>();
    unit_struct: Marker = any::<Marker>();
    tuple_struct: Pair = any::<Pair>();
    newtype: Meters = any::<Meters>();
    composites: Composites = any::<Composites>();
    fieldless_enum: Color = any::<Color>();
    data_enum: Figure = any::<Figure>();
    negative_discriminants: Signed = any::<Signed>();
    repr_c_enum: CLike = any::<CLike>();
    repr_c_u8_enum: CTagged = any::<CTagged>();
    huge_discriminant: Huge = any::<Huge>();
    enums_in_containers: Palette = any::<Palette>();
    recursive_vec: Node = node();
    recursive_option_box: Chain = chain();
    recursive_enum_box: Expr = expr();
    kitchen_sink: Kitchen = any::<Kitchen>();
    root_vec_of_strings: Vec<String> = prop::collection::vec(edge_string(), 0..8);
    root_tuple: (u8, Option<String>, Vec<i128>) = any::<(u8, Option<String>, Vec<i128>)>();
    root_option_option: Option<Option<u16>> = any::<Option<Option<u16>>>();
    root_map_of_vecs: BTreeMap<u8, Vec<Option<bool>>> = any::<BTreeMap<u8, Vec<Option<bool>>>>();
    root_char: char = edge_char();
    root_string: String = edge_string();
    root_array_of_structs: [Inner; 3] = any::<[Inner; 3]>();
}

decode_differential! {
    check_static, 8;
    strings: Strings = any::<Strings>();
    slices: Slices = any::<Slices>();
    wide_pointers: WidePointers = any::<WidePointers>();
}
