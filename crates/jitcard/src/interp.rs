//! The plan interpreter: runs a [`Plan`] against a value, through facet's
//! vtables, appending postcard bytes to a `Vec<u8>`.
//!
//! It is the engine on hosts without a code generator and the reference
//! semantics every other engine must reproduce byte for byte. It does no
//! shape inspection of its own: every decision was made by the lowering.

use core::ptr;

use facet_core::{IterDeallocFn, IterItem, PtrConst, PtrMut};

use crate::Error;
use crate::fallback;
use crate::plan::{
    DiscriminantRead, Elements, EnumOp, IntKind, Iteration, Node, NodeId, Op, Plan, StrAccess,
    VariantStep,
};
use crate::wire;

/// Appends the encoding of the value at `src`, whose shape is the plan's root.
///
/// # Safety
/// `src` must point at a live, initialized value of the plan root's shape
/// (a wide pointer when that shape is unsized).
pub(crate) unsafe fn encode(plan: &Plan, src: PtrConst, out: &mut Vec<u8>) -> Result<(), Error> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { encode_node(plan, plan.root(), src, out) }
}

/// # Safety
/// `src` points at a live value of `plan.node(id).shape`.
unsafe fn encode_node(
    plan: &Plan,
    id: NodeId,
    src: PtrConst,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let node = plan.node(id);
    let at = src.raw_ptr();
    // SAFETY (for every arm): `src` points at a value of `node.shape`, and the
    // lowering chose `node.op` from that shape, so each read below has the
    // type and offset facet reported, and each vtable function belongs to
    // that shape. Scalars are read unaligned so no alignment assumption is made.
    unsafe {
        match &node.op {
            Op::Nothing => {}
            Op::Bool | Op::Byte => out.push(*at),
            Op::Int(kind) => write_int(*kind, at, out),
            Op::F32 => wire::write_f32(out, ptr::read_unaligned(at.cast::<f32>())),
            Op::F64 => wire::write_f64(out, ptr::read_unaligned(at.cast::<f64>())),
            Op::Char => wire::write_char(out, ptr::read_unaligned(at.cast::<char>())),
            Op::Str(access) => wire::write_bytes(out, str_bytes(*access, src)),
            Op::Fields(fields) => {
                for field in fields {
                    encode_node(plan, field.node, src.field(field.offset), out)?;
                }
            }
            Op::Enum(op) => {
                let variant = active_variant(op, at).ok_or_else(|| {
                    node.invalid_discriminant(read_discriminant(op.discriminant, at))
                })?;
                wire::write_varint_u64(out, u64::from(variant.index));
                for field in &variant.fields {
                    encode_node(plan, field.node, src.field(field.offset), out)?;
                }
            }
            Op::Option(op) => {
                // `get_value` returns null for `None` (facet's documented
                // contract), so one call decides presence and address.
                let value = (op.vtable.get_value)(src);
                if value.is_null() {
                    out.push(0);
                } else {
                    out.push(1);
                    encode_node(plan, op.some, PtrConst::new(value), out)?;
                }
            }
            Op::Result(op) => {
                if (op.vtable.is_ok)(src) {
                    out.push(0);
                    encode_node(plan, op.ok, PtrConst::new((op.vtable.get_ok)(src)), out)?;
                } else {
                    out.push(1);
                    encode_node(plan, op.err, PtrConst::new((op.vtable.get_err)(src)), out)?;
                }
            }
            Op::Pointer(op) => encode_node(plan, op.pointee, (op.borrow)(src), out)?,
            Op::List(op) => {
                let len = (op.vtable.len)(src);
                wire::write_varint_u64(out, len as u64);
                if let Some(as_ptr) = op.vtable.as_ptr {
                    encode_run(plan, &op.elements, as_ptr(src).raw_ptr(), len, out)?;
                } else {
                    for index in 0..len {
                        let element = (op.vtable.get)(src, index, op.list_shape)
                            .ok_or_else(|| node.length_mismatch(len, index))?;
                        encode_node(plan, op.elements.node, element, out)?;
                    }
                }
            }
            Op::Slice(op) => {
                let len = (op.vtable.len)(src);
                wire::write_varint_u64(out, len as u64);
                encode_run(
                    plan,
                    &op.elements,
                    (op.vtable.as_ptr)(src).raw_ptr(),
                    len,
                    out,
                )?;
            }
            Op::Array(op) => encode_run(plan, &op.elements, at, op.len, out)?,
            Op::Set(op) => {
                let len = (op.len)(src);
                wire::write_varint_u64(out, len as u64);
                encode_iterated(node, len, &op.iter, src, |element| {
                    encode_node(plan, op.element, element, out)
                })?;
            }
            Op::Map(op) => {
                let len = (op.len)(src);
                wire::write_varint_u64(out, len as u64);
                encode_iterated(node, len, &op.iter, src, |(key, value)| {
                    encode_node(plan, op.key, key, out)?;
                    encode_node(plan, op.value, value, out)
                })?;
            }
            Op::Fallback(_) => fallback::encode(node, src, out)?,
        }
    }
    Ok(())
}

/// Encodes `len` elements laid out `elements.stride` bytes apart from `data`.
///
/// # Safety
/// `data` points at `len` live elements of the element node's shape.
unsafe fn encode_run(
    plan: &Plan,
    elements: &Elements,
    data: *const u8,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if len == 0 {
        return Ok(());
    }
    if elements.memory_is_wire {
        // SAFETY: the run is `len` initialized elements of `stride` bytes each,
        // and for these element types the bytes are the wire bytes.
        out.extend_from_slice(unsafe { core::slice::from_raw_parts(data, len * elements.stride) });
        return Ok(());
    }
    for index in 0..len {
        // SAFETY: `index < len`, so the element lies inside the run.
        let element = PtrConst::new(unsafe { data.add(index * elements.stride) });
        // SAFETY: the element is a live value of the element node's shape.
        unsafe { encode_node(plan, elements.node, element, out)? };
    }
    Ok(())
}

/// Runs `encode_item` on each item of the collection at `src`, checking that
/// it yields exactly the `len` items already written as the length prefix.
///
/// # Safety
/// `src` points at a live collection whose vtable `iteration` comes from.
unsafe fn encode_iterated<T: IterItem>(
    node: &Node,
    len: usize,
    iteration: &Iteration<T>,
    src: PtrConst,
    mut encode_item: impl FnMut(T::Item) -> Result<(), Error>,
) -> Result<(), Error> {
    // SAFETY: `init` belongs to the collection's vtable and `src` points at it.
    let iter = IterGuard {
        iter: unsafe { (iteration.init)(src) },
        dealloc: iteration.dealloc,
    };
    let mut yielded = 0;
    // SAFETY: `iter.iter` is a live iterator of this vtable until the guard drops.
    while let Some(item) = unsafe { (iteration.next)(iter.iter) } {
        if yielded == len {
            return Err(node.length_mismatch(len, yielded + 1));
        }
        encode_item(item)?;
        yielded += 1;
    }
    if yielded != len {
        return Err(node.length_mismatch(len, yielded));
    }
    Ok(())
}

/// # Safety
/// `at` points at an integer of the given kind.
unsafe fn write_int(kind: IntKind, at: *const u8, out: &mut Vec<u8>) {
    // SAFETY: the caller guarantees an integer of `kind` lives at `at`.
    unsafe {
        match kind {
            IntKind::U16 => {
                wire::write_varint_u64(out, ptr::read_unaligned(at.cast::<u16>()).into())
            }
            IntKind::U32 => {
                wire::write_varint_u64(out, ptr::read_unaligned(at.cast::<u32>()).into())
            }
            IntKind::U64 => wire::write_varint_u64(out, ptr::read_unaligned(at.cast::<u64>())),
            IntKind::U128 => wire::write_varint_u128(out, ptr::read_unaligned(at.cast::<u128>())),
            IntKind::I16 => {
                wire::write_varint_i64(out, ptr::read_unaligned(at.cast::<i16>()).into())
            }
            IntKind::I32 => {
                wire::write_varint_i64(out, ptr::read_unaligned(at.cast::<i32>()).into())
            }
            IntKind::I64 => wire::write_varint_i64(out, ptr::read_unaligned(at.cast::<i64>())),
            IntKind::I128 => wire::write_varint_i128(out, ptr::read_unaligned(at.cast::<i128>())),
        }
    }
}

/// # Safety
/// `src` points at a string of the given access kind (wide for `Unsized`).
unsafe fn str_bytes<'a>(access: StrAccess, src: PtrConst) -> &'a [u8] {
    // SAFETY: the lowering picked `access` from the shape's type id / layout.
    unsafe {
        match access {
            StrAccess::String => src.get::<String>().as_bytes(),
            StrAccess::StrRef => src.get::<&str>().as_bytes(),
            StrAccess::Unsized => {
                debug_assert!(
                    src.is_wide(),
                    "an unsized str is always reached through a wide pointer"
                );
                src.get::<str>().as_bytes()
            }
        }
    }
}

/// # Safety
/// `at` points at an enum whose discriminant is stored as `read` at offset 0.
unsafe fn read_discriminant(read: DiscriminantRead, at: *const u8) -> i64 {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        match read {
            DiscriminantRead::U8 => i64::from(*at),
            DiscriminantRead::U16 => i64::from(ptr::read_unaligned(at.cast::<u16>())),
            DiscriminantRead::U32 => i64::from(ptr::read_unaligned(at.cast::<u32>())),
            DiscriminantRead::U64 => ptr::read_unaligned(at.cast::<u64>()) as i64,
            DiscriminantRead::I8 => i64::from(ptr::read_unaligned(at.cast::<i8>())),
            DiscriminantRead::I16 => i64::from(ptr::read_unaligned(at.cast::<i16>())),
            DiscriminantRead::I32 => i64::from(ptr::read_unaligned(at.cast::<i32>())),
            DiscriminantRead::I64 => ptr::read_unaligned(at.cast::<i64>()),
        }
    }
}

/// # Safety
/// `at` points at a value of the enum `op` was lowered from.
unsafe fn active_variant(op: &EnumOp, at: *const u8) -> Option<&VariantStep> {
    // SAFETY: forwarded from the caller's contract.
    let discriminant = unsafe { read_discriminant(op.discriminant, at) };
    if op.dense {
        usize::try_from(discriminant)
            .ok()
            .and_then(|index| op.variants.get(index))
    } else {
        op.variants.iter().find(|v| v.discriminant == discriminant)
    }
}

/// Frees a facet collection iterator however the loop over it ends.
struct IterGuard {
    iter: PtrMut,
    dealloc: IterDeallocFn,
}

impl Drop for IterGuard {
    fn drop(&mut self) {
        // SAFETY: `iter` came from the same vtable's `init_with_value` and is
        // freed exactly once, here.
        unsafe { (self.dealloc)(self.iter) }
    }
}
