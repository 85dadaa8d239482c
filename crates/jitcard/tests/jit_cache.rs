//! The compiled-encoder cache: many threads asking for encoders of the same
//! and different types at once compile each (type, mode) exactly once.
//! (Its only test, in its own binary, so nothing else compiles in this process.)
#![cfg(feature = "jit")]

use std::sync::{Arc, Barrier};
use std::thread;

use jitcard::{Encoder, Engine, VtableCalls};
use jitcard_bench::workloads::{GnarlyPayload, ManyVariants, OptionHeavy, Tree};

#[test]
fn concurrent_encoder_creation_compiles_each_type_once() {
    if !Engine::jit_available() {
        panic!("the JIT is unavailable on a host this suite is run on");
    }
    let jit = Engine::Jit {
        vtable_calls: VtableCalls::Trampoline,
    };
    assert_eq!(jitcard::diagnostics::jit_compilations(), 0);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|thread_index| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                // Every thread builds the same two types; pairs of threads
                // also share a third, so keys collide and differ at once.
                let gnarly = Encoder::<GnarlyPayload>::new(jit).unwrap();
                let tree = Encoder::<Tree>::new(jit).unwrap();
                let value = GnarlyPayload::new(2, thread_index);
                assert_eq!(
                    gnarly.to_vec(&value).unwrap(),
                    postcard::to_allocvec(&value).unwrap()
                );
                assert_eq!(
                    tree.to_vec(&Tree::new(4, 1)).unwrap(),
                    postcard::to_allocvec(&Tree::new(4, 1)).unwrap()
                );
                if thread_index % 2 == 0 {
                    Encoder::<Vec<ManyVariants>>::new(jit).unwrap();
                } else {
                    Encoder::<Vec<OptionHeavy>>::new(jit).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(
        jitcard::diagnostics::jit_compilations(),
        4,
        "one compilation per distinct type"
    );
    // A cached type costs a lookup, not a compilation.
    Encoder::<Tree>::new(jit).unwrap();
    assert_eq!(jitcard::diagnostics::jit_compilations(), 4);
}
