//! The main job: compares every engine on every built-in workload, side by
//! side in one run, after verifying each engine's bytes against postcard's.
//!
//! ```text
//! cargo run --release -p jitcard-bench -- [--workloads a,b] [--engines x,y] [--budget-ms N]
//! ```
//!
//! Prints the table and writes `target/jitcard-report/report.md` and
//! `target/jitcard-report/encode.svg`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use jitcard_bench::cases::{self, Competitor};
use jitcard_bench::measure::{Outcome, measure_case, measure_compiles};
use jitcard_bench::report;

const USAGE: &str = "\
usage: jitcard-bench [--workloads a,b,...] [--engines x,y,...] [--budget-ms N] [--out DIR]

  --workloads  workloads to run (default: all)
  --engines    engines to time (default: all); serde+postcard is always the
               byte reference, and the ratio baseline when selected
  --budget-ms  timing budget per workload in milliseconds (default: 500)
  --compile-samples  cold JIT compiles per workload (default: 11)
  --out        report directory (default: target/jitcard-report)
  --list       print the workload and engine names and exit";

struct Options {
    workloads: Vec<String>,
    competitors: Vec<Competitor>,
    budget: Duration,
    compile_samples: usize,
    out_dir: PathBuf,
}

fn parse_options() -> Result<Option<Options>, String> {
    let mut options = Options {
        workloads: cases::WORKLOADS.iter().map(|s| s.to_string()).collect(),
        competitors: Competitor::all(),
        budget: Duration::from_millis(500),
        compile_samples: 11,
        out_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/jitcard-report"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--workloads" => {
                options.workloads = value()?.split(',').map(str::to_string).collect();
                if let Some(bad) = options
                    .workloads
                    .iter()
                    .find(|w| !cases::WORKLOADS.contains(&w.as_str()))
                {
                    return Err(format!(
                        "unknown workload `{bad}`; known: {}",
                        cases::WORKLOADS.join(", ")
                    ));
                }
            }
            "--engines" => {
                options.competitors = value()?
                    .split(',')
                    .map(|name| {
                        Competitor::parse(name).ok_or_else(|| format!("unknown engine `{name}`"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--budget-ms" => {
                let ms = value()?
                    .parse::<u64>()
                    .map_err(|e| format!("--budget-ms: {e}"))?;
                options.budget = Duration::from_millis(ms);
            }
            "--compile-samples" => {
                options.compile_samples = value()?
                    .parse::<usize>()
                    .map_err(|e| format!("--compile-samples: {e}"))?;
            }
            "--out" => options.out_dir = PathBuf::from(value()?),
            "--list" => {
                println!("workloads: {}", cases::WORKLOADS.join(", "));
                let engines: Vec<_> = Competitor::all().iter().map(|c| c.name()).collect();
                println!("engines: {}", engines.join(", "));
                return Ok(None);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            // `cargo bench` passes `--bench` to every target; ignore it.
            "--bench" => {}
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(Some(options)) => options,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; timings are meaningless (use --release)");
    }

    let mut rows = Vec::new();
    let mut compiles = Vec::new();
    let mut failed_compiles = 0;
    for name in &options.workloads {
        let case = cases::case(name).expect("workload names were validated");
        eprintln!("measuring {name} ...");
        rows.extend(measure_case(
            case.as_ref(),
            &options.competitors,
            options.budget,
        ));
        for result in measure_compiles(case.as_ref(), options.compile_samples) {
            match result {
                Ok(row) => compiles.push(row),
                Err(error) => {
                    eprintln!("{name}: JIT compile failed: {error}");
                    failed_compiles += 1;
                }
            }
        }
    }

    println!("{}", report::console_table(&rows));
    if !compiles.is_empty() {
        println!("{}", report::console_compile_table(&compiles));
    }

    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = machine_description();
    let written = std::fs::create_dir_all(&options.out_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            std::fs::write(
                options.out_dir.join("report.md"),
                report::markdown(&rows, &compiles, &command, &machine),
            )
            .map_err(|e| e.to_string())
        })
        .and_then(|()| {
            report::chart(&rows, &options.out_dir.join("encode.svg")).map_err(|e| e.to_string())
        });
    match written {
        Ok(()) => {
            let dir = std::fs::canonicalize(&options.out_dir).unwrap_or(options.out_dir);
            println!("report: {} and encode.svg", dir.join("report.md").display());
        }
        Err(error) => {
            eprintln!("could not write the report: {error}");
            return ExitCode::FAILURE;
        }
    }

    let refused = rows
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Refused(_)))
        .count();
    if failed_compiles > 0 {
        return ExitCode::FAILURE;
    }
    if refused > 0 {
        eprintln!(
            "{refused} engine/workload pairs were refused: their bytes differ from postcard's"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
