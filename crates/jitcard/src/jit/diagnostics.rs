//! The JIT's side of [`crate::diagnostics`]: fresh compiles for measuring,
//! the trampoline counter, the compile counter.

use std::time::Instant;

use facet_core::Shape;

pub(crate) use super::trampolines::{
    calls as trampoline_calls, set_counting as set_trampoline_counting,
};
pub(crate) use crate::cache::compilations as jit_compilations;
use crate::{CompileReport, Engine, Error, VtableCalls, plan};

/// Lowers and compiles `shape`'s encoder (quick code, as `Encoder::new`
/// does) without looking at or filling any cache.
pub(crate) fn measure_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    measure(shape, vtable_calls, plan::lower, |plan| {
        super::compile(plan, vtable_calls).map(|compiled| compiled.code_size())
    })
}

/// Lowers `shape` and compiles its encoder's optimized code (the tier
/// encoders switch to after use), without looking at or filling any cache.
pub(crate) fn measure_optimized_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    measure(shape, vtable_calls, plan::lower, |plan| {
        super::compile_encoder_code(plan, vtable_calls, super::Tier::Optimized)
            .map(|code| code.code_size)
    })
}

/// Lowers `shape` for decoding and compiles its decoder without looking at
/// or filling any cache.
pub(crate) fn measure_decoder_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    measure(shape, vtable_calls, plan::lower_for_decode, |plan| {
        super::compile_decoder(plan, vtable_calls).map(|compiled| compiled.code_size)
    })
}

/// Times `lower` and `compile` (which returns the machine-code size; the
/// code is freed when it returns).
fn measure(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
    lower: fn(&'static Shape) -> Result<plan::Plan, Error>,
    compile: impl FnOnce(&plan::Plan) -> Result<usize, Error>,
) -> Result<CompileReport, Error> {
    Engine::Jit { vtable_calls }.check_available()?;
    let started = Instant::now();
    let plan = crate::stack::with_room(crate::stack::BUILD_ROOM, || lower(shape))?;
    let code_size = compile(&plan)?;
    Ok(CompileReport {
        code_size,
        compile_time: started.elapsed(),
    })
}
