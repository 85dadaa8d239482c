//! The one seam through which generated code calls facet's `extern "C"`
//! vtable functions: the operations of the table in [`super::vtable_ops`].
//! [`VtableCallEmitter::call`] takes an operation, the function's address
//! and the arguments as machine words, and returns the result's words; how
//! the 16-byte facet pointers cross the C ABI is decided here, per
//! [`VtableCalls`] mode, and nowhere else in code generation:
//!
//! - `Trampoline`: the argument words go to the operation's Rust
//!   `extern "C"` trampoline through a stack slot; it rebuilds the facet
//!   types in Rust and writes the result words back.
//! - `Direct`: the call goes straight to the vtable function, the
//!   operation's prototype lowered by `jitcard-abi` for the convention of
//!   the function being compiled (SysV: two registers per pointer, results
//!   in RAX:RDX; AArch64: X0:X1; Windows: pointers by reference to a copy,
//!   a hidden result slot first). A call the lowering does not cover uses
//!   the trampoline instead.
//! - `DirectViaWin64Adapters`: as `Direct`, but to the operation's Rust
//!   `extern "win64"` adapter, to exercise the Windows lowering on any
//!   x86-64 host.
//!
//! Values passed around: a facet pointer as its two words (see
//! [`super::facet_ptr`]); the data word keeps facet's tag and is handed on
//! unchanged with its metadata word; addresses that generated code
//! dereferences (element bases from `as_ptr`) have it cleared here.

use std::cell::RefCell;
use std::collections::HashMap;

use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_codegen::isa::CallConv;
use facet_core::{
    BorrowFn, ListAsPtrFn, ListLenFn, OptionGetValueFn, OptionInitNoneFn, ResultGetErrFn,
    ResultGetOkFn, ResultIsOkFn,
};
use jitcard_abi::{
    ArgValue, CType, CallResult, Callee, LoweredCall, Prototype, ResultForm, Scalar, emit_call,
    lower,
};

use super::emit::FunctionEmitter;
use super::facet_ptr::{THIN_META, UNTAG_MASK};
use super::vtable_ops::VtableOp;
use crate::VtableCalls;

/// One argument, as machine words.
#[derive(Clone, Copy)]
pub(crate) enum Arg {
    /// A facet pointer (`PtrConst`, `PtrMut`, `PtrUninit`): data and
    /// metadata words.
    Ptr(Value, Value),
    /// A word (`usize`, a raw pointer).
    Word(Value),
}

/// How direct calls are made.
struct Direct {
    conv: CallConv,
    aarch64: bool,
    /// Through the operations' Win64 adapters (the facet function is then
    /// an extra last argument).
    via_adapter: bool,
    /// Each operation's lowering, computed on first use (`None`: not
    /// covered by jitcard-abi, so the trampoline is used).
    lowered: RefCell<HashMap<VtableOp, Option<LoweredCall>>>,
}

/// Emits vtable calls in one [`VtableCalls`] mode.
pub(crate) struct VtableCallEmitter {
    /// `None` in trampoline mode.
    direct: Option<Direct>,
}

impl VtableCallEmitter {
    /// An emitter for functions compiled with `host_conv`.
    pub fn new(mode: VtableCalls, host_conv: CallConv) -> VtableCallEmitter {
        let (conv, aarch64, via_adapter) = match mode {
            VtableCalls::Trampoline => return VtableCallEmitter { direct: None },
            VtableCalls::Direct => (host_conv, cfg!(target_arch = "aarch64"), false),
            VtableCalls::DirectViaWin64Adapters => (CallConv::WindowsFastcall, false, true),
        };
        VtableCallEmitter {
            direct: Some(Direct {
                conv,
                aarch64,
                via_adapter,
                lowered: RefCell::new(HashMap::new()),
            }),
        }
    }

    /// Emits `op` on `function` (the facet vtable function's address) with
    /// `args`; returns the result's words: none, one (a word, or an `i8`
    /// for `bool`), or the two words of a facet pointer.
    pub fn call(
        &self,
        e: &mut FunctionEmitter,
        op: VtableOp,
        function: usize,
        args: &[Arg],
    ) -> Vec<Value> {
        if let Some(direct) = &self.direct
            && let Some(values) = self.direct_call(e, direct, op, function, args)
        {
            return values;
        }
        self.trampoline_call(e, op, function, args)
    }

    fn direct_call(
        &self,
        e: &mut FunctionEmitter,
        direct: &Direct,
        op: VtableOp,
        function: usize,
        args: &[Arg],
    ) -> Option<Vec<Value>> {
        let mut cache = direct.lowered.borrow_mut();
        let lowered = cache
            .entry(op)
            .or_insert_with(|| {
                let mut prototype: Prototype = op.prototype();
                if direct.via_adapter {
                    prototype.params.push(CType::Scalar(Scalar::Ptr));
                }
                lower(&prototype, direct.conv, direct.aarch64).ok()
            })
            .as_ref()?;
        let mut values: Vec<ArgValue> = args
            .iter()
            .map(|arg| match *arg {
                Arg::Ptr(data, meta) => ArgValue::Fields(vec![data, meta]),
                Arg::Word(word) => ArgValue::Scalar(word),
            })
            .collect();
        let target = if direct.via_adapter {
            values.push(ArgValue::Scalar(e.iconst_ptr(function as i64)));
            Self::adapter(op)? as usize
        } else {
            function
        };
        let callee = Callee::Indirect(e.iconst_ptr(target as i64));
        // The lowering was computed for exactly these argument shapes, so
        // emission cannot fail; if it ever did, the trampoline is used.
        match emit_call(e.b, lowered, callee, &values, ResultForm::Fields).ok()? {
            CallResult::Void => Some(vec![]),
            CallResult::Scalar(value) => Some(vec![value]),
            CallResult::Fields(words) => Some(words),
            CallResult::InMemory(_) => None,
        }
    }

    /// The operation's Win64 adapter (none where `extern "win64"` does not
    /// exist; that mode is then unavailable).
    fn adapter(op: VtableOp) -> Option<*const u8> {
        #[cfg(target_arch = "x86_64")]
        {
            Some(op.win64_adapter())
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = op;
            None
        }
    }

    /// The call through the operation's trampoline: argument words in one
    /// stack slot, result words in another.
    fn trampoline_call(
        &self,
        e: &mut FunctionEmitter,
        op: VtableOp,
        function: usize,
        args: &[Arg],
    ) -> Vec<Value> {
        let ptr = e.ptr;
        let word = ptr.bytes() as i32;
        let arguments = e.word_slot(op.argument_words().max(1) as u32);
        let mut at = 0;
        for arg in args {
            let words = match *arg {
                Arg::Ptr(data, meta) => vec![data, meta],
                Arg::Word(value) => vec![value],
            };
            for value in words {
                e.b.ins()
                    .store(super::emit::flags(), value, arguments, at * word);
                at += 1;
            }
        }
        let results = e.word_slot(op.result_words().max(1) as u32);
        let f = e.iconst_ptr(function as i64);
        e.call_native(
            op.trampoline(),
            &[ptr, ptr, ptr],
            &[],
            &[f, arguments, results],
        );
        let is_bool = op.prototype().ret == Some(CType::Scalar(Scalar::U8));
        (0..op.result_words() as i32)
            .map(|index| {
                let ty = if is_bool { types::I8 } else { ptr };
                e.load(ty, results, index * word)
            })
            .collect()
    }

    fn untag(e: &mut FunctionEmitter, data: Value) -> Value {
        e.b.ins().band_imm_u(data, UNTAG_MASK)
    }

    /// A thin pointer's two words.
    fn thin(e: &mut FunctionEmitter, data: Value) -> Arg {
        Arg::Ptr(data, e.iconst_ptr(THIN_META))
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
        let arg = Self::thin(e, option);
        self.call(e, VtableOp::OptionGetValue, f as usize, &[arg])[0]
    }

    /// `is_ok` of the result at `result`: an `i8`, non-zero for `Ok`.
    pub fn result_is_ok(&self, e: &mut FunctionEmitter, f: ResultIsOkFn, result: Value) -> Value {
        let arg = Self::thin(e, result);
        self.call(e, VtableOp::ResultIsOk, f as usize, &[arg])[0]
    }

    /// `get_ok` of the `Ok` result at `result`: the value's address.
    pub fn result_get_ok(&self, e: &mut FunctionEmitter, f: ResultGetOkFn, result: Value) -> Value {
        let arg = Self::thin(e, result);
        self.call(e, VtableOp::ResultGetOk, f as usize, &[arg])[0]
    }

    /// `get_err` of the `Err` result at `result`: the error's address.
    pub fn result_get_err(
        &self,
        e: &mut FunctionEmitter,
        f: ResultGetErrFn,
        result: Value,
    ) -> Value {
        let arg = Self::thin(e, result);
        self.call(e, VtableOp::ResultGetErr, f as usize, &[arg])[0]
    }

    /// `borrow` of the (sized) pointer at `pointer`: the pointee's data word
    /// (tag kept: set when the pointee is unsized) and metadata word.
    pub fn pointer_borrow(
        &self,
        e: &mut FunctionEmitter,
        f: BorrowFn,
        pointer: Value,
    ) -> (Value, Value) {
        let arg = Self::thin(e, pointer);
        let words = self.call(e, VtableOp::PointerBorrow, f as usize, &[arg]);
        (words[0], words[1])
    }

    /// `len` of the list, set or map at `collection` (facet's `ListLenFn`,
    /// `SetLenFn` and `MapLenFn` are one type: `extern "C" fn(PtrConst) ->
    /// usize`).
    pub fn list_len(&self, e: &mut FunctionEmitter, f: ListLenFn, collection: Value) -> Value {
        let arg = Self::thin(e, collection);
        self.call(e, VtableOp::ListLen, f as usize, &[arg])[0]
    }

    /// `as_ptr` of the list at `list`: the address of its first element (tag
    /// cleared).
    pub fn list_as_ptr(&self, e: &mut FunctionEmitter, f: ListAsPtrFn, list: Value) -> Value {
        let arg = Self::thin(e, list);
        let words = self.call(e, VtableOp::ListAsPtr, f as usize, &[arg]);
        Self::untag(e, words[0])
    }

    // ---------------------------------------------------- constructors

    /// A constructor of signature `(uninit destination, words...)` whose
    /// result (the destination again, or nothing) is not needed.
    pub fn construct(
        &self,
        e: &mut FunctionEmitter,
        op: VtableOp,
        function: usize,
        destination: Value,
        words: &[Arg],
    ) {
        let mut args = vec![Self::thin(e, destination)];
        args.extend_from_slice(words);
        self.call(e, op, function, &args);
    }

    /// A thin facet pointer argument (`PtrMut` of a sized value).
    pub fn ptr_arg(e: &mut FunctionEmitter, data: Value) -> Arg {
        Self::thin(e, data)
    }

    /// `init_none` of the option at `option`.
    pub fn option_init_none(&self, e: &mut FunctionEmitter, f: OptionInitNoneFn, option: Value) {
        self.construct(e, VtableOp::OptionInitNone, f as usize, option, &[]);
    }

    /// A constructor of `(uninit destination, value to move out of)`
    /// (`init_some`, `init_ok`, `init_err`, `new_into`): builds at
    /// `destination` from the value at `value`.
    pub fn construct_from(
        &self,
        e: &mut FunctionEmitter,
        op: VtableOp,
        function: usize,
        destination: Value,
        value: Value,
    ) {
        let value = Self::thin(e, value);
        self.construct(e, op, function, destination, &[value]);
    }

    /// A call of `op` whose first argument is a thin facet pointer and whose
    /// other arguments are words; returns the result's words.
    pub fn on_value(
        &self,
        e: &mut FunctionEmitter,
        op: VtableOp,
        function: usize,
        value: Value,
        words: &[Value],
    ) -> Vec<Value> {
        let mut args = vec![Self::thin(e, value)];
        args.extend(words.iter().map(|&w| Arg::Word(w)));
        self.call(e, op, function, &args)
    }
}
