//! Workloads, benchmark cases and byte-comparison helpers for jitcard.
//!
//! - [`workloads`]: the built-in types (gnarly & co.), deriving both `Facet`
//!   and serde `Serialize`, usable from other crates' tests.
//! - [`cases`]: each workload value paired with every competitor
//!   (serde+postcard, facet-postcard, jitcard engines).
//! - [`diff`]: first-difference reports for mismatching encodings.
//! - [`threads`]: thread scaling of one-shot `to_vec` calls.
//!
//! The comparison binary (`cargo run --release -p jitcard-bench`) and the
//! divan benches (`cargo bench -p jitcard-bench`) are built on these.

pub mod cases;
pub mod diff;
pub mod icount;
pub mod measure;
pub mod report;
pub mod threads;
pub mod workloads;
