//! AArch64: AAPCS64 (Linux, "Procedure Call Standard for the Arm 64-bit
//! Architecture", §6.8 parameter passing) and Apple's arm64 variant.
//!
//! AAPCS64:
//! - Homogeneous floating-point aggregates (HFA: 1 to 4 members, all `f32`
//!   or all `f64`) take one SIMD register per member (NSRN) if they all fit
//!   (C.2); otherwise NSRN := 8 and the HFA goes on the stack (C.3).
//! - Other composites of at most 16 bytes take consecutive X registers,
//!   ceil(size/8) of them (C.12); a 16-byte-aligned one first rounds NGRN up
//!   to even (C.10). If they do not fit, NGRN := 8 and the composite goes on
//!   the stack (C.13), so every later integer argument does too.
//! - Composites over 16 bytes are copied by the caller and passed as a
//!   pointer (B.4). Returned: HFAs in V0-V3, composites up to 16 bytes in
//!   X0/X1, larger ones through the address the caller passes in X8.
//! - The callee widens narrow integers; callers need not.
//!
//! Apple arm64 ("Writing ARM64 code for Apple platforms") differs here in:
//! - callers must widen `char`/`short` arguments to 32 bits;
//! - no rounding of NGRN for 16-byte-aligned composites (C.10 is skipped);
//! - stack arguments are packed by natural alignment, not 8-byte slots.
//!   Composites that would go on the stack are therefore refused on Apple
//!   (unimplemented), so callers fall back.
//!
//! "Dummy" register values (`padding`) are how the register-exhaustion rules
//! are realized with Cranelift, which assigns parameters one by one.

use cranelift_codegen::ir::{ArgumentExtension, Type, types};

use super::integer_chunks;
use crate::AbiError;
use crate::ctype::{CType, Prototype, Scalar};
use crate::lowering::{ArgPass, HiddenReturn, ParamLowering, Part, RetPass};

/// Which AArch64 procedure call standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    Aapcs64,
    Apple,
}

const X_REGS: u32 = 8;
const V_REGS: u32 = 8;

fn hfa_parts(kind: Scalar, count: usize) -> Vec<Part> {
    (0..count as u32)
        .map(|i| Part {
            offset: i * kind.size(),
            ty: kind.clif_type(),
        })
        .collect()
}

/// The composite's memory image in 8-byte stack slots, as float values so
/// no X register can take them.
fn float_stack_chunks(size: u32) -> Vec<Part> {
    (0..size.div_ceil(8))
        .map(|i| {
            let ty: Type = if size - i * 8 <= 4 {
                types::F32
            } else {
                types::F64
            };
            Part { offset: i * 8, ty }
        })
        .collect()
}

pub(super) fn classify(
    prototype: &Prototype,
    flavor: Flavor,
) -> Result<(Vec<ParamLowering>, RetPass), AbiError> {
    let apple_stack = || AbiError::Unsupported("Apple arm64: composite passed on the stack".into());
    let ret = match &prototype.ret {
        None => RetPass::Void,
        Some(CType::Scalar(scalar)) => RetPass::Scalar(*scalar),
        Some(CType::Aggregate(aggregate)) => match aggregate.homogeneous_float() {
            Some((kind, count)) => RetPass::Parts(hfa_parts(kind, count)),
            None if aggregate.size() <= 16 => RetPass::Parts(integer_chunks(aggregate)),
            None => RetPass::Indirect(HiddenReturn::X8),
        },
    };
    let (mut x_free, mut v_free) = (X_REGS, V_REGS);
    let mut params = Vec::with_capacity(prototype.params.len());
    for param in &prototype.params {
        let mut padding = Vec::new();
        let pass = match param {
            CType::Scalar(scalar) => {
                if scalar.is_float() {
                    v_free = v_free.saturating_sub(1);
                } else {
                    x_free = x_free.saturating_sub(1);
                }
                let extension = match flavor {
                    Flavor::Apple => scalar.widening(),
                    Flavor::Aapcs64 => ArgumentExtension::None,
                };
                ArgPass::Scalar {
                    scalar: *scalar,
                    extension,
                }
            }
            CType::Aggregate(aggregate) if aggregate.size() > 16 => {
                x_free = x_free.saturating_sub(1);
                ArgPass::ByReference
            }
            CType::Aggregate(aggregate) => match aggregate.homogeneous_float() {
                Some((kind, count)) if count as u32 <= v_free => {
                    v_free -= count as u32;
                    ArgPass::Parts(hfa_parts(kind, count))
                }
                Some(_) => {
                    if flavor == Flavor::Apple {
                        return Err(apple_stack());
                    }
                    padding.extend(std::iter::repeat_n(types::F64, v_free as usize));
                    v_free = 0;
                    ArgPass::Parts(float_stack_chunks(aggregate.size()))
                }
                None => {
                    let needed = aggregate.size().div_ceil(8);
                    if flavor == Flavor::Aapcs64
                        && aggregate.align() == 16
                        && (X_REGS - x_free) % 2 == 1
                        && x_free > 0
                    {
                        padding.push(types::I64);
                        x_free -= 1;
                    }
                    if needed <= x_free {
                        x_free -= needed;
                    } else {
                        if flavor == Flavor::Apple {
                            return Err(apple_stack());
                        }
                        if aggregate.align() > 8 {
                            return Err(AbiError::Unsupported(
                                "over-aligned composite on the stack".into(),
                            ));
                        }
                        padding.extend(std::iter::repeat_n(types::I64, x_free as usize));
                        x_free = 0;
                    }
                    ArgPass::Parts(integer_chunks(aggregate))
                }
            },
        };
        params.push(ParamLowering { padding, pass });
    }
    Ok((params, ret))
}
