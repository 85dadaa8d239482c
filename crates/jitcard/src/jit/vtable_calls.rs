//! The one seam through which generated code calls facet's `extern "C"`
//! vtable functions. Each method takes the vtable function and its argument
//! as plain words and returns plain words; how the `PtrConst` arguments and
//! results cross the C ABI is decided here, per [`VtableCalls`] mode, and
//! nowhere else in code generation.

use cranelift_codegen::ir::{Value, types};
use facet_core::{
    BorrowFn, ListAsPtrFn, ListLenFn, OptionGetValueFn, ResultGetErrFn, ResultGetOkFn,
    ResultIsOkFn, SliceAsPtrFn, SliceLenFn,
};

use super::emit::FunctionEmitter;
use super::trampolines;
use crate::VtableCalls;

/// Emits vtable calls in one [`VtableCalls`] mode.
pub(crate) struct VtableCallEmitter {
    pub mode: VtableCalls,
}

impl VtableCallEmitter {
    /// Calls the trampoline at `address` with the vtable function `f`
    /// first, then `args`.
    fn trampoline(
        &self,
        e: &mut FunctionEmitter,
        address: *const u8,
        f: usize,
        args: &[Value],
        returns: &[types::Type],
    ) -> Vec<Value> {
        match self.mode {
            VtableCalls::Trampoline => {
                let mut all = vec![e.iconst_ptr(f as i64)];
                all.extend_from_slice(args);
                let params = vec![e.ptr; all.len()];
                e.call_native(address, &params, returns, &all)
            }
        }
    }

    /// `get_value` of the option at `option`: the address of its value, or
    /// null for `None` (facet's documented contract, so one call decides
    /// both presence and address).
    pub fn option_get_value(
        &self,
        e: &mut FunctionEmitter,
        f: OptionGetValueFn,
        option: Value,
    ) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::option_get_value as *const u8,
            f as usize,
            &[option],
            &[ptr],
        )[0]
    }

    /// `is_ok` of the result at `result`: an `i8`, non-zero for `Ok`.
    pub fn result_is_ok(&self, e: &mut FunctionEmitter, f: ResultIsOkFn, result: Value) -> Value {
        self.trampoline(
            e,
            trampolines::result_is_ok as *const u8,
            f as usize,
            &[result],
            &[types::I8],
        )[0]
    }

    /// `get_ok` of the `Ok` result at `result`: the value's address.
    pub fn result_get_ok(&self, e: &mut FunctionEmitter, f: ResultGetOkFn, result: Value) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::result_get_ok as *const u8,
            f as usize,
            &[result],
            &[ptr],
        )[0]
    }

    /// `get_err` of the `Err` result at `result`: the error's address.
    pub fn result_get_err(
        &self,
        e: &mut FunctionEmitter,
        f: ResultGetErrFn,
        result: Value,
    ) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::result_get_err as *const u8,
            f as usize,
            &[result],
            &[ptr],
        )[0]
    }

    /// `borrow` of the pointer at `pointer`: the pointee's data address (tag
    /// cleared) and metadata word.
    pub fn pointer_borrow(
        &self,
        e: &mut FunctionEmitter,
        f: BorrowFn,
        pointer: Value,
    ) -> (Value, Value) {
        let out = e.word_slot(2);
        self.trampoline(
            e,
            trampolines::pointer_borrow as *const u8,
            f as usize,
            &[pointer, out],
            &[],
        );
        let ptr = e.ptr;
        let data = e.load(ptr, out, 0);
        let meta = e.load(ptr, out, ptr.bytes() as i32);
        (data, meta)
    }

    /// `len` of the slice whose wide pointer is (`data`, `meta`).
    pub fn slice_len(
        &self,
        e: &mut FunctionEmitter,
        f: SliceLenFn,
        data: Value,
        meta: Value,
    ) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::slice_len as *const u8,
            f as usize,
            &[data, meta],
            &[ptr],
        )[0]
    }

    /// `as_ptr` of the slice whose wide pointer is (`data`, `meta`): the
    /// address of its first element.
    pub fn slice_as_ptr(
        &self,
        e: &mut FunctionEmitter,
        f: SliceAsPtrFn,
        data: Value,
        meta: Value,
    ) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::slice_as_ptr as *const u8,
            f as usize,
            &[data, meta],
            &[ptr],
        )[0]
    }

    /// `len` of the list at `list`.
    pub fn list_len(&self, e: &mut FunctionEmitter, f: ListLenFn, list: Value) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::list_len as *const u8,
            f as usize,
            &[list],
            &[ptr],
        )[0]
    }

    /// `as_ptr` of the list at `list`: the address of its first element.
    pub fn list_as_ptr(&self, e: &mut FunctionEmitter, f: ListAsPtrFn, list: Value) -> Value {
        let ptr = e.ptr;
        self.trampoline(
            e,
            trampolines::list_as_ptr as *const u8,
            f as usize,
            &[list],
            &[ptr],
        )[0]
    }
}
