//! Adversarial tests from a review of the encoder hardening: wire edge
//! cases, odd enum reprs, huge arrays, deep and cyclic values on small and
//! hand-made stacks, delegated recursive types, custom hashers, registry
//! races, re-entrancy. Tests that could crash the process run their body in
//! a child process (this binary re-run with `ZZ_CHILD=<test name>`), so a
//! crash is reported as a failing assertion instead of killing the harness.
#![recursion_limit = "4096"]
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, DefaultHasher};
use std::net::Ipv4Addr;
use std::process::Command;
use std::rc::Rc;
use std::sync::{Arc, Barrier};

use facet::Facet;
use jitcard::{Encoder, Engine, Error};
use jitcard_bench::cases::jitcard_engines_under_test;
use serde::Serialize;

fn engines() -> Vec<Engine> {
    jitcard_engines_under_test()
}

fn engine_named(name: &str) -> Engine {
    engines()
        .into_iter()
        .find(|e| e.name() == name)
        .unwrap_or_else(|| panic!("no engine {name}"))
}

/// Bytes of every engine (fresh encoder, and appended after a prefix) and of
/// `to_vec`, against postcard+serde. Returns the mismatches.
fn mismatches<'a, T: Facet<'a> + Serialize + ?Sized>(value: &T) -> Vec<String> {
    let expected = postcard::to_allocvec(value).expect("postcard encodes");
    let mut out = Vec::new();
    for engine in engines() {
        match Encoder::<T>::new(engine) {
            Err(e) => out.push(format!("{}: new failed: {e}", engine.name())),
            Ok(encoder) => {
                let mut buffer = vec![0xAA, 0xBB];
                match encoder.encode(value, &mut buffer) {
                    Err(e) => out.push(format!("{}: encode failed: {e}", engine.name())),
                    Ok(()) => {
                        if buffer[..2] != [0xAA, 0xBB] || buffer[2..] != expected[..] {
                            out.push(format!(
                                "{}: {:?} != expected {:?}",
                                engine.name(),
                                &buffer[2..buffer.len().min(40)],
                                &expected[..expected.len().min(38)]
                            ))
                        }
                    }
                }
            }
        }
    }
    match jitcard::to_vec(value) {
        Ok(bytes) if bytes == expected => {}
        Ok(bytes) => out.push(format!(
            "to_vec: {:?} != {:?}",
            &bytes[..bytes.len().min(40)],
            &expected[..expected.len().min(40)]
        )),
        Err(e) => out.push(format!("to_vec failed: {e}")),
    }
    out
}

fn check<'a, T: Facet<'a> + Serialize + ?Sized>(what: &str, value: &T) {
    let m = mismatches(value);
    assert!(m.is_empty(), "{what}:\n{}", m.join("\n"));
}

const CHILD: &str = "ZZ_CHILD";
const CHILD_ARG: &str = "ZZ_CHILD_ARG";

/// In the child: `Some(arg)`. In the parent: runs the child and returns None
/// after recording its outcome in the returned vector through `outcomes`.
fn child_arg(test: &str) -> Option<String> {
    match std::env::var(CHILD) {
        Ok(name) if name == test => Some(std::env::var(CHILD_ARG).unwrap_or_default()),
        _ => None,
    }
}

/// Runs `test` in a child with `arg`; returns (success, description).
fn run_child(test: &str, arg: &str) -> (bool, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .env(CHILD_ARG, arg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ok = output.status.success() && stdout.contains("CHILD OK");
    let tail = |s: &str| {
        s.lines()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    (
        ok,
        format!(
            "child {test}[{arg}]: status {:?}\n--stdout--\n{}\n--stderr--\n{}",
            output.status,
            tail(&stdout),
            tail(&stderr)
        ),
    )
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

// ------------------------------------------------------------ 1. wire edges

// Nested boxes are part of what is tested.
#[allow(clippy::redundant_allocation)]
#[derive(Facet, Serialize)]
struct Pointery<'a> {
    cow_bytes_b: Cow<'a, [u8]>,
    cow_bytes_o: Cow<'a, [u8]>,
    cow_str_b: Cow<'a, str>,
    cow_str_o: Cow<'a, str>,
    boxed: Box<[u16]>,
    boxed_units: Box<[()]>,
    rc_units: Rc<[()]>,
    arc_strings: Arc<[String]>,
    rc_str: Rc<str>,
    nested_opt: Option<Option<Box<str>>>,
    nested_none: Option<Option<Box<str>>>,
    inner_none: Option<Option<Arc<[u8]>>>,
    opt_arc: Option<Arc<[u8]>>,
    refs: &'a [&'a str],
    units: Vec<()>,
    unit_arr: [(); 3],
    empty_arrs: Vec<[u8; 0]>,
    unit_map: BTreeMap<(), ()>,
    opt_units: Vec<Option<()>>,
    tuple: (u8, (), u16, ((), i8)),
    bools: Vec<bool>,
    floats: Box<[f32]>,
    boxed_box: Box<Box<Option<Box<u8>>>>,
    ref_ref: &'a &'a str,
}

#[test]
fn wire_pointers_zsts_and_nested_options() {
    let owned_bytes = [9u8; 200];
    let strs = ["a", "bb", ""];
    let s = "refref";
    let value = Pointery {
        cow_bytes_b: Cow::Borrowed(&owned_bytes[..130]),
        cow_bytes_o: Cow::Owned(vec![1, 2, 3]),
        cow_str_b: Cow::Borrowed("borrowed"),
        cow_str_o: Cow::Owned("owned string that is longer than sixteen".into()),
        boxed: vec![1, 300, 65535].into_boxed_slice(),
        boxed_units: vec![(); 129].into_boxed_slice(),
        rc_units: Rc::from(vec![(); 5]),
        arc_strings: Arc::from(vec!["x".to_string(), "é".repeat(70)]),
        rc_str: Rc::from("rc"),
        nested_opt: Some(Some("inner".into())),
        nested_none: Some(None),
        inner_none: Some(Some(Arc::from(&b"abc"[..]))),
        opt_arc: None,
        refs: &strs,
        units: vec![(); 300],
        unit_arr: [(); 3],
        empty_arrs: vec![[]; 4],
        unit_map: BTreeMap::from([((), ())]),
        opt_units: vec![None, Some(()), None],
        tuple: (1, (), 300, ((), -5)),
        bools: vec![true, false, true],
        floats: vec![f32::NAN, -0.0, 1.5].into_boxed_slice(),
        boxed_box: Box::new(Box::new(Some(Box::new(7)))),
        ref_ref: &s,
    };
    check("Pointery", &value);
}

#[test]
fn wire_unsized_roots() {
    for engine in engines() {
        let e = Encoder::<str>::new(engine).unwrap();
        assert_eq!(
            e.to_vec("hello").unwrap(),
            postcard::to_allocvec("hello").unwrap(),
            "{}",
            engine.name()
        );
        let e = Encoder::<[u16]>::new(engine).unwrap();
        let v: &[u16] = &[1, 2, 300];
        assert_eq!(
            e.to_vec(v).unwrap(),
            postcard::to_allocvec(v).unwrap(),
            "{}",
            engine.name()
        );
        let e = Encoder::<[String]>::new(engine).unwrap();
        let v: &[String] = &["a".into(), "bcd".into()];
        assert_eq!(
            e.to_vec(v).unwrap(),
            postcard::to_allocvec(v).unwrap(),
            "{}",
            engine.name()
        );
    }
    assert_eq!(jitcard::to_vec("x").unwrap(), [1, b'x']);
    let v: &[u8] = &[1, 2];
    assert_eq!(jitcard::to_vec(v).unwrap(), [2, 1, 2]);
}

// ------------------------------------------------------- 2. enum reprs

#[derive(Facet, Serialize)]
#[repr(i8)]
enum NegI8 {
    A(u8) = -128,
    B = -1,
    C { x: i16 } = 5,
    D = 127,
}

#[derive(Facet, Serialize)]
#[repr(u64)]
enum MaxU64 {
    A = 0,
    B(String) = u64::MAX,
    C = 1 << 63,
}

#[derive(Facet, Serialize)]
#[repr(i64)]
enum MinI64 {
    A(u8) = i64::MIN,
    B = i64::MAX,
    C = -1,
}

#[derive(Facet, Serialize)]
#[repr(C)]
enum NegC {
    A = -3,
    B,
    C,
    D = 7,
}

#[derive(Facet, Serialize)]
#[repr(C, u8)]
enum CU8 {
    A(u16) = 200,
    B(Box<CU8>),
    C,
}

#[derive(Facet, Serialize)]
#[repr(u16)]
enum Big300 {
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
    V6,
    V7,
    V8,
    V9,
    V10,
    V11,
    V12,
    V13,
    V14,
    V15,
    V16,
    V17,
    V18,
    V19,
    V20,
    V21,
    V22,
    V23,
    V24,
    V25,
    V26,
    V27,
    V28,
    V29,
    V30,
    V31,
    V32,
    V33,
    V34,
    V35,
    V36,
    V37,
    V38,
    V39,
    V40,
    V41,
    V42,
    V43,
    V44,
    V45,
    V46,
    V47,
    V48,
    V49,
    V50,
    V51,
    V52,
    V53,
    V54,
    V55,
    V56,
    V57,
    V58,
    V59,
    V60,
    V61,
    V62,
    V63,
    V64,
    V65,
    V66,
    V67,
    V68,
    V69,
    V70,
    V71,
    V72,
    V73,
    V74,
    V75,
    V76,
    V77,
    V78,
    V79,
    V80,
    V81,
    V82,
    V83,
    V84,
    V85,
    V86,
    V87,
    V88,
    V89,
    V90,
    V91,
    V92,
    V93,
    V94,
    V95,
    V96,
    V97,
    V98,
    V99,
    V100,
    V101,
    V102,
    V103,
    V104,
    V105,
    V106,
    V107,
    V108,
    V109,
    V110,
    V111,
    V112,
    V113,
    V114,
    V115,
    V116,
    V117,
    V118,
    V119,
    V120,
    V121,
    V122,
    V123,
    V124,
    V125,
    V126,
    V127,
    V128(u8) = 1000,
    V129 { s: String },
}

#[derive(Facet, Serialize)]
struct Enums {
    a: Vec<NegI8>,
    b: Vec<MaxU64>,
    c: Vec<MinI64>,
    d: Vec<NegC>,
    e: Vec<CU8>,
    f: Vec<Big300>,
    g: Option<Result<NegI8, MaxU64>>,
}

#[test]
fn wire_enum_reprs_and_discriminants() {
    let value = Enums {
        a: vec![NegI8::A(1), NegI8::B, NegI8::C { x: -300 }, NegI8::D],
        b: vec![MaxU64::A, MaxU64::B("b".into()), MaxU64::C],
        c: vec![MinI64::A(9), MinI64::B, MinI64::C],
        d: vec![NegC::A, NegC::B, NegC::C, NegC::D],
        e: vec![
            CU8::A(65535),
            CU8::B(Box::new(CU8::B(Box::new(CU8::C)))),
            CU8::C,
        ],
        f: vec![
            Big300::V0,
            Big300::V127,
            Big300::V128(4),
            Big300::V129 { s: "z".into() },
        ],
        g: Some(Err(MaxU64::B("e".into()))),
    };
    check("Enums", &value);
}

/// facet's derive describes the tag of a `#[repr(C)]` enum by a shadow
/// enum *without* the user's discriminant values (so 4 bytes), while rustc
/// (with a future-compat warning only) widens the real tag to 8 bytes when
/// a value does not fit in `c_int`. jitcard then compares discriminants
/// at 4 bytes, and `A` and `B` below become the same value.
#[derive(Facet, Serialize)]
#[repr(C)]
#[allow(repr_c_enums_larger_than_int, clippy::enum_clike_unportable_variant)]
enum WideC {
    A = 0x1_0000_0000,
    B = 0,
}

/// facet describes this tag as 4 bytes while rustc makes it 8: both
/// discriminants would read as 0, so jitcard refuses the type rather than
/// writing wrong bytes.
#[test]
fn repr_c_enum_with_a_discriminant_wider_than_c_int() {
    assert_eq!(core::mem::size_of::<WideC>(), 8);
    for engine in engines() {
        let error = Encoder::<Vec<WideC>>::new(engine).unwrap_err();
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        assert_eq!(error.path(), "Vec<WideC>[]");
        assert!(error.to_string().contains("does not fit"), "{error}");
    }
    let error = jitcard::to_vec(&vec![WideC::A, WideC::B]).unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
}

// ----------------------------------------------------- 3. big arrays

#[derive(Facet, Serialize)]
struct BigArrays {
    head: u8,
    #[serde(with = "serde_big_bytes")]
    bytes: [u8; 1 << 20],
    mid: Option<u16>,
    #[serde(with = "serde_big_u16")]
    shorts: [u16; 1 << 16],
    tail: String,
}

mod serde_big_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 1 << 20], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(v.len())?;
        for b in v {
            t.serialize_element(b)?;
        }
        t.end()
    }
}
mod serde_big_u16 {
    pub fn serialize<S: serde::Serializer>(v: &[u16; 1 << 16], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(v.len())?;
        for b in v {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

#[test]
fn wire_huge_arrays_inside_structs() {
    // Built on the heap: 1.1 MiB does not fit a test thread's stack.
    // SAFETY: zeroed memory is a valid `BigArrays` except for its `String`,
    // which is written before the box is made (and no null check is needed
    // for a test: allocation failure aborts the test).
    let mut value: Box<BigArrays> = unsafe {
        let layout = std::alloc::Layout::new::<BigArrays>();
        let p = std::alloc::alloc_zeroed(layout) as *mut BigArrays;
        std::ptr::write(std::ptr::addr_of_mut!((*p).tail), String::from("end"));
        Box::from_raw(p)
    };
    value.head = 1;
    for (i, b) in value.bytes.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    value.mid = Some(40000);
    for (i, s) in value.shorts.iter_mut().enumerate() {
        *s = (i * 7) as u16;
    }
    check("BigArrays", &*value);
}

// ----------------------------------------- 4. deeply nested generic types

#[derive(Facet, Serialize, Default)]
struct W<T> {
    a: &'static str,
    b: &'static str,
    c: &'static str,
    d: &'static str,
    e: &'static str,
    f: &'static str,
    inner: T,
}

#[derive(Facet, Serialize, Default)]
struct V<T> {
    x: u8,
    inner: T,
}

type DeepW = W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<W<u8>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>;
type DeepV = V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<V<u8>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>;

/// Runs `f` on a thread with a huge stack (for building and dropping deep
/// test values, and for postcard's own recursion).
fn big<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Encodes on a 2 MiB thread (the size the README promises) on every engine.
fn on_2mib<T: Facet<'static> + Send + Sync + 'static>(
    what: &'static str,
    value: Box<T>,
    expected: Vec<u8>,
) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for engine in engines() {
                eprintln!("{what}: {}", engine.name());
                let encoder = Encoder::<T>::new(engine).unwrap();
                assert!(
                    encoder.to_vec(&*value).unwrap() == expected,
                    "{what} {}",
                    engine.name()
                );
            }
            assert!(jitcard::to_vec(&*value).unwrap() == expected);
            std::mem::forget(value);
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Lowering (plan/lower.rs: node_for -> op_for -> user_type_op -> fields ->
/// node_for) recurses once per nesting level of distinct types, with only
/// `BUILD_ROOM` of stack guaranteed: `V<V<...600...<u8>>>` overflows it in
/// a debug build (SIGSEGV on the stacker segment's guard page). Runs in a
/// child so the crash is reported.
#[test]
fn deep_non_recursive_generic_types_build_and_encode() {
    if let Some(which) = child_arg("deep_non_recursive_generic_types_build_and_encode") {
        if which == "W" {
            let (w, ew) = big(|| {
                let w: Box<DeepW> = Box::default();
                let e = postcard::to_allocvec(&*w).unwrap();
                (w, e)
            });
            on_2mib("DeepW", w, ew);
        } else {
            let (v, ev) = big(|| {
                let v: Box<DeepV> = Box::default();
                let e = postcard::to_allocvec(&*v).unwrap();
                (v, e)
            });
            on_2mib("DeepV", v, ev);
        }
        println!("CHILD OK");
        return;
    }
    let mut failures = Vec::new();
    for which in ["W", "V"] {
        let (ok, report) = run_child("deep_non_recursive_generic_types_build_and_encode", which);
        if !ok {
            failures.push(report);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Encoder building runs on whatever thread first asks; a small one
/// must not overflow while lowering or compiling a deep type.
#[test]
fn deep_types_build_on_a_small_thread() {
    std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(|| {
            for engine in engines() {
                let _ = Encoder::<V<V<V<V<V<u8>>>>>>::new(engine).unwrap();
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Runs `f` on a pthread whose stack (`stack` bytes) we allocated ourselves,
/// with a PROT_NONE guard page below it and, below that, a 64 KiB canary
/// region filled with 0xCC. Returns how many canary bytes changed.
fn run_on_custom_stack(stack: usize, f: Box<dyn FnOnce() + Send>) -> usize {
    const CANARY: usize = 64 << 10;
    const GUARD: usize = 4096;
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the leaked box below, taken back exactly once.
        let job = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            println!("custom-stack job panicked");
        }
        std::ptr::null_mut()
    }
    // SAFETY: plain libc calls on memory this function owns.
    unsafe {
        let total = CANARY + GUARD + stack;
        let base = libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert!(base != libc::MAP_FAILED);
        let base = base as *mut u8;
        std::ptr::write_bytes(base, 0xCC, CANARY);
        assert_eq!(
            libc::mprotect(base.add(CANARY) as *mut _, GUARD, libc::PROT_NONE),
            0
        );
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(
            libc::pthread_attr_setstack(&mut attr, base.add(CANARY + GUARD) as *mut _, stack),
            0
        );
        let job: Box<Box<dyn FnOnce() + Send>> = Box::new(f);
        let mut thread: libc::pthread_t = std::mem::zeroed();
        assert_eq!(
            libc::pthread_create(&mut thread, &attr, start, Box::into_raw(job) as *mut _),
            0
        );
        assert_eq!(libc::pthread_join(thread, std::ptr::null_mut()), 0);
        let canary = std::slice::from_raw_parts(base, CANARY);
        canary.iter().filter(|b| **b != 0xCC).count()
    }
}

/// Generated functions check the stack only after their prologue has
/// allocated the frame, and Cranelift emits no stack probes
/// (`enable_probestack` is off): the root function of `DeepW` has a ~14 KiB
/// frame, so entered with less stack than that it moves the stack pointer
/// past the guard page and writes below it (here: into a canary region),
/// before its entry check sends it to a new segment. The interpreter,
/// given the same remaining stack, stays inside its stack.
#[test]
fn jit_root_frame_larger_than_remaining_stack() {
    if let Some(arg) = child_arg("jit_root_frame_larger_than_remaining_stack") {
        let (engine, remaining) = arg.split_once(':').unwrap();
        let remaining: usize = remaining.parse().unwrap();
        let engine = engine_named(engine);
        let value: &'static DeepW = Box::leak(big(Box::<DeepW>::default));
        let encoder = Encoder::<DeepW>::new(engine).unwrap();
        let expected = big(move || postcard::to_allocvec(value).unwrap());
        let ok = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ok2 = ok.clone();
        let changed = run_on_custom_stack(
            256 << 10,
            Box::new(move || {
                fn burn(target: usize, f: &mut dyn FnMut()) {
                    let pad = [0u8; 256];
                    std::hint::black_box(&pad);
                    if stacker::remaining_stack().unwrap() > target {
                        burn(target, f)
                    } else {
                        println!("remaining at call: {}", stacker::remaining_stack().unwrap());
                        f()
                    }
                    std::hint::black_box(&pad);
                }
                burn(remaining, &mut || {
                    let bytes = encoder.to_vec(value).unwrap();
                    ok2.store(bytes == expected, std::sync::atomic::Ordering::SeqCst);
                });
            }),
        );
        println!(
            "encoded correctly: {}, canary bytes overwritten: {changed}",
            ok.load(std::sync::atomic::Ordering::SeqCst)
        );
        assert!(ok.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            changed,
            0,
            "{} wrote below its thread's stack",
            engine.name()
        );
        println!("CHILD OK");
        return;
    }
    let mut failures = Vec::new();
    for remaining in [4 * 1024, 8 * 1024] {
        for engine in engines() {
            let (ok, report) = run_child(
                "jit_root_frame_larger_than_remaining_stack",
                &format!("{}:{remaining}", engine.name()),
            );
            println!("{} remaining {remaining}: ok={ok}", engine.name());
            if !ok {
                failures.push(report);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------ 5. recursion through collections

#[derive(Facet, Serialize, Default)]
struct MTree {
    v: u32,
    kids: BTreeMap<u32, MTree>,
}

#[derive(Facet, Serialize, Default)]
struct VTree {
    v: u32,
    kids: Vec<VTree>,
}

#[derive(Facet, Serialize, Default, PartialEq, Eq, PartialOrd, Ord)]
struct STree {
    v: u32,
    kids: BTreeSet<STree>,
}

fn mtree(depth: usize) -> MTree {
    let mut t = MTree::default();
    for i in 0..depth as u32 {
        t = MTree {
            v: i,
            kids: BTreeMap::from([(i * 3, t)]),
        };
    }
    t
}
fn vtree(depth: usize) -> VTree {
    let mut t = VTree::default();
    for i in 0..depth as u32 {
        t = VTree {
            v: i,
            kids: vec![t],
        };
    }
    t
}
fn stree(depth: usize) -> STree {
    let mut t = STree::default();
    for i in 0..depth as u32 {
        t = STree {
            v: i,
            kids: BTreeSet::from([t]),
        };
    }
    t
}

#[test]
fn deep_recursion_through_maps_sets_and_vecs_on_a_64k_thread() {
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(|| {
            let depth = 20_000;
            let m = mtree(depth);
            let v = vtree(depth);
            let s = stree(depth);
            let em = postcard::to_allocvec(&m).unwrap();
            let ev = postcard::to_allocvec(&v).unwrap();
            let es = postcard::to_allocvec(&s).unwrap();
            std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn_scoped(scope, || {
                        for engine in engines() {
                            let got = Encoder::<MTree>::new(engine).unwrap().to_vec(&m).unwrap();
                            assert!(got == em, "MTree {}", engine.name());
                            let got = Encoder::<VTree>::new(engine).unwrap().to_vec(&v).unwrap();
                            assert!(got == ev, "VTree {}", engine.name());
                            let got = Encoder::<STree>::new(engine).unwrap().to_vec(&s).unwrap();
                            assert!(got == es, "STree {}", engine.name());
                        }
                        assert!(jitcard::to_vec(&m).unwrap() == em);
                        assert!(jitcard::to_vec(&s).unwrap() == es);
                    })
                    .unwrap()
                    .join()
                    .unwrap();
            });
            // Dropping 20,000-deep trees recursively needs a big stack: we have one.
            drop((m, v, s));
        })
        .unwrap()
        .join()
        .unwrap();
}

#[derive(Facet, Serialize, Clone)]
struct BinTree {
    v: i64,
    left: Option<Box<BinTree>>,
    right: Option<Box<BinTree>>,
}

/// A complete tree of `levels` levels whose last leaf (visited after every
/// other node) has `extra` more levels below it.
fn bin_tree(levels: u32, extra: u32) -> BinTree {
    fn chain(levels: u32) -> Option<Box<BinTree>> {
        (levels > 0).then(|| {
            Box::new(BinTree {
                v: i64::from(levels),
                left: None,
                right: chain(levels - 1),
            })
        })
    }
    if levels == 1 {
        return BinTree {
            v: -1,
            left: None,
            right: chain(extra),
        };
    }
    BinTree {
        v: i64::from(levels) << 40,
        left: Some(Box::new(bin_tree(levels - 1, 0))),
        right: Some(Box::new(bin_tree(levels - 1, extra))),
    }
}

/// Every level gives back the depth it took, however many siblings came
/// before: a complete tree of 7 levels (127 nodes) whose last leaf goes 3
/// levels deeper fits a limit of exactly 10 and fails at 9, on every engine
/// (the JIT unrolls one level of self-recursion inline: both the inline and
/// the called levels count), in the JIT's quick code and in its optimized
/// code.
#[test]
fn depth_is_given_back_by_every_sibling() {
    let tree = bin_tree(7, 3);
    let expected = postcard::to_allocvec(&tree).unwrap();
    for engine in engines() {
        let e = Encoder::<BinTree>::new(engine).unwrap();
        for round in 0..3 {
            if round == 2 {
                e.optimize().unwrap();
                let jit = matches!(engine, Engine::Jit { .. });
                assert_eq!(e.is_optimized(), jit, "{}", engine.name());
            }
            assert_eq!(
                e.with_max_depth(10).to_vec(&tree).unwrap(),
                expected,
                "{}",
                engine.name()
            );
            let err = e.with_max_depth(9).to_vec(&tree).unwrap_err();
            assert!(
                matches!(err, Error::TooDeep { max_depth: 9, .. }),
                "{}: {err:?}",
                engine.name()
            );
            assert_eq!(jitcard::serialized_size(&tree).unwrap(), expected.len());
        }
    }
}

#[test]
fn depth_limit_edges_agree_on_every_engine() {
    let m = mtree(3); // 4 nested MTree values
    let expected = postcard::to_allocvec(&m).unwrap();
    for engine in engines() {
        let e = Encoder::<MTree>::new(engine).unwrap();
        let mut buffer = vec![5];
        let err = e.with_max_depth(0).encode(&m, &mut buffer).unwrap_err();
        assert!(
            matches!(err, Error::TooDeep { max_depth: 0, .. }),
            "{}: {err:?}",
            engine.name()
        );
        assert_eq!(buffer, [5]);
        let err3 = e.with_max_depth(3).to_vec(&m).unwrap_err();
        assert!(
            matches!(err3, Error::TooDeep { max_depth: 3, .. }),
            "{}: {err3:?}",
            engine.name()
        );
        assert_eq!(
            e.with_max_depth(4).to_vec(&m).unwrap(),
            expected,
            "{}",
            engine.name()
        );
        assert_eq!(
            e.with_max_depth(usize::MAX).to_vec(&m).unwrap(),
            expected,
            "{}",
            engine.name()
        );
        // A non-recursive type is never too deep.
        let flat = Encoder::<(u8, Vec<u16>)>::new(engine)
            .unwrap()
            .with_max_depth(0);
        assert_eq!(
            flat.to_vec(&(1, vec![2])).unwrap(),
            [1, 1, 2],
            "{}",
            engine.name()
        );
    }
}

// ------------------------- 6. recursive types delegated to facet-postcard

#[derive(Facet, Serialize, Default)]
struct Base {
    v: u32,
}

/// `flatten` makes the whole struct a facet-postcard fallback: recursion
/// inside it happens in facet-postcard, with no depth limit and no stack
/// growth beyond the fallback's fixed room.
#[derive(Facet)]
struct DNode {
    #[facet(flatten)]
    base: Base,
    next: Option<Box<DNode>>,
}

#[derive(Facet)]
struct DRing {
    #[facet(flatten)]
    base: Base,
    next: &'static DRing,
}

static DRING_A: DRing = DRing {
    base: Base { v: 1 },
    next: &DRING_B,
};
static DRING_B: DRing = DRing {
    base: Base { v: 2 },
    next: &DRING_A,
};

/// facet-postcard has no depth limit and no stack checks: a recursive type
/// that must be delegated to it could be handed a deep or cyclic value, so
/// it is refused up front (on every engine) instead of crashing later.
#[test]
fn delegated_recursive_types_deep_and_cyclic() {
    for engine in engines() {
        for error in [
            Encoder::<DNode>::new(engine).unwrap_err(),
            Encoder::<DRing>::new(engine).unwrap_err(),
        ] {
            assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
            assert!(error.to_string().contains("recursive"), "{error}");
        }
    }
    let error = jitcard::to_vec(&DRING_A).unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
}

// ------------------------------------ 7. HashMap with a non-default hasher

#[derive(Default, Clone)]
#[repr(align(16))]
struct OddState {
    seed: u64,
    flag: bool,
}

impl BuildHasher for OddState {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher::new()
    }
}

/// Guard (passes today): facet's HashMap vtable reads `HashMap<K, V>` for
/// any `S`; rustc currently places the table first even for this hasher.
#[derive(Facet, Serialize)]
struct Hashed {
    map: HashMap<u32, String, OddState>,
}

#[test]
fn hashmap_with_a_custom_hasher() {
    if let Some(engine) = child_arg("hashmap_with_a_custom_hasher") {
        let mut map = HashMap::with_hasher(OddState {
            seed: 0x4141_4141_4141_4141,
            flag: true,
        });
        map.insert(1, "one".to_string());
        map.insert(300, "three hundred".to_string());
        map.insert(7, "seven".to_string());
        let value = Hashed { map };
        let expected = postcard::to_allocvec(&value).unwrap();
        let engine = engine_named(&engine);
        let got = Encoder::<Hashed>::new(engine).unwrap().to_vec(&value);
        println!("got {got:?}\nexpected {expected:?}");
        assert_eq!(got.unwrap(), expected);
        println!("CHILD OK");
        return;
    }
    let mut failures = Vec::new();
    for engine in engines() {
        let (ok, report) = run_child("hashmap_with_a_custom_hasher", engine.name());
        if !ok {
            failures.push(report);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------------------ 8. registry under races

macro_rules! array_cases {
    ($($n:literal)*) => {
        vec![ $( (|| {
            let value = [($n % 251) as u8; $n];
            let bytes = jitcard::to_vec(&value).unwrap();
            assert!(bytes[..] == value[..], "[u8; {}]", $n);
            let e = Encoder::<[u8; $n]>::new(Engine::host_default()).unwrap();
            assert!(e.to_vec(&value).unwrap()[..] == value[..]);
        }) as fn(), )* ]
    };
}

#[test]
fn many_new_types_while_other_threads_read() {
    let cases: Vec<fn()> = array_cases!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127 128 129 130 131 132 133 134 135 136 137 138 139 140 141 142 143 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158 159 160 161 162 163 164 165 166 167 168 169 170 171 172 173 174 175 176 177 178 179 180 181 182 183 184 185 186 187 188 189 190 191 192 193 194 195 196 197 198 199 200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215 216 217 218 219 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 259 260 261 262 263 264 265 266 267 268 269 270 271 272 273 274 275 276 277 278 279 280 281 282 283 284 285 286 287 288 289 290 291 292 293 294 295 296 297 298 299 300);
    let cases = Arc::new(cases);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Arc::new(Barrier::new(6));
    let mut handles = Vec::new();
    for reader in 0..2 {
        let stop = stop.clone();
        let start = start.clone();
        handles.push(std::thread::spawn(move || {
            start.wait();
            let mut rounds = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let value = (reader as u64, "known".to_string(), vec![1u16, 2, 3]);
                let bytes = jitcard::to_vec(&value).unwrap();
                assert_eq!(bytes, postcard::to_allocvec(&value).unwrap());
                rounds += 1;
            }
            rounds
        }));
    }
    for writer in 0..4usize {
        let cases = cases.clone();
        let start = start.clone();
        handles.push(std::thread::spawn(move || {
            start.wait();
            let n = cases.len();
            for k in 0..n {
                let index = if writer % 2 == 0 {
                    (k * 7 + writer) % n
                } else {
                    n - 1 - k
                };
                cases[index]();
            }
            0
        }));
    }
    let writers: Vec<_> = handles.split_off(2);
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in handles {
        assert!(r.join().unwrap() > 0);
    }
}

#[derive(Facet, Serialize)]
struct RaceMsg<'a, T> {
    name: &'a str,
    tags: Vec<&'a str>,
    note: Cow<'a, str>,
    extra: T,
}

#[test]
fn first_use_races_of_a_borrowed_generic_type() {
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let name = format!("thread-{i}");
                let tag = name.repeat(i + 1);
                let msg = RaceMsg {
                    name: &name,
                    tags: vec![&tag, &name],
                    note: Cow::Borrowed(&tag[1..]),
                    extra: Some(i as u64),
                };
                let expected = postcard::to_allocvec(&msg).unwrap();
                barrier.wait();
                let engines = engines();
                let engine = engines[i % engines.len()];
                let encoder = Encoder::<RaceMsg<'_, Option<u64>>>::new(engine).unwrap();
                assert_eq!(encoder.to_vec(&msg).unwrap(), expected, "{}", engine.name());
                assert_eq!(jitcard::to_vec(&msg).unwrap(), expected);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Encoder<RaceMsg<'static, u8>>>();
}

// ------------------------------------------------------- 9. re-entrancy

#[derive(Facet, Serialize, Debug)]
struct Inner {
    a: u16,
    s: String,
    v: Vec<Option<u8>>,
}

/// A proxy whose conversion itself encodes with jitcard, on every engine.
#[derive(Facet, Debug)]
#[facet(proxy = ReProxy)]
struct Re(u32);

#[derive(Facet, Debug)]
struct ReProxy(Vec<u8>);

impl TryFrom<&Re> for ReProxy {
    type Error = String;
    fn try_from(value: &Re) -> Result<Self, String> {
        let inner = Inner {
            a: value.0 as u16,
            s: "inner".repeat(value.0 as usize),
            v: vec![Some(1), None],
        };
        let expected = postcard::to_allocvec(&inner).unwrap();
        for engine in jitcard_engines_under_test() {
            let got = Encoder::<Inner>::new(engine)
                .map_err(|e| e.to_string())?
                .to_vec(&inner)
                .map_err(|e| e.to_string())?;
            if got != expected {
                return Err(format!("re-entrant {} differs", engine.name()));
            }
        }
        let got = jitcard::to_vec(&inner).map_err(|e| e.to_string())?;
        Ok(ReProxy(got))
    }
}

impl TryFrom<ReProxy> for Re {
    type Error = String;
    fn try_from(proxy: ReProxy) -> Result<Self, String> {
        Ok(Re(proxy.0.len() as u32))
    }
}

#[derive(Facet, Debug)]
struct ReOuter {
    head: u8,
    one: Re,
    many: Vec<Re>,
    map: BTreeMap<u8, Re>,
}

#[test]
fn proxies_that_call_jitcard_reentrantly() {
    let value = ReOuter {
        head: 1,
        one: Re(2),
        many: vec![Re(0), Re(3)],
        map: BTreeMap::from([(4, Re(1))]),
    };
    let expected = facet_postcard::to_vec(&value).unwrap();
    for engine in engines() {
        let got = Encoder::<ReOuter>::new(engine)
            .unwrap()
            .to_vec(&value)
            .unwrap();
        assert_eq!(got, expected, "{}", engine.name());
    }
    assert_eq!(jitcard::to_vec(&value).unwrap(), expected);
}

// -------------------------------------------- 10. buffer after an error

#[derive(Facet)]
struct FailsLate {
    big: Vec<u8>,
    text: String,
    m: BTreeMap<u8, Ipv4Addr>,
}

#[test]
fn a_failed_encode_after_growth_leaves_the_buffer_as_it_was() {
    let value = FailsLate {
        big: vec![3; 100_000],
        text: "x".repeat(1000),
        m: BTreeMap::from([(1, Ipv4Addr::LOCALHOST)]),
    };
    for engine in engines() {
        let mut buffer = Vec::with_capacity(5);
        buffer.extend([1u8, 2, 3, 4, 5]);
        let err = Encoder::<FailsLate>::new(engine)
            .unwrap()
            .encode(&value, &mut buffer)
            .unwrap_err();
        assert_eq!(buffer, [1, 2, 3, 4, 5], "{}: {err}", engine.name());
        assert_eq!(err.path(), "FailsLate.m[0]{value}", "{}", engine.name());
    }
}

// ------------------------------ 11. memory a cyclic value costs to reject

#[derive(Facet)]
struct Ring {
    v: u8,
    next: &'static Ring,
}

static RING_A: Ring = Ring {
    v: 1,
    next: &RING_B,
};
static RING_B: Ring = Ring {
    v: 2,
    next: &RING_A,
};

fn vm_hwm_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A cyclic value fails with `TooDeep` after bounded memory on every
/// engine (the interpreter's frames are the largest: a few hundred MiB in
/// a debug build at the default depth limit).
#[test]
fn cyclic_value_peak_memory() {
    if let Some(engine) = child_arg("cyclic_value_peak_memory") {
        let engine = engine_named(&engine);
        let encoder = Encoder::<Ring>::new(engine).unwrap();
        let before = vm_hwm_kib();
        let error = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || encoder.to_vec(&RING_A).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        let grown_mib = (vm_hwm_kib() - before) / 1024;
        println!(
            "{}: {error:?}; peak RSS grew by {grown_mib} MiB",
            engine.name()
        );
        assert!(matches!(error, Error::TooDeep { .. }), "{error:?}");
        assert!(grown_mib < 1024, "{grown_mib} MiB to reject a cyclic value");
        println!("CHILD OK");
        return;
    }
    for engine in engines() {
        let (ok, report) = run_child("cyclic_value_peak_memory", engine.name());
        assert!(ok, "{report}");
    }
}
