//! C-ABI lowering of aggregates at Cranelift call sites.
//!
//! Cranelift has no aggregate types: a JIT that calls a C function taking or
//! returning a struct by value must split it into registers, copy it to the
//! stack, or pass hidden pointers itself, differently per calling
//! convention. This crate does that, knowing nothing about the caller:
//!
//! 1. describe the C prototype with [`CType`] / [`Aggregate`] / [`Prototype`];
//! 2. [`lower`] it for a calling convention into a [`LoweredCall`]: the pass
//!    mode of every parameter and of the result, as data, and the callee's
//!    Cranelift [`Signature`](cranelift_codegen::ir::Signature);
//! 3. [`emit_call`] emits the call from argument values held as scalar
//!    fields or as the address of a copy in memory, and returns the result
//!    in either form.
//!
//! Covered: x86-64 System V, x86-64 Windows, AArch64 AAPCS64 (Linux) and
//! Apple arm64 (register cases; composites it would pass on the stack are
//! refused). See the crate README for the rules and what is not covered.

mod classify;
mod ctype;
mod emit;
mod lowering;

use core::fmt;

use cranelift_codegen::isa::CallConv;

pub use classify::lower;
pub use ctype::{Aggregate, CType, Field, FlatField, Prototype, Scalar};
pub use emit::{ArgValue, CallResult, Callee, ResultForm, emit_call};
pub use lowering::{ArgPass, HiddenReturn, LoweredCall, ParamLowering, Part, RetPass};

/// Why a prototype cannot be lowered or a call emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbiError {
    /// The calling convention is not one this crate implements.
    UnsupportedCallConv(CallConv),
    /// The convention is implemented, but not this case of it.
    Unsupported(String),
    /// An aggregate's layout is inconsistent.
    InvalidLayout(String),
    /// The argument values given do not match the prototype.
    ArgumentMismatch(String),
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbiError::UnsupportedCallConv(cc) => {
                write!(f, "calling convention {cc} is not supported")
            }
            AbiError::Unsupported(what) => write!(f, "unsupported: {what}"),
            AbiError::InvalidLayout(what) => write!(f, "invalid aggregate layout: {what}"),
            AbiError::ArgumentMismatch(what) => {
                write!(f, "arguments do not match the prototype: {what}")
            }
        }
    }
}

impl std::error::Error for AbiError {}
