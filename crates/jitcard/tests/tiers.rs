//! Tiered JIT encoders: quick code first, optimized code after use, the
//! same bytes on both, and a switch that is safe while other threads
//! encode. Each test uses its own types: the tiers of a type are shared by
//! every encoder of it in the process.

use facet::Facet;
use jitcard::{Encoder, Engine};
use serde::Serialize;

/// JIT engines of this host (none where the JIT cannot run: then these
/// tests check the interpreter's answers only).
fn jit_engines() -> Vec<Engine> {
    jitcard::diagnostics::engines_under_test()
        .into_iter()
        .filter(|engine| matches!(engine, Engine::Jit { .. }))
        .collect()
}

/// Whether this process compiles optimized code up front
/// (`JITCARD_TIER_UP_WORK=0`, as one CI pass runs every test).
fn optimized_up_front() -> bool {
    std::env::var("JITCARD_TIER_UP_WORK").is_ok_and(|v| v.trim() == "0")
}

#[derive(Facet, Serialize, Debug, Clone)]
struct Reading {
    sensor: u16,
    label: String,
    samples: Vec<i32>,
    spare: Option<u64>,
}

fn reading(i: usize) -> Reading {
    Reading {
        sensor: i as u16,
        label: format!("sensor-{i}"),
        samples: (0..(i % 7) as i32).map(|x| x * 1000 - 3000).collect(),
        spare: i.is_multiple_of(2).then_some(i as u64 * 0x1_0000_0001),
    }
}

#[test]
fn encoders_switch_to_optimized_code_after_use_with_the_same_bytes() {
    #[derive(Facet, Serialize, Debug, Clone)]
    struct Switching(Reading);
    for engine in jit_engines() {
        let encoder = Encoder::<Switching>::new(engine).unwrap();
        assert_eq!(
            encoder.is_optimized(),
            optimized_up_front(),
            "{}",
            engine.name()
        );
        for i in 0..3000 {
            let value = Switching(reading(i));
            assert_eq!(
                encoder.to_vec(&value).unwrap(),
                postcard::to_allocvec(&value).unwrap(),
                "{} at encode {i}",
                engine.name()
            );
        }
        assert!(
            encoder.is_optimized(),
            "{}: still quick after 3000 encodes",
            engine.name()
        );
    }
}

#[test]
fn large_outputs_count_as_work() {
    #[derive(Facet, Serialize)]
    struct Blob(Vec<u8>);
    let blob = Blob((0..600_000u32).map(|i| i as u8).collect());
    let expected = postcard::to_allocvec(&blob).unwrap();
    for engine in jit_engines() {
        let encoder = Encoder::<Blob>::new(engine).unwrap();
        // Two encodes of ~586 KiB each pass the threshold of 1024 units.
        for _ in 0..2 {
            assert!(
                encoder.to_vec(&blob).unwrap() == expected,
                "{}",
                engine.name()
            );
        }
        assert!(encoder.is_optimized(), "{}", engine.name());
    }
}

#[test]
fn optimize_switches_at_once_and_is_idempotent() {
    #[derive(Facet, Serialize)]
    struct Asked(Reading);
    let value = Asked(reading(5));
    let expected = postcard::to_allocvec(&value).unwrap();
    for engine in jit_engines() {
        let encoder = Encoder::<Asked>::new(engine).unwrap();
        encoder.optimize().unwrap();
        assert!(encoder.is_optimized(), "{}", engine.name());
        encoder.optimize().unwrap();
        assert_eq!(
            encoder.to_vec(&value).unwrap(),
            expected,
            "{}",
            engine.name()
        );
        // Every encoder of the type shares the optimized code.
        assert!(Encoder::<Asked>::new(engine).unwrap().is_optimized());
    }
    let interpreter = Encoder::<Asked>::new(Engine::Interpreter).unwrap();
    interpreter.optimize().unwrap();
    assert!(!interpreter.is_optimized());
    assert_eq!(interpreter.to_vec(&value).unwrap(), expected);
}

/// Threads encoding through the switch: one of them compiles the optimized
/// code while the others keep encoding; every output is postcard's.
#[test]
fn threads_encode_through_the_switch() {
    #[derive(Facet, Serialize, Debug, Clone)]
    struct Shared(Reading);
    for engine in jit_engines() {
        let encoder = Encoder::<Shared>::new(engine).unwrap();
        std::thread::scope(|scope| {
            for t in 0..4 {
                scope.spawn(move || {
                    for i in 0..1500 {
                        let value = Shared(reading(i * 4 + t));
                        assert_eq!(
                            encoder.to_vec(&value).unwrap(),
                            postcard::to_allocvec(&value).unwrap(),
                            "{} thread {t} encode {i}",
                            engine.name()
                        );
                    }
                });
            }
        });
        assert!(encoder.is_optimized(), "{}", engine.name());
    }
}

/// The default-engine API tiers up too.
#[test]
fn one_shot_encodes_tier_up() {
    #[derive(Facet, Serialize)]
    struct OneShot(Reading);
    let value = OneShot(reading(3));
    let expected = postcard::to_allocvec(&value).unwrap();
    for _ in 0..2000 {
        assert_eq!(jitcard::to_vec(&value).unwrap(), expected);
    }
    if let Engine::Jit { .. } = Engine::host_default() {
        assert!(
            Encoder::<OneShot>::new(Engine::host_default())
                .unwrap()
                .is_optimized()
        );
    }
}
