//! Diagnostics and testing aids: nothing here is needed to encode. Tests
//! and benchmarks use these to measure compile cost, to prove that direct
//! vtable calls bypass the trampolines, and to run the Windows x64 lowering
//! on an x86-64 Linux host.
//!
//! In a build without the `jit` feature every function here is a no-op
//! that reports nothing was compiled or counted.

use facet::Facet;

use crate::{CompileReport, Error, VtableCalls};

#[cfg(feature = "jit")]
use crate::jit::diagnostics as backend;

/// The one stand-in for the JIT's diagnostics in builds without it.
#[cfg(not(feature = "jit"))]
mod backend {
    use crate::{CompileReport, Error, VtableCalls};

    pub(crate) fn measure_compile(
        _: &'static facet_core::Shape,
        vtable_calls: VtableCalls,
    ) -> Result<CompileReport, Error> {
        Err(crate::Engine::Jit { vtable_calls }
            .check_available()
            .expect_err("the JIT is never available without `jit`"))
    }
    pub(crate) fn measure_decoder_compile(
        shape: &'static facet_core::Shape,
        vtable_calls: VtableCalls,
    ) -> Result<CompileReport, Error> {
        measure_compile(shape, vtable_calls)
    }
    pub(crate) fn measure_optimized_compile(
        shape: &'static facet_core::Shape,
        vtable_calls: VtableCalls,
    ) -> Result<CompileReport, Error> {
        measure_compile(shape, vtable_calls)
    }
    pub(crate) fn set_trampoline_counting(_: bool) {}
    pub(crate) fn trampoline_calls() -> usize {
        0
    }
    pub(crate) fn jit_compilations() -> usize {
        0
    }
}

/// The testing mode of direct vtable calls (x86-64 only): every facet
/// vtable function is reached through a Rust `extern "win64"` adapter, so
/// the generated call sites use the Windows x64 convention (`PtrConst`
/// passed by reference, hidden result slot first) on any x86-64 host. Use
/// it as `Engine::Jit { vtable_calls: WIN64_ADAPTERS }`.
pub const WIN64_ADAPTERS: VtableCalls = VtableCalls::DirectViaWin64Adapters;

/// Every engine available here plus the testing modes available here
/// ([`WIN64_ADAPTERS`] on x86-64): what differential tests run.
pub fn engines_under_test() -> Vec<crate::Engine> {
    let mut engines = crate::Engine::available();
    let win64 = crate::Engine::Jit {
        vtable_calls: WIN64_ADAPTERS,
    };
    if win64.is_available() {
        engines.push(win64);
    }
    engines
}

/// Lowers and compiles `T`'s encoder afresh, bypassing every cache, and
/// reports the cost: for measuring cold compile time in benchmarks (what
/// `Encoder::new` pays: the quick code). The machine code is freed before it
/// returns.
pub fn measure_jit_compile<'a, T: Facet<'a> + ?Sized>(
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    backend::measure_compile(T::SHAPE, vtable_calls)
}

/// As [`measure_jit_compile`], for the optimized code `T`'s encoder
/// switches to after use (see `Encoder::optimize`).
pub fn measure_jit_optimized_compile<'a, T: Facet<'a> + ?Sized>(
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    backend::measure_optimized_compile(T::SHAPE, vtable_calls)
}

/// As [`measure_jit_compile`], for the decoder of `T`.
pub fn measure_jit_decoder_compile<'a, T: Facet<'a>>(
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    backend::measure_decoder_compile(T::SHAPE, vtable_calls)
}

/// Starts (`true`, resetting the count) or stops counting how often
/// generated code enters a vtable trampoline: tests use it to show that
/// [`VtableCalls::Direct`] encoders never take the trampoline path.
pub fn set_trampoline_counting(on: bool) {
    backend::set_trampoline_counting(on);
}

/// Trampoline entries since counting was last started (see
/// [`set_trampoline_counting`]).
pub fn trampoline_calls() -> usize {
    backend::trampoline_calls()
}

/// How many plans this process has compiled to machine code for encoders
/// (each root type and [`VtableCalls`] mode compiles once, then comes from
/// the cache; [`measure_jit_compile`] is not counted).
pub fn jit_compilations() -> usize {
    backend::jit_compilations()
}
