//! The JIT's side of [`crate::diagnostics`]: fresh compiles for measuring,
//! the trampoline counter, the compile counter.

use std::time::Instant;

use facet_core::Shape;

pub(crate) use super::trampolines::{
    calls as trampoline_calls, set_counting as set_trampoline_counting,
};
pub(crate) use crate::cache::compilations as jit_compilations;
use crate::{CompileReport, Engine, Error, VtableCalls, plan};

/// Lowers and compiles `shape` without looking at or filling any cache.
pub(crate) fn measure_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    Engine::Jit { vtable_calls }.check_available()?;
    let started = Instant::now();
    let plan = crate::stack::with_room(crate::stack::BUILD_ROOM, || plan::lower(shape))?;
    let compiled = super::compile(&plan, vtable_calls)?;
    Ok(CompileReport {
        code_size: compiled.code_size(),
        compile_time: started.elapsed(),
    })
}

/// Lowers `shape` and compiles its encoder's optimized code (the tier
/// encoders switch to after use), without looking at or filling any cache.
pub(crate) fn measure_optimized_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    Engine::Jit { vtable_calls }.check_available()?;
    let started = Instant::now();
    let plan = crate::stack::with_room(crate::stack::BUILD_ROOM, || plan::lower(shape))?;
    let code = super::compile_encoder_code(&plan, vtable_calls, super::Tier::Optimized)?;
    Ok(CompileReport {
        code_size: code.code_size,
        compile_time: started.elapsed(),
    })
}

/// Lowers `shape` for decoding and compiles its decoder without looking at
/// or filling any cache.
pub(crate) fn measure_decoder_compile(
    shape: &'static Shape,
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    Engine::Jit { vtable_calls }.check_available()?;
    let started = Instant::now();
    let plan = crate::stack::with_room(crate::stack::BUILD_ROOM, || plan::lower_for_decode(shape))?;
    let compiled = super::compile_decoder(&plan, vtable_calls)?;
    Ok(CompileReport {
        code_size: compiled.code_size,
        compile_time: started.elapsed(),
    })
}
