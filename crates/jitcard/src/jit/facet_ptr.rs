//! facet's private representation of its pointer types, as generated code
//! sees it: the one place in jitcard that knows it.
//!
//! In facet-core 0.46, `PtrConst` is `repr(transparent)` over `PtrMut`, which
//! (like `PtrUninit`) is `repr(C) { TaggedPtr, *const () }`: two machine
//! words. Word 0 is the data address, with bit 63 set when the pointee is
//! unsized (a wide pointer); word 1 is the metadata: 0 for a thin pointer,
//! the length for `str` and `[T]`. Generated code receives and passes
//! pointers as these two words: it keeps the tag when handing a pointer on
//! to a facet function (which needs it to know the pointer is wide) and
//! clears it with [`UNTAG_MASK`] where it dereferences the data address.
//!
//! None of this is part of facet's public API. The tests below check every
//! fact against facet's own constructors and a facet `borrow` function, so a
//! facet upgrade that changes the representation fails there, not in
//! generated code.

use facet_core::PtrConst;

/// The metadata word of a thin pointer (to a sized value).
pub(crate) const THIN_META: i64 = 0;

/// facet's wide-pointer tag (bit 63 of the data word).
pub(crate) const WIDE_TAG: i64 = 1i64 << 63;

/// Mask that clears facet's wide-pointer tag from a data word, leaving the
/// address.
pub(crate) const UNTAG_MASK: i64 = !WIDE_TAG;

/// facet's three pointer types (`PtrConst`, `PtrMut`, `PtrUninit`), which
/// share one representation: the two words described above.
pub(crate) trait FacetPointer: Copy {}

impl FacetPointer for PtrConst {}
impl FacetPointer for facet_core::PtrMut {}
impl FacetPointer for facet_core::PtrUninit {}

const _: () = {
    assert!(size_of::<PtrConst>() == 2 * size_of::<usize>());
    assert!(size_of::<facet_core::PtrMut>() == 2 * size_of::<usize>());
    assert!(size_of::<facet_core::PtrUninit>() == 2 * size_of::<usize>());
};

/// The two machine words of a facet pointer, unchanged: the data word (tag
/// bit included) and the metadata word.
pub(crate) fn words_of<P: FacetPointer>(p: P) -> (*const u8, usize) {
    // SAFETY: every `FacetPointer` is two pointer-sized words (checked at
    // compile time above); any bit pattern is a valid `[usize; 2]`.
    let words: [usize; 2] = unsafe { core::mem::transmute_copy::<P, [usize; 2]>(&p) };
    (words[0] as *const u8, words[1])
}

/// The facet pointer whose words are (`data`, `meta`), exactly as
/// [`words_of`] returned them: its inverse.
pub(crate) fn pointer_from_words<P: FacetPointer>(data: *const u8, meta: usize) -> P {
    let words = [data as usize, meta];
    // SAFETY: as in `words_of`; the words came from a facet pointer (or are
    // a thin pointer's `[address, 0]`), so they form a valid one.
    unsafe { core::mem::transmute_copy::<[usize; 2], P>(&words) }
}

/// [`words_of`] a `PtrConst`.
pub(crate) fn words(p: PtrConst) -> (*const u8, usize) {
    words_of(p)
}

/// A map entry as facet's `next` returns it (key and value pointers),
/// seen as the four words a compiled entry function reads: the key's data
/// and metadata words, then the value's (offsets checked at compile time
/// below).
///
/// The entry is handed over in place rather than copied: `next` stored it
/// as separate words, and the wider loads a copy compiles to cannot be
/// forwarded from two stores: they wait for both to reach the cache, on
/// every entry. The compiled function loads one word at a time.
pub(crate) fn entry_words(entry: &(PtrConst, PtrConst)) -> *const u8 {
    (entry as *const (PtrConst, PtrConst)).cast()
}

const _: () = {
    let word = size_of::<usize>();
    assert!(core::mem::offset_of!((PtrConst, PtrConst), 0) == 0);
    assert!(core::mem::offset_of!((PtrConst, PtrConst), 1) == 2 * word);
};

/// [`pointer_from_words`] as a `PtrConst`.
pub(crate) fn from_words(data: *const u8, meta: usize) -> PtrConst {
    pointer_from_words(data, meta)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use facet::Facet;
    use facet_core::{Def, PtrConst};

    use super::*;

    #[test]
    fn a_facet_pointer_is_two_words() {
        assert_eq!(size_of::<PtrConst>(), 2 * size_of::<usize>());
        assert_eq!(size_of::<facet_core::PtrMut>(), 2 * size_of::<usize>());
        assert_eq!(size_of::<facet_core::PtrUninit>(), 2 * size_of::<usize>());
    }

    #[test]
    fn entry_words_are_the_words_of_key_then_value() {
        let (key, value) = (3u32, "value");
        let entry = (
            PtrConst::new(&key as *const u32),
            PtrConst::new(value as *const str),
        );
        let (key_data, key_meta) = words(entry.0);
        let (value_data, value_meta) = words(entry.1);
        // SAFETY: `entry_words` points at the four initialized words of
        // `entry`, which is live.
        let read = unsafe { *entry_words(&entry).cast::<[usize; 4]>() };
        assert_eq!(
            read,
            [key_data as usize, key_meta, value_data as usize, value_meta]
        );
    }

    #[test]
    fn a_thin_pointer_is_its_address_and_zero() {
        let value = 7u64;
        let address = &value as *const u64 as *const u8;
        assert_eq!(words(PtrConst::new(&value as *const u64)), (address, 0));
        assert_eq!(THIN_META, 0);
        let p = from_words(address, THIN_META as usize);
        assert_eq!(p.raw_ptr(), address);
        assert!(!p.is_wide());
    }

    #[test]
    fn a_wide_pointer_is_the_tagged_address_and_the_length() {
        let text = "four";
        let (data, meta) = words(PtrConst::new(text as *const str));
        assert_eq!(data as usize & UNTAG_MASK as usize, text.as_ptr() as usize);
        assert_eq!(
            data as usize & !(UNTAG_MASK as usize),
            1 << 63,
            "tag bit set"
        );
        assert_eq!(meta, 4);
        let p = from_words(data, meta);
        assert!(p.is_wide());
        assert_eq!(p.raw_ptr(), text.as_ptr());
        // SAFETY: the words were taken from a pointer to `text`.
        assert_eq!(unsafe { p.get::<str>() }, "four");
    }

    #[test]
    fn a_slice_pointer_is_the_tagged_address_and_the_element_count() {
        let values = [1u32, 2, 3];
        let slice: &[u32] = &values;
        let p = from_words(
            (slice.as_ptr() as usize | WIDE_TAG as usize) as *const u8,
            slice.len(),
        );
        assert_eq!(words(PtrConst::new(slice as *const [u32])), words(p));
        let Def::Slice(def) = <[u32] as Facet>::SHAPE.def else {
            panic!("[u32] is a slice def");
        };
        // SAFETY: `p` points to a live `[u32]`, the vtable's type.
        unsafe {
            assert_eq!((def.vtable.len)(p), 3);
            assert_eq!(
                (def.vtable.as_ptr)(p).raw_ptr(),
                slice.as_ptr().cast::<u8>()
            );
        }
    }

    #[test]
    fn borrowing_an_arc_str_returns_a_tagged_wide_pointer() {
        let value: Arc<str> = Arc::from("seven!!");
        let Def::Pointer(def) = <Arc<str> as Facet>::SHAPE.def else {
            panic!("Arc<str> is a pointer def");
        };
        let borrow = def.vtable.borrow_fn.expect("Arc<str> can be borrowed");
        // SAFETY: `borrow` belongs to `Arc<str>`'s shape and gets an `Arc<str>`.
        let pointee = unsafe { borrow(PtrConst::new(&value as *const Arc<str>)) };
        let (data, meta) = words(pointee);
        assert_eq!(meta, 7);
        assert_eq!(data as usize & UNTAG_MASK as usize, value.as_ptr() as usize);
        assert_ne!(data as usize & !(UNTAG_MASK as usize), 0, "tag bit set");
    }
}
