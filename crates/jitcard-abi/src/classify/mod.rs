//! Classification: a [`Prototype`] and a calling convention → a
//! [`LoweredCall`] (pass modes as data). One file per convention; each
//! cites the rules it implements. Conventions not listed are refused with
//! [`AbiError::UnsupportedCallConv`], so callers can fall back (e.g. to a
//! trampoline compiled by rustc).

mod aarch64;
mod sysv64;
mod win64;

use cranelift_codegen::isa::CallConv;

use crate::AbiError;
use crate::ctype::{Aggregate, Prototype, Scalar};
use crate::lowering::{LoweredCall, Part};
use cranelift_codegen::ir::types;

/// Lowers `prototype` for a call with `call_conv`.
///
/// `SystemV` means the x86-64 System V ABI unless `aarch64` is set, in
/// which case it means AAPCS64 (Linux); `AppleAarch64` and
/// `WindowsFastcall` are what they say.
pub fn lower(
    prototype: &Prototype,
    call_conv: CallConv,
    aarch64: bool,
) -> Result<LoweredCall, AbiError> {
    let (params, ret) = match (call_conv, aarch64) {
        (CallConv::SystemV, false) => sysv64::classify(prototype)?,
        (CallConv::WindowsFastcall, false) => win64::classify(prototype)?,
        (CallConv::SystemV, true) => aarch64::classify(prototype, aarch64::Flavor::Aapcs64)?,
        (CallConv::AppleAarch64, true) => aarch64::classify(prototype, aarch64::Flavor::Apple)?,
        (other, _) => return Err(AbiError::UnsupportedCallConv(other)),
    };
    Ok(LoweredCall {
        prototype: prototype.clone(),
        call_conv,
        params,
        ret,
    })
}

/// The aggregate cut into 8-byte chunks (the last one may be shorter), each
/// with the scalars that overlap it.
pub(crate) fn eightbytes(aggregate: &Aggregate) -> Vec<(u32, Vec<Scalar>)> {
    let flat = aggregate.flatten();
    (0..aggregate.size().div_ceil(8))
        .map(|chunk| {
            let start = chunk * 8;
            let scalars = flat
                .iter()
                .filter(|f| f.offset < start + 8 && f.offset + f.scalar.size() > start)
                .map(|f| f.scalar)
                .collect();
            (start, scalars)
        })
        .collect()
}

/// Integer parts of 8 bytes covering the aggregate (the last covers the
/// tail; bytes past the size are padding the callee ignores).
pub(crate) fn integer_chunks(aggregate: &Aggregate) -> Vec<Part> {
    (0..aggregate.size().div_ceil(8))
        .map(|i| Part {
            offset: i * 8,
            ty: types::I64,
        })
        .collect()
}
