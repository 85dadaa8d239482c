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

use std::ptr;
use std::sync::OnceLock;

use facet_core::{ListDef, OptionVTable, PtrConst, PtrUninit, Shape};

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
