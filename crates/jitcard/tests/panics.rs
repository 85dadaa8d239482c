//! One failure policy on every engine: a panic inside a Rust-ABI facet
//! function jitcard calls (a set iterator's `next`, a list's `get`, a
//! proxy conversion) and a collection whose length disagrees with what it
//! yields become an `Err` naming the value's path; the buffer is left as it
//! was; every iterator jitcard created is freed.
//!
//! The collections here are hand-written `Facet` impls (facet's derive
//! never produces them), with counters of live iterators.

use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use facet::Facet;
use facet_core::{
    Def, IterVTable, ListDef, ListVTable, PtrConst, PtrMut, PtrUninit, SetDef, SetVTable, Shape,
    ShapeBuilder, Type, UserType,
};
use jitcard::{Encoder, Error};
use jitcard_bench::cases::jitcard_engines_under_test;

/// Iterators created and not yet freed, across this binary's tests.
static LIVE_ITERATORS: AtomicIsize = AtomicIsize::new(0);

/// Tests run one at a time, so the iterator count is theirs alone.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A set of `u32`s that can misbehave: report a wrong length, or panic in
/// its iterator's `next` at a given item.
struct TrickySet {
    items: Vec<u32>,
    reported_len: usize,
    panic_at: Option<usize>,
}

impl TrickySet {
    fn honest(items: Vec<u32>) -> Self {
        TrickySet {
            reported_len: items.len(),
            items,
            panic_at: None,
        }
    }
}

struct TrickyIter {
    set: *const TrickySet,
    next: usize,
}

unsafe extern "C" fn set_init(_: PtrUninit, _: usize) -> PtrMut {
    unreachable!("never built by the encoder")
}
unsafe extern "C" fn set_insert(_: PtrMut, _: PtrMut) -> bool {
    unreachable!("never built by the encoder")
}
unsafe extern "C" fn set_contains(_: PtrConst, _: PtrConst) -> bool {
    unreachable!("never queried by the encoder")
}
unsafe extern "C" fn set_len(set: PtrConst) -> usize {
    // SAFETY: facet passes a `TrickySet` (this shape's vtable).
    unsafe { set.get::<TrickySet>() }.reported_len
}
unsafe extern "C" fn iter_init(set: PtrConst) -> PtrMut {
    LIVE_ITERATORS.fetch_add(1, Ordering::SeqCst);
    let iter = Box::new(TrickyIter {
        set: set.raw_ptr().cast(),
        next: 0,
    });
    PtrMut::new(Box::into_raw(iter))
}
unsafe fn iter_next(iter: PtrMut) -> Option<PtrConst> {
    // SAFETY: `iter` came from `iter_init` and is live.
    let iter = unsafe { &mut *iter.as_mut_byte_ptr().cast::<TrickyIter>() };
    // SAFETY: the set outlives its iterators.
    let set = unsafe { &*iter.set };
    if set.panic_at == Some(iter.next) {
        panic!("tricky iterator gave up at item {}", iter.next);
    }
    let item = set.items.get(iter.next)?;
    iter.next += 1;
    Some(PtrConst::new(item as *const u32))
}
unsafe extern "C" fn iter_dealloc(iter: PtrMut) {
    LIVE_ITERATORS.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: `iter` came from `iter_init`'s `Box` and is freed once.
    drop(unsafe { Box::from_raw(iter.as_mut_byte_ptr().cast::<TrickyIter>()) });
}

// SAFETY: the shape describes `TrickySet` as an opaque set of `u32`, and
// every vtable function treats its pointers as such.
unsafe impl Facet<'static> for TrickySet {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<TrickySet>("TrickySet")
            .ty(Type::User(UserType::Opaque))
            .def(Def::Set(SetDef::new(
                &const {
                    SetVTable::builder()
                        .init_in_place_with_capacity(set_init)
                        .insert(set_insert)
                        .len(set_len)
                        .contains(set_contains)
                        .iter_vtable(IterVTable {
                            init_with_value: Some(iter_init),
                            next: iter_next,
                            next_back: None,
                            size_hint: None,
                            dealloc: iter_dealloc,
                        })
                        .from_slice(None)
                        .build()
                },
                u32::SHAPE,
            )))
            .build()
    };
}

/// A list without contiguous storage whose `get` may panic.
struct TrickyList {
    items: Vec<u8>,
    panic_at: Option<usize>,
}

unsafe extern "C" fn list_len(list: PtrConst) -> usize {
    // SAFETY: facet passes a `TrickyList` (this shape's vtable).
    unsafe { list.get::<TrickyList>() }.items.len()
}
unsafe fn list_get(list: PtrConst, index: usize, _: &'static Shape) -> Option<PtrConst> {
    // SAFETY: as above.
    let list = unsafe { list.get::<TrickyList>() };
    if list.panic_at == Some(index) {
        panic!("tricky list refuses index {index}");
    }
    list.items
        .get(index)
        .map(|item| PtrConst::new(item as *const u8))
}

// SAFETY: the shape describes `TrickyList` as an opaque list of `u8`
// reached only through `len` and `get`.
unsafe impl Facet<'static> for TrickyList {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<TrickyList>("TrickyList")
            .ty(Type::User(UserType::Opaque))
            .def(Def::List(ListDef::new(
                &const {
                    ListVTable::builder()
                        .len(list_len)
                        .get(list_get)
                        .get_mut(None)
                        .as_ptr(None)
                        .as_mut_ptr(None)
                        .swap(None)
                        .build()
                },
                u8::SHAPE,
            )))
            .build()
    };
}

#[derive(Facet)]
struct Holder {
    id: u8,
    sets: Vec<TrickySet>,
    list: Option<TrickyList>,
}

fn holder(sets: Vec<TrickySet>) -> Holder {
    Holder {
        id: 7,
        sets,
        list: None,
    }
}

/// Encodes `value` on every engine into a buffer holding `[1, 2, 3]` and
/// returns the errors, checking the buffer and the iterator count.
fn errors_on_every_engine(value: &Holder) -> Vec<Error> {
    let mut errors = Vec::new();
    for engine in jitcard_engines_under_test() {
        let encoder = Encoder::<Holder>::new(engine).unwrap();
        let mut buffer = vec![1, 2, 3];
        let error = encoder.encode(value, &mut buffer).unwrap_err();
        assert_eq!(buffer, [1, 2, 3], "{}: {error}", engine.name());
        assert_eq!(
            LIVE_ITERATORS.load(Ordering::SeqCst),
            0,
            "{} leaked an iterator",
            engine.name()
        );
        errors.push(error);
    }
    let error = jitcard::to_vec(value).unwrap_err();
    errors.push(error);
    assert!(
        errors.windows(2).all(|pair| pair[0] == pair[1]),
        "every engine fails the same way: {errors:#?}"
    );
    errors
}

#[test]
fn honest_collections_encode_on_every_engine() {
    let _serial = serial();
    let value = Holder {
        id: 7,
        sets: vec![TrickySet::honest(vec![1, 300]), TrickySet::honest(vec![])],
        list: Some(TrickyList {
            items: vec![5, 6],
            panic_at: None,
        }),
    };
    for engine in jitcard_engines_under_test() {
        let bytes = Encoder::<Holder>::new(engine)
            .unwrap()
            .to_vec(&value)
            .unwrap();
        assert_eq!(
            bytes,
            [7, 2, 2, 1, 0xac, 0x02, 0, 1, 2, 5, 6],
            "{}",
            engine.name()
        );
    }
    assert_eq!(LIVE_ITERATORS.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panicking_iterator_is_an_error_at_its_path() {
    let _serial = serial();
    let value = holder(vec![
        TrickySet::honest(vec![1]),
        TrickySet {
            panic_at: Some(1),
            ..TrickySet::honest(vec![4, 5, 6])
        },
    ]);
    let errors = errors_on_every_engine(&value);
    let Error::Panicked { path, message, .. } = &errors[0] else {
        panic!("{errors:?}");
    };
    assert_eq!(path, "Holder.sets[1]");
    assert!(message.contains("gave up at item 1"), "{message}");
}

#[test]
fn a_panicking_list_get_is_an_error_at_its_path() {
    let _serial = serial();
    let value = Holder {
        id: 1,
        sets: vec![],
        list: Some(TrickyList {
            items: vec![1, 2, 3],
            panic_at: Some(2),
        }),
    };
    let errors = errors_on_every_engine(&value);
    assert!(matches!(errors[0], Error::Panicked { .. }), "{errors:?}");
    assert_eq!(errors[0].path(), "Holder.list.Some");
}

#[test]
fn a_length_larger_than_the_items_is_a_mismatch() {
    let _serial = serial();
    let value = holder(vec![TrickySet {
        reported_len: 3,
        ..TrickySet::honest(vec![1, 2])
    }]);
    let errors = errors_on_every_engine(&value);
    assert!(
        matches!(
            errors[0],
            Error::LengthMismatch {
                reported: 3,
                yielded: 2,
                ..
            }
        ),
        "{errors:?}"
    );
    assert_eq!(errors[0].path(), "Holder.sets[0]");
}

#[test]
fn a_length_smaller_than_the_items_is_a_mismatch() {
    let _serial = serial();
    let value = holder(vec![
        TrickySet::honest(vec![]),
        TrickySet::honest(vec![9]),
        TrickySet {
            reported_len: 1,
            ..TrickySet::honest(vec![1, 2, 3])
        },
    ]);
    let errors = errors_on_every_engine(&value);
    assert!(
        matches!(
            errors[0],
            Error::LengthMismatch {
                reported: 1,
                yielded: 2,
                ..
            }
        ),
        "{errors:?}"
    );
    assert_eq!(errors[0].path(), "Holder.sets[2]");
}

/// Serialized through a proxy whose conversion panics on odd values.
#[derive(Facet, Debug)]
#[facet(proxy = EvenProxy)]
struct Even(u32);

#[derive(Facet, Debug)]
struct EvenProxy(u32);

impl TryFrom<&Even> for EvenProxy {
    type Error = String;
    fn try_from(value: &Even) -> Result<Self, String> {
        assert!(value.0.is_multiple_of(2), "{} is odd", value.0);
        Ok(EvenProxy(value.0 / 2))
    }
}

impl TryFrom<EvenProxy> for Even {
    type Error = String;
    fn try_from(proxy: EvenProxy) -> Result<Self, String> {
        Ok(Even(proxy.0 * 2))
    }
}

#[derive(Facet, Debug)]
struct Evens {
    items: Vec<Even>,
}

#[test]
fn a_panicking_proxy_is_an_error_at_its_path() {
    let _serial = serial();
    let value = Evens {
        items: vec![Even(2), Even(4), Even(5)],
    };
    let mut errors = Vec::new();
    for engine in jitcard_engines_under_test() {
        let mut buffer = vec![9];
        let error = Encoder::<Evens>::new(engine)
            .unwrap()
            .encode(&value, &mut buffer)
            .unwrap_err();
        assert_eq!(buffer, [9], "{}", engine.name());
        errors.push(error);
    }
    errors.push(jitcard::to_vec(&value).unwrap_err());
    for error in &errors {
        assert!(matches!(error, Error::Fallback { .. }), "{error:?}");
        assert_eq!(error.path(), "Evens.items[2]");
        assert!(error.to_string().contains("5 is odd"), "{error}");
    }
    let fine = Evens {
        items: vec![Even(2), Even(8)],
    };
    assert_eq!(jitcard::to_vec(&fine).unwrap(), [2, 1, 4]);
}
