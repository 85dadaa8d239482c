//! x86-64 Windows (Microsoft x64 calling convention).
//!
//! - Aggregates of 1, 2, 4 or 8 bytes are passed and returned as integers
//!   of that size (whatever their fields: floats included).
//! - Other aggregates are passed by reference to a copy the caller makes
//!   (16-byte aligned), and returned through a hidden pointer in the first
//!   argument slot (RCX), shifting the real arguments by one; the callee
//!   returns that pointer in RAX.
//! - Registers are assigned by argument position (RCX/XMM0, RDX/XMM1,
//!   R8/XMM2, R9/XMM3), the fifth argument on is on the stack: Cranelift's
//!   `WindowsFastcall` does this for the scalar parts given here.
//! - No widening of narrow integers is promised to callees.

use cranelift_codegen::ir::{ArgumentExtension, Type, types};

use crate::AbiError;
use crate::ctype::{Aggregate, CType, Prototype};
use crate::lowering::{ArgPass, HiddenReturn, ParamLowering, Part, RetPass};

/// The integer type an aggregate of this size travels as, if any.
fn by_value_type(aggregate: &Aggregate) -> Option<Type> {
    match aggregate.size() {
        1 => Some(types::I8),
        2 => Some(types::I16),
        4 => Some(types::I32),
        8 => Some(types::I64),
        _ => None,
    }
}

pub(super) fn classify(prototype: &Prototype) -> Result<(Vec<ParamLowering>, RetPass), AbiError> {
    let ret = match &prototype.ret {
        None => RetPass::Void,
        Some(CType::Scalar(scalar)) => RetPass::Scalar(*scalar),
        Some(CType::Aggregate(aggregate)) => match by_value_type(aggregate) {
            Some(ty) => RetPass::Parts(vec![Part { offset: 0, ty }]),
            None => RetPass::Indirect(HiddenReturn::FirstArgument),
        },
    };
    let params = prototype
        .params
        .iter()
        .map(|param| {
            let pass = match param {
                CType::Scalar(scalar) => ArgPass::Scalar {
                    scalar: *scalar,
                    extension: ArgumentExtension::None,
                },
                CType::Aggregate(aggregate) => match by_value_type(aggregate) {
                    Some(ty) => ArgPass::Parts(vec![Part { offset: 0, ty }]),
                    None => ArgPass::ByReference,
                },
            };
            ParamLowering {
                padding: Vec::new(),
                pass,
            }
        })
        .collect();
    Ok((params, ret))
}
