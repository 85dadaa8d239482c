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
