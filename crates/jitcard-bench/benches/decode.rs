//! divan benches: decoding serde+postcard's bytes of every built-in
//! workload, by every decoder (the same loop the comparison binary times).
//!
//! `cargo bench -p jitcard-bench --bench decode` runs them all; filter with
//! a name, e.g. `-- gnarly_16`.

use divan::Bencher;
use divan::counter::BytesCount;
use jitcard_bench::cases::{self, Competitor, WORKLOADS};

fn main() {
    divan::main();
}

fn run(bencher: Bencher, workload: &str, competitor: Competitor) {
    let case = cases::case(workload).expect("known workload");
    case.verify_decode(competitor)
        .expect("decoder decodes the workload");
    bencher
        .counter(BytesCount::new(case.reference().len()))
        .bench_local(|| case.decode(competitor));
}

#[divan::bench(args = WORKLOADS)]
fn serde_postcard(bencher: Bencher, workload: &str) {
    run(bencher, workload, Competitor::SerdePostcard);
}

#[divan::bench(args = WORKLOADS)]
fn jitcard_interp(bencher: Bencher, workload: &str) {
    run(
        bencher,
        workload,
        Competitor::Jitcard(jitcard::Engine::Interpreter),
    );
}
