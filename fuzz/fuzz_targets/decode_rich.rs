//! Arbitrary bytes decoded as `Rich` (every decodable shape kind, recursive)
//! by jitcard and by postcard: they must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jitcard_fuzz::compare::<jitcard_fuzz::Rich<'_>>(data);
    jitcard_fuzz::compare::<Vec<jitcard_fuzz::Shape>>(data);
});
