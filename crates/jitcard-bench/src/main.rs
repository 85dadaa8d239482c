//! The main job: compares every engine on every built-in workload, side by
//! side in one run, encoding (after verifying each engine's bytes against
//! postcard's) and decoding (after verifying each engine's value).
//!
//! ```text
//! cargo run --release -p jitcard-bench -- [--workloads a,b] [--engines x,y] [--budget-ms N]
//! ```
//!
//! Prints the tables and writes `target/jitcard-report/report.md`,
//! `encode.svg` and `decode.svg`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use jitcard_bench::cases::{self, Competitor};
use jitcard_bench::measure::{Direction, Outcome, measure_case, measure_compiles};
use jitcard_bench::{icount, report, threads};

const USAGE: &str = "\
usage: jitcard-bench [--workloads a,b,...] [--engines x,y,...] [--budget-ms N] [--out DIR]

  --workloads  workloads to run (default: all)
  --engines    engines to time (default: all); serde+postcard is always the
               byte reference, and the ratio baseline when selected
  --budget-ms  timing budget per workload in milliseconds (default: 500)
  --compile-samples  cold JIT compiles per workload (default: 11)
  --no-decode  time encoding only
  --no-encode  time decoding only (e.g. to profile decoders)
  --no-size    don't time serialized_size
  --no-threads don't measure one-shot encodes across threads (by default
               each API × thread count gets the --budget-ms)
  --out        report directory (default: target/jitcard-report)
  --icount     instead of timing, count instructions per encode and per
               decode (not with --no-decode) under valgrind --tool=callgrind
               (deterministic); writes icount.md
  --icount-iterations N  encodes per callgrind run (default: 100)
  --list       print the workload and engine names and exit";

/// Internal: decode one workload with one engine and exit 0 if the value
/// comes back equal (run in a child process, so a decoder that crashes on a
/// workload is skipped instead of killing the main job).
const PROBE_DECODE_FLAG: &str = "--probe-decode";

struct Options {
    workloads: Vec<String>,
    competitors: Vec<Competitor>,
    budget: Duration,
    compile_samples: usize,
    out_dir: PathBuf,
    /// Instruction counts under callgrind instead of timings: encodes per run.
    icount: Option<u64>,
    /// Whether to measure the thread-scaling table.
    threads: bool,
    /// Whether to time decoding too.
    decode: bool,
    /// Whether to time encoding (off to profile decoders alone).
    encode: bool,
    /// Whether to time `serialized_size`.
    size: bool,
}

fn parse_options() -> Result<Option<Options>, String> {
    let mut options = Options {
        workloads: cases::WORKLOADS.iter().map(|s| s.to_string()).collect(),
        competitors: Competitor::all(),
        budget: Duration::from_millis(500),
        compile_samples: 11,
        icount: None,
        threads: true,
        decode: true,
        encode: true,
        size: true,
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
            "--no-threads" => options.threads = false,
            "--no-decode" => options.decode = false,
            "--no-encode" => options.encode = false,
            "--no-size" => options.size = false,
            PROBE_DECODE_FLAG => {
                let (Ok(workload), Ok(engine)) = (value(), value()) else {
                    return Err(format!(
                        "{PROBE_DECODE_FLAG} needs a workload and an engine"
                    ));
                };
                let case = cases::case(&workload).ok_or("unknown workload")?;
                let competitor = Competitor::parse(&engine).ok_or("unknown engine")?;
                case.verify_decode(competitor)?;
                return Ok(None);
            }
            "--icount" => options.icount = Some(100),
            "--icount-iterations" => {
                let n = value()?
                    .parse::<u64>()
                    .map_err(|e| format!("--icount-iterations: {e}"))?;
                options.icount = Some(n.max(1));
            }
            icount::RUN_FLAG => {
                let (Ok(workload), Ok(engine), Ok(operation), Ok(iterations)) =
                    (value(), value(), value(), value())
                else {
                    return Err(format!(
                        "{} needs a workload, an engine, encode or decode, and a count",
                        icount::RUN_FLAG
                    ));
                };
                let operation = icount::Operation::parse(&operation)
                    .ok_or_else(|| format!("unknown operation `{operation}`"))?;
                let iterations = iterations.parse::<u64>().map_err(|e| e.to_string())?;
                icount::run_loop(&workload, &engine, operation, iterations)?;
                return Ok(None);
            }
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
    if let Some(iterations) = options.icount {
        return run_icount(&options, iterations);
    }

    let mut rows = Vec::new();
    let mut decode_rows = Vec::new();
    let mut size_rows = Vec::new();
    let sizers: Vec<Competitor> = options
        .competitors
        .iter()
        .copied()
        .filter(|&c| cases::sizes(c))
        .collect();
    let mut compiles = Vec::new();
    let mut failed_compiles = 0;
    let decoders: Vec<Competitor> = options
        .competitors
        .iter()
        .copied()
        .filter(|&c| cases::decodes(c))
        .collect();
    for name in &options.workloads {
        let case = cases::case(name).expect("workload names were validated");
        eprintln!("measuring {name} ...");
        if options.encode {
            rows.extend(measure_case(
                case.as_ref(),
                &options.competitors,
                options.budget,
                Direction::Encode,
                &[],
            ));
        }
        if options.decode {
            let crashed = probe_decoders(name, &decoders);
            decode_rows.extend(measure_case(
                case.as_ref(),
                &decoders,
                options.budget,
                Direction::Decode,
                &crashed,
            ));
        }
        if options.size {
            size_rows.extend(measure_case(
                case.as_ref(),
                &sizers,
                options.budget,
                Direction::Size,
                &[],
            ));
        }
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

    let mut thread_rows = Vec::new();
    let mut failed_threads = false;
    if options.threads {
        eprintln!("measuring one-shot encodes across threads ...");
        match threads::measure(options.budget) {
            Ok(rows) => thread_rows = rows,
            Err(error) => {
                eprintln!("thread scaling: {error}");
                failed_threads = true;
            }
        }
    }

    println!("encode\n{}", report::console_table(&rows));
    if !decode_rows.is_empty() {
        println!("decode\n{}", report::console_table(&decode_rows));
    }
    if !size_rows.is_empty() {
        println!(
            "serialized_size\n{}",
            report::size_table(&size_rows, &rows, false)
        );
    }
    if !compiles.is_empty() {
        println!("{}", report::console_compile_table(&compiles));
    }
    if !thread_rows.is_empty() {
        println!("{}", report::console_thread_table(&thread_rows));
    }

    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let machine = machine_description();
    let written = std::fs::create_dir_all(&options.out_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            std::fs::write(
                options.out_dir.join("report.md"),
                report::markdown(
                    &rows,
                    &decode_rows,
                    &size_rows,
                    &compiles,
                    &thread_rows,
                    &command,
                    &machine,
                ),
            )
            .map_err(|e| e.to_string())
        })
        .and_then(|()| {
            report::chart(&rows, "encode", &options.out_dir.join("encode.svg"))
                .map_err(|e| e.to_string())
        })
        .and_then(|()| {
            if decode_rows.is_empty() {
                return Ok(());
            }
            report::chart(&decode_rows, "decode", &options.out_dir.join("decode.svg"))
                .map_err(|e| e.to_string())
        });
    match written {
        Ok(()) => {
            let dir = std::fs::canonicalize(&options.out_dir).unwrap_or(options.out_dir);
            println!(
                "report: {} with encode.svg and decode.svg",
                dir.join("report.md").display()
            );
        }
        Err(error) => {
            eprintln!("could not write the report: {error}");
            return ExitCode::FAILURE;
        }
    }

    // A refused decoder is only a failure for jitcard's engines: other
    // projects' decoders are allowed to fail (facet-postcard crashes on
    // some valid inputs), the report says so.
    let refused = rows
        .iter()
        .chain(&size_rows)
        .filter(|r| matches!(r.outcome, Outcome::Refused(_)))
        .count()
        + decode_rows
            .iter()
            .filter(|r| {
                matches!(r.outcome, Outcome::Refused(_))
                    && matches!(
                        r.competitor,
                        Competitor::Jitcard(_) | Competitor::SerdePostcard
                    )
            })
            .count();
    if failed_compiles > 0 || failed_threads {
        return ExitCode::FAILURE;
    }
    if refused > 0 {
        eprintln!(
            "{refused} engine/workload pairs were refused: their bytes or values differ from postcard's"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The `--icount` mode: instructions per encode for every workload × engine,
/// and each engine's ratio to the first JIT engine selected (the trampoline
/// baseline by default).
fn run_icount(options: &Options, iterations: u64) -> ExitCode {
    let mut text = format!(
        "# Instructions per operation (valgrind --tool=callgrind)\n\n\
         (I(2n) - I(n)) / n with n = {iterations} operations per run; deterministic.\n"
    );
    let baseline = Competitor::Jitcard(jitcard::Engine::Jit {
        vtable_calls: jitcard::VtableCalls::Trampoline,
    });
    let mut operations = vec![icount::Operation::Encode];
    if options.decode {
        operations.push(icount::Operation::Decode);
    }
    for operation in operations {
        let op = operation.name();
        let mut table = format!(
            "\n## {op}\n\n| workload | engine | instructions / {op} | vs jit-trampoline |\n|---|---|---:|---:|\n"
        );
        println!(
            "{:<15} {:<16} {:>22} {:>18}",
            "workload",
            "engine",
            format!("instructions/{op}"),
            "vs jit-trampoline"
        );
        for workload in &options.workloads {
            eprintln!("counting {workload} ({op}) ...");
            let mut counts = Vec::new();
            for &competitor in &options.competitors {
                if operation == icount::Operation::Decode && !cases::decodes(competitor) {
                    continue;
                }
                match icount::per_operation(workload, competitor, operation, iterations) {
                    Ok(count) => counts.push((competitor, count)),
                    Err(error) => {
                        eprintln!("{workload} / {} ({op}): {error}", competitor.name());
                        return ExitCode::FAILURE;
                    }
                }
            }
            let base = counts.iter().find(|(c, _)| *c == baseline).map(|(_, n)| *n);
            for (competitor, count) in counts {
                let ratio = base.map_or("-".to_string(), |b| format!("{:.3}", count / b));
                println!(
                    "{:<15} {:<16} {:>22.0} {:>18}",
                    workload,
                    competitor.name(),
                    count,
                    ratio
                );
                table.push_str(&format!(
                    "| {workload} | {} | {count:.0} | {ratio} |\n",
                    competitor.name()
                ));
            }
        }
        text.push_str(&table);
    }
    let path = options.out_dir.join("icount.md");
    match std::fs::create_dir_all(&options.out_dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => {
            println!("report: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("could not write {}: {error}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// Decoders of other projects that crash (not just fail) on `workload`,
/// found by decoding it once in a child process each, with the reason to
/// show instead of a timing.
fn probe_decoders(workload: &str, decoders: &[Competitor]) -> Vec<(Competitor, String)> {
    let Ok(exe) = std::env::current_exe() else {
        return Vec::new();
    };
    decoders
        .iter()
        .filter(|&&c| c == Competitor::FacetPostcard)
        .filter_map(|&competitor| {
            let status = std::process::Command::new(&exe)
                .args([PROBE_DECODE_FLAG, workload, competitor.name()])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output();
            match status {
                Ok(output) if output.status.success() => None,
                Ok(output) => {
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    let last = stderr.lines().last().unwrap_or_default().to_string();
                    Some((
                        competitor,
                        format!(
                            "skipped: decoding this workload in a child process failed or \
                             crashed ({}): {last}",
                            output.status
                        ),
                    ))
                }
                Err(error) => Some((competitor, format!("skipped: probe failed: {error}"))),
            }
        })
        .collect()
}
