//! Thread scaling of one-shot encodes: million encodes per second of a small
//! [`Message`], summed over 1, 2 and the machine's core count of threads,
//! for `jitcard::to_vec` (which finds the type's encoder on every call), a
//! shared `jitcard::Encoder::to_vec`, and `postcard::to_allocvec`.
//!
//! `to_vec` must cost about what a reused encoder costs and scale like
//! postcard: a call for a type seen before takes no lock and writes no
//! shared memory.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::workloads::Message;

/// The encoding APIs compared.
pub const APIS: [&str; 3] = [
    "jitcard::to_vec",
    "Encoder::to_vec (shared)",
    "postcard::to_allocvec",
];

/// One cell of the table.
#[derive(Clone, Debug)]
pub struct ThreadRow {
    pub threads: usize,
    pub api: &'static str,
    /// Million encodes per second over all threads (median of rounds).
    pub million_per_second: f64,
}

/// The thread counts measured: 1, 2 and the machine's core count.
pub fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2, cores];
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Measures every API at every thread count for `budget` each (in three
/// rounds, rotating the API order), after checking the bytes agree.
pub fn measure(budget: Duration) -> Result<Vec<ThreadRow>, String> {
    let message = Message::new(0x5EED);
    let expected = postcard::to_allocvec(&message).map_err(|e| e.to_string())?;
    let encoder = jitcard::Encoder::<Message>::new(jitcard::Engine::host_default())
        .map_err(|e| e.to_string())?;
    for api in APIS {
        let bytes = encode(api, &message, &encoder)?;
        if bytes != expected {
            return Err(format!("{api} writes different bytes than postcard"));
        }
    }
    const ROUNDS: usize = 3;
    let mut rows = Vec::new();
    for threads in thread_counts() {
        let mut samples = vec![Vec::new(); APIS.len()];
        for round in 0..ROUNDS {
            for offset in 0..APIS.len() {
                let index = (round + offset) % APIS.len();
                let duration = budget / ROUNDS as u32;
                // One monomorphic loop per API, so no dispatch is timed.
                let rate = match index {
                    0 => run(threads, duration, || {
                        jitcard::to_vec(black_box(&message)).ok()
                    }),
                    1 => run(threads, duration, || {
                        encoder.to_vec(black_box(&message)).ok()
                    }),
                    _ => run(threads, duration, || {
                        postcard::to_allocvec(black_box(&message)).ok()
                    }),
                };
                samples[index].push(rate);
            }
        }
        for (index, mut rates) in samples.into_iter().enumerate() {
            rates.sort_by(f64::total_cmp);
            rows.push(ThreadRow {
                threads,
                api: APIS[index],
                million_per_second: rates[rates.len() / 2],
            });
        }
    }
    Ok(rows)
}

fn encode(
    api: &str,
    message: &Message,
    encoder: &jitcard::Encoder<Message>,
) -> Result<Vec<u8>, String> {
    match api {
        "jitcard::to_vec" => jitcard::to_vec(message).map_err(|e| e.to_string()),
        "Encoder::to_vec (shared)" => encoder.to_vec(message).map_err(|e| e.to_string()),
        _ => postcard::to_allocvec(message).map_err(|e| e.to_string()),
    }
}

/// Runs `encode` on `threads` threads at once for `duration`; million
/// encodes per second over all of them.
fn run(threads: usize, duration: Duration, encode: impl Fn() -> Option<Vec<u8>> + Sync) -> f64 {
    const CHECK_EVERY: u64 = 256;
    let start = Barrier::new(threads);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (start, encode) = (&start, &encode);
                scope.spawn(move || {
                    start.wait();
                    let began = Instant::now();
                    let mut count = 0u64;
                    while began.elapsed() < duration {
                        for _ in 0..CHECK_EVERY {
                            black_box(encode());
                        }
                        count += CHECK_EVERY;
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    total as f64 / started.elapsed().as_secs_f64() / 1e6
}
