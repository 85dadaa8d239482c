//! Instruction counts per encode and per decode, measured with `valgrind
//! --tool=callgrind`: deterministic, so engine comparisons hold on a noisy
//! machine.
//!
//! The binary re-runs itself under callgrind in an internal mode that builds
//! one case (compiling its encoders and decoders) and encodes (or decodes)
//! it `n` times. Running it for `n` and `2n` and subtracting cancels
//! everything but `n` operations, so `(I(2n) - I(n)) / n` is the
//! instruction count of one.

use std::process::Command;

use crate::cases::{self, Competitor};

/// The internal command-line flag of the measured loop.
pub const RUN_FLAG: &str = "--icount-run";

/// What one iteration of the loop does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Encode,
    Decode,
    /// `serialized_size`.
    Size,
}

impl Operation {
    /// Its name on the internal command line.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Encode => "encode",
            Operation::Decode => "decode",
            Operation::Size => "size",
        }
    }

    /// The operation called `name`.
    pub fn parse(name: &str) -> Option<Operation> {
        [Operation::Encode, Operation::Decode, Operation::Size]
            .into_iter()
            .find(|op| op.name() == name)
    }
}

/// Runs the loop for `workload` on `competitor`, `iterations` times (the
/// body of a callgrind run).
pub fn run_loop(
    workload: &str,
    competitor: &str,
    operation: Operation,
    iterations: u64,
) -> Result<(), String> {
    let case = cases::case(workload).ok_or_else(|| format!("unknown workload `{workload}`"))?;
    let competitor =
        Competitor::parse(competitor).ok_or_else(|| format!("unknown engine `{competitor}`"))?;
    match operation {
        Operation::Encode => {
            let mut buffer = Vec::new();
            case.encode(competitor, &mut buffer)?;
            for _ in 0..iterations {
                buffer.clear();
                case.encode(competitor, &mut buffer)?;
                std::hint::black_box(&buffer);
            }
        }
        Operation::Decode => {
            case.decode(competitor)?;
            for _ in 0..iterations {
                case.decode(competitor)?;
            }
        }
        Operation::Size => {
            case.serialized_size(competitor)?;
            for _ in 0..iterations {
                std::hint::black_box(case.serialized_size(competitor)?);
            }
        }
    }
    Ok(())
}

/// Total instructions callgrind counts for one run of the loop.
fn collected(
    workload: &str,
    competitor: Competitor,
    operation: Operation,
    iterations: u64,
) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args([
            RUN_FLAG,
            workload,
            competitor.name(),
            operation.name(),
            &iterations.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run valgrind (is it installed?): {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("callgrind run failed:\n{stderr}"));
    }
    stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("no instruction count in callgrind's output:\n{stderr}"))
}

/// Instructions per operation (encode or decode) of `workload` on
/// `competitor`.
pub fn per_operation(
    workload: &str,
    competitor: Competitor,
    operation: Operation,
    iterations: u64,
) -> Result<f64, String> {
    let once = collected(workload, competitor, operation, iterations)?;
    let twice = collected(workload, competitor, operation, 2 * iterations)?;
    Ok(twice.saturating_sub(once) as f64 / iterations as f64)
}
