//! Tiered encoders: a type's encoder is compiled *quick* first
//! ([`Tier::Quick`]: no e-graph optimization, single-pass register
//! allocation), which is about 40% of the work of an optimized compile, and
//! gives code about 1.5× slower. The encoder is compiled again *optimized*
//! once it has done enough work to pay for that ([`TIER_UP_WORK`]), or when
//! asked ([`CompiledEncoder::optimize`], `Encoder::optimize`).
//!
//! # Switching code under running callers
//!
//! The entry point callers use is an `AtomicPtr`, starting at the quick
//! code's root.
//!
//! - **Publication.** The optimized code is finalized before its root is
//!   stored with release ordering: cranelift-jit has made it executable and
//!   synchronized instruction caches by then. Callers load the entry with
//!   acquire ordering, so a caller that sees the new entry sees finished code.
//! - **Lifetime.** Both tiers' code lives as long as the `CompiledEncoder`
//!   (the cache keeps encoders for the life of the process), so a call still
//!   running quick code when the entry changes finishes on valid code.
//! - **Self-containment.** A tier's functions only call functions of their
//!   own module: one encode runs entirely in one tier.
//!
//! # When
//!
//! Work is counted on the quick tier only: one unit per encode plus one per
//! KiB written. At [`TIER_UP_WORK`] units, the calling thread compiles the
//! optimized code; it takes about 3 ms for the gnarly payload. Meanwhile,
//! other threads keep running the quick code.
//!
//! - The count uses relaxed loads and stores, not read-modify-writes, so
//!   threads sharing an encoder do not contend on it. A lost update only
//!   delays the tier-up.
//! - Once the optimized code runs, nothing is counted.
//! - A failed optimized compile leaves the quick code in place for good.
//! - `JITCARD_TIER_UP_WORK` overrides the threshold, read once per process.
//!   `0` compiles both tiers up front, which tests use to run optimized code
//!   from the first call.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use facet_core::PtrConst;

use super::{EncoderCode, Tier, compile_encoder_code, runtime::CompiledFn};
use crate::plan::Plan;
use crate::{Error, VtableCalls};

/// Work units (an encode, or a KiB written) after which an encoder's
/// optimized code is compiled.
pub(crate) const TIER_UP_WORK: u32 = 1024;

/// The threshold in force: [`TIER_UP_WORK`], or `JITCARD_TIER_UP_WORK`.
fn tier_up_work() -> u32 {
    static WORK: OnceLock<u32> = OnceLock::new();
    *WORK.get_or_init(|| {
        std::env::var("JITCARD_TIER_UP_WORK")
            .ok()
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(TIER_UP_WORK)
    })
}

/// A plan compiled to an encoder: quick code, and optimized code once
/// earned.
pub(crate) struct CompiledEncoder {
    /// The root function callers enter: the quick code's, then the
    /// optimized code's.
    current: AtomicPtr<u8>,
    quick: EncoderCode,
    optimized: OnceLock<Result<EncoderCode, Error>>,
    /// Set by the first caller to pass the threshold, which compiles.
    claimed: AtomicBool,
    /// Work done on the quick code so far.
    work: AtomicU32,
    mode: VtableCalls,
}

impl CompiledEncoder {
    /// Compiles `plan`'s quick code (and the optimized code too when the
    /// threshold is 0).
    pub(crate) fn compile(plan: &Plan, mode: VtableCalls) -> Result<CompiledEncoder, Error> {
        let quick = compile_encoder_code(plan, mode, Tier::Quick)?;
        let encoder = CompiledEncoder {
            current: AtomicPtr::new(quick.entry as *mut u8),
            quick,
            optimized: OnceLock::new(),
            claimed: AtomicBool::new(false),
            work: AtomicU32::new(0),
            mode,
        };
        if tier_up_work() == 0 {
            encoder.optimize(plan)?;
        }
        Ok(encoder)
    }

    /// Machine-code bytes of the quick code (what building the encoder
    /// compiled).
    pub(crate) fn code_size(&self) -> usize {
        self.quick.code_size
    }

    /// Wall time of compiling the quick code.
    pub(crate) fn compile_time(&self) -> std::time::Duration {
        self.quick.compile_time
    }

    /// Whether callers now run the optimized code.
    pub(crate) fn is_optimized(&self) -> bool {
        self.current.load(Ordering::Acquire) != self.quick.entry as *mut u8
    }

    /// Compiles the optimized code (once; a caller arriving while another
    /// compiles waits for it) and makes callers use it. `plan` is the plan
    /// this encoder was compiled from.
    pub(crate) fn optimize(&self, plan: &Plan) -> Result<(), Error> {
        let optimized = self
            .optimized
            .get_or_init(|| compile_encoder_code(plan, self.mode, Tier::Optimized));
        match optimized {
            Ok(code) => {
                // Finalized code: see the module doc.
                self.current.store(code.entry as *mut u8, Ordering::Release);
                Ok(())
            }
            Err(error) => Err(error.clone()),
        }
    }

    /// Appends the encoding of the value at `src` to `out`, on the current
    /// tier; counts the work of quick runs.
    ///
    /// # Safety
    /// `src` points at a live value of the root shape of `plan`, the plan this
    /// encoder was compiled from.
    #[inline]
    pub(crate) unsafe fn encode(
        &self,
        plan: &Plan,
        src: PtrConst,
        out: &mut Vec<u8>,
        max_depth: usize,
    ) -> Result<(), Error> {
        let entry = self.current.load(Ordering::Acquire);
        let quick = entry == self.quick.entry as *mut u8;
        let start = out.len();
        // SAFETY: `entry` is the root of one of this encoder's tiers,
        // compiled from `plan` with the `CompiledFn` signature, and its
        // code lives as long as `self` (module doc).
        let result = unsafe {
            let entry = std::mem::transmute::<*mut u8, CompiledFn>(entry);
            super::run_encoder(entry, plan, src, out, max_depth)
        };
        if quick {
            self.count(plan, out.len().saturating_sub(start));
        }
        result
    }

    /// Counts one quick encode that wrote `written` bytes; past the
    /// threshold, the first caller compiles the optimized code.
    #[cold]
    fn count(&self, plan: &Plan, written: usize) {
        let units = 1 + u32::try_from(written >> 10).unwrap_or(u32::MAX);
        let work = self.work.load(Ordering::Relaxed).saturating_add(units);
        self.work.store(work, Ordering::Relaxed);
        if work >= tier_up_work() && !self.claimed.swap(true, Ordering::Relaxed) {
            // A failure keeps the quick code, which is correct; the error is
            // the same every time, so it is not retried.
            let _ = self.optimize(plan);
        }
    }
}
