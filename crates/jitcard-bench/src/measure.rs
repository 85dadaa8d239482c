//! Side-by-side timing of competitors on one case, encoding or decoding.
//!
//! Before timing, every competitor's bytes are compared with
//! serde+postcard's (encoding), or its value decoded from serde+postcard's
//! bytes is compared with the original (decoding); a competitor that
//! disagrees (or fails) is refused, never timed. Timing then
//! runs batches round-robin across the accepted competitors, so slow drift of
//! the machine (frequency, other load) hits all of them alike, and reports the
//! median time per encode with the min–max of the batch means.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::cases::{Case, Competitor, CompileTarget};
use crate::diff::mismatch_report;

/// How long a competitor was measured to take on a case.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Size of one encoding in bytes.
    pub bytes: usize,
    /// Median over batches of the mean time per encode.
    pub median_ns: f64,
    /// Fastest batch mean.
    pub min_ns: f64,
    /// Slowest batch mean.
    pub max_ns: f64,
    /// Number of batches.
    pub samples: usize,
    /// Encodes per batch.
    pub iterations: u64,
}

impl Measurement {
    /// Throughput of output bytes, in MB/s (10^6 bytes per second).
    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / self.median_ns * 1e3
    }
}

/// What happened to one competitor on one case.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Bytes verified equal to postcard's, then timed.
    Measured(Measurement),
    /// Not timed: its bytes differ from postcard's, or it failed.
    Refused(String),
}

/// One row of results: a case × competitor.
#[derive(Clone, Debug)]
pub struct Row {
    pub workload: String,
    pub competitor: Competitor,
    pub outcome: Outcome,
}

/// Target duration of one batch: long enough that timer resolution is noise.
const BATCH_TARGET: Duration = Duration::from_micros(500);
const MIN_SAMPLES: usize = 15;
const MAX_SAMPLES: usize = 400;

/// What is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Value → bytes, into a reused buffer.
    Encode,
    /// serde+postcard's bytes → value (dropped after each decode).
    Decode,
    /// Value → its encoded length (`serialized_size`), nothing written.
    Size,
}

/// Verifies, then times, each competitor on `case` within about `budget`.
/// `refused` lists competitors not to run at all, with the reason (e.g.
/// one that crashed decoding this case in a child process).
pub fn measure_case(
    case: &dyn Case,
    competitors: &[Competitor],
    budget: Duration,
    direction: Direction,
    refused: &[(Competitor, String)],
) -> Vec<Row> {
    let mut reference = Vec::new();
    let reference = case
        .encode(Competitor::SerdePostcard, &mut reference)
        .map(|()| reference);
    let verdicts: Vec<(Competitor, Result<usize, String>)> = competitors
        .iter()
        .map(|&c| {
            if let Some((_, why)) = refused.iter().find(|(r, _)| *r == c) {
                return (c, Err(why.clone()));
            }
            let verdict = match direction {
                Direction::Encode => verify(case, c, &reference),
                Direction::Decode => case
                    .verify_decode(c)
                    .map(|()| case.reference().len())
                    .map_err(|e| format!("{} failed: {e}", c.name())),
                Direction::Size => match case.serialized_size(c) {
                    Ok(size) if size == case.reference().len() => Ok(size),
                    Ok(size) => Err(format!(
                        "{} says {size} bytes, the encoding has {}",
                        c.name(),
                        case.reference().len()
                    )),
                    Err(e) => Err(format!("{} failed: {e}", c.name())),
                },
            };
            (c, verdict)
        })
        .collect();
    let accepted: Vec<Competitor> = verdicts
        .iter()
        .filter(|(_, v)| v.is_ok())
        .map(|(c, _)| *c)
        .collect();

    let iterations: Vec<u64> = accepted
        .iter()
        .map(|&c| calibrate(case, c, direction))
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); accepted.len()];
    let mut buffer = Vec::new();
    let started = Instant::now();
    // At least MIN_SAMPLES rounds, unless a very slow competitor (one batch
    // is one call taking long) would make that take more than 20 budgets.
    while !accepted.is_empty()
        && samples[0].len() < MAX_SAMPLES
        && (started.elapsed() < budget
            || (samples[0].len() < MIN_SAMPLES && started.elapsed() < 20 * budget))
    {
        // Each round starts with the next competitor, so none always runs
        // right after the same neighbour (caches, frequency ramps).
        let round = samples[0].len();
        for offset in 0..accepted.len() {
            let index = (round + offset) % accepted.len();
            samples[index].push(time_batch(
                case,
                accepted[index],
                direction,
                iterations[index],
                &mut buffer,
            ));
        }
    }

    verdicts
        .into_iter()
        .map(|(competitor, verdict)| {
            let outcome = match verdict {
                Err(why) => Outcome::Refused(why),
                Ok(bytes) => {
                    let index = accepted
                        .iter()
                        .position(|&c| c == competitor)
                        .expect("accepted");
                    let mut batch_means = std::mem::take(&mut samples[index]);
                    batch_means.sort_by(f64::total_cmp);
                    Outcome::Measured(Measurement {
                        bytes,
                        median_ns: batch_means[batch_means.len() / 2],
                        min_ns: batch_means[0],
                        max_ns: batch_means[batch_means.len() - 1],
                        samples: batch_means.len(),
                        iterations: iterations[index],
                    })
                }
            };
            Row {
                workload: case.name().to_string(),
                competitor,
                outcome,
            }
        })
        .collect()
}

/// Cold JIT compile cost of one workload's root type.
#[derive(Clone, Debug)]
pub struct CompileRow {
    pub workload: String,
    pub engine: jitcard::Engine,
    /// `encode` or `decode`.
    pub operation: &'static str,
    /// Machine-code bytes.
    pub code_size: usize,
    /// Median, min and max of lowering + compiling, in microseconds.
    pub median_us: f64,
    pub min_us: f64,
    pub max_us: f64,
}

/// Compiles the case's type `samples` times afresh for every JIT engine,
/// its encoder and its decoder.
pub fn measure_compiles(case: &dyn Case, samples: usize) -> Vec<Result<CompileRow, String>> {
    jitcard::Engine::available()
        .into_iter()
        .filter_map(|engine| match engine {
            jitcard::Engine::Jit { vtable_calls } => Some((engine, vtable_calls)),
            _ => None,
        })
        .flat_map(|jit| CompileTarget::ALL.map(|target| (jit, target)))
        .map(|((engine, vtable_calls), target)| {
            let mut times = Vec::with_capacity(samples);
            let mut code_size = 0;
            for _ in 0..samples.max(1) {
                let report = case.measure_jit_compile(vtable_calls, target)?;
                code_size = report.code_size;
                times.push(report.compile_time.as_secs_f64() * 1e6);
            }
            times.sort_by(f64::total_cmp);
            Ok(CompileRow {
                workload: case.name().to_string(),
                engine,
                operation: target.name(),
                code_size,
                median_us: times[times.len() / 2],
                min_us: times[0],
                max_us: times[times.len() - 1],
            })
        })
        .collect()
}

/// Encodes once and compares with the reference; returns the size on success.
fn verify(
    case: &dyn Case,
    competitor: Competitor,
    reference: &Result<Vec<u8>, String>,
) -> Result<usize, String> {
    let reference = reference
        .as_ref()
        .map_err(|e| format!("serde+postcard failed: {e}"))?;
    let mut actual = Vec::new();
    case.encode(competitor, &mut actual)
        .map_err(|e| format!("{} failed: {e}", competitor.name()))?;
    match mismatch_report(
        case.name(),
        &case.describe(),
        "serde+postcard",
        reference,
        competitor.name(),
        &actual,
    ) {
        Some(report) => Err(report),
        None => Ok(actual.len()),
    }
}

/// Doubles the batch size until one batch takes [`BATCH_TARGET`].
fn calibrate(case: &dyn Case, competitor: Competitor, direction: Direction) -> u64 {
    let mut buffer = Vec::new();
    let mut iterations = 1;
    loop {
        let started = Instant::now();
        time_batch(case, competitor, direction, iterations, &mut buffer);
        if started.elapsed() >= BATCH_TARGET || iterations >= 1 << 24 {
            return iterations;
        }
        iterations *= 2;
    }
}

/// Mean nanoseconds per encode (into a reused buffer) or decode over one
/// batch of `iterations`.
fn time_batch(
    case: &dyn Case,
    competitor: Competitor,
    direction: Direction,
    iterations: u64,
    buffer: &mut Vec<u8>,
) -> f64 {
    let started = Instant::now();
    match direction {
        Direction::Encode => {
            for _ in 0..iterations {
                buffer.clear();
                // Verified beforehand; a failure here would show as an
                // absurd time, and the bytes are kept alive so nothing is
                // optimized away.
                let _ = black_box(case.encode(competitor, buffer));
                black_box(&buffer);
            }
        }
        Direction::Decode => {
            for _ in 0..iterations {
                let _ = black_box(case.decode(black_box(competitor)));
            }
        }
        Direction::Size => {
            for _ in 0..iterations {
                let _ = black_box(case.serialized_size(black_box(competitor)));
            }
        }
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}
