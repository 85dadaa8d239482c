//! Emitting a call with `cranelift-frontend`: arguments given as scalar
//! fields or as the address of a copy in memory are turned into the parts a
//! [`LoweredCall`] asks for (through stack slots this module creates, sized
//! and aligned for the aggregate), and results come back in either form.

use cranelift_codegen::ir::{
    FuncRef, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, Type, Value, types,
};
use cranelift_frontend::FunctionBuilder;

use crate::AbiError;
use crate::ctype::{Aggregate, CType, FlatField};
use crate::lowering::{ArgPass, HiddenReturn, LoweredCall, Part, RetPass};

/// An argument value.
#[derive(Clone, Debug)]
pub enum ArgValue {
    /// A scalar parameter's value.
    Scalar(Value),
    /// An aggregate as its scalar fields, in [`Aggregate::flatten`] order.
    Fields(Vec<Value>),
    /// An aggregate as the address of its bytes (read, never written).
    InMemory(Value),
}

/// In which form the caller wants an aggregate result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultForm {
    /// Its scalar fields, in [`Aggregate::flatten`] order.
    Fields,
    /// The address of a stack slot holding it (valid in the calling function).
    InMemory,
}

/// A call's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    Void,
    Scalar(Value),
    Fields(Vec<Value>),
    InMemory(Value),
}

/// What is called.
#[derive(Clone, Copy, Debug)]
pub enum Callee {
    /// A function pointer (`call_indirect`).
    Indirect(Value),
    /// A function declared in the module with [`LoweredCall::signature`].
    Direct(FuncRef),
}

fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// A stack slot for `size` bytes (rounded up to 8) aligned to `align`.
fn slot(b: &mut FunctionBuilder, size: u32, align: u32) -> Value {
    let align_shift = align.max(8).trailing_zeros() as u8;
    let data = StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        size.next_multiple_of(8).max(8),
        align_shift,
    );
    let slot = b.create_sized_stack_slot(data);
    b.ins().stack_addr(types::I64, slot, 0)
}

/// Copies `size` bytes from `src` to `dst`, never touching bytes past `size`.
fn copy_bytes(b: &mut FunctionBuilder, dst: Value, src: Value, size: u32) {
    let mut offset = 0;
    for (width, ty) in [
        (8, types::I64),
        (4, types::I32),
        (2, types::I16),
        (1, types::I8),
    ] {
        while size - offset >= width {
            let value = b.ins().load(ty, flags(), src, offset as i32);
            b.ins().store(flags(), value, dst, offset as i32);
            offset += width;
        }
    }
}

/// Reinterprets `value` as `ty` (same size, possibly int ↔ float).
fn as_type(b: &mut FunctionBuilder, value: Value, ty: Type) -> Value {
    let have = b.func.dfg.value_type(value);
    if have == ty {
        value
    } else {
        b.ins().bitcast(ty, MemFlagsData::new(), value)
    }
}

/// The fields, if each part is exactly one field (same offset and size):
/// then parts and fields convert without memory.
fn one_field_per_part(flat: &[FlatField], parts: &[Part]) -> Option<Vec<usize>> {
    parts
        .iter()
        .map(|part| {
            flat.iter()
                .position(|f| f.offset == part.offset && f.scalar.size() == part.ty.bytes())
        })
        .collect::<Option<Vec<_>>>()
        .filter(|fields| fields.len() == flat.len())
}

/// Writes an aggregate argument into a fresh slot (16-byte aligned) and
/// returns the slot's address.
fn to_memory(
    b: &mut FunctionBuilder,
    aggregate: &Aggregate,
    value: &ArgValue,
) -> Result<Value, AbiError> {
    let dst = slot(b, aggregate.size(), aggregate.align().max(16));
    match value {
        ArgValue::Fields(fields) => {
            let flat = aggregate.flatten();
            if fields.len() != flat.len() {
                return Err(AbiError::ArgumentMismatch(format!(
                    "{} field values for an aggregate of {} scalars",
                    fields.len(),
                    flat.len()
                )));
            }
            for (field, value) in flat.iter().zip(fields) {
                let value = as_type(b, *value, field.scalar.clif_type());
                b.ins().store(flags(), value, dst, field.offset as i32);
            }
        }
        ArgValue::InMemory(src) => copy_bytes(b, dst, *src, aggregate.size()),
        ArgValue::Scalar(_) => {
            return Err(AbiError::ArgumentMismatch(
                "a scalar value for an aggregate parameter".into(),
            ));
        }
    }
    Ok(dst)
}

/// The part values of an aggregate argument.
fn parts_of(
    b: &mut FunctionBuilder,
    aggregate: &Aggregate,
    parts: &[Part],
    value: &ArgValue,
) -> Result<Vec<Value>, AbiError> {
    if let ArgValue::Fields(fields) = value {
        let flat = aggregate.flatten();
        if fields.len() == flat.len()
            && let Some(mapping) = one_field_per_part(&flat, parts)
        {
            return Ok(mapping
                .iter()
                .zip(parts)
                .map(|(&f, part)| as_type(b, fields[f], part.ty))
                .collect());
        }
    }
    // Parts may overhang the aggregate's size (a 3-byte struct travels as an
    // i64): read them from a padded copy, never from the caller's memory.
    let needs_copy = match value {
        ArgValue::InMemory(_) => parts
            .iter()
            .any(|p| p.offset + p.ty.bytes() > aggregate.size()),
        _ => true,
    };
    let src = match value {
        ArgValue::InMemory(src) if !needs_copy => *src,
        _ => to_memory(b, aggregate, value)?,
    };
    Ok(parts
        .iter()
        .map(|part| b.ins().load(part.ty, flags(), src, part.offset as i32))
        .collect())
}

/// Reads an aggregate result held at `src` in the requested form.
fn result_from_memory(
    b: &mut FunctionBuilder,
    aggregate: &Aggregate,
    src: Value,
    form: ResultForm,
) -> CallResult {
    match form {
        ResultForm::InMemory => CallResult::InMemory(src),
        ResultForm::Fields => CallResult::Fields(
            aggregate
                .flatten()
                .iter()
                .map(|f| {
                    b.ins()
                        .load(f.scalar.clif_type(), flags(), src, f.offset as i32)
                })
                .collect(),
        ),
    }
}

/// Emits the call `lowered` describes, with `args` in prototype order.
pub fn emit_call(
    b: &mut FunctionBuilder,
    lowered: &LoweredCall,
    callee: Callee,
    args: &[ArgValue],
    form: ResultForm,
) -> Result<CallResult, AbiError> {
    if args.len() != lowered.params.len() {
        return Err(AbiError::ArgumentMismatch(format!(
            "{} arguments for {} parameters",
            args.len(),
            lowered.params.len()
        )));
    }
    let ret_aggregate = match &lowered.prototype.ret {
        Some(CType::Aggregate(aggregate)) => Some(aggregate),
        _ => None,
    };
    let mut values = Vec::new();
    let mut result_slot = None;
    if let (RetPass::Indirect(_), Some(aggregate)) = (&lowered.ret, ret_aggregate) {
        let dst = slot(b, aggregate.size(), aggregate.align().max(16));
        values.push(dst);
        result_slot = Some(dst);
    }
    for (index, (param, arg)) in lowered.params.iter().zip(args).enumerate() {
        for &ty in &param.padding {
            let zero = match ty {
                types::F64 => b.ins().f64const(0.0),
                types::F32 => b.ins().f32const(0.0),
                _ => b.ins().iconst(ty, 0),
            };
            values.push(zero);
        }
        match (&param.pass, lowered.param_type(index), arg) {
            (ArgPass::Scalar { scalar, .. }, CType::Scalar(_), ArgValue::Scalar(v)) => {
                values.push(as_type(b, *v, scalar.clif_type()))
            }
            (ArgPass::Parts(parts), CType::Aggregate(aggregate), arg) => {
                values.extend(parts_of(b, aggregate, parts, arg)?)
            }
            (ArgPass::StackCopy { .. }, CType::Aggregate(aggregate), arg) => {
                // Cranelift copies the (8-byte rounded) size from this address.
                let src = match arg {
                    ArgValue::InMemory(src) if aggregate.size() % 8 == 0 => *src,
                    _ => to_memory(b, aggregate, arg)?,
                };
                values.push(src);
            }
            (ArgPass::ByReference, CType::Aggregate(aggregate), arg) => {
                // Always a fresh copy: the callee owns it and may write to it.
                values.push(to_memory(b, aggregate, arg)?);
            }
            (_, _, arg) => {
                return Err(AbiError::ArgumentMismatch(format!(
                    "parameter {index}: {arg:?} does not fit its type"
                )));
            }
        }
    }

    let call = match callee {
        Callee::Direct(func) => b.ins().call(func, &values),
        Callee::Indirect(address) => {
            let sig = b.import_signature(lowered.signature());
            b.ins().call_indirect(sig, address, &values)
        }
    };
    let results = b.inst_results(call).to_vec();

    Ok(match (&lowered.ret, ret_aggregate) {
        (RetPass::Void, _) => CallResult::Void,
        (RetPass::Scalar(_), _) => CallResult::Scalar(results[0]),
        (RetPass::Indirect(HiddenReturn::FirstArgument | HiddenReturn::X8), Some(aggregate)) => {
            let src = result_slot.expect("indirect results have a slot");
            result_from_memory(b, aggregate, src, form)
        }
        (RetPass::Parts(parts), Some(aggregate)) => {
            let flat = aggregate.flatten();
            match (form, one_field_per_part(&flat, parts)) {
                (ResultForm::Fields, Some(mapping)) => {
                    let mut fields = vec![results[0]; flat.len()];
                    for ((&f, part_value), _) in mapping.iter().zip(&results).zip(parts) {
                        fields[f] = as_type(b, *part_value, flat[f].scalar.clif_type());
                    }
                    CallResult::Fields(fields)
                }
                _ => {
                    let dst = slot(
                        b,
                        aggregate.size().next_multiple_of(8),
                        aggregate.align().max(8),
                    );
                    for (part, value) in parts.iter().zip(&results) {
                        b.ins().store(flags(), *value, dst, part.offset as i32);
                    }
                    result_from_memory(b, aggregate, dst, form)
                }
            }
        }
        (ret, _) => {
            return Err(AbiError::ArgumentMismatch(format!(
                "return lowering {ret:?} without an aggregate"
            )));
        }
    })
}
