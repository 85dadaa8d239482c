//! Direct vtable calls really are direct: encoding and decoding every
//! workload with `VtableCalls::Direct` (and through the Win64 adapters)
//! enters no trampoline, while the trampoline engine does — so the counter
//! can fail.
//! (Its only test, in its own binary: the counter is process-wide.)
#![cfg(feature = "jit")]

use jitcard::{Engine, VtableCalls};
use jitcard_bench::cases::{self, Competitor};

#[test]
fn direct_encodes_of_every_workload_execute_zero_trampolines() {
    assert!(
        Engine::jit_available(),
        "the JIT must run on hosts this suite runs on"
    );
    let cases = cases::all_cases();
    let encode_all = |vtable_calls| {
        let engine = Engine::Jit { vtable_calls };
        let mut out = Vec::new();
        for case in &cases {
            out.clear();
            case.encode(Competitor::Jitcard(engine), &mut out).unwrap();
            case.verify_decode(Competitor::Jitcard(engine)).unwrap();
        }
    };

    jitcard::diagnostics::set_trampoline_counting(true);
    encode_all(VtableCalls::Direct);
    assert_eq!(
        jitcard::diagnostics::trampoline_calls(),
        0,
        "direct encoders or decoders entered trampolines"
    );
    if (Engine::Jit {
        vtable_calls: jitcard::diagnostics::WIN64_ADAPTERS,
    })
    .is_available()
    {
        encode_all(jitcard::diagnostics::WIN64_ADAPTERS);
        assert_eq!(
            jitcard::diagnostics::trampoline_calls(),
            0,
            "Win64-adapter encoders entered trampolines"
        );
    }
    encode_all(VtableCalls::Trampoline);
    let trampolined = jitcard::diagnostics::trampoline_calls();
    jitcard::diagnostics::set_trampoline_counting(false);
    assert!(
        trampolined > 1000,
        "the trampoline engine should count, got {trampolined}"
    );
}
