//! Trampolines, the baseline way to call facet's vtable functions: Rust
//! `extern "C"` functions that generated code calls with plain machine words
//! in memory, which rebuild facet's types in Rust (rustc lowers the C ABI of
//! the 16-byte pointer structs correctly on every target) and forward to the
//! vtable function; the price is one extra call per operation. Each
//! operation's trampoline follows from its entry in [`super::vtable_ops`];
//! this module keeps the count of trampoline entries (a diagnostic: tests
//! show direct calls never take this path).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Turns counting of trampoline invocations on or off (and resets the count
/// when turning it on). Off by default: then a trampoline pays one relaxed
/// load for it.
pub(crate) fn set_counting(on: bool) {
    if on {
        CALLS.store(0, Ordering::Relaxed);
    }
    COUNTING.store(on, Ordering::Relaxed);
}

/// Trampoline invocations since counting was turned on.
pub(crate) fn calls() -> usize {
    CALLS.load(Ordering::Relaxed)
}

/// Counts one trampoline entry (when counting is on).
#[inline]
pub(crate) fn note_call() {
    if COUNTING.load(Ordering::Relaxed) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
}
