//! The one table of facet vtable functions generated code calls.
//!
//! Each entry is one operation: its facet function type and the Rust types
//! of its parameters and result, which *are* its C prototype (facet's
//! `PtrConst`/`PtrMut`/`PtrUninit` are one 16-byte `#[repr(C)]` pair of
//! words, `usize` and raw pointers one word, `bool` one byte). Everything
//! else follows from the entry, through the macro below:
//!
//! - [`VtableOp::prototype`], the C prototype as `jitcard-abi` describes it,
//!   from which a direct call is lowered for the host's convention;
//! - a Rust `extern "C"` *trampoline* (the baseline, [`VtableOp::trampoline`]):
//!   `fn(f, args, out)` reads the argument words from memory, calls `f`
//!   with the facet types rebuilt in Rust, and writes the result words back;
//! - on x86-64, a Rust `extern "win64"` *adapter*
//!   ([`VtableOp::win64_adapter`]) taking the typed arguments, then `f`, so
//!   direct calls can be made with real Windows x64 call sites on any host.
//!
//! Adding an operation is adding one entry. Only `extern "C"` facet
//! functions belong here: Rust-ABI ones (iterators' `next`, slice builders)
//! are reached through runtime helpers.

use facet_core::{
    BorrowFn, ListAsMutPtrTypedFn, ListAsPtrFn, ListInitInPlaceWithCapacityFn, ListLenFn,
    ListReserveFn, ListSetLenFn, MapInitInPlaceWithCapacityFn, MapInsertFn, NewIntoFn,
    OptionGetValueFn, OptionInitNoneFn, OptionInitSomeFn, PtrConst, PtrMut, PtrUninit,
    ResultGetErrFn, ResultGetOkFn, ResultInitErrFn, ResultInitOkFn, ResultIsOkFn,
    SetInitInPlaceWithCapacityFn, SetInsertFn,
};
use jitcard_abi::{Aggregate, CType, Prototype, Scalar};

use super::facet_ptr;

/// How a value of a prototype's type crosses as machine words: how many,
/// its C type, and reading / writing it from / to consecutive words.
pub(crate) trait Words: Sized {
    /// Machine words the value takes.
    const WORDS: usize;
    /// Its C type (`None` for `()`).
    fn ctype() -> Option<CType>;
    /// # Safety
    /// `words` points at `WORDS` words holding a value of this type.
    unsafe fn read(words: *const usize) -> Self;
    /// # Safety
    /// `out` is valid for writes of `WORDS` words.
    unsafe fn write(self, out: *mut usize);
}

/// facet's pointer pair: `[data word (tag included), metadata word]`.
fn ptr_pair() -> CType {
    CType::Aggregate(Aggregate::c_struct([
        Scalar::Ptr.into(),
        Scalar::Ptr.into(),
    ]))
}

macro_rules! facet_pointer_words {
    ($($t:ty),*) => {$(
        impl Words for $t {
            const WORDS: usize = 2;
            fn ctype() -> Option<CType> {
                Some(ptr_pair())
            }
            unsafe fn read(words: *const usize) -> Self {
                // SAFETY: the caller guarantees two words of a facet pointer.
                let (data, meta) = unsafe { (*words, *words.add(1)) };
                facet_ptr::pointer_from_words(data as *const u8, meta)
            }
            unsafe fn write(self, out: *mut usize) {
                let (data, meta) = facet_ptr::words_of(self);
                // SAFETY: the caller guarantees room for two words.
                unsafe {
                    *out = data as usize;
                    *out.add(1) = meta;
                }
            }
        }
    )*};
}

facet_pointer_words!(PtrConst, PtrMut, PtrUninit);

macro_rules! word_words {
    ($($t:ty => $scalar:expr),*) => {$(
        impl Words for $t {
            const WORDS: usize = 1;
            fn ctype() -> Option<CType> {
                Some($scalar.into())
            }
            unsafe fn read(words: *const usize) -> Self {
                // SAFETY: the caller guarantees one word.
                unsafe { *words as $t }
            }
            unsafe fn write(self, out: *mut usize) {
                // SAFETY: the caller guarantees room for one word.
                unsafe { *out = self as usize };
            }
        }
    )*};
}

word_words!(usize => Scalar::U64, *const u8 => Scalar::Ptr, *mut u8 => Scalar::Ptr);

impl Words for bool {
    const WORDS: usize = 1;
    fn ctype() -> Option<CType> {
        Some(Scalar::U8.into())
    }
    unsafe fn read(words: *const usize) -> Self {
        // SAFETY: the caller guarantees one word.
        unsafe { *words != 0 }
    }
    unsafe fn write(self, out: *mut usize) {
        // SAFETY: the caller guarantees room for one word.
        unsafe { *out = usize::from(self) };
    }
}

impl Words for () {
    const WORDS: usize = 0;
    fn ctype() -> Option<CType> {
        None
    }
    unsafe fn read(_: *const usize) -> Self {}
    unsafe fn write(self, _: *mut usize) {}
}

/// Declares the table: one `Name(FacetFnType; arg: Type, ...) -> Type;`
/// entry per operation.
macro_rules! vtable_ops {
    ($(
        $(#[$doc:meta])*
        $op:ident($fn_type:ty; $($arg:ident: $arg_type:ty),*) -> $ret:ty;
    )*) => {
        /// A facet vtable operation generated code calls (see the module doc).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum VtableOp {
            $($(#[$doc])* $op,)*
        }

        impl VtableOp {
            /// The operation's C prototype.
            pub(crate) fn prototype(self) -> Prototype {
                match self {
                    $(VtableOp::$op => Prototype {
                        params: vec![$(
                            <$arg_type as Words>::ctype().expect("a parameter has a type")
                        ),*],
                        ret: <$ret as Words>::ctype(),
                    },)*
                }
            }

            /// Machine words of all arguments.
            pub(crate) fn argument_words(self) -> usize {
                match self {
                    $(VtableOp::$op => 0 $(+ <$arg_type as Words>::WORDS)*,)*
                }
            }

            /// Machine words of the result.
            pub(crate) fn result_words(self) -> usize {
                match self {
                    $(VtableOp::$op => <$ret as Words>::WORDS,)*
                }
            }

            /// The trampoline: `extern "C" fn(f, args: *const usize, out: *mut usize)`.
            pub(crate) fn trampoline(self) -> *const u8 {
                match self {
                    $(VtableOp::$op => generated_trampolines::$op as *const u8,)*
                }
            }

            /// The Win64 adapter: `extern "win64" fn(args..., f) -> result`.
            #[cfg(target_arch = "x86_64")]
            pub(crate) fn win64_adapter(self) -> *const u8 {
                match self {
                    $(VtableOp::$op => generated_win64_adapters::$op as *const u8,)*
                }
            }
        }

        /// The trampolines of the table's operations.
        #[allow(non_snake_case)]
        mod generated_trampolines {
            use super::*;
            $(
                /// # Safety
                /// `f` is the facet function of this operation; `args`
                /// holds its arguments' words as the operation's types say,
                /// valid for what `f` requires; `out` has room for the
                /// result's words.
                pub(crate) unsafe extern "C" fn $op(
                    f: $fn_type,
                    args: *const usize,
                    out: *mut usize,
                ) {
                    super::super::trampolines::note_call();
                    let mut at = 0usize;
                    $(
                        // SAFETY: generated code stored this argument's words
                        // at this position (the caller's contract).
                        let $arg = unsafe { <$arg_type as Words>::read(args.add(at)) };
                        at += <$arg_type as Words>::WORDS;
                    )*
                    let _ = at;
                    // SAFETY: forwarded from the caller's contract.
                    let result: $ret = unsafe { f($($arg),*) };
                    // SAFETY: the caller gave room for the result's words.
                    unsafe { <$ret as Words>::write(result, out) };
                }
            )*
        }

        /// The Win64 adapters of the table's operations (a testing aid:
        /// rustc compiles the callee side of the Windows x64 convention).
        #[cfg(target_arch = "x86_64")]
        #[allow(non_snake_case)]
        mod generated_win64_adapters {
            use super::*;
            $(
                /// # Safety
                /// As the facet function `f`'s own contract.
                pub(crate) unsafe extern "win64" fn $op($($arg: $arg_type,)* f: $fn_type) -> $ret {
                    // SAFETY: forwarded from the caller's contract.
                    unsafe { f($($arg),*) }
                }
            )*
        }
    };
}

vtable_ops! {
    /// `OptionVTable::get_value`: the value's address, or null for `None`.
    OptionGetValue(OptionGetValueFn; option: PtrConst) -> *const u8;
    /// `ResultVTable::is_ok`.
    ResultIsOk(ResultIsOkFn; result: PtrConst) -> bool;
    /// `ResultVTable::get_ok`: the `Ok` value's address.
    ResultGetOk(ResultGetOkFn; result: PtrConst) -> *const u8;
    /// `ResultVTable::get_err`: the `Err` value's address.
    ResultGetErr(ResultGetErrFn; result: PtrConst) -> *const u8;
    /// `PointerVTable::borrow_fn`: the pointee (wide for unsized pointees).
    PointerBorrow(BorrowFn; pointer: PtrConst) -> PtrConst;
    /// `ListVTable::len`.
    ListLen(ListLenFn; list: PtrConst) -> usize;
    /// `ListVTable::as_ptr`: the first element.
    ListAsPtr(ListAsPtrFn; list: PtrConst) -> PtrConst;

    // Constructors (decoding).
    /// `OptionVTable::init_some`: moves the value out of `value`.
    OptionInitSome(OptionInitSomeFn; option: PtrUninit, value: PtrMut) -> PtrMut;
    /// `OptionVTable::init_none`.
    OptionInitNone(OptionInitNoneFn; option: PtrUninit) -> PtrMut;
    /// `ResultVTable::init_ok`: moves the value out of `value`.
    ResultInitOk(ResultInitOkFn; result: PtrUninit, value: PtrMut) -> PtrMut;
    /// `ResultVTable::init_err`: moves the error out of `value`.
    ResultInitErr(ResultInitErrFn; result: PtrUninit, value: PtrMut) -> PtrMut;
    /// `ListTypeOps::init_in_place_with_capacity`: an empty list.
    ListInit(ListInitInPlaceWithCapacityFn; list: PtrUninit, capacity: usize) -> PtrMut;
    /// `ListTypeOps::reserve`: room for `additional` more elements.
    ListReserve(ListReserveFn; list: PtrMut, additional: usize) -> ();
    /// `ListTypeOps::as_mut_ptr_typed`: the element storage.
    ListAsMutPtr(ListAsMutPtrTypedFn; list: PtrMut) -> *mut u8;
    /// `ListTypeOps::set_len`.
    ListSetLen(ListSetLenFn; list: PtrMut, len: usize) -> ();
    /// `PointerVTable::new_into_fn`: moves the pointee out of `ptr` into a
    /// new pointer.
    PointerNewInto(NewIntoFn; this: PtrUninit, ptr: PtrMut) -> PtrMut;
    /// `SetVTable::init_in_place_with_capacity`: an empty set.
    SetInit(SetInitInPlaceWithCapacityFn; set: PtrUninit, capacity: usize) -> PtrMut;
    /// `SetVTable::insert`: moves the value in (a duplicate is dropped).
    SetInsert(SetInsertFn; set: PtrMut, value: PtrMut) -> bool;
    /// `MapVTable::init_in_place_with_capacity`: an empty map.
    MapInit(MapInitInPlaceWithCapacityFn; map: PtrUninit, capacity: usize) -> PtrMut;
    /// `MapVTable::insert`: moves the key and the value in.
    MapInsert(MapInsertFn; map: PtrMut, key: PtrMut, value: PtrMut) -> ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prototypes_follow_from_the_entries() {
        let pair = ptr_pair();
        assert_eq!(
            VtableOp::PointerBorrow.prototype(),
            Prototype {
                params: vec![pair.clone()],
                ret: Some(pair)
            }
        );
        assert_eq!(
            VtableOp::ResultIsOk.prototype().ret,
            Some(Scalar::U8.into())
        );
        assert_eq!(VtableOp::PointerBorrow.argument_words(), 2);
        assert_eq!(VtableOp::PointerBorrow.result_words(), 2);
        assert_eq!(VtableOp::ListLen.result_words(), 1);
    }

    #[test]
    fn facet_pointers_cross_as_their_two_words() {
        let text = "words";
        let p = PtrConst::new(text as *const str);
        let mut words = [0usize; 2];
        // SAFETY: room for two words; read back from them.
        let back = unsafe {
            p.write(words.as_mut_ptr());
            <PtrConst as Words>::read(words.as_ptr())
        };
        assert_eq!(facet_ptr::words(back), facet_ptr::words(p));
        assert_eq!(words[1], 5);
    }
}
