//! Test harness shared by the ABI tests: the matrix of aggregates, and a
//! generator of Cranelift "harness" functions that call a C-ABI callee
//! through `jitcard_abi::emit_call`.
//!
//! A harness has the signature `fn(out: *mut u64) -> u64` in the module's
//! own convention. For an argument case it passes `leading` u64 values
//! (1000, 1001, ...), the aggregate, then the tail value 0x77, and returns
//! what the callee returned. For a result case it passes the seed and
//! stores each field of the returned aggregate into `out[i]` (zero-extended
//! bits), returning 0.

#![allow(dead_code)] // each test binary uses a subset

use cranelift_codegen::ir::{
    AbiParam, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{FuncId, Linkage, Module};
use jitcard_abi::{
    Aggregate, ArgValue, CType, CallResult, Callee, Prototype, ResultForm, Scalar, emit_call, lower,
};

/// The tail scalar passed after the aggregate.
pub const TAIL: u64 = 0x77;

/// How many f64s [`Kind::TakeAfterFloats`] passes first.
pub const FLOATS: usize = 8;

/// One aggregate of the matrix: its name (also the C/Rust type name), its
/// members, and the member values for a seed.
#[derive(Clone, Debug)]
pub struct Shape {
    pub name: &'static str,
    pub members: Vec<Scalar>,
}

impl Shape {
    pub fn aggregate(&self) -> Aggregate {
        Aggregate::c_struct(self.members.iter().map(|&s| CType::Scalar(s)))
    }

    /// The value bits of member `i` for `seed` (what Rust and C also compute).
    pub fn member_bits(&self, seed: u64, i: usize) -> u64 {
        member_bits(self.members[i], seed, i)
    }
}

/// Deterministic member values: the same formula is written in the Rust
/// callees and the C callees.
pub fn member_bits(scalar: Scalar, seed: u64, i: usize) -> u64 {
    let raw = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64 + 1) * 0x0101_0101_0101_0101);
    match scalar {
        Scalar::U8 | Scalar::I8 => raw & 0xFF,
        Scalar::U16 | Scalar::I16 => raw & 0xFFFF,
        Scalar::U32 | Scalar::I32 => raw & 0xFFFF_FFFF,
        Scalar::F32 => f32::to_bits((seed as f32) + i as f32 * 0.5 + 0.25) as u64,
        Scalar::F64 => f64::to_bits((seed as f64) * 1.5 + i as f64 + 0.125),
        _ => raw,
    }
}

/// The aggregates of the matrix: 1, 2, 3, 4, 5, 8, 12, 16, 24 bytes of
/// integers/pointers, and {f32,f32}, {f64,f64}, {i64,f64}, {f32 x4}.
pub fn shapes() -> Vec<Shape> {
    use Scalar::*;
    vec![
        Shape {
            name: "S1",
            members: vec![U8],
        },
        Shape {
            name: "S2",
            members: vec![U8, U8],
        },
        Shape {
            name: "S3",
            members: vec![U8, U8, U8],
        },
        Shape {
            name: "S4",
            members: vec![U16, U16],
        },
        Shape {
            name: "S5",
            members: vec![U8, U8, U8, U8, U8],
        },
        Shape {
            name: "S8",
            members: vec![U32, U32],
        },
        Shape {
            name: "S12",
            members: vec![U32, U32, U32],
        },
        Shape {
            name: "S16",
            members: vec![U64, Ptr],
        },
        Shape {
            name: "S24",
            members: vec![U64, U64, U64],
        },
        Shape {
            name: "F2",
            members: vec![F32, F32],
        },
        Shape {
            name: "D2",
            members: vec![F64, F64],
        },
        Shape {
            name: "M",
            members: vec![I64, F64],
        },
        Shape {
            name: "F4",
            members: vec![F32, F32, F32, F32],
        },
    ]
}

/// What a harness does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Passes `leading` u64s, the aggregate, then [`TAIL`].
    Take { leading: usize },
    /// Passes eight f64s (`i + 0.5`), the aggregate, then [`TAIL`]: every
    /// floating-point argument register is taken before the aggregate.
    TakeAfterFloats,
    /// Receives the aggregate made from a seed.
    Give,
}

impl Kind {
    /// The scalars passed before the aggregate: `leading` u64s (1000, 1001,
    /// ...) or [`FLOATS`] f64s (`i + 0.5`); none for [`Kind::Give`].
    pub fn leading(self) -> Vec<Scalar> {
        match self {
            Kind::Take { leading } => vec![Scalar::U64; leading],
            Kind::TakeAfterFloats => vec![Scalar::F64; FLOATS],
            Kind::Give => Vec::new(),
        }
    }
}

/// Where the harness finds the callee.
pub enum Target<'a> {
    /// A function pointer, called with `call_indirect`.
    Address(usize),
    /// A symbol the object file imports.
    Symbol(&'a str),
}

/// The callee's prototype for a case.
pub fn prototype(shape: &Shape, kind: Kind) -> Prototype {
    let aggregate = CType::Aggregate(shape.aggregate());
    match kind {
        Kind::Take { .. } | Kind::TakeAfterFloats => {
            let mut params: Vec<CType> = kind.leading().into_iter().map(CType::Scalar).collect();
            params.push(aggregate);
            params.push(CType::Scalar(Scalar::U64));
            Prototype {
                params,
                ret: Some(CType::Scalar(Scalar::U64)),
            }
        }
        Kind::Give => Prototype {
            params: vec![CType::Scalar(Scalar::U64)],
            ret: Some(aggregate),
        },
    }
}

fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Defines the harness `name` in `module` for `shape`/`kind`, the callee
/// using `callee_conv` (`aarch64` selects the AArch64 meaning of SystemV),
/// with the aggregate given as fields or in memory.
#[allow(clippy::too_many_arguments)]
pub fn define_harness<M: Module>(
    module: &mut M,
    name: &str,
    shape: &Shape,
    kind: Kind,
    seed: u64,
    callee_conv: CallConv,
    aarch64: bool,
    in_memory: bool,
    target: Target,
) -> FuncId {
    let lowered = lower(&prototype(shape, kind), callee_conv, aarch64).expect("prototype lowers");
    let own_conv = module.isa().default_call_conv();
    let mut sig = Signature::new(own_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    let id = module
        .declare_function(name, Linkage::Export, &sig)
        .expect("declare harness");
    let callee = match target {
        Target::Symbol(symbol) => Some(
            module
                .declare_function(symbol, Linkage::Import, &lowered.signature())
                .expect("declare callee"),
        ),
        Target::Address(_) => None,
    };

    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let out = b.block_params(entry)[0];
        let callee = match (target, callee) {
            (Target::Address(address), _) => {
                Callee::Indirect(b.ins().iconst(types::I64, address as i64))
            }
            (Target::Symbol(_), Some(id)) => {
                Callee::Direct(module.declare_func_in_func(id, b.func))
            }
            _ => unreachable!(),
        };
        let aggregate = shape.aggregate();
        let args = match kind {
            Kind::Take { .. } | Kind::TakeAfterFloats => {
                let mut args: Vec<ArgValue> = kind
                    .leading()
                    .into_iter()
                    .enumerate()
                    .map(|(i, scalar)| {
                        ArgValue::Scalar(match scalar {
                            Scalar::F64 => b.ins().f64const(i as f64 + 0.5),
                            _ => b.ins().iconst(types::I64, 1000 + i as i64),
                        })
                    })
                    .collect();
                let fields: Vec<_> = shape
                    .members
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let bits = shape.member_bits(seed, i);
                        match s {
                            Scalar::F32 => b.ins().f32const(f32::from_bits(bits as u32)),
                            Scalar::F64 => b.ins().f64const(f64::from_bits(bits)),
                            _ => b.ins().iconst(s.clif_type(), bits as i64),
                        }
                    })
                    .collect();
                args.push(if in_memory {
                    let slot = b.create_sized_stack_slot(StackSlotData::new(
                        StackSlotKind::ExplicitSlot,
                        aggregate.size().next_multiple_of(8),
                        3,
                    ));
                    let address = b.ins().stack_addr(types::I64, slot, 0);
                    for (field, value) in aggregate.flatten().iter().zip(&fields) {
                        b.ins().store(flags(), *value, address, field.offset as i32);
                    }
                    ArgValue::InMemory(address)
                } else {
                    ArgValue::Fields(fields)
                });
                args.push(ArgValue::Scalar(b.ins().iconst(types::I64, TAIL as i64)));
                args
            }
            Kind::Give => vec![ArgValue::Scalar(b.ins().iconst(types::I64, seed as i64))],
        };
        let form = if in_memory {
            ResultForm::InMemory
        } else {
            ResultForm::Fields
        };
        let result = emit_call(&mut b, &lowered, callee, &args, form).expect("call emits");
        let ret = match result {
            CallResult::Scalar(v) => v,
            CallResult::Fields(fields) => {
                for (i, (value, scalar)) in fields.iter().zip(&shape.members).enumerate() {
                    let bits = to_u64_bits(&mut b, *value, *scalar);
                    b.ins().store(flags(), bits, out, (i * 8) as i32);
                }
                b.ins().iconst(types::I64, 0)
            }
            CallResult::InMemory(address) => {
                for (i, (field, scalar)) in
                    aggregate.flatten().iter().zip(&shape.members).enumerate()
                {
                    let value =
                        b.ins()
                            .load(scalar.clif_type(), flags(), address, field.offset as i32);
                    let bits = to_u64_bits(&mut b, value, *scalar);
                    b.ins().store(flags(), bits, out, (i * 8) as i32);
                }
                b.ins().iconst(types::I64, 0)
            }
            CallResult::Void => unreachable!("every case returns something"),
        };
        b.ins().return_(&[ret]);
        b.seal_all_blocks();
        b.finalize(module.isa().frontend_config());
    }
    module
        .define_function(id, &mut ctx)
        .expect("harness compiles");
    id
}

fn to_u64_bits(
    b: &mut FunctionBuilder,
    value: cranelift_codegen::ir::Value,
    scalar: Scalar,
) -> cranelift_codegen::ir::Value {
    match scalar {
        Scalar::F32 => {
            let bits = b.ins().bitcast(types::I32, MemFlagsData::new(), value);
            b.ins().uextend(types::I64, bits)
        }
        Scalar::F64 => b.ins().bitcast(types::I64, MemFlagsData::new(), value),
        Scalar::U64 | Scalar::I64 | Scalar::Ptr => value,
        _ => b.ins().uextend(types::I64, value),
    }
}
