//! Executed ABI tests on this x86-64 host: JIT-compiled call sites built by
//! `jitcard_abi::emit_call` call real Rust callees compiled by rustc with
//! `extern "sysv64"` and `extern "win64"` (rustc implements the real Windows
//! x64 convention on Linux too). Each callee digests what it received; the
//! expected value is the same callee called from Rust, so rustc's own call
//! lowering is the reference.
#![cfg(target_arch = "x86_64")]

mod harness;

use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;
use harness::{Kind, Shape, TAIL, Target, define_harness, member_bits, shapes};
use jitcard_abi::Scalar;

trait Member: Copy {
    const SCALAR: Scalar;
    fn from_member_bits(bits: u64) -> Self;
    fn member_bits(self) -> u64;
}

macro_rules! int_member {
    ($t:ty, $s:expr) => {
        impl Member for $t {
            const SCALAR: Scalar = $s;
            fn from_member_bits(bits: u64) -> Self {
                bits as $t
            }
            fn member_bits(self) -> u64 {
                self as u64
            }
        }
    };
}
int_member!(u8, Scalar::U8);
int_member!(u16, Scalar::U16);
int_member!(u32, Scalar::U32);
int_member!(u64, Scalar::U64);
int_member!(i64, Scalar::I64);
int_member!(usize, Scalar::Ptr);

impl Member for f32 {
    const SCALAR: Scalar = Scalar::F32;
    fn from_member_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
    fn member_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
}

impl Member for f64 {
    const SCALAR: Scalar = Scalar::F64;
    fn from_member_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    fn member_bits(self) -> u64 {
        f64::to_bits(self)
    }
}

/// Addresses of one shape's callees for one ABI, and the values Rust's own
/// calls of them produce.
struct Callees {
    take0: usize,
    take5: usize,
    take8f: usize,
    give: usize,
    expect_take0: fn(u64) -> u64,
    expect_take5: fn(u64) -> u64,
    expect_take8f: fn(u64) -> u64,
    expect_give: fn(u64) -> Vec<u64>,
}

fn float_digest(d: [f64; 8]) -> u64 {
    d.iter()
        .fold(5u64, |h, x| h.wrapping_mul(37).wrapping_add(x.to_bits()))
}

fn leading_digest(p: [u64; 5]) -> u64 {
    p[0].wrapping_add(p[1].wrapping_mul(3))
        .wrapping_add(p[2].wrapping_mul(5))
        .wrapping_add(p[3].wrapping_mul(7))
        .wrapping_add(p[4].wrapping_mul(11))
}

/// One module of callees per shape for one ABI: `take0`, `take5`, `take8f`
/// and `give`, plus what rustc's own calls of them return.
macro_rules! abi_callees {
    ($module:ident, $abi:literal, $($name:ident),*) => {
        mod $module {
            use super::*;
            $(
                #[allow(non_snake_case)]
                pub mod $name {
                    use super::*;
                    pub extern $abi fn take0(a: crate::$name, tail: u64) -> u64 { a.digest() ^ tail.rotate_left(17) }
                    pub extern $abi fn take5(p0: u64, p1: u64, p2: u64, p3: u64, p4: u64, a: crate::$name, tail: u64) -> u64 {
                        a.digest() ^ leading_digest([p0, p1, p2, p3, p4]) ^ tail.rotate_left(17)
                    }
                    #[allow(clippy::too_many_arguments)]
                    pub extern $abi fn take8f(d0: f64, d1: f64, d2: f64, d3: f64, d4: f64, d5: f64, d6: f64, d7: f64, a: crate::$name, tail: u64) -> u64 {
                        a.digest() ^ float_digest([d0, d1, d2, d3, d4, d5, d6, d7]) ^ tail.rotate_left(17)
                    }
                    pub extern $abi fn give(seed: u64) -> crate::$name { crate::$name::make(seed) }
                    pub fn callees() -> Callees {
                        Callees {
                            take0: take0 as *const () as usize,
                            take5: take5 as *const () as usize,
                            take8f: take8f as *const () as usize,
                            give: give as *const () as usize,
                            expect_take0: |seed| take0(crate::$name::make(seed), TAIL),
                            expect_take5: |seed| take5(1000, 1001, 1002, 1003, 1004, crate::$name::make(seed), TAIL),
                            expect_take8f: |seed| take8f(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, crate::$name::make(seed), TAIL),
                            expect_give: |seed| give(seed).bits(),
                        }
                    }
                }
            )*
            pub fn callees(name: &str) -> Callees {
                match name { $(stringify!($name) => $name::callees(),)* _ => panic!("no callees for {name}") }
            }
        }
    };
}

macro_rules! matrix {
    ($($name:ident { $($field:ident : $t:ty),* })*) => {
        $(
            #[repr(C)]
            #[derive(Clone, Copy, Debug)]
            #[allow(non_camel_case_types)]
            struct $name { $($field: $t),* }

            impl $name {
                #[allow(unused_assignments)]
                fn make(seed: u64) -> Self {
                    let mut index = 0;
                    $name { $($field: { let v = <$t as Member>::from_member_bits(member_bits(<$t as Member>::SCALAR, seed, index)); index += 1; v }),* }
                }
                fn bits(&self) -> Vec<u64> {
                    vec![$(Member::member_bits(self.$field)),*]
                }
                fn digest(&self) -> u64 {
                    self.bits().iter().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(*b))
                }
            }
        )*

        abi_callees!(sysv64_callees, "sysv64", $($name),*);
        abi_callees!(win64_callees, "win64", $($name),*);
    };
}

matrix! {
    S1 { a: u8 }
    S2 { a: u8, b: u8 }
    S3 { a: u8, b: u8, c: u8 }
    S4 { a: u16, b: u16 }
    S5 { a: u8, b: u8, c: u8, d: u8, e: u8 }
    S8 { a: u32, b: u32 }
    S12 { a: u32, b: u32, c: u32 }
    S16 { a: u64, b: usize }
    S24 { a: u64, b: u64, c: u64 }
    F2 { a: f32, b: f32 }
    D2 { a: f64, b: f64 }
    M { a: i64, b: f64 }
    F4 { a: f32, b: f32, c: f32, d: f32 }
}

fn jit_module() -> JITModule {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(flags))
        .unwrap();
    JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()))
}

/// Runs every shape × {fields, in memory} × kind for one convention and
/// returns the failures.
fn run_matrix(conv: CallConv, callees_of: fn(&str) -> Callees, kinds: &[Kind]) -> Vec<String> {
    let mut failures = Vec::new();
    for shape in shapes() {
        let callees = callees_of(shape.name);
        for &kind in kinds {
            for in_memory in [false, true] {
                let seed = 7 + shape.members.len() as u64;
                let mut module = jit_module();
                let target = match kind {
                    Kind::Take { leading: 0 } => callees.take0,
                    Kind::Take { .. } => callees.take5,
                    Kind::TakeAfterFloats => callees.take8f,
                    Kind::Give => callees.give,
                };
                let id = define_harness(
                    &mut module,
                    "harness",
                    &shape,
                    kind,
                    seed,
                    conv,
                    false,
                    in_memory,
                    Target::Address(target),
                );
                module.finalize_definitions().unwrap();
                // SAFETY: the harness was compiled with this signature in the
                // host's C convention.
                let harness: extern "C" fn(*mut u64) -> u64 =
                    unsafe { std::mem::transmute(module.get_finalized_function(id)) };
                let mut out = vec![0u64; shape.members.len()];
                let got = harness(out.as_mut_ptr());
                let label = format!("{conv} {} {kind:?} in_memory={in_memory}", shape.name);
                match kind {
                    Kind::Take { .. } | Kind::TakeAfterFloats => {
                        let expected = match kind {
                            Kind::Take { leading: 0 } => (callees.expect_take0)(seed),
                            Kind::Take { .. } => (callees.expect_take5)(seed),
                            _ => (callees.expect_take8f)(seed),
                        };
                        if got != expected {
                            failures.push(format!("{label}: callee digested {got:#x}, rustc's call gives {expected:#x}"));
                        }
                    }
                    Kind::Give => {
                        let expected = (callees.expect_give)(seed);
                        if out != expected {
                            failures.push(format!("{label}: received fields {out:x?}, rustc's call gives {expected:x?}"));
                        }
                    }
                }
            }
        }
    }
    failures
}

fn assert_clean(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sysv64_aggregates_as_arguments() {
    assert_clean(run_matrix(
        CallConv::SystemV,
        sysv64_callees::callees,
        &[Kind::Take { leading: 0 }],
    ));
}

#[test]
fn sysv64_aggregates_as_results() {
    assert_clean(run_matrix(
        CallConv::SystemV,
        sysv64_callees::callees,
        &[Kind::Give],
    ));
}

/// Five u64s, then the aggregate, then a u64: a two-eightbyte aggregate no
/// longer fits the one GPR left and goes on the stack whole, while the tail
/// still takes R9.
#[test]
fn sysv64_registers_run_out_mid_way() {
    assert_clean(run_matrix(
        CallConv::SystemV,
        sysv64_callees::callees,
        &[Kind::Take { leading: 5 }],
    ));
}

/// Eight doubles take XMM0-7 first: SSE aggregates (and {i64, f64}, all or
/// nothing) go on the stack whole; integer aggregates still use GPRs.
#[test]
fn sysv64_float_registers_run_out() {
    assert_clean(run_matrix(
        CallConv::SystemV,
        sysv64_callees::callees,
        &[Kind::TakeAfterFloats],
    ));
}

/// Positional slots: after eight doubles every aggregate and the tail sit on
/// the stack (by value, or as a pointer to a copy).
#[test]
fn win64_after_eight_float_arguments() {
    assert_clean(run_matrix(
        CallConv::WindowsFastcall,
        win64_callees::callees,
        &[Kind::TakeAfterFloats],
    ));
}

#[test]
fn win64_aggregates_as_arguments() {
    assert_clean(run_matrix(
        CallConv::WindowsFastcall,
        win64_callees::callees,
        &[Kind::Take { leading: 0 }],
    ));
}

#[test]
fn win64_aggregates_as_results() {
    assert_clean(run_matrix(
        CallConv::WindowsFastcall,
        win64_callees::callees,
        &[Kind::Give],
    ));
}

/// Seven arguments: the fifth on go on the stack; aggregates that are not
/// 1/2/4/8 bytes go by reference wherever their slot is.
#[test]
fn win64_more_than_four_arguments() {
    assert_clean(run_matrix(
        CallConv::WindowsFastcall,
        win64_callees::callees,
        &[Kind::Take { leading: 5 }],
    ));
}

/// The shapes the harness covers (kept in sync with the Rust structs).
#[test]
fn harness_shapes_match_rust_layouts() {
    let sizes: Vec<(&str, usize)> = vec![
        ("S1", size_of::<S1>()),
        ("S2", size_of::<S2>()),
        ("S3", size_of::<S3>()),
        ("S4", size_of::<S4>()),
        ("S5", size_of::<S5>()),
        ("S8", size_of::<S8>()),
        ("S12", size_of::<S12>()),
        ("S16", size_of::<S16>()),
        ("S24", size_of::<S24>()),
        ("F2", size_of::<F2>()),
        ("D2", size_of::<D2>()),
        ("M", size_of::<M>()),
        ("F4", size_of::<F4>()),
    ];
    let shapes: Vec<Shape> = shapes();
    for (name, size) in sizes {
        let shape = shapes.iter().find(|s| s.name == name).unwrap();
        assert_eq!(shape.aggregate().size() as usize, size, "{name}");
    }
}
