//! Arbitrary bytes decoded as one of the built-in workload types (chosen by
//! the first byte) by jitcard and by postcard: they must agree.
#![no_main]

use jitcard_bench::workloads::{
    GnarlyPayload, ManyVariants, Message, Mesh, NumericBuffer, OptionHeavy, Tree, WideStruct,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => jitcard_fuzz::compare::<GnarlyPayload>(input),
        1 => jitcard_fuzz::compare::<Vec<ManyVariants>>(input),
        2 => jitcard_fuzz::compare::<Tree>(input),
        3 => jitcard_fuzz::compare::<Vec<OptionHeavy>>(input),
        4 => jitcard_fuzz::compare::<Message>(input),
        5 => jitcard_fuzz::compare::<NumericBuffer>(input),
        6 => jitcard_fuzz::compare::<WideStruct>(input),
        _ => jitcard_fuzz::compare::<Mesh>(input),
    }
});
