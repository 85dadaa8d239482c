//! The result of classification: how each parameter and the return value
//! cross the call, as data (pass modes), plus the Cranelift `Signature`
//! that realizes them.

use cranelift_codegen::ir::{AbiParam, ArgumentExtension, ArgumentPurpose, Signature, Type, types};
use cranelift_codegen::isa::CallConv;

use crate::ctype::{CType, Prototype, Scalar};

/// Bytes `[offset, offset + ty.bytes())` of an aggregate, travelling as one
/// Cranelift value of type `ty` (a register, or a stack slot once registers
/// run out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub offset: u32,
    pub ty: Type,
}

/// How one parameter is passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgPass {
    /// A scalar as itself, widened by the caller when `extension` says so.
    Scalar {
        scalar: Scalar,
        extension: ArgumentExtension,
    },
    /// An aggregate split into parts, in order.
    Parts(Vec<Part>),
    /// An aggregate copied by value into the outgoing stack area (SysV
    /// MEMORY class): the call passes a pointer to `size` bytes and Cranelift
    /// copies them (`ArgumentPurpose::StructArgument`).
    StackCopy { size: u32 },
    /// A pointer to a copy the caller makes (16-byte aligned) and the callee
    /// may modify.
    ByReference,
}

/// How one parameter is passed, after the dummy register values (if any)
/// that must precede it so it lands where the convention puts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLowering {
    /// Dummy values (zeros) burning the registers the convention skips.
    pub padding: Vec<Type>,
    /// The parameter itself.
    pub pass: ArgPass,
}

/// Where a hidden result pointer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HiddenReturn {
    /// As an extra first argument (x86-64: RDI on SysV, RCX on Windows); the
    /// callee returns it in RAX, which the call ignores.
    FirstArgument,
    /// In X8 (AArch64's indirect result register).
    X8,
}

/// How the return value comes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetPass {
    Void,
    Scalar(Scalar),
    /// An aggregate in registers, in parts.
    Parts(Vec<Part>),
    /// An aggregate written by the callee to memory the caller provides.
    Indirect(HiddenReturn),
}

/// A prototype lowered for one calling convention.
#[derive(Clone, Debug)]
pub struct LoweredCall {
    /// The prototype this lowers.
    pub prototype: Prototype,
    /// The calling convention.
    pub call_conv: CallConv,
    /// Per parameter, in prototype order.
    pub params: Vec<ParamLowering>,
    /// The return value.
    pub ret: RetPass,
}

impl LoweredCall {
    /// The Cranelift signature of the callee: declare the callee (or import
    /// the signature for `call_indirect`) with it.
    pub fn signature(&self) -> Signature {
        let mut sig = Signature::new(self.call_conv);
        match self.ret {
            RetPass::Indirect(HiddenReturn::FirstArgument) => {
                sig.params.push(AbiParam::new(types::I64));
                sig.returns.push(AbiParam::new(types::I64));
            }
            RetPass::Indirect(HiddenReturn::X8) => {
                sig.params
                    .push(AbiParam::special(types::I64, ArgumentPurpose::StructReturn));
            }
            RetPass::Void => {}
            RetPass::Scalar(scalar) => sig.returns.push(AbiParam::new(scalar.clif_type())),
            RetPass::Parts(ref parts) => sig
                .returns
                .extend(parts.iter().map(|p| AbiParam::new(p.ty))),
        }
        for param in &self.params {
            sig.params
                .extend(param.padding.iter().map(|&t| AbiParam::new(t)));
            match &param.pass {
                ArgPass::Scalar { scalar, extension } => {
                    let param = AbiParam::new(scalar.clif_type());
                    sig.params.push(match extension {
                        ArgumentExtension::Uext => param.uext(),
                        ArgumentExtension::Sext => param.sext(),
                        ArgumentExtension::None => param,
                    })
                }
                ArgPass::Parts(parts) => {
                    sig.params.extend(parts.iter().map(|p| AbiParam::new(p.ty)))
                }
                ArgPass::StackCopy { size } => sig.params.push(AbiParam::special(
                    types::I64,
                    ArgumentPurpose::StructArgument(*size),
                )),
                ArgPass::ByReference => sig.params.push(AbiParam::new(types::I64)),
            }
        }
        sig
    }

    /// The aggregate layout of parameter `index`, if it is an aggregate.
    pub(crate) fn param_type(&self, index: usize) -> &CType {
        &self.prototype.params[index]
    }
}
