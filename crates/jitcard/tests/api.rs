//! The public API: encoders are reusable, shareable across threads, append
//! to buffers, and expose a readable plan.

use std::sync::Arc;
use std::thread;

use jitcard::{Encoder, Engine};
use jitcard_bench::workloads::{GnarlyPayload, OptionHeavy, Tree};

#[test]
fn one_encoder_is_shared_by_many_threads() {
    let encoder = Arc::new(Encoder::<GnarlyPayload>::new(Engine::Interpreter).unwrap());
    let handles: Vec<_> = (0..8u64)
        .map(|seed| {
            let encoder = Arc::clone(&encoder);
            thread::spawn(move || {
                let value = GnarlyPayload::new(4 + seed as usize, seed);
                let ours = encoder.to_vec(&value).unwrap();
                (ours, postcard::to_allocvec(&value).unwrap())
            })
        })
        .collect();
    for handle in handles {
        let (ours, reference) = handle.join().unwrap();
        assert_eq!(ours, reference);
    }
}

#[test]
fn to_extend_appends_and_to_vec_matches_encoder() {
    let value = GnarlyPayload::new(3, 1);
    let mut expected = vec![0xFE];
    expected.extend(postcard::to_allocvec(&value).unwrap());
    assert_eq!(jitcard::to_extend(&value, vec![0xFE]).unwrap(), expected);
    let encoder = Encoder::<GnarlyPayload>::new(Engine::host_default()).unwrap();
    assert_eq!(
        encoder.to_vec(&value).unwrap(),
        jitcard::to_vec(&value).unwrap()
    );
    let expected_default = if Engine::jit_available() {
        Engine::Jit {
            vtable_calls: jitcard::VtableCalls::Direct,
        }
    } else {
        Engine::Interpreter
    };
    assert_eq!(encoder.engine(), expected_default);
}

#[test]
fn plans_have_one_node_per_type_and_print_recursion_as_references() {
    let encoder = Encoder::<Tree>::new(Engine::Interpreter).unwrap();
    let plan = encoder.plan();
    // Tree, i64, Option<Box<Tree>>, Box<Tree>: the recursion reuses node #0.
    assert_eq!(plan.nodes().len(), 4, "{plan}");
    let text = plan.to_string();
    assert!(
        text.starts_with("plan, root #0\n#0 Tree: fields (3)"),
        "{text}"
    );
    assert!(
        text.contains("-> #0"),
        "the box points back at the root: {text}"
    );

    let gnarly = Encoder::<GnarlyPayload>::new(Engine::Interpreter).unwrap();
    let text = gnarly.plan().to_string();
    for needle in [
        "GnarlyKind: enum",
        "File = tag 0",
        "Symlink = tag 2",
        "bulk copy",
        "option, some",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    assert!(gnarly.plan().fallbacks().next().is_none(), "{text}");
}

#[test]
fn encoders_are_cheap_to_clone_and_debug_print_their_root() {
    let encoder = Encoder::<Tree>::new(Engine::Interpreter).unwrap();
    let copy = encoder; // `Copy`: clones are free
    assert!(
        std::ptr::eq(copy.plan(), encoder.plan()),
        "clones share the plan"
    );
    let again = Encoder::<Tree>::new(Engine::Interpreter).unwrap();
    assert!(
        std::ptr::eq(again.plan(), encoder.plan()),
        "plans are cached per shape"
    );
    assert_eq!(
        format!("{encoder:?}"),
        format!(
            r#"Encoder {{ engine: Interpreter, root: "Tree", max_depth: {} }}"#,
            jitcard::DEFAULT_MAX_DEPTH
        )
    );
}

#[test]
fn jit_engine_availability_matches_the_build() {
    let jit = Engine::Jit {
        vtable_calls: jitcard::VtableCalls::Direct,
    };
    if cfg!(feature = "jit") && cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(Engine::jit_available());
        let trampoline = Engine::Jit {
            vtable_calls: jitcard::VtableCalls::Trampoline,
        };
        assert_eq!(Engine::available(), [Engine::Interpreter, trampoline, jit]);
        assert_eq!(Engine::host_default(), jit);
        let encoder = Encoder::<Tree>::new(jit).unwrap();
        assert_eq!(
            encoder.to_vec(&Tree::new(3, 9)).unwrap(),
            postcard::to_allocvec(&Tree::new(3, 9)).unwrap()
        );
    }
    if !cfg!(feature = "jit") {
        assert!(!Engine::jit_available());
        assert_eq!(Engine::available(), [Engine::Interpreter]);
        assert_eq!(Engine::host_default(), Engine::Interpreter);
        let error = Encoder::<Tree>::new(jit).unwrap_err();
        assert!(
            matches!(error, jitcard::Error::EngineUnavailable { .. }),
            "{error}"
        );
    }
}

#[test]
fn one_compiled_encoder_serves_many_threads() {
    let encoder = Arc::new(Encoder::<Vec<OptionHeavy>>::new(Engine::host_default()).unwrap());
    let handles: Vec<_> = (0..8u64)
        .map(|seed| {
            let encoder = Arc::clone(&encoder);
            thread::spawn(move || {
                for round in 0..20 {
                    let value = OptionHeavy::list(8, seed * 100 + round);
                    assert_eq!(
                        encoder.to_vec(&value).unwrap(),
                        postcard::to_allocvec(&value).unwrap()
                    );
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}
