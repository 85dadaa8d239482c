//! The run-time side of generated encoders: the context they write through
//! and the `extern "C"` helpers they call for everything that is not worth
//! inlining (buffer growth, rare scalars, iteration, fallbacks, errors).
//!
//! Protocol with generated code: a compiled function keeps the write cursor
//! (`cur`) and the end of the buffer's capacity (`end`) in registers. Before
//! calling a helper here that may write to or grow the buffer (every one
//! that takes the context) it stores `cur` into the context; afterwards it
//! reloads both. Helpers return a status: 0 means success, anything else
//! means an [`Error`] was stored in the context and the generated code must
//! fail at once. Helpers never unwind: the ones that call Rust-ABI facet
//! functions catch panics (through the shared walker of
//! [`crate::collections`]).
//!
//! Compiled functions pass the cursor in registers instead ([`CompiledFn`]):
//! each takes the cursor as its last argument and returns the cursor after
//! what it wrote, or [`FAILED`] with the error in the context; the caller
//! reloads only `end` (the callee may have grown the buffer). The cursor
//! stored in the context is therefore only current around helper calls;
//! Rust calls compiled functions through [`call_compiled`], which passes
//! and stores it.
//!
//! Size-only runs (see `FunctionEmitter::measure_only`): the same protocol,
//! with a context made by [`EncodeCtx::measuring`]: `cur` counts bytes from
//! 0 and nothing is stored; helpers that would write move `cur` by what
//! they would have written, and there is no buffer to grow.
//!
//! Stack and depth (see [`crate::stack`]): at entry, every compiled function
//! compares the stack pointer with `stack_limit` and, below it, calls
//! [`grow_stack_encoding`], which runs the function again on a new stack
//! segment and returns what it returns. Functions of recursive nodes also take one from
//! `depth_left` at entry (failing through [`too_deep`] at zero) and give it
//! back on success. The taken depth (and that of a level unrolled inline)
//! stays in a register: `depth_left` is stored only before a call given the
//! context, so every callee and helper reads the current depth there, and
//! restored at the success exit when it was stored.

use core::ptr;
use std::mem::offset_of;

use facet_core::PtrConst;

use super::facet_ptr;
use crate::Error;
use crate::collections;
use crate::fallback;
use crate::plan::{Node, NodeId, Op, Plan};
use crate::stack;
use crate::wire;

/// Status returned by helpers and compiled functions: success.
pub(crate) const STATUS_OK: u32 = 0;
/// Status returned by helpers and compiled functions: an error is in the context.
pub(crate) const STATUS_ERROR: u32 = 1;

/// Signature of every compiled encoder function: encode the value at
/// (`data`, `meta`) (meta is 0 for sized values, the length for `str`/`[T]`)
/// at the cursor `cur`; returns the cursor after it, or [`FAILED`].
pub(crate) type CompiledFn = unsafe extern "C" fn(
    ctx: *mut EncodeCtx,
    data: *const u8,
    meta: usize,
    cur: *mut u8,
) -> *mut u8;

/// What a [`CompiledFn`] returns when it failed (the error is in the
/// context): never a cursor (a pointer into a buffer, or a size-only
/// run's byte count).
pub(crate) const FAILED: usize = usize::MAX;

/// Runs the compiled function `f` on (`data`, `meta`) at the context's
/// cursor, which it then moves past what `f` wrote: a status.
///
/// # Safety
/// `ctx` is the live context of this run, its cursor current, and `f` was
/// compiled for the node (`data`, `meta`) is a value of.
pub(crate) unsafe fn call_compiled(
    ctx: *mut EncodeCtx,
    f: CompiledFn,
    data: *const u8,
    meta: usize,
) -> u32 {
    // SAFETY: the caller's contract; `ctx` is not borrowed across the call.
    unsafe {
        let cur = f(ctx, data, meta, (*ctx).cur);
        if cur as usize == FAILED {
            STATUS_ERROR
        } else {
            (*ctx).cur = cur;
            STATUS_OK
        }
    }
}

/// What generated code writes through. `cur` and `end` are read and written
/// by generated code at the offsets [`CTX_CUR`] and [`CTX_END`].
#[repr(C)]
pub(crate) struct EncodeCtx {
    /// Next byte to write; always inside the vector's allocation.
    cur: *mut u8,
    /// One past the last byte of the vector's capacity.
    end: *mut u8,
    /// The vector being appended to. Its length stays at the value it had
    /// when encoding started (or last synced) until [`EncodeCtx::finish`].
    out: *mut Vec<u8>,
    /// Below this stack address, functions continue on a new segment.
    stack_limit: usize,
    /// How many more recursive nodes may be entered.
    depth_left: usize,
    /// The depth limit, for the error.
    max_depth: usize,
    /// The plan the running code was compiled from (for fallbacks and errors).
    plan: *const Plan,
    /// The error behind a [`STATUS_ERROR`].
    error: Option<Error>,
    /// A size-only run: `cur` is a byte count, `out` is null.
    measuring: bool,
}

/// Offset of the cursor in [`EncodeCtx`].
pub(crate) const CTX_CUR: i32 = offset_of!(EncodeCtx, cur) as i32;
/// Offset of the capacity end in [`EncodeCtx`].
pub(crate) const CTX_END: i32 = offset_of!(EncodeCtx, end) as i32;
/// Offset of the stack limit in [`EncodeCtx`].
pub(crate) const CTX_STACK_LIMIT: i32 = offset_of!(EncodeCtx, stack_limit) as i32;
/// Offset of the remaining depth in [`EncodeCtx`].
pub(crate) const CTX_DEPTH_LEFT: i32 = offset_of!(EncodeCtx, depth_left) as i32;

impl EncodeCtx {
    /// A context appending to `out`, for a run on the current stack.
    pub(crate) fn new(out: &mut Vec<u8>, plan: &Plan, max_depth: usize) -> EncodeCtx {
        let mut ctx = EncodeCtx {
            cur: ptr::null_mut(),
            end: ptr::null_mut(),
            out,
            stack_limit: stack::current_limit(),
            depth_left: max_depth,
            max_depth,
            plan,
            error: None,
            measuring: false,
        };
        ctx.load_cursor();
        ctx
    }

    /// A context for a size-only run (of code compiled with
    /// `measure_only`): the cursor starts at 0 and nothing is written.
    pub(crate) fn measuring(plan: &Plan, max_depth: usize) -> EncodeCtx {
        EncodeCtx {
            cur: ptr::null_mut(),
            end: ptr::null_mut(),
            out: ptr::null_mut(),
            stack_limit: stack::current_limit(),
            depth_left: max_depth,
            max_depth,
            plan,
            error: None,
            measuring: true,
        }
    }

    /// Ends a successful size-only run: the number of bytes counted.
    pub(crate) fn finish_measuring(self) -> usize {
        debug_assert!(self.measuring && self.error.is_none());
        self.cur as usize
    }

    /// Points `cur`/`end` at the vector's spare capacity.
    fn load_cursor(&mut self) {
        debug_assert!(!self.measuring, "a size-only run has no buffer");
        // SAFETY: `out` is the exclusive borrow this context was made from.
        let out = unsafe { &mut *self.out };
        let base = out.as_mut_ptr();
        // SAFETY: len and capacity are within (or one past) the allocation.
        unsafe {
            self.cur = base.add(out.len());
            self.end = base.add(out.capacity());
        }
    }

    /// Makes the vector's length cover everything written so far.
    fn sync_len(&mut self) {
        debug_assert!(!self.measuring, "a size-only run has no buffer");
        // SAFETY: `out` is the exclusive borrow this context was made from.
        let out = unsafe { &mut *self.out };
        // SAFETY: `cur` lies in `out`'s allocation, at or after its start.
        let written = unsafe { self.cur.offset_from(out.as_ptr()) } as usize;
        // SAFETY: every byte below `cur` was written by the encoder (or was
        // already part of the vector), and `cur <= end` = capacity.
        unsafe { out.set_len(written) };
    }

    /// Ends a successful run: the vector now holds every written byte.
    pub(crate) fn finish(mut self) {
        self.sync_len();
        debug_assert!(self.error.is_none(), "a successful run stored no error");
        // Nothing left to drop (the error slot is empty, the rest are raw
        // pointers and integers): skip the drop glue on the hot path.
        core::mem::forget(self);
    }

    /// The error behind a non-zero status.
    pub(crate) fn take_error(&mut self) -> Error {
        self.error.take().unwrap_or_else(|| Error::Internal {
            message: "compiled encoder failed without reporting an error".to_string(),
        })
    }

    fn plan(&self) -> &Plan {
        // SAFETY: the plan outlives the run (the encoder holds it).
        unsafe { &*self.plan }
    }

    fn fail(&mut self, error: Error) -> u32 {
        self.error = Some(error);
        STATUS_ERROR
    }

    /// Ensures `additional` bytes fit after `cur`.
    fn reserve(&mut self, additional: usize) -> u32 {
        if self.measuring {
            return STATUS_OK;
        }
        // SAFETY: both pointers are in the same allocation, `cur <= end`.
        if (unsafe { self.end.offset_from(self.cur) } as usize) >= additional {
            return STATUS_OK;
        }
        self.sync_len();
        // SAFETY: `out` is the exclusive borrow this context was made from.
        let grown = unsafe { &mut *self.out }.try_reserve(additional);
        self.load_cursor();
        match grown {
            Ok(()) => STATUS_OK,
            Err(_) => self.fail(Error::Allocation { additional }),
        }
    }

    /// Appends bytes, growing the buffer as needed.
    fn write(&mut self, bytes: &[u8]) -> u32 {
        if self.measuring {
            self.cur = self.cur.wrapping_add(bytes.len());
            return STATUS_OK;
        }
        if self.reserve(bytes.len()) != STATUS_OK {
            return STATUS_ERROR;
        }
        // SAFETY: `reserve` made room for `bytes.len()` bytes at `cur`.
        unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), self.cur, bytes.len());
            self.cur = self.cur.add(bytes.len());
        }
        STATUS_OK
    }

    fn write_varint(&mut self, value: u64) -> Result<(), Error> {
        let mut bytes = [0u8; wire::MAX_VARINT_U64_LEN];
        let len = wire::encode_varint_u64(value, &mut bytes);
        match self.write(&bytes[..len]) {
            STATUS_OK => Ok(()),
            _ => Err(self.take_error()),
        }
    }

    /// The status of a helper's result, storing its error.
    fn status(&mut self, result: Result<(), Error>) -> u32 {
        match result {
            Ok(()) => STATUS_OK,
            Err(error) => self.fail(error),
        }
    }

    fn node(&self, node: u32) -> &Node {
        self.plan().node(NodeId::from_index(node as usize))
    }
}

/// Grows the buffer so `additional` bytes fit after the (stored) cursor.
pub(crate) unsafe extern "C" fn reserve(ctx: *mut EncodeCtx, additional: usize) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    unsafe { &mut *ctx }.reserve(additional)
}

/// Encodes a delegated node with facet-postcard at the (stored) cursor.
pub(crate) unsafe extern "C" fn fallback(
    ctx: *mut EncodeCtx,
    node: u32,
    data: *const u8,
    meta: usize,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: the plan outlives the run; detached from `ctx` so both can be used.
    let plan = unsafe { &*(ctx.plan() as *const Plan) };
    let src = facet_ptr::from_words(data, meta);
    let node = NodeId::from_index(node as usize);
    if ctx.measuring {
        // facet-postcard decides these bytes: count what it writes.
        let mut scratch = Vec::new();
        // SAFETY: as below, into a vector of our own.
        return match unsafe { fallback::encode(plan, node, src, &mut scratch) } {
            Ok(()) => ctx.write(&scratch),
            Err(error) => ctx.fail(error),
        };
    }
    ctx.sync_len();
    // SAFETY: `out` is the exclusive borrow of this run; the value at `src`
    // has the node's shape (generated code passes the node's own value).
    let result = unsafe { fallback::encode(plan, node, src, &mut *ctx.out) };
    ctx.load_cursor();
    match result {
        Ok(()) => STATUS_OK,
        Err(error) => ctx.fail(error),
    }
}

/// Reports an enum whose discriminant matches no variant.
pub(crate) unsafe extern "C" fn invalid_discriminant(
    ctx: *mut EncodeCtx,
    node: u32,
    discriminant: i64,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let node = ctx.node(node);
    let error = node.invalid_discriminant(discriminant);
    ctx.fail(error)
}

/// Writes a `u128` varint at `cur` (19 bytes reserved by the caller) and
/// returns the new cursor.
pub(crate) unsafe extern "C" fn write_varint_u128(cur: *mut u8, value: *const u128) -> *mut u8 {
    let mut bytes = [0u8; wire::MAX_VARINT_U128_LEN];
    // SAFETY: generated code passes the address of the integer field.
    let len = wire::encode_varint_u128(unsafe { ptr::read_unaligned(value) }, &mut bytes);
    // SAFETY: the caller reserved the maximum varint length at `cur`.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), cur, len);
        cur.add(len)
    }
}

/// Moves the count `cur` of a size-only run by the length of the `u128`
/// varint at `value`.
///
/// # Safety
/// `value` points at a readable `u128` (any alignment).
pub(crate) unsafe extern "C" fn measure_varint_u128(cur: usize, value: *const u128) -> usize {
    let mut bytes = [0u8; wire::MAX_VARINT_U128_LEN];
    // SAFETY: generated code passes the address of the integer field.
    let len = wire::encode_varint_u128(unsafe { ptr::read_unaligned(value) }, &mut bytes);
    cur.wrapping_add(len)
}

/// Moves the count `cur` of a size-only run by the length of the `i128`
/// zigzag varint at `value`.
///
/// # Safety
/// `value` points at a readable `i128` (any alignment).
pub(crate) unsafe extern "C" fn measure_varint_i128(cur: usize, value: *const i128) -> usize {
    // SAFETY: generated code passes the address of the integer field.
    let zigzag = wire::zigzag_i128(unsafe { ptr::read_unaligned(value) });
    // SAFETY: forwarded; a local of the same width.
    unsafe { measure_varint_u128(cur, &zigzag) }
}

/// Writes an `i128` zigzag varint at `cur` (19 bytes reserved by the caller)
/// and returns the new cursor.
pub(crate) unsafe extern "C" fn write_varint_i128(cur: *mut u8, value: *const i128) -> *mut u8 {
    // SAFETY: generated code passes the address of the integer field.
    let zigzag = wire::zigzag_i128(unsafe { ptr::read_unaligned(value) });
    // SAFETY: forwarded; the zigzagged value has the same maximum length.
    unsafe { write_varint_u128(cur, &zigzag) }
}

/// The bytes of a `String` (for hosts where its layout was not calibrated):
/// returns the data pointer and stores the length in `len`.
pub(crate) unsafe extern "C" fn string_parts(string: *const String, len: *mut usize) -> *const u8 {
    // SAFETY: generated code passes the address of a live `String` and a slot.
    let string = unsafe { &*string };
    // SAFETY: `len` is a writable one-word slot.
    unsafe { *len = string.len() };
    string.as_ptr()
}

/// The bytes of a `&str`: returns the data pointer and stores the length in `len`.
pub(crate) unsafe extern "C" fn str_ref_parts(string: *const &str, len: *mut usize) -> *const u8 {
    // SAFETY: generated code passes the address of a live `&str` and a slot.
    let string = unsafe { *string };
    // SAFETY: `len` is a writable one-word slot.
    unsafe { *len = string.len() };
    string.as_ptr()
}

/// Encodes a set or map node through its (Rust-ABI) iterator: calls the
/// compiled function `item` on each item of a set, or on each entry of a
/// map, with `data` pointing at four words (the key's facet pointer words,
/// then the value's) and `meta` 0 (see [`super::Function::MapEntry`]).
/// The generated code has written the length prefix, `len` (facet's `len`
/// of the collection), which the walk checks the items against.
pub(crate) unsafe extern "C" fn encode_iterated(
    ctx: *mut EncodeCtx,
    node: u32,
    data: *const u8,
    item: CompiledFn,
    len: usize,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx_ref = unsafe { &mut *ctx };
    // SAFETY: the plan outlives the run; detached from `ctx` so both can be used.
    let node_ref = unsafe { &*(ctx_ref.node(node) as *const Node) };
    let src = PtrConst::new(data);
    // SAFETY: (both arms) `data` is a live value of the node's shape, whose
    // vtable the op's functions come from; items are live entries of it
    // (each used before the iterator moves on) and `item` was compiled for
    // the node's items or entries.
    let result = unsafe {
        match &node_ref.op {
            Op::Set(op) => {
                collections::for_each_iterated(node_ref, len, &op.iter, src, |&element| {
                    call(ctx, item, element)
                })
            }
            Op::Map(op) => collections::for_each_iterated(node_ref, len, &op.iter, src, |entry| {
                call_words(ctx, item, facet_ptr::entry_words(entry), 0)
            }),
            _ => Err(Error::Internal {
                message: format!("encode_iterated called on node `{}`", node_ref.path),
            }),
        }
    };
    // SAFETY: generated code passes the live context of this run.
    unsafe { &mut *ctx }.status(result)
}

/// Encodes a list without `as_ptr` through its (Rust-ABI) `get`, calling
/// the compiled element function for each element.
pub(crate) unsafe extern "C" fn encode_indexed_list(
    ctx: *mut EncodeCtx,
    node: u32,
    data: *const u8,
    element: CompiledFn,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx_ref = unsafe { &mut *ctx };
    // SAFETY: the plan outlives the run; detached from `ctx` so both can be used.
    let node_ref = unsafe { &*(ctx_ref.node(node) as *const Node) };
    let src = PtrConst::new(data);
    let result = match &node_ref.op {
        // SAFETY: `data` is a live list of this op's vtable; `element` was
        // compiled for the list's element node.
        Op::List(op) => unsafe {
            let len = (op.vtable.len)(src);
            ctx_ref.write_varint(len as u64).and_then(|()| {
                collections::for_each_indexed(node_ref, op, len, src, |item| {
                    call(ctx, element, item)
                })
            })
        },
        _ => Err(Error::Internal {
            message: format!("encode_indexed_list called on node `{}`", node_ref.path),
        }),
    };
    // SAFETY: generated code passes the live context of this run.
    unsafe { &mut *ctx }.status(result)
}

/// Calls a compiled item function on `item`; its failure comes back as the
/// error it stored.
///
/// # Safety
/// `ctx` is the live context of this run and `f` was compiled for `item`'s node.
unsafe fn call(ctx: *mut EncodeCtx, f: CompiledFn, item: PtrConst) -> Result<(), Error> {
    let (data, meta) = facet_ptr::words(item);
    // SAFETY: forwarded from the caller's contract.
    unsafe { call_words(ctx, f, data, meta) }
}

/// Calls a compiled function on the words (`data`, `meta`); its failure
/// comes back as the error it stored.
///
/// # Safety
/// `ctx` is the live context of this run and `f` was compiled for what the
/// words point at.
unsafe fn call_words(
    ctx: *mut EncodeCtx,
    f: CompiledFn,
    data: *const u8,
    meta: usize,
) -> Result<(), Error> {
    // SAFETY: forwarded from the caller's contract.
    match unsafe { call_compiled(ctx, f, data, meta) } {
        STATUS_OK => Ok(()),
        // SAFETY: as above; the call has returned, nothing else borrows `ctx`.
        _ => Err(unsafe { &mut *ctx }.take_error()),
    }
}

/// The context of a run of generated code (an encode or a decode): what
/// [`grow_stack`] needs of it.
pub(crate) trait RunContext {
    /// The stack limit the run's functions check at entry.
    fn stack_limit_mut(&mut self) -> &mut usize;
}

impl RunContext for EncodeCtx {
    fn stack_limit_mut(&mut self) -> &mut usize {
        &mut self.stack_limit
    }
}

/// Continues a compiled function on a new stack segment: called by its
/// entry when the stack pointer is below the limit; runs `function` (the
/// caller itself) with the same arguments there and returns its status.
pub(crate) unsafe extern "C" fn grow_stack<C: RunContext>(
    ctx: *mut C,
    function: unsafe extern "C" fn(*mut C, *const u8, usize) -> u32,
    data: *const u8,
    meta: usize,
) -> u32 {
    // SAFETY: generated code passes the live context of this run; the call
    // is the caller's own function and arguments, forwarded.
    unsafe { on_new_segment(ctx, || function(ctx, data, meta)) }
}

/// Runs `run` on a new stack segment, with `ctx`'s stack limit set to the
/// segment's meanwhile.
///
/// # Safety
/// `ctx` is the live context of this run; no other reference to it is used
/// while `run` does not run, and `run` uses it only through the pointer.
unsafe fn on_new_segment<C: RunContext, R>(ctx: *mut C, run: impl FnOnce() -> R) -> R {
    stack::on_new_segment(|limit| {
        // SAFETY: the caller's contract.
        let outer = core::mem::replace(unsafe { (*ctx).stack_limit_mut() }, limit);
        let result = run();
        // SAFETY: as above; `run` has returned.
        unsafe { *(*ctx).stack_limit_mut() = outer };
        result
    })
}

/// [`grow_stack`] for encoder functions ([`CompiledFn`]): runs `function`
/// again on a new stack segment and returns what it returns.
pub(crate) unsafe extern "C" fn grow_stack_encoding(
    ctx: *mut EncodeCtx,
    function: CompiledFn,
    data: *const u8,
    meta: usize,
    cur: *mut u8,
) -> *mut u8 {
    // SAFETY: as for `grow_stack`.
    unsafe { on_new_segment(ctx, || function(ctx, data, meta, cur)) }
}

/// Reports a value nested deeper than the depth limit at node `node`.
pub(crate) unsafe extern "C" fn too_deep(ctx: *mut EncodeCtx, node: u32) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let error = ctx.node(node).too_deep(ctx.max_depth);
    ctx.fail(error)
}
