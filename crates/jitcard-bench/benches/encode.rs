//! divan benches: every built-in workload × every engine, encoding into a
//! reused buffer (the same loop the comparison binary times).
//!
//! `cargo bench -p jitcard-bench` runs them all; filter with a name, e.g.
//! `cargo bench -p jitcard-bench -- gnarly_16`.

use divan::Bencher;
use divan::counter::BytesCount;
use jitcard_bench::cases::{self, Competitor, WORKLOADS};

fn main() {
    divan::main();
}

fn run(bencher: Bencher, workload: &str, competitor: Competitor) {
    let case = cases::case(workload).expect("known workload");
    let mut buffer = Vec::new();
    case.encode(competitor, &mut buffer)
        .expect("engine encodes the workload");
    let bytes = buffer.len();
    bencher.counter(BytesCount::new(bytes)).bench_local(|| {
        buffer.clear();
        case.encode(competitor, &mut buffer)
    });
}

#[divan::bench(args = WORKLOADS)]
fn serde_postcard(bencher: Bencher, workload: &str) {
    run(bencher, workload, Competitor::SerdePostcard);
}

#[divan::bench(args = WORKLOADS)]
fn facet_postcard(bencher: Bencher, workload: &str) {
    run(bencher, workload, Competitor::FacetPostcard);
}

#[divan::bench(args = WORKLOADS)]
fn jitcard_interp(bencher: Bencher, workload: &str) {
    run(
        bencher,
        workload,
        Competitor::Jitcard(jitcard::Engine::Interpreter),
    );
}

#[divan::bench(args = WORKLOADS)]
fn jit_trampoline(bencher: Bencher, workload: &str) {
    let engine = jitcard::Engine::Jit {
        vtable_calls: jitcard::VtableCalls::Trampoline,
    };
    run(bencher, workload, Competitor::Jitcard(engine));
}

/// Cold compile of each workload's root type (lowering + Cranelift), caches
/// bypassed (each sample frees its machine code afterwards).
#[divan::bench(args = WORKLOADS, sample_count = 20, sample_size = 1)]
fn jit_compile_trampoline(bencher: Bencher, workload: &str) {
    let case = cases::case(workload).expect("known workload");
    bencher.bench_local(|| {
        case.measure_jit_compile(
            jitcard::VtableCalls::Trampoline,
            cases::CompileTarget::Encoder,
        )
    });
}
