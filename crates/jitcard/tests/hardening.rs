//! Regression tests for the encoder hardening issue: each defect a
//! demanding user found, on every engine (interpreter, JIT with
//! trampolines, with direct calls, and through the Win64 adapters).
//! What must hold everywhere: safe code never crashes, the bytes equal
//! postcard's or the result is a clear `Err`, the buffer is unchanged on
//! `Err`, and every engine fails the same way.
//!
//! Hosts that forbid executable memory are tested in `no_exec_host.rs`
//! (the switch is irreversible, so it runs in a child process); failure
//! paths with hand-written collections in `panics.rs`.

mod common;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ptr::NonNull;

use facet::Facet;
use jitcard::{Encoder, Engine, Error};
use jitcard_bench::cases::jitcard_engines_under_test;
use serde::Serialize;

/// Every engine this suite checks.
fn engines() -> Vec<Engine> {
    jitcard_engines_under_test()
}

// ------------------------------------------------ 1. unsound pointers ---

#[derive(Facet)]
struct Handle {
    id: u8,
    p: NonNull<u64>,
}

#[derive(Facet)]
struct MaybeHandle {
    p: Option<NonNull<u8>>,
}

#[derive(Facet)]
struct Lazy {
    value: std::sync::LazyLock<u32>,
}

#[test]
fn non_null_pointers_are_refused_up_front_with_their_path() {
    let dangling = Handle {
        id: 1,
        p: NonNull::dangling(),
    };
    for engine in engines() {
        let error = Encoder::<Handle>::new(engine).unwrap_err();
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        assert_eq!(error.path(), "Handle.p", "{}", engine.name());
        assert!(error.to_string().contains("NonNull"), "{error}");
        let error = Encoder::<MaybeHandle>::new(engine).unwrap_err();
        assert_eq!(error.path(), "MaybeHandle.p.Some", "{error}");
    }
    let error = jitcard::to_vec(&dangling).unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
}

#[test]
fn lazy_locks_are_refused_since_forcing_them_can_abort() {
    for engine in engines() {
        let error = Encoder::<Lazy>::new(engine).unwrap_err();
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        assert_eq!(error.path(), "Lazy.value");
    }
}

// --------------------------------------- 2. discriminants at tag width ---

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(C)]
enum CNeg {
    Neg = -1,
    Zero = 0,
    Big = 0x7fff_ffff,
    Min = -0x8000_0000,
}

/// `repr(C)` discriminants of 2^31 and above: the point of the test, so
/// clippy's portability lint does not apply.
#[allow(clippy::enum_clike_unportable_variant)]
#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(C)]
enum CBig {
    Half = 0x8000_0000,
    Top = 0xffff_ffff,
    One = 1,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(C, i32)]
enum CI32 {
    Low(u8) = -2,
    High { x: u16 } = 0x4000_0000,
    Min = i32::MIN,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(i8)]
enum I8 {
    A = -128,
    B = -1,
    C = 127,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(i16)]
enum I16 {
    A = -30000,
    B = 1,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(i32)]
enum I32 {
    A = i32::MIN,
    B = -1,
    C = i32::MAX,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(i64)]
enum I64 {
    A = i64::MIN,
    B = -1,
    C = 1 << 40,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(u32)]
enum U32 {
    A = 0x8000_0000,
    B = 0xffff_ffff,
    C = 0,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(u8)]
enum U8 {
    A = 200,
    B = 255,
}

#[derive(Facet, Serialize, Debug)]
struct AllTheEnums {
    c: Vec<CNeg>,
    c_big: Vec<CBig>,
    c_i32: Vec<CI32>,
    i8: Vec<I8>,
    i16: Vec<I16>,
    i32: Vec<I32>,
    i64: Vec<I64>,
    u32: Vec<U32>,
    u8: Vec<U8>,
}

#[test]
fn enum_discriminants_are_compared_at_the_tags_width() {
    let value = AllTheEnums {
        c: vec![CNeg::Neg, CNeg::Zero, CNeg::Big, CNeg::Min],
        c_big: vec![CBig::Half, CBig::Top, CBig::One],
        c_i32: vec![CI32::Low(3), CI32::High { x: 300 }, CI32::Min],
        i8: vec![I8::A, I8::B, I8::C],
        i16: vec![I16::A, I16::B],
        i32: vec![I32::A, I32::B, I32::C],
        i64: vec![I64::A, I64::B, I64::C],
        u32: vec![U32::A, U32::B, U32::C],
        u8: vec![U8::A, U8::B],
    };
    // Not against facet-postcard: facet-reflect panics on these values
    // ("No variant found with matching discriminant").
    common::check_against(&value, false).unwrap();
    assert_eq!(jitcard::to_vec(&CNeg::Neg).unwrap(), [0]);
    assert_eq!(jitcard::to_vec(&CNeg::Min).unwrap(), [3]);
}

// ---------------------------------------------- 4. huge element types ---

#[test]
fn encoders_of_huge_element_types_build_without_allocating_elements() {
    for engine in engines() {
        let encoder = Encoder::<Vec<[u8; 1 << 31]>>::new(engine).unwrap();
        assert_eq!(encoder.to_vec(&Vec::new()).unwrap(), [0]);
        let encoder = Encoder::<Vec<[u64; 1 << 20]>>::new(engine).unwrap();
        assert_eq!(encoder.to_vec(&Vec::new()).unwrap(), [0]);
    }
    // A real (8 MiB) element still encodes exactly.
    let mut value: Vec<[u64; 1 << 20]> = Vec::with_capacity(1);
    let element = value.spare_capacity_mut()[0].as_mut_ptr().cast::<u64>();
    // SAFETY: the vector has room for one element, whose `1 << 20` words are
    // all written before the length covers it (built in place: the array
    // would overflow a test thread's stack).
    unsafe {
        for index in 0..1 << 20 {
            element.add(index).write(7);
        }
        value.set_len(1);
    }
    let mut expected = vec![1u8];
    expected.resize(1 + (1 << 20), 7); // the length, then each 7 as a one-byte varint
    for engine in engines() {
        let encoder = Encoder::<Vec<[u64; 1 << 20]>>::new(engine).unwrap();
        assert!(
            encoder.to_vec(&value).unwrap() == expected,
            "{}",
            engine.name()
        );
    }
}

// ------------------------------------------------------ 5. deep values ---

#[derive(Facet, Serialize)]
struct List {
    v: u32,
    next: Option<Box<List>>,
}

impl List {
    fn chain(len: usize) -> List {
        let mut list = List { v: 0, next: None };
        for v in 1..len as u32 {
            list = List {
                v: v % 300,
                next: Some(Box::new(list)),
            };
        }
        list
    }

    /// postcard's bytes for the chain, computed without recursion.
    fn expected(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut at = Some(self);
        while let Some(node) = at {
            jitcard::wire::write_varint_u64(&mut bytes, node.v.into());
            bytes.push(u8::from(node.next.is_some()));
            at = node.next.as_deref();
        }
        bytes
    }
}

impl Drop for List {
    /// Iterative, so dropping a deep chain does not overflow the stack.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

#[test]
fn a_100_000_deep_chain_encodes_on_every_engine_on_a_2_mib_thread() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let list = List::chain(100_000);
            let expected = list.expected();
            for engine in engines() {
                let bytes = Encoder::<List>::new(engine).unwrap().to_vec(&list).unwrap();
                assert!(bytes == expected, "{} differs", engine.name());
            }
            assert!(jitcard::to_vec(&list).unwrap() == expected);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_small_stack_grows_instead_of_overflowing() {
    std::thread::Builder::new()
        .stack_size(128 << 10)
        .spawn(|| {
            let list = List::chain(5_000);
            let expected = list.expected();
            for engine in engines() {
                let bytes = Encoder::<List>::new(engine).unwrap().to_vec(&list).unwrap();
                assert!(bytes == expected, "{} differs", engine.name());
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_depth_limit_is_the_same_on_every_engine() {
    let list = List::chain(10);
    for engine in engines() {
        let encoder = Encoder::<List>::new(engine).unwrap();
        assert_eq!(
            encoder.with_max_depth(10).to_vec(&list).unwrap(),
            list.expected()
        );
        let mut buffer = vec![1, 2, 3];
        let error = encoder
            .with_max_depth(9)
            .encode(&list, &mut buffer)
            .unwrap_err();
        assert!(
            matches!(error, Error::TooDeep { max_depth: 9, .. }),
            "{}: {error:?}",
            engine.name()
        );
        assert_eq!(error.path(), "List", "{error}");
        assert_eq!(buffer, [1, 2, 3], "{}", engine.name());
    }
}

/// Recursion through map values: each level is a map entry, encoded by the
/// map's entry function (its own frame on the stack) from inside facet's
/// iteration.
#[derive(Facet, Serialize, Default)]
struct MapTree {
    children: BTreeMap<u16, MapTree>,
}

impl MapTree {
    fn chain(depth: usize) -> MapTree {
        let mut tree = MapTree::default();
        for level in 0..depth {
            let mut parent = MapTree::default();
            parent.children.insert((level % 900) as u16, tree);
            parent.children.insert(1000, MapTree::default());
            tree = parent;
        }
        tree
    }
}

impl Drop for MapTree {
    /// Iterative, so dropping a deep chain does not overflow the stack.
    fn drop(&mut self) {
        let mut pending: Vec<MapTree> = std::mem::take(&mut self.children).into_values().collect();
        while let Some(mut tree) = pending.pop() {
            pending.extend(std::mem::take(&mut tree.children).into_values());
        }
    }
}

#[test]
fn recursion_through_map_entries_grows_the_stack_and_counts_depth() {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            // Shallow enough for postcard's recursion on this thread.
            let tree = MapTree::chain(40);
            let expected = postcard::to_allocvec(&tree).unwrap();
            for engine in engines() {
                let encoder = Encoder::<MapTree>::new(engine).unwrap();
                assert_eq!(
                    encoder.to_vec(&tree).unwrap(),
                    expected,
                    "{}",
                    engine.name()
                );
                assert_eq!(encoder.serialized_size(&tree).unwrap(), expected.len());
                // 41 levels of `MapTree` (the innermost empty): a limit of 40 fails.
                assert_eq!(encoder.with_max_depth(41).to_vec(&tree).unwrap(), expected);
                let error = encoder.with_max_depth(40).to_vec(&tree).unwrap_err();
                assert!(
                    matches!(error, Error::TooDeep { max_depth: 40, .. }),
                    "{error:?}"
                );
            }
            // Deep: far more frames than this thread's stack holds.
            let tree = MapTree::chain(20_000);
            let mut encodings = Vec::new();
            for engine in engines() {
                let bytes = Encoder::<MapTree>::new(engine)
                    .unwrap()
                    .with_max_depth(30_000)
                    .to_vec(&tree)
                    .unwrap();
                // Two entries, the first keyed 19_999 % 900 = 199.
                assert_eq!(&bytes[..3], &[2, 199, 1], "{}", engine.name());
                encodings.push(bytes);
            }
            assert!(encodings.windows(2).all(|pair| pair[0] == pair[1]));
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A ring of `&'static` references: safe Rust, and infinitely deep.
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

#[test]
fn a_cyclic_value_is_too_deep_not_a_crash() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            for engine in engines() {
                let error = Encoder::<Ring>::new(engine)
                    .unwrap()
                    .to_vec(&RING_A)
                    .unwrap_err();
                assert!(
                    matches!(error, Error::TooDeep { max_depth, .. } if max_depth == jitcard::DEFAULT_MAX_DEPTH),
                    "{}: {error:?}",
                    engine.name()
                );
            }
            let error = jitcard::to_vec(&RING_A).unwrap_err();
            assert!(matches!(error, Error::TooDeep { .. }), "{error:?}");
        })
        .unwrap()
        .join()
        .unwrap();
}

// ----------------------------------------------- 7. located error paths ---

#[derive(Facet)]
struct Mid {
    tail: Vec<Ipv4Addr>,
    set: BTreeMap<u8, Ipv4Addr>,
}

#[test]
fn errors_name_the_failing_value_not_the_first_place_of_its_type() {
    // facet-postcard cannot encode an `Ipv4Addr`, so the delegated part fails.
    let value = Mid {
        tail: vec![],
        set: BTreeMap::from([(1, Ipv4Addr::LOCALHOST), (3, Ipv4Addr::LOCALHOST)]),
    };
    for engine in engines() {
        let mut buffer = vec![9];
        let error = Encoder::<Mid>::new(engine)
            .unwrap()
            .encode(&value, &mut buffer)
            .unwrap_err();
        assert!(matches!(error, Error::Fallback { .. }), "{error:?}");
        assert_eq!(error.path(), "Mid.set[0]{value}", "{}", engine.name());
        assert_eq!(buffer, [9]);
    }
    let error = jitcard::to_vec(&value).unwrap_err();
    assert_eq!(error.path(), "Mid.set[0]{value}");

    let value = Mid {
        tail: vec![Ipv4Addr::LOCALHOST; 3],
        set: BTreeMap::new(),
    };
    for engine in engines() {
        let error = Encoder::<Mid>::new(engine)
            .unwrap()
            .to_vec(&value)
            .unwrap_err();
        assert_eq!(error.path(), "Mid.tail[0]", "{}", engine.name());
    }
}

#[derive(Facet)]
struct Chain {
    here: Option<Box<Ipv4Addr>>,
    shared: Option<std::sync::Arc<u16>>,
    next: Option<Box<Chain>>,
}

#[test]
fn error_paths_go_through_options_of_pointers() {
    // The interpreter reads `Option<Box<T>>` and `Option<Arc<T>>` in one
    // step (its program's `NullablePointer`); the path still names both.
    let value = Chain {
        here: None,
        shared: Some(std::sync::Arc::new(7)),
        next: Some(Box::new(Chain {
            here: Some(Box::new(Ipv4Addr::LOCALHOST)),
            shared: None,
            next: None,
        })),
    };
    for engine in engines() {
        let error = Encoder::<Chain>::new(engine)
            .unwrap()
            .to_vec(&value)
            .unwrap_err();
        assert!(matches!(error, Error::Fallback { .. }), "{error:?}");
        assert_eq!(
            error.path(),
            "Chain.next.Some*.here.Some*",
            "{}",
            engine.name()
        );
    }
}

// ------------------------------------------- 8. nested structs compile ---

#[derive(Facet, Serialize, Clone, Copy, Default)]
struct Pair<T> {
    a: T,
    b: T,
}

type P2<T> = Pair<Pair<T>>;
type P4<T> = Pair<Pair<P2<T>>>;
type P8<T> = Pair<Pair<Pair<Pair<P4<T>>>>>;
type P16<T> = Pair<Pair<Pair<Pair<Pair<Pair<Pair<Pair<P8<T>>>>>>>>>;

/// 2^16 `bool` leaves: not a plain record (each byte is a `bool`), so the
/// engines walk its 17 distinct shapes.
type Bools16 = P16<bool>;

#[test]
fn code_size_grows_with_distinct_shapes_not_leaf_paths() {
    let mut value: Box<Bools16> = Box::default();
    // SAFETY: `Bools16` is 65536 `bool`s (two-field structs of equal fields
    // have no padding); 0 and 1 are valid `bool`s.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut((&mut *value as *mut Bools16).cast::<u8>(), 1 << 16)
    };
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from(index * 7 % 251 < 100);
    }
    let expected = postcard::to_allocvec(&*value).unwrap();
    for engine in engines() {
        let encoder = Encoder::<Bools16>::new(engine).unwrap();
        assert!(
            encoder.to_vec(&value).unwrap() == expected,
            "{}",
            engine.name()
        );
        if let Some(report) = encoder.compile_report() {
            assert!(
                report.code_size <= 64 * 1024,
                "{}: {} bytes of machine code",
                engine.name(),
                report.code_size
            );
        }
    }
}

#[test]
fn nested_structs_of_bytes_are_one_plain_copy_both_ways() {
    let mut value: Box<P16<u8>> = Box::default();
    // SAFETY: `P16<u8>` is 65536 `u8`s with no padding; every byte pattern
    // is a valid `u8`.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut((&mut *value as *mut P16<u8>).cast::<u8>(), 1 << 16)
    };
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (index * 7 % 251) as u8;
    }
    let expected = postcard::to_allocvec(&*value).unwrap();
    let plan = jitcard::plan::lower(P16::<u8>::SHAPE).unwrap();
    assert!(
        plan.plain_size(plan.root()) == Some(1 << 16),
        "the root is a plain record:\n{plan}"
    );
    for engine in engines() {
        let encoder = Encoder::<P16<u8>>::new(engine).unwrap();
        assert!(
            encoder.to_vec(&value).unwrap() == expected,
            "{}",
            engine.name()
        );
        // Field by field would be hundreds of kilobytes; one copy is a few
        // hundred bytes (1.7 KB as the unoptimized quick code).
        if let Some(report) = encoder.compile_report() {
            assert!(
                report.code_size <= 4096,
                "{}: {} bytes of machine code for one copy",
                engine.name(),
                report.code_size
            );
        }
        let decoder = jitcard::Decoder::<P16<u8>>::new(engine).unwrap();
        let decoded = decoder.decode(&expected).unwrap();
        // SAFETY: as above, read-only.
        let decoded_bytes = unsafe {
            std::slice::from_raw_parts((&decoded as *const P16<u8>).cast::<u8>(), 1 << 16)
        };
        assert!(decoded_bytes == &bytes[..], "{}", engine.name());
        // One byte short: the error names where the input ends.
        let Err(error) = decoder.decode(&expected[..expected.len() - 1]) else {
            panic!("{}: a short input decoded", engine.name())
        };
        assert!(
            error.to_string().contains(".b"),
            "{}: {error}",
            engine.name()
        );
    }
}

// ------------------------------------------------- 9. borrowed values ---

#[derive(Facet, Serialize, Debug)]
struct Borrowed<'a> {
    name: &'a str,
    tags: Vec<&'a str>,
    note: Cow<'a, str>,
    bytes: &'a [u8],
    inner: Option<&'a Borrowed<'a>>,
}

#[test]
fn values_that_borrow_locals_encode() {
    let name = String::from("local");
    let tag = format!("tag-{}", name.len());
    let data = vec![1u8, 2, 3];
    let inner = Borrowed {
        name: &name[1..],
        tags: vec![],
        note: Cow::Owned(name.repeat(2)),
        bytes: &data[..1],
        inner: None,
    };
    let value = Borrowed {
        name: &name,
        tags: vec![&tag, &name],
        note: Cow::Borrowed(&tag),
        bytes: &data,
        inner: Some(&inner),
    };
    let expected = postcard::to_allocvec(&value).unwrap();
    assert_eq!(jitcard::to_vec(&value).unwrap(), expected);
    for engine in engines() {
        let encoder = Encoder::<Borrowed<'_>>::new(engine).unwrap();
        assert_eq!(
            encoder.to_vec(&value).unwrap(),
            expected,
            "{}",
            engine.name()
        );
    }
}

// ------------------------------------------ zero-sized runs, dynamic depth ---

#[test]
fn runs_of_zero_sized_elements_take_no_time_whatever_their_length() {
    let units = [(); usize::MAX];
    let endless: Vec<()> = vec![(); usize::MAX];
    let mut length = Vec::new();
    jitcard::wire::write_varint_u64(&mut length, usize::MAX as u64);
    for engine in engines() {
        let encoder = Encoder::<[(); usize::MAX]>::new(engine).unwrap();
        assert_eq!(
            encoder.to_vec(&units).unwrap(),
            [0u8; 0],
            "{}",
            engine.name()
        );
        let encoder = Encoder::<Vec<()>>::new(engine).unwrap();
        assert_eq!(
            encoder.to_vec(&endless).unwrap(),
            length,
            "{}",
            engine.name()
        );
        let encoder = Encoder::<Vec<[u64; 0]>>::new(engine).unwrap();
        let empties = vec![[0u64; 0]; 1 << 40];
        assert_eq!(
            encoder.to_vec(&empties).unwrap()[..],
            [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]
        );
    }
}

fn nested_value(depth: usize) -> facet_value::Value {
    let mut value = facet_value::Value::from(7u64);
    for _ in 1..depth {
        let mut array = facet_value::VArray::new();
        array.push(value);
        value = array.into();
    }
    value
}

#[derive(Facet)]
struct Dynamic {
    id: u8,
    value: facet_value::Value,
}

#[test]
fn dynamic_values_are_depth_checked_before_they_are_delegated() {
    let shallow = Dynamic {
        id: 1,
        value: nested_value(100),
    };
    // facet-postcard itself needs about 30 KiB of stack per level in a debug
    // build: give the reference encode a large stack.
    let expected = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(scope, || facet_postcard::to_vec(&shallow).unwrap())
            .unwrap()
            .join()
            .unwrap()
    });
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let deep = Dynamic {
                id: 2,
                value: nested_value(jitcard::plan::MAX_DYNAMIC_DEPTH + 1),
            };
            for engine in engines() {
                let encoder = Encoder::<Dynamic>::new(engine).unwrap();
                assert_eq!(encoder.to_vec(&shallow).unwrap(), expected, "{}", engine.name());
                let error = encoder.to_vec(&deep).unwrap_err();
                assert!(
                    matches!(error, Error::TooDeep { max_depth, .. } if max_depth == jitcard::plan::MAX_DYNAMIC_DEPTH),
                    "{}: {error:?}",
                    engine.name()
                );
                assert_eq!(error.path(), "Dynamic.value");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
