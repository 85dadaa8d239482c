//! Testing aid for [`VtableCalls::DirectViaWin64Adapters`](crate::VtableCalls):
//! Rust `extern "win64"` adapters around facet's vtable functions, so that
//! generated code emits real Windows x64 call sites (`PtrConst` passed by
//! reference to a copy, `PtrConst` results through a hidden first-slot
//! pointer) on any x86-64 host, where rustc compiles the callee side.
//!
//! Each adapter takes the facet function as an extra last argument and
//! forwards; it is not a trampoline (not counted) since it exists only to
//! exercise the Win64 lowering.

use facet_core::{
    BorrowFn, ListAsPtrFn, ListLenFn, OptionGetValueFn, PtrConst, ResultGetErrFn, ResultGetOkFn,
    ResultIsOkFn, SliceAsPtrFn, SliceLenFn,
};

/// `OptionVTable::get_value` through the Win64 convention.
pub(crate) unsafe extern "win64" fn option_get_value(
    option: PtrConst,
    f: OptionGetValueFn,
) -> *const u8 {
    // SAFETY: generated code passes an option's value and its vtable fn.
    unsafe { f(option) }
}

/// `ResultVTable::is_ok` through the Win64 convention.
pub(crate) unsafe extern "win64" fn result_is_ok(result: PtrConst, f: ResultIsOkFn) -> bool {
    // SAFETY: generated code passes a result's value and its vtable fn.
    unsafe { f(result) }
}

/// `ResultVTable::get_ok` through the Win64 convention.
pub(crate) unsafe extern "win64" fn result_get_ok(result: PtrConst, f: ResultGetOkFn) -> *const u8 {
    // SAFETY: generated code passes an `Ok` result and its vtable fn.
    unsafe { f(result) }
}

/// `ResultVTable::get_err` through the Win64 convention.
pub(crate) unsafe extern "win64" fn result_get_err(
    result: PtrConst,
    f: ResultGetErrFn,
) -> *const u8 {
    // SAFETY: generated code passes an `Err` result and its vtable fn.
    unsafe { f(result) }
}

/// `PointerVTable::borrow_fn` through the Win64 convention.
pub(crate) unsafe extern "win64" fn pointer_borrow(pointer: PtrConst, f: BorrowFn) -> PtrConst {
    // SAFETY: generated code passes a pointer's value and its borrow fn.
    unsafe { f(pointer) }
}

/// `SliceVTable::len` through the Win64 convention.
pub(crate) unsafe extern "win64" fn slice_len(slice: PtrConst, f: SliceLenFn) -> usize {
    // SAFETY: generated code passes a slice's wide pointer and its vtable fn.
    unsafe { f(slice) }
}

/// `SliceVTable::as_ptr` through the Win64 convention.
pub(crate) unsafe extern "win64" fn slice_as_ptr(slice: PtrConst, f: SliceAsPtrFn) -> PtrConst {
    // SAFETY: generated code passes a slice's wide pointer and its vtable fn.
    unsafe { f(slice) }
}

/// `ListVTable::len` through the Win64 convention.
pub(crate) unsafe extern "win64" fn list_len(list: PtrConst, f: ListLenFn) -> usize {
    // SAFETY: generated code passes a list's value and its vtable fn.
    unsafe { f(list) }
}

/// `ListVTable::as_ptr` through the Win64 convention.
pub(crate) unsafe extern "win64" fn list_as_ptr(list: PtrConst, f: ListAsPtrFn) -> PtrConst {
    // SAFETY: generated code passes a list's value and its vtable fn.
    unsafe { f(list) }
}
