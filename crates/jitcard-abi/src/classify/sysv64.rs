//! x86-64 System V (AMD64 psABI §3.2.3, "Parameter Passing").
//!
//! - Aggregates over 16 bytes, or with unaligned fields, are class MEMORY:
//!   passed by value on the stack, returned through a hidden pointer in RDI
//!   (returned again in RAX).
//! - Otherwise each eightbyte is INTEGER if any scalar in it is an integer
//!   or pointer, else SSE; INTEGER eightbytes take the next GPR (RDI, RSI,
//!   RDX, RCX, R8, R9), SSE ones the next XMM (XMM0-7). Two `f32`s in one
//!   eightbyte share an XMM register (passed here as the `f64` bit pattern).
//! - All or nothing: if the aggregate's eightbytes do not all fit in the
//!   remaining registers, the whole aggregate goes on the stack, and later
//!   arguments still use the registers that are left.
//! - Returns: INTEGER eightbytes in RAX then RDX, SSE ones in XMM0 then XMM1.
//! - Callers widen `char`/`short` to 32 bits (what GCC and Clang rely on).

use cranelift_codegen::ir::{Type, types};

use super::eightbytes;
use crate::AbiError;
use crate::ctype::{Aggregate, CType, Prototype, Scalar};
use crate::lowering::{ArgPass, HiddenReturn, ParamLowering, Part, RetPass};

const GPRS: u32 = 6;
const XMMS: u32 = 8;

/// The register class of one eightbyte, with the Cranelift type of its part.
fn eightbyte_part(start: u32, scalars: &[Scalar]) -> Result<(bool, Part), AbiError> {
    if scalars.is_empty() {
        return Err(AbiError::Unsupported(
            "an eightbyte made only of padding".into(),
        ));
    }
    if scalars.iter().any(|s| !s.is_float()) {
        return Ok((
            false,
            Part {
                offset: start,
                ty: types::I64,
            },
        ));
    }
    let ty: Type = match scalars {
        [Scalar::F32] => types::F32,
        _ => types::F64, // one f64, or two f32 sharing the register's low 64 bits
    };
    Ok((true, Part { offset: start, ty }))
}

/// Parts of a register-class aggregate, and how many GPRs and XMMs it needs;
/// `None` for class MEMORY.
fn register_parts(aggregate: &Aggregate) -> Result<Option<(Vec<Part>, u32, u32)>, AbiError> {
    if aggregate.size() > 16 || aggregate.has_unaligned_fields() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let (mut gprs, mut xmms) = (0, 0);
    for (start, scalars) in eightbytes(aggregate) {
        let (is_sse, part) = eightbyte_part(start, &scalars)?;
        if is_sse {
            xmms += 1
        } else {
            gprs += 1
        }
        parts.push(part);
    }
    Ok(Some((parts, gprs, xmms)))
}

pub(super) fn classify(prototype: &Prototype) -> Result<(Vec<ParamLowering>, RetPass), AbiError> {
    let (mut gprs, mut xmms) = (GPRS, XMMS);
    let ret = match &prototype.ret {
        None => RetPass::Void,
        Some(CType::Scalar(scalar)) => RetPass::Scalar(*scalar),
        Some(CType::Aggregate(aggregate)) => match register_parts(aggregate)? {
            Some((parts, _, _)) => RetPass::Parts(parts),
            None => {
                gprs -= 1; // the hidden pointer takes RDI
                RetPass::Indirect(HiddenReturn::FirstArgument)
            }
        },
    };
    let mut params = Vec::with_capacity(prototype.params.len());
    for param in &prototype.params {
        let pass = match param {
            CType::Scalar(scalar) => {
                if scalar.is_float() {
                    xmms = xmms.saturating_sub(1);
                } else {
                    gprs = gprs.saturating_sub(1);
                }
                ArgPass::Scalar {
                    scalar: *scalar,
                    extension: scalar.widening(),
                }
            }
            CType::Aggregate(aggregate) => match register_parts(aggregate)? {
                Some((parts, need_gprs, need_xmms)) if need_gprs <= gprs && need_xmms <= xmms => {
                    gprs -= need_gprs;
                    xmms -= need_xmms;
                    ArgPass::Parts(parts)
                }
                // MEMORY class, or registers ran out: all of it on the stack.
                _ => ArgPass::StackCopy {
                    size: aggregate.size().next_multiple_of(8),
                },
            },
        };
        params.push(ParamLowering {
            padding: Vec::new(),
            pass,
        });
    }
    Ok((params, ret))
}
