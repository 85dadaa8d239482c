//! Trampolines: Rust `extern "C"` functions that generated code calls with
//! plain machine words, which build the `PtrConst` arguments of facet's
//! vtable functions in Rust and forward to them.
//!
//! rustc lowers the C ABI of `PtrConst` (a 16-byte struct) correctly on every
//! target, so this is the correct baseline; the price is one extra call per
//! vtable operation. Each trampoline takes the vtable function itself as its
//! first argument, so one trampoline serves every shape of its kind.
//! Results that are `PtrConst` come back as their two words through `out`,
//! unchanged (see [`super::facet_ptr`]): the data word, tag bit included,
//! and the metadata word; generated code clears the tag where it
//! dereferences.

use facet_core::{
    BorrowFn, ListAsPtrFn, ListLenFn, OptionGetValueFn, PtrConst, ResultGetErrFn, ResultGetOkFn,
    ResultIsOkFn, SliceAsPtrFn, SliceLenFn,
};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::facet_ptr::words as ptr_words;

static COUNTING: AtomicBool = AtomicBool::new(false);
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Turns counting of trampoline invocations on or off (and resets the count
/// when turning it on). Off by default: then a trampoline pays one relaxed
/// load for it.
pub(crate) fn set_counting(on: bool) {
    if on {
        CALLS.store(0, Ordering::Relaxed);
    }
    COUNTING.store(on, Ordering::Relaxed);
}

/// Trampoline invocations since counting was turned on.
pub(crate) fn calls() -> usize {
    CALLS.load(Ordering::Relaxed)
}

#[inline]
fn note_call() {
    if COUNTING.load(Ordering::Relaxed) {
        CALLS.fetch_add(1, Ordering::Relaxed);
    }
}

/// `OptionVTable::get_value` of the option at `option`: the address of
/// its value, or null for `None` (facet's documented contract).
pub(crate) unsafe extern "C" fn option_get_value(
    f: OptionGetValueFn,
    option: *const u8,
) -> *const u8 {
    note_call();
    // SAFETY: generated code passes an option's vtable fn and its value.
    unsafe { f(PtrConst::new(option)) }
}

/// `ResultVTable::is_ok` of the result at `result`.
pub(crate) unsafe extern "C" fn result_is_ok(f: ResultIsOkFn, result: *const u8) -> u8 {
    note_call();
    // SAFETY: generated code passes a result's vtable fn and its value.
    u8::from(unsafe { f(PtrConst::new(result)) })
}

/// `ResultVTable::get_ok` of the (`Ok`) result at `result`.
pub(crate) unsafe extern "C" fn result_get_ok(f: ResultGetOkFn, result: *const u8) -> *const u8 {
    note_call();
    // SAFETY: generated code passes a result's vtable fn and its `Ok` value.
    unsafe { f(PtrConst::new(result)) }
}

/// `ResultVTable::get_err` of the (`Err`) result at `result`.
pub(crate) unsafe extern "C" fn result_get_err(f: ResultGetErrFn, result: *const u8) -> *const u8 {
    note_call();
    // SAFETY: generated code passes a result's vtable fn and its `Err` value.
    unsafe { f(PtrConst::new(result)) }
}

/// `PointerVTable::borrow_fn` of the (sized) pointer at `pointer`; the
/// pointee's two words go to `out`.
pub(crate) unsafe extern "C" fn pointer_borrow(
    f: BorrowFn,
    pointer: *const u8,
    out: *mut [usize; 2],
) {
    note_call();
    // SAFETY: generated code passes a pointer's borrow fn, its value, and a
    // two-word stack slot.
    unsafe {
        let (data, meta) = ptr_words(f(PtrConst::new(pointer)));
        *out = [data as usize, meta];
    }
}

/// `SliceVTable::len` of the slice (`data`, `len` words of a wide pointer).
pub(crate) unsafe extern "C" fn slice_len(f: SliceLenFn, data: *const u8, meta: usize) -> usize {
    note_call();
    // SAFETY: generated code passes a slice's vtable fn and its wide pointer.
    unsafe { f(PtrConst::new_wide(data, meta as *const ())) }
}

/// `SliceVTable::as_ptr` of the slice (`data`, `len` words of a wide
/// pointer): its first element's `PtrConst`, as two words in `out`.
pub(crate) unsafe extern "C" fn slice_as_ptr(
    f: SliceAsPtrFn,
    data: *const u8,
    meta: usize,
    out: *mut [usize; 2],
) {
    note_call();
    // SAFETY: generated code passes a slice's vtable fn, its wide pointer
    // and a two-word stack slot.
    unsafe {
        let (data, meta) = ptr_words(f(PtrConst::new_wide(data, meta as *const ())));
        *out = [data as usize, meta];
    }
}

/// `ListVTable::len` of the list at `list`.
pub(crate) unsafe extern "C" fn list_len(f: ListLenFn, list: *const u8) -> usize {
    note_call();
    // SAFETY: generated code passes a list's vtable fn and its value.
    unsafe { f(PtrConst::new(list)) }
}

/// `ListVTable::as_ptr` of the list at `list`: its first element's
/// `PtrConst`, as two words in `out`.
pub(crate) unsafe extern "C" fn list_as_ptr(f: ListAsPtrFn, list: *const u8, out: *mut [usize; 2]) {
    note_call();
    // SAFETY: generated code passes a list's vtable fn, its value and a
    // two-word stack slot.
    unsafe {
        let (data, meta) = ptr_words(f(PtrConst::new(list)));
        *out = [data as usize, meta];
    }
}
