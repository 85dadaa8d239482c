//! The one seam through which generated code calls facet's `extern "C"`
//! vtable functions. Each method takes the vtable function and its argument
//! as plain words and returns plain words; how the `PtrConst` arguments and
//! results cross the C ABI is decided here, per [`VtableCalls`] mode, and
//! nowhere else in code generation:
//!
//! - `Trampoline`: a Rust `extern "C"` trampoline builds the `PtrConst`.
//! - `Direct`: the call goes straight to the vtable function, `PtrConst`
//!   lowered by `jitcard-abi` for the convention of the function being
//!   compiled (SysV: two registers / RAX:RDX; AArch64: X0:X1; Windows: a
//!   copy by reference and a hidden result slot). A call the lowering does
//!   not cover uses the trampoline instead.
//! - `DirectViaWin64Adapters`: as `Direct`, but to Rust `extern "win64"`
//!   adapters, to exercise the Windows lowering on any x86-64 host.
//!
//! Values passed around: a `PtrConst` as its two words (see
//! [`super::facet_ptr`]); the data word keeps facet's tag and is handed on
//! unchanged with its metadata word; addresses that generated code
//! dereferences (element bases from `as_ptr`) have it cleared here.

use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_codegen::isa::CallConv;
use facet_core::{
    BorrowFn, ListAsPtrFn, ListLenFn, OptionGetValueFn, ResultGetErrFn, ResultGetOkFn,
    ResultIsOkFn, SliceAsPtrFn, SliceLenFn,
};
use jitcard_abi::{
    Aggregate, ArgValue, CType, CallResult, Callee, LoweredCall, Prototype, ResultForm, Scalar,
    emit_call, lower,
};

use super::emit::FunctionEmitter;
use super::facet_ptr::{THIN_META, UNTAG_MASK};
use super::trampolines;
use crate::VtableCalls;

/// What a vtable function returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Returns {
    /// `bool`.
    Bool,
    /// A pointer or `usize`.
    Word,
    /// A `PtrConst`.
    PtrConst,
}

/// The argument of a vtable function: a thin pointer, or both words of a
/// (wide) `PtrConst`.
#[derive(Clone, Copy)]
enum PtrArg {
    Thin(Value),
    Wide(Value, Value),
}

/// One vtable call: the function, its trampoline and Win64 adapter.
struct VtableFn {
    function: usize,
    trampoline: *const u8,
    adapter: *const u8,
}

/// The direct lowerings of `fn(PtrConst) -> R` for each `R` (and of the
/// adapters' `fn(PtrConst, fn ptr) -> R`), computed once per compilation.
struct DirectLowerings {
    to_bool: LoweredCall,
    to_word: LoweredCall,
    to_ptr_const: LoweredCall,
    via_adapter: bool,
}

/// Emits vtable calls in one [`VtableCalls`] mode.
pub(crate) struct VtableCallEmitter {
    /// `None` in trampoline mode, or when the convention is not covered.
    direct: Option<DirectLowerings>,
}

impl VtableCallEmitter {
    /// An emitter for functions compiled with `host_conv`.
    pub fn new(mode: VtableCalls, host_conv: CallConv) -> VtableCallEmitter {
        let (conv, aarch64, via_adapter) = match mode {
            VtableCalls::Trampoline => return VtableCallEmitter { direct: None },
            VtableCalls::Direct => (host_conv, cfg!(target_arch = "aarch64"), false),
            VtableCalls::DirectViaWin64Adapters => (CallConv::WindowsFastcall, false, true),
        };
        let ptr_const = CType::Aggregate(Aggregate::c_struct([
            Scalar::Ptr.into(),
            Scalar::Ptr.into(),
        ]));
        let lowered = |ret: CType| {
            let mut params = vec![ptr_const.clone()];
            if via_adapter {
                params.push(Scalar::Ptr.into());
            }
            lower(
                &Prototype {
                    params,
                    ret: Some(ret),
                },
                conv,
                aarch64,
            )
        };
        let direct = match (
            lowered(Scalar::U8.into()),
            lowered(Scalar::U64.into()),
            lowered(ptr_const.clone()),
        ) {
            (Ok(to_bool), Ok(to_word), Ok(to_ptr_const)) => Some(DirectLowerings {
                to_bool,
                to_word,
                to_ptr_const,
                via_adapter,
            }),
            // Not covered by jitcard-abi: every call keeps its trampoline.
            _ => None,
        };
        VtableCallEmitter { direct }
    }

    /// Emits one call; returns one value (`Bool`, `Word`) or the two words
    /// of a `PtrConst`.
    fn call(
        &self,
        e: &mut FunctionEmitter,
        vtable_fn: VtableFn,
        arg: PtrArg,
        returns: Returns,
    ) -> Vec<Value> {
        if let Some(direct) = &self.direct
            && let Some(values) = self.direct_call(e, direct, &vtable_fn, arg, returns)
        {
            return values;
        }
        let ptr = e.ptr;
        let f = e.iconst_ptr(vtable_fn.function as i64);
        let mut args = vec![f];
        match arg {
            PtrArg::Thin(data) => args.push(data),
            PtrArg::Wide(data, meta) => args.extend([data, meta]),
        }
        let params = vec![ptr; args.len()];
        match returns {
            Returns::Bool => e.call_native(vtable_fn.trampoline, &params, &[types::I8], &args),
            Returns::Word => e.call_native(vtable_fn.trampoline, &params, &[ptr], &args),
            Returns::PtrConst => {
                // Trampolines return a PtrConst as two words through memory.
                let out = e.word_slot(2);
                args.push(out);
                let params = vec![ptr; args.len()];
                e.call_native(vtable_fn.trampoline, &params, &[], &args);
                let data = e.load(ptr, out, 0);
                let meta = e.load(ptr, out, ptr.bytes() as i32);
                vec![data, meta]
            }
        }
    }

    fn direct_call(
        &self,
        e: &mut FunctionEmitter,
        direct: &DirectLowerings,
        vtable_fn: &VtableFn,
        arg: PtrArg,
        returns: Returns,
    ) -> Option<Vec<Value>> {
        let lowered = match returns {
            Returns::Bool => &direct.to_bool,
            Returns::Word => &direct.to_word,
            Returns::PtrConst => &direct.to_ptr_const,
        };
        let (data, meta) = match arg {
            PtrArg::Thin(data) => (data, e.iconst_ptr(THIN_META)),
            PtrArg::Wide(data, meta) => (data, meta),
        };
        let mut args = vec![ArgValue::Fields(vec![data, meta])];
        let target = if direct.via_adapter {
            args.push(ArgValue::Scalar(e.iconst_ptr(vtable_fn.function as i64)));
            vtable_fn.adapter as usize
        } else {
            vtable_fn.function
        };
        let callee = Callee::Indirect(e.iconst_ptr(target as i64));
        // The lowerings were computed for exactly these argument shapes, so
        // emission cannot fail; if it ever did, the trampoline path is taken.
        match emit_call(e.b, lowered, callee, &args, ResultForm::Fields).ok()? {
            CallResult::Scalar(value) => Some(vec![value]),
            CallResult::Fields(words) => Some(words),
            CallResult::Void | CallResult::InMemory(_) => None,
        }
    }

    fn untag(e: &mut FunctionEmitter, data: Value) -> Value {
        e.b.ins().band_imm_u(data, UNTAG_MASK)
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
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::option_get_value as *const u8,
            adapter: adapter(Adapter::OptionGetValue),
        };
        self.call(e, vtable_fn, PtrArg::Thin(option), Returns::Word)[0]
    }

    /// `is_ok` of the result at `result`: an `i8`, non-zero for `Ok`.
    pub fn result_is_ok(&self, e: &mut FunctionEmitter, f: ResultIsOkFn, result: Value) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::result_is_ok as *const u8,
            adapter: adapter(Adapter::ResultIsOk),
        };
        self.call(e, vtable_fn, PtrArg::Thin(result), Returns::Bool)[0]
    }

    /// `get_ok` of the `Ok` result at `result`: the value's address.
    pub fn result_get_ok(&self, e: &mut FunctionEmitter, f: ResultGetOkFn, result: Value) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::result_get_ok as *const u8,
            adapter: adapter(Adapter::ResultGetOk),
        };
        self.call(e, vtable_fn, PtrArg::Thin(result), Returns::Word)[0]
    }

    /// `get_err` of the `Err` result at `result`: the error's address.
    pub fn result_get_err(
        &self,
        e: &mut FunctionEmitter,
        f: ResultGetErrFn,
        result: Value,
    ) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::result_get_err as *const u8,
            adapter: adapter(Adapter::ResultGetErr),
        };
        self.call(e, vtable_fn, PtrArg::Thin(result), Returns::Word)[0]
    }

    /// `borrow` of the (sized) pointer at `pointer`: the pointee's data word
    /// (tag kept: set when the pointee is unsized) and metadata word.
    pub fn pointer_borrow(
        &self,
        e: &mut FunctionEmitter,
        f: BorrowFn,
        pointer: Value,
    ) -> (Value, Value) {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::pointer_borrow as *const u8,
            adapter: adapter(Adapter::PointerBorrow),
        };
        let words = self.call(e, vtable_fn, PtrArg::Thin(pointer), Returns::PtrConst);
        (words[0], words[1])
    }

    /// `len` of the slice whose `PtrConst` words are (`data`, `meta`).
    pub fn slice_len(
        &self,
        e: &mut FunctionEmitter,
        f: SliceLenFn,
        data: Value,
        meta: Value,
    ) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::slice_len as *const u8,
            adapter: adapter(Adapter::SliceLen),
        };
        self.call(e, vtable_fn, PtrArg::Wide(data, meta), Returns::Word)[0]
    }

    /// `as_ptr` of the slice whose `PtrConst` words are (`data`, `meta`):
    /// the address of its first element (tag cleared).
    pub fn slice_as_ptr(
        &self,
        e: &mut FunctionEmitter,
        f: SliceAsPtrFn,
        data: Value,
        meta: Value,
    ) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::slice_as_ptr as *const u8,
            adapter: adapter(Adapter::SliceAsPtr),
        };
        let words = self.call(e, vtable_fn, PtrArg::Wide(data, meta), Returns::PtrConst);
        Self::untag(e, words[0])
    }

    /// `len` of the list at `list`.
    pub fn list_len(&self, e: &mut FunctionEmitter, f: ListLenFn, list: Value) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::list_len as *const u8,
            adapter: adapter(Adapter::ListLen),
        };
        self.call(e, vtable_fn, PtrArg::Thin(list), Returns::Word)[0]
    }

    /// `as_ptr` of the list at `list`: the address of its first element (tag
    /// cleared).
    pub fn list_as_ptr(&self, e: &mut FunctionEmitter, f: ListAsPtrFn, list: Value) -> Value {
        let vtable_fn = VtableFn {
            function: f as usize,
            trampoline: trampolines::list_as_ptr as *const u8,
            adapter: adapter(Adapter::ListAsPtr),
        };
        let words = self.call(e, vtable_fn, PtrArg::Thin(list), Returns::PtrConst);
        Self::untag(e, words[0])
    }
}

/// The vtable function kinds that have a Win64 adapter.
#[derive(Clone, Copy)]
enum Adapter {
    OptionGetValue,
    ResultIsOk,
    ResultGetOk,
    ResultGetErr,
    PointerBorrow,
    SliceLen,
    SliceAsPtr,
    ListLen,
    ListAsPtr,
}

/// The address of a Win64 adapter (null where `extern "win64"` does not
/// exist; that mode is then unavailable and never asks for one).
fn adapter(kind: Adapter) -> *const u8 {
    #[cfg(target_arch = "x86_64")]
    {
        use super::win64_adapters as w;
        match kind {
            Adapter::OptionGetValue => w::option_get_value as *const u8,
            Adapter::ResultIsOk => w::result_is_ok as *const u8,
            Adapter::ResultGetOk => w::result_get_ok as *const u8,
            Adapter::ResultGetErr => w::result_get_err as *const u8,
            Adapter::PointerBorrow => w::pointer_borrow as *const u8,
            Adapter::SliceLen => w::slice_len as *const u8,
            Adapter::SliceAsPtr => w::slice_as_ptr as *const u8,
            Adapter::ListLen => w::list_len as *const u8,
            Adapter::ListAsPtr => w::list_as_ptr as *const u8,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = kind;
        core::ptr::null()
    }
}
