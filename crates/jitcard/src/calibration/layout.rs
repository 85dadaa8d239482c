//! Calibrated layouts of `String` and `Vec<T>`, so generated code can load
//! their data pointer and length inline instead of calling a helper or a
//! vtable function per string or list.
//!
//! Rust guarantees neither layout. Instead of assuming one, this module
//! probes real values whose pointer, length and capacity are three distinct
//! words, finds which word is which, and checks the answer on a second value.
//! If anything is ambiguous or fails, the type keeps the call path. Only these
//! two std types are calibrated.
//!
//! One more layout is used, a guarantee of the language rather than a
//! calibration: `Option<Box<T>>` of a sized `T` is one pointer, `Some(b)` is
//! `b`'s bits and `None` is null (std's `option` docs, "Representation":
//! `Box<U>` has the same size as `Option<Box<U>>`, `Some::<T>(_)` transmutes
//! to `T`, and all-zero bytes transmute to `None`). [`option_box_is_pointer`]
//! still checks it against facet's own `init_none` before a decoder relies
//! on it, and a shape where the check fails keeps the vtable calls.
//!
//! `Box<[T]>` (for `T` whose every byte pattern is a value, the elements of
//! runs whose memory is their wire form) is calibrated like `String`: facet's
//! own slice builder makes boxes of 2 and then 3 zeroed elements, and the
//! word equal to the length and the other (the data pointer) are found and
//! checked on both ([`boxed_slice_layout`]). A decoder then allocates the
//! elements itself (`Box<[T]>` owns an allocation of exactly
//! `Layout::array::<T>(len)` from the global allocator) and writes the two
//! words; where calibration fails it keeps the slice builder.
//!
//! **Pointers** ([`pointer_layout`]): where a std pointer's pointee starts,
//! so an encoder dereferences it without facet's `borrow` call.
//! - `Box<T>`, `&T`, `&mut T` of a sized `T` are one word, the pointee's
//!   address (a language guarantee).
//! - `Arc<T>` and `Rc<T>` of a sized `T` are one word, the address of std's
//!   `ArcInner`/`RcInner`, which is `#[repr(C)] { strong, weak, data: T }`
//!   (std source; it is `repr(C)` so that `from_raw` can compute the same
//!   offset): the pointee starts at two words rounded up to `align_of::<T>()`,
//!   an offset that depends on nothing but `T`'s alignment. It is measured
//!   (`Arc::as_ptr` minus the pointer word) on a probe type of that
//!   alignment, checked against the `repr(C)` rule, and used only for
//!   alignments this module has a probe for.
//! - The wide forms (`Box<str>`, `&[T]`, `Arc<str>`, `Rc<[T]>`, ...) are two
//!   words, an address and the length, in an order Rust does not promise: it
//!   is found on a probe of the same pointer kind (the word equal to the
//!   length, and the other word, which plus the offset above is `as_ptr`).
//!
//! In each case the data word of a valid pointer is never null (the address
//! of a value or of an allocation), which [`super::presence`] uses as the
//! niche of `Option<pointer>`.

use std::ptr;
use std::sync::OnceLock;

use std::rc::Rc;
use std::sync::Arc;

use facet_core::{Def, KnownPointer, ListDef, OptionVTable, PtrConst, PtrUninit, Shape};

/// Where a value's data pointer and length live, as byte offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PtrLenLayout {
    /// Offset of the data pointer word.
    pub ptr_offset: i32,
    /// Offset of the length word.
    pub len_offset: i32,
}

const WORD: usize = size_of::<usize>();

/// Finds the pointer and length words among three words of a value whose
/// pointer, length and capacity are known and pairwise distinct.
fn locate(words: [usize; 3], ptr: usize, len: usize, cap: usize) -> Option<PtrLenLayout> {
    if ptr == len || ptr == cap || len == cap {
        return None;
    }
    let find = |wanted: usize| {
        let mut hits = words.iter().enumerate().filter(|(_, w)| **w == wanted);
        match (hits.next(), hits.next()) {
            (Some((index, _)), None) => Some(index),
            _ => None,
        }
    };
    let (p, l, c) = (find(ptr)?, find(len)?, find(cap)?);
    if p == l || p == c || l == c {
        return None;
    }
    Some(PtrLenLayout {
        ptr_offset: (p * WORD) as i32,
        len_offset: (l * WORD) as i32,
    })
}

/// The calibrated layout of `String` on this host, if calibration succeeded.
pub(crate) fn string_layout() -> Option<PtrLenLayout> {
    static LAYOUT: OnceLock<Option<PtrLenLayout>> = OnceLock::new();
    *LAYOUT.get_or_init(|| {
        if size_of::<String>() != 3 * WORD {
            return None;
        }
        let probe = |len: usize, cap: usize| {
            let mut s = String::with_capacity(cap);
            s.extend(std::iter::repeat_n('x', len));
            // SAFETY: `String` is three words (checked above); reading its
            // bytes as words does not create a `String`.
            let words: [usize; 3] = unsafe { core::mem::transmute_copy(&s) };
            locate(words, s.as_ptr() as usize, s.len(), s.capacity())
        };
        let first = probe(3, 17)?;
        (probe(29, 64)? == first).then_some(first)
    })
}

/// Most element bytes a `Vec` probe may allocate. The probes allocate room
/// for 2 and then 3 elements (never constructing any); element types larger
/// than a third of this keep the call path, so building an encoder costs
/// bounded memory whatever `T` is (`Vec<[u8; 1 << 31]>` included).
const MAX_PROBE_BYTES: usize = 64 * 1024;

/// The calibrated layout of the list `shape` if it is a std `Vec<T>` whose
/// facet vtable lets a probe be built (and freed) without any `T` value.
pub(crate) fn vec_layout(shape: &'static Shape, def: &ListDef) -> Option<PtrLenLayout> {
    let is_std_vec = shape.type_identifier == "Vec" && shape.module_path == Some("alloc::vec");
    let element_size = def.t.layout.sized_layout().ok()?.size();
    let layout = shape.layout.sized_layout().ok()?;
    if !is_std_vec
        || element_size == 0
        || element_size > MAX_PROBE_BYTES / 3
        || layout.size() != 3 * WORD
        || layout.align() > WORD
    {
        return None;
    }
    let (init, set_len, capacity, as_ptr) = (
        def.init_in_place_with_capacity()?,
        def.set_len()?,
        def.capacity()?,
        def.vtable.as_ptr?,
    );
    let probe = |len: usize, cap: usize| -> Option<PtrLenLayout> {
        let mut storage = [0usize; 3];
        let slot = PtrUninit::new(storage.as_mut_ptr().cast::<u8>());
        // SAFETY: `storage` is 3 aligned words, the size and (at most) the
        // alignment of the Vec; `init` writes an empty Vec of capacity `cap`.
        let list = unsafe { init(slot, cap) };
        let list_const = list.as_const();
        // SAFETY: a live Vec; `len` does not exceed its capacity. The
        // elements it covers are never read and the length is reset before
        // the drop below.
        let found = unsafe {
            let real_cap = capacity(list_const);
            if real_cap < len || len == 0 {
                None
            } else {
                set_len(list, len);
                let data = as_ptr(list_const).raw_ptr() as usize;
                let reported_len = (def.vtable.len)(PtrConst::new(storage.as_ptr().cast::<u8>()));
                let words = storage;
                set_len(list, 0);
                (reported_len == len)
                    .then(|| locate(words, data, len, real_cap))
                    .flatten()
            }
        };
        // SAFETY: the Vec is live, empty, and dropped exactly once.
        unsafe { shape.call_drop_in_place(list) }?;
        found
    };
    let first = probe(1, 2)?;
    (probe(2, 3)? == first).then_some(first)
}

/// Whether the option `shape` (of `vtable`), an `Option<Box<T>>` of a
/// sized `T`, is one pointer word whose `None` is null (see the module
/// doc): its layout is one word, and facet's `init_none` writes zero over a
/// word of ones.
#[cfg_attr(not(feature = "jit"), allow(dead_code))] // used by generated decoders
pub(crate) fn option_box_is_pointer(shape: &'static Shape, vtable: &OptionVTable) -> bool {
    let word = shape
        .layout
        .sized_layout()
        .is_ok_and(|l| l.size() == WORD && l.align() == WORD);
    if !word {
        return false;
    }
    let mut probe = usize::MAX;
    // SAFETY: `probe` is a writable, aligned word, the option's layout;
    // `init_none` writes `None` there (no value is read or dropped).
    unsafe { (vtable.init_none)(PtrUninit::new(&raw mut probe)) };
    probe == 0
}

/// The calibrated words of the `Box<[T]>` `shape`, built by `builder`,
/// whose elements are `stride` bytes aligned to `align` and valid whatever
/// their bytes (see the module doc).
#[cfg_attr(not(feature = "jit"), allow(dead_code))] // used by generated decoders
pub(crate) fn boxed_slice_layout(
    shape: &'static Shape,
    builder: &'static facet_core::SliceBuilderVTable,
    stride: usize,
    align: usize,
) -> Option<PtrLenLayout> {
    let layout = shape.layout.sized_layout().ok()?;
    if layout.size() != 2 * WORD
        || layout.align() != WORD
        || stride == 0
        || stride > MAX_PROBE_BYTES / 3
    {
        return None;
    }
    let probe = |len: usize| -> Option<PtrLenLayout> {
        let zeroed = vec![0u8; stride * len + align];
        let offset = zeroed.as_ptr().align_offset(align);
        let elements = zeroed.get(offset..)?.as_ptr();
        let words = std::panic::catch_unwind(|| {
            let handle = (builder.new_fn)();
            for index in 0..len {
                // SAFETY: the handle came from `new_fn`; each item is
                // `stride` zeroed bytes, aligned, a valid element (callers
                // only calibrate element types whose every byte pattern is
                // a value), copied out by `push`.
                unsafe {
                    (builder.push_fn)(
                        handle,
                        facet_core::PtrMut::new(elements.add(index * stride).cast_mut()),
                    )
                };
            }
            // SAFETY: the handle came from `new_fn`; `convert_fn` consumes it
            // and returns a heap cell of the pointer's layout holding it.
            let cell = unsafe { (builder.convert_fn)(handle) };
            let mut words = [0usize; 2];
            // SAFETY: the cell holds the finished box (two words); its bytes
            // are copied out, then the box is dropped once through its shape
            // and the cell freed without a second drop.
            unsafe {
                ptr::copy_nonoverlapping(cell.raw_ptr(), words.as_mut_ptr().cast::<u8>(), 2 * WORD);
                shape.call_drop_in_place(facet_core::PtrMut::new(cell.raw_ptr().cast_mut()));
                std::alloc::dealloc(cell.raw_ptr().cast_mut(), layout);
            }
            words
        })
        .ok()?;
        let (len_word, ptr_word) = match words {
            [a, b] if a == len && b != len => (0, 1),
            [a, b] if b == len && a != len => (1, 0),
            _ => return None,
        };
        let data = words[ptr_word];
        (data != 0 && data % align == 0).then_some(PtrLenLayout {
            ptr_offset: (ptr_word * WORD) as i32,
            len_offset: (len_word * WORD) as i32,
        })
    };
    let first = probe(2)?;
    (probe(3)? == first).then_some(first)
}

impl PtrLenLayout {
    /// The data pointer and length of the value at `at`.
    ///
    /// # Safety
    /// `at` points at a live value of the type this layout was found for.
    #[inline(always)]
    pub unsafe fn read(self, at: *const u8) -> (*const u8, usize) {
        // SAFETY: both words lie inside the value (the caller's contract and
        // the calibration); the pointer word is read as a pointer, keeping
        // its provenance.
        unsafe {
            (
                at.add(self.ptr_offset as usize)
                    .cast::<*const u8>()
                    .read_unaligned(),
                at.add(self.len_offset as usize)
                    .cast::<usize>()
                    .read_unaligned(),
            )
        }
    }

    /// The capacity word of a three-word `String`/`Vec` layout found by
    /// [`locate`] (the word that is neither the pointer nor the length).
    pub fn capacity_offset(self) -> i32 {
        3 * WORD as i32 - self.ptr_offset - self.len_offset
    }
}

/// Where a pointer's pointee starts (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PointerLayout {
    /// Offset of the word holding the address.
    pub data_word: i32,
    /// Offset of the length word of a wide pointer (`None`: thin).
    pub len_word: Option<i32>,
    /// Bytes from that address to the pointee (the reference counts of
    /// `Arc`/`Rc`; 0 otherwise).
    pub data_offset: i32,
}

impl PointerLayout {
    /// The pointee of the pointer at `at`, as facet's `borrow` returns it
    /// (a wide pointer carries the length as its metadata).
    ///
    /// # Safety
    /// `at` points at a live pointer of the shape this layout was found for.
    #[inline(always)]
    pub unsafe fn pointee(self, at: *const u8) -> PtrConst {
        // SAFETY: the words lie inside the live pointer (the caller's
        // contract and the calibration); the address word is read as a
        // pointer, keeping its provenance, and the pointee lies
        // `data_offset` bytes into the allocation it points at.
        unsafe {
            let word = |offset: i32| at.add(offset as usize).cast::<*const u8>().read_unaligned();
            let address = word(self.data_word).add(self.data_offset as usize);
            match self.len_word {
                None => PtrConst::new_sized(address),
                Some(len_word) => PtrConst::new_wide(address, word(len_word).cast()),
            }
        }
    }
}

/// The pointer kinds [`pointer_layout`] knows, by how they are built.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PointerKind {
    /// `Box`, `&`, `&mut`: the address is the pointee's.
    Plain,
    Arc,
    Rc,
}

/// The layout of the std pointer `shape` to `pointee`, when this module
/// knows it (see the module doc); `None` keeps facet's `borrow` call.
pub(crate) fn pointer_layout(
    shape: &'static Shape,
    pointee: &'static Shape,
) -> Option<PointerLayout> {
    let Def::Pointer(def) = shape.def else {
        return None;
    };
    let kind = match def.known? {
        KnownPointer::Box if shape.module_path == Some("alloc::boxed") => PointerKind::Plain,
        KnownPointer::SharedReference | KnownPointer::ExclusiveReference => PointerKind::Plain,
        KnownPointer::Arc if shape.module_path == Some("alloc::sync") => PointerKind::Arc,
        KnownPointer::Rc if shape.module_path == Some("alloc::rc") => PointerKind::Rc,
        _ => return None,
    };
    let size = shape.layout.sized_layout().ok()?.size();
    if let Ok(layout) = pointee.layout.sized_layout() {
        if size != WORD {
            return None;
        }
        let data_offset = match kind {
            PointerKind::Plain => 0,
            PointerKind::Arc | PointerKind::Rc => counted_offset(kind, layout.align())?,
        };
        return Some(PointerLayout {
            data_word: 0,
            len_word: None,
            data_offset,
        });
    }
    // `str` or `[T]`: the alignment of an element.
    let align = match pointee.def {
        Def::Slice(slice) => slice.t.layout.sized_layout().ok()?.align(),
        _ if pointee.id == <str as facet_core::Facet>::SHAPE.id => 1,
        _ => return None,
    };
    if size != 2 * WORD {
        return None;
    }
    let (data_word, len_word) = wide_words(kind, align)?;
    let data_offset = match kind {
        PointerKind::Plain => 0,
        PointerKind::Arc | PointerKind::Rc => counted_offset(kind, align)?,
    };
    Some(PointerLayout {
        data_word,
        len_word: Some(len_word),
        data_offset,
    })
}

/// The words of a `&str` (address, length; see the module doc).
pub(crate) fn str_ref_layout() -> Option<PtrLenLayout> {
    let (data_word, len_word) = wide_words(PointerKind::Plain, 1)?;
    Some(PtrLenLayout {
        ptr_offset: data_word,
        len_offset: len_word,
    })
}

/// Probe pointees of each alignment a counted pointer may be calibrated for.
macro_rules! aligned_probes {
    ($($name:ident = $align:literal),*) => {
        $(
            #[derive(Clone, Copy, Default)]
            #[repr(align($align))]
            struct $name(#[allow(dead_code)] u8);
        )*
        /// Runs `$probe::<P>($arg)` with the probe type `P` of alignment
        /// `align`.
        macro_rules! with_probe {
            ($align_value:expr, $probe:ident, $arg:expr) => {
                match $align_value {
                    $($align => $probe::<$name>($arg),)*
                    _ => None,
                }
            };
        }
    };
}
aligned_probes!(A1 = 1, A2 = 2, A4 = 4, A8 = 8, A16 = 16, A32 = 32, A64 = 64);

/// Index of `align` among the probed alignments.
fn align_slot(align: usize) -> Option<usize> {
    (align.is_power_of_two() && align <= 64).then(|| align.trailing_zeros() as usize)
}

/// One calibration per pointer kind and probed alignment, kept for the
/// process.
type Calibrations<T> = [[OnceLock<Option<T>>; 7]; 3];

impl PointerKind {
    /// This kind's row in a [`Calibrations`] table.
    fn row(self) -> usize {
        match self {
            PointerKind::Plain => 0,
            PointerKind::Arc => 1,
            PointerKind::Rc => 2,
        }
    }
}

/// The words of a pointer value (one for thin pointers, two for wide),
/// read without creating or dropping a pointer.
fn words_of<W, const N: usize>(pointer: &W) -> Option<[usize; N]> {
    // SAFETY: `W` is `N` words (checked first); any bit pattern is a valid
    // `[usize; N]`.
    (size_of::<W>() == N * WORD).then(|| unsafe { core::mem::transmute_copy(pointer) })
}

/// The calibrated pointee offset of `Arc<T>`/`Rc<T>` for a `T` of
/// alignment `align`, checked against the `repr(C)` rule.
fn counted_offset(kind: PointerKind, align: usize) -> Option<i32> {
    /// The offset from the pointer word to the pointee in a probe of `kind`.
    fn probe<P: Copy + Default + 'static>(kind: PointerKind) -> Option<i32> {
        let offset = |[word]: [usize; 1], pointee: *const P| {
            i32::try_from((pointee as usize).checked_sub(word)?).ok()
        };
        match kind {
            PointerKind::Plain => Some(0),
            PointerKind::Arc => {
                let probe = Arc::new(P::default());
                offset(words_of(&probe)?, Arc::as_ptr(&probe))
            }
            PointerKind::Rc => {
                let probe = Rc::new(P::default());
                offset(words_of(&probe)?, Rc::as_ptr(&probe))
            }
        }
    }
    static OFFSETS: Calibrations<i32> = [const { [const { OnceLock::new() }; 7] }; 3];
    let slot = align_slot(align)?;
    *OFFSETS[kind.row()][slot].get_or_init(|| {
        let measured = with_probe!(align, probe, kind)?;
        let rule = match kind {
            PointerKind::Plain => 0,
            PointerKind::Arc | PointerKind::Rc => (2 * WORD).next_multiple_of(align) as i32,
        };
        (measured == rule).then_some(measured)
    })
}

/// The (address, length) word offsets of a wide pointer of `kind` to
/// elements of alignment `align`, found on a probe of three elements.
fn wide_words(kind: PointerKind, align: usize) -> Option<(i32, i32)> {
    /// Which of `words` is the length (3) and which the address.
    fn find(words: [usize; 2], address: usize) -> Option<(i32, i32)> {
        match words {
            [a, b] if a == 3 && b == address && a != b => Some((WORD as i32, 0)),
            [a, b] if b == 3 && a == address && a != b => Some((0, WORD as i32)),
            _ => None,
        }
    }
    fn probe<P: Copy + Default + 'static>(kind: PointerKind) -> Option<(i32, i32)> {
        let elements = [P::default(); 3];
        // A counted pointer's address is its counts', the elements' minus
        // the `repr(C)` offset.
        let counts = |first: *const P| {
            (first as usize).checked_sub((2 * WORD).next_multiple_of(align_of::<P>()))
        };
        match kind {
            PointerKind::Plain => {
                let slice: &[P] = &elements;
                let boxed: Box<[P]> = Box::new(elements);
                let a = find(words_of(&slice)?, slice.as_ptr() as usize)?;
                let b = find(words_of(&boxed)?, boxed.as_ptr() as usize)?;
                (a == b).then_some(a)
            }
            PointerKind::Arc => {
                let shared: Arc<[P]> = Arc::new(elements);
                find(words_of(&shared)?, counts(shared.as_ptr())?)
            }
            PointerKind::Rc => {
                let shared: Rc<[P]> = Rc::new(elements);
                find(words_of(&shared)?, counts(shared.as_ptr())?)
            }
        }
    }
    static WORDS: Calibrations<(i32, i32)> = [const { [const { OnceLock::new() }; 7] }; 3];
    let slot = align_slot(align)?;
    *WORDS[kind.row()][slot].get_or_init(|| with_probe!(align, probe, kind))
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::Arc;

    use facet::Facet;
    use facet_core::{Def, PtrConst};

    use super::*;

    #[derive(Facet, Clone, Copy, Default)]
    #[repr(align(16))]
    struct Wide16(u8);

    /// The pointee words computed from `layout` equal facet's `borrow`.
    fn agrees<P: Facet<'static>>(value: &P) {
        let Def::Pointer(def) = P::SHAPE.def else {
            panic!("{} is a pointer", P::SHAPE)
        };
        let pointee = def.pointee().expect("a pointee shape");
        let layout = pointer_layout(P::SHAPE, pointee)
            .unwrap_or_else(|| panic!("{} has a calibrated layout", P::SHAPE));
        let base = (value as *const P).cast::<u8>();
        // SAFETY: `borrow` belongs to `P`'s shape and gets a live `P`.
        let expected = unsafe { (def.vtable.borrow_fn.expect("borrowable"))(PtrConst::new(base)) };
        // SAFETY: `base` is a live `P`, the shape `layout` was found for.
        let built = unsafe { layout.pointee(base) };
        assert!(built == expected, "{}", P::SHAPE);
    }

    #[test]
    fn pointer_layouts_agree_with_facets_borrow() {
        agrees(&Box::new(7u64));
        agrees(&Arc::new(7u16));
        agrees(&Rc::new(7u64));
        agrees(&Arc::new(Wide16(3)));
        agrees(&Rc::new([Wide16(1); 3]));
        agrees::<Arc<str>>(&Arc::from("shared"));
        agrees::<Rc<str>>(&Rc::from("counted"));
        agrees::<Box<str>>(&Box::from("boxed"));
        agrees::<Box<[u8]>>(&vec![1u8, 2, 3].into_boxed_slice());
        agrees::<Arc<[u64]>>(&Arc::from(vec![1u64, 2]));
        agrees::<Rc<[u32]>>(&Rc::from(vec![1u32, 2, 3, 4]));
        agrees::<Arc<[Wide16]>>(&Arc::from(vec![Wide16(1)]));
        agrees::<&'static [u16]>(&&[1u16, 2][..]);
    }

    #[test]
    fn counted_pointers_follow_the_repr_c_rule() {
        for align in [1, 2, 4, 8, 16, 32, 64] {
            let rule = (2 * WORD).next_multiple_of(align) as i32;
            assert_eq!(counted_offset(PointerKind::Arc, align), Some(rule));
            assert_eq!(counted_offset(PointerKind::Rc, align), Some(rule));
        }
        assert_eq!(
            counted_offset(PointerKind::Arc, 128),
            None,
            "no probe: the call path"
        );
    }

    #[test]
    fn str_refs_are_calibrated() {
        let text: &str = "four";
        let layout = str_ref_layout().expect("calibrated");
        // SAFETY: `&str` is two words (asserted by the calibration).
        let words: [usize; 2] = unsafe { core::mem::transmute_copy(&text) };
        assert_eq!(
            words[layout.ptr_offset as usize / WORD],
            text.as_ptr() as usize
        );
        assert_eq!(words[layout.len_offset as usize / WORD], 4);
    }
}
