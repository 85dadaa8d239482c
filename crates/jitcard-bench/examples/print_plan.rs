//! Prints the encode plan of the gnarly workload: what the interpreter runs
//! and what code generators compile.
//!
//! `cargo run -p jitcard-bench --example print_plan`

fn main() -> Result<(), jitcard::Error> {
    let encoder = jitcard::Encoder::<jitcard_bench::workloads::GnarlyPayload>::new(
        jitcard::Engine::Interpreter,
    )?;
    print!("{}", encoder.plan());
    Ok(())
}
