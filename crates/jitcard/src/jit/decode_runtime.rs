//! The run-time side of generated decoders: the context they read through
//! and the `extern "C"` helpers they call for what is not worth inlining
//! (strings, rare scalars, slow varints, allocation, slice builders, drops
//! on failure paths, and the parts of a plan the interpreter builds).
//!
//! Protocol with generated code (the encoder's, see [`super::runtime`],
//! read for write): a compiled decode function keeps the read cursor
//! (`cur`) and the end of the input (`end`) in registers. Before calling a
//! helper that reads input (it takes the context) or another compiled
//! function it stores `cur` into the context, and reloads it afterwards.
//! Helpers return a status: [`STATUS_OK`]; [`STATUS_INVALID`], the input
//! is not a valid encoding (nothing stored: the caller asks the interpreter
//! what and where); or [`STATUS_ERROR`], an [`Error`] is in the context
//! (allocation, a panic, an error of an interpreted part). On failure the
//! generated code drops what it built and returns the status. Helpers never
//! unwind: the ones that run user code (drops, slice builders, the
//! interpreter's parts) catch panics.
//!
//! Every compiled decode function has the encoder's signature
//! [`CompiledFn`](super::runtime::CompiledFn) with `data` the (uninitialized)
//! destination: on success it is initialized; on failure it is not and
//! nothing the function built is left alive (see [`crate::plan::build`]).
//! Entry checks are the encoder's (stack limit, depth at recursive nodes);
//! the context also records the lowest remaining depth, which bounds how
//! deep a partly built value can be when a failure drops it.

use core::alloc::Layout;
use core::ptr;
use std::mem::offset_of;

use facet_core::{PtrMut, PtrUninit};

use super::runtime::{
    CTX_CUR, CTX_DEPTH_LEFT, CTX_END, CTX_STACK_LIMIT, RunContext, STATUS_ERROR, STATUS_OK,
};
use crate::interp::decode::{self as interp, Progress, SliceBuild};
use crate::plan::{Node, NodeId, Plan};
use crate::wire::{self, VarintWidth};
use crate::{DecodeLimits, Error, stack};

/// The state of one decode run by generated code.
#[repr(C)]
pub(crate) struct DecodeCtx {
    /// Next byte to read; `start <= cur <= end`.
    cur: *const u8,
    /// One past the last byte of the input.
    end: *const u8,
    /// The first byte of the input (offsets in errors are from here).
    start: *const u8,
    /// Below this stack address, functions continue on a new segment.
    stack_limit: usize,
    /// How many more recursive nodes may be entered.
    depth_left: usize,
    /// The lowest `depth_left` reached.
    lowest_depth_left: usize,
    /// What is left of the zero-size budget.
    zero_sized_left: usize,
    limits: DecodeLimits,
    /// The plan the running code was compiled from.
    plan: *const Plan,
    /// The error behind a [`STATUS_ERROR`].
    error: Option<Error>,
}

// The entry protocol (`FunctionEmitter::enter`) and the cursor vocabulary
// use the encoder's offsets: the two contexts agree on these words.
const _: () = {
    assert!(offset_of!(DecodeCtx, cur) == CTX_CUR as usize);
    assert!(offset_of!(DecodeCtx, end) == CTX_END as usize);
    assert!(offset_of!(DecodeCtx, stack_limit) == CTX_STACK_LIMIT as usize);
    assert!(offset_of!(DecodeCtx, depth_left) == CTX_DEPTH_LEFT as usize);
};

/// Offset of the lowest remaining depth in [`DecodeCtx`].
pub(crate) const CTX_LOWEST_DEPTH_LEFT: i32 = offset_of!(DecodeCtx, lowest_depth_left) as i32;

/// Status of generated code and helpers: the input is not a valid
/// encoding. No error is stored: the caller decodes the same bytes with the
/// interpreter, which fails on the same byte and describes it (kind,
/// offset, path), so the rules live in one place.
pub(crate) const STATUS_INVALID: u32 = 2;

impl DecodeCtx {
    /// A context decoding `input` with `limits`, on the current stack.
    pub(crate) fn new(input: &[u8], plan: &Plan, limits: DecodeLimits) -> DecodeCtx {
        let range = input.as_ptr_range();
        DecodeCtx {
            cur: range.start,
            end: range.end,
            start: range.start,
            stack_limit: stack::current_limit(),
            depth_left: limits.max_depth,
            lowest_depth_left: limits.max_depth,
            zero_sized_left: limits.max_zero_sized_elements,
            limits,
            plan,
            error: None,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.cur as usize - self.start as usize
    }

    /// The error behind a non-zero status.
    pub(crate) fn take_error(&mut self) -> Error {
        self.error.take().unwrap_or_else(|| Error::Internal {
            message: "compiled decoder failed without reporting an error".to_string(),
        })
    }

    fn plan(&self) -> &Plan {
        // SAFETY: the plan outlives the run (the decoder holds it).
        unsafe { &*self.plan }
    }

    fn node(&self, node: u32) -> &Node {
        self.plan().node(NodeId::from_index(node as usize))
    }

    fn input(&self) -> &[u8] {
        // SAFETY: `start..end` is the input slice this context was made
        // from, borrowed for the whole run.
        unsafe { core::slice::from_raw_parts(self.start, self.end as usize - self.start as usize) }
    }

    fn deepest(&self) -> usize {
        self.limits.max_depth - self.lowest_depth_left
    }

    fn fail(&mut self, error: Error) -> u32 {
        self.error = Some(error);
        STATUS_ERROR
    }
}

/// Reads a varint of `width` (0: u16, 1: u32, 2: u64) at the stored cursor
/// into `out` and advances the cursor: the path for varints near the end
/// of the input, or malformed ([`STATUS_INVALID`]).
pub(crate) unsafe extern "C" fn varint(ctx: *mut DecodeCtx, width: u32, out: *mut u64) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let width = match width {
        0 => VarintWidth::U16,
        1 => VarintWidth::U32,
        _ => VarintWidth::U64,
    };
    let at = ctx.position();
    match wire::read_varint_u64(&ctx.input()[at..], width) {
        Ok((value, len)) => {
            // SAFETY: `out` is a writable slot of generated code; `len`
            // bytes were read, so the cursor stays inside the input.
            unsafe {
                *out = value;
                ctx.cur = ctx.cur.add(len);
            }
            STATUS_OK
        }
        Err(_) => STATUS_INVALID,
    }
}

/// What [`text`] builds from a length-prefixed byte string.
pub(crate) mod text_kind {
    /// `String`.
    pub const STRING: u32 = 0;
    /// `&str` into the input.
    pub const STR_REF: u32 = 1;
    /// `Box<str>`.
    pub const BOX_STR: u32 = 2;
    /// `Arc<str>`.
    pub const ARC_STR: u32 = 3;
    /// `Rc<str>`.
    pub const RC_STR: u32 = 4;
    /// `Cow::<str>::Owned`.
    pub const COW_STR: u32 = 5;
    /// `Cow::<[u8]>::Owned` (no UTF-8 check).
    pub const COW_BYTES: u32 = 6;
    /// `&[u8]` into the input (no UTF-8 check).
    pub const BYTES_REF: u32 = 7;
}

/// Writes the value of kind `kind` (see [`text_kind`]) made of the `len`
/// bytes at `bytes` (inside the input) into `dst`, after checking they are
/// UTF-8 where it holds a `str` ([`STATUS_INVALID`] if not).
pub(crate) unsafe extern "C" fn text(dst: *mut u8, bytes: *const u8, len: usize, kind: u32) -> u32 {
    use std::borrow::Cow;
    use std::rc::Rc;
    use std::sync::Arc;
    // SAFETY: `bytes..bytes + len` lies inside the input generated code
    // checked; the input outlives the decoded value (the `'de` of the
    // decode).
    let bytes = unsafe { core::slice::from_raw_parts(bytes, len) };
    // SAFETY: (every write) `dst` is valid for writes of the node's shape,
    // which generated code chose `kind` for from the plan's build.
    unsafe {
        match kind {
            text_kind::COW_BYTES => {
                ptr::write_unaligned(dst.cast(), Cow::<'static, [u8]>::Owned(bytes.to_vec()));
                return STATUS_OK;
            }
            text_kind::BYTES_REF => {
                ptr::write_unaligned(dst.cast::<&[u8]>(), bytes);
                return STATUS_OK;
            }
            _ => {}
        }
        let Ok(text) = core::str::from_utf8(bytes) else {
            return STATUS_INVALID;
        };
        match kind {
            text_kind::STRING => ptr::write_unaligned(dst.cast(), String::from(text)),
            text_kind::STR_REF => ptr::write_unaligned(dst.cast::<&str>(), text),
            text_kind::BOX_STR => ptr::write_unaligned(dst.cast(), Box::<str>::from(text)),
            text_kind::ARC_STR => ptr::write_unaligned(dst.cast(), Arc::<str>::from(text)),
            text_kind::RC_STR => ptr::write_unaligned(dst.cast(), Rc::<str>::from(text)),
            _ => ptr::write_unaligned(dst.cast(), Cow::<'static, str>::Owned(text.to_owned())),
        }
    }
    STATUS_OK
}

/// Reads a length-prefixed byte string at the stored cursor, writes the
/// value of kind `kind` made of it into `dst` (see [`text`]) and advances
/// the cursor past it.
pub(crate) unsafe extern "C" fn text_at(ctx: *mut DecodeCtx, dst: *mut u8, kind: u32) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let at = ctx.position();
    let input = ctx.input();
    let Ok((len, prefix)) = wire::read_varint_u64(&input[at..], VarintWidth::U64) else {
        return STATUS_INVALID;
    };
    let start = at + prefix;
    let Some(bytes) = usize::try_from(len)
        .ok()
        .and_then(|len| input.get(start..start.checked_add(len)?))
    else {
        return STATUS_INVALID;
    };
    // SAFETY: the bytes are inside the input; `dst` is as `text` requires.
    let status = unsafe { text(dst, bytes.as_ptr(), bytes.len(), kind) };
    if status == STATUS_OK {
        // SAFETY: the string ends inside the input.
        ctx.cur = unsafe { bytes.as_ptr().add(bytes.len()) };
    }
    status
}

/// Writes the `char` whose UTF-8 bytes are the `len` bytes at `bytes`
/// (the cursor after the length prefix): a `char` is a string of at most 4
/// bytes holding exactly one char ([`STATUS_INVALID`] if not).
pub(crate) unsafe extern "C" fn char_value(
    ctx: *mut DecodeCtx,
    dst: *mut u8,
    bytes: *const u8,
    len: usize,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &*ctx };
    if len > 4 || len > ctx.end as usize - bytes as usize {
        return STATUS_INVALID;
    }
    // SAFETY: the `len` bytes are inside the input (checked above).
    let utf8 = unsafe { core::slice::from_raw_parts(bytes, len) };
    match wire::char_from_utf8(utf8) {
        // SAFETY: `dst` is valid for writes of the node's `char`.
        Some(c) => unsafe {
            ptr::write_unaligned(dst.cast::<char>(), c);
            STATUS_OK
        },
        None => STATUS_INVALID,
    }
}

/// Reads a `u128` (`signed == 0`) or zigzagged `i128` varint at the stored
/// cursor into `dst` and advances the cursor.
pub(crate) unsafe extern "C" fn int128(ctx: *mut DecodeCtx, dst: *mut u8, signed: u32) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let at = ctx.position();
    match wire::read_varint_u128(&ctx.input()[at..]) {
        Ok((value, len)) => {
            // SAFETY: `dst` is valid for writes of the node's 128-bit
            // integer; `len` bytes were read from the input.
            unsafe {
                if signed == 0 {
                    ptr::write_unaligned(dst.cast::<u128>(), value);
                } else {
                    ptr::write_unaligned(dst.cast::<i128>(), wire::unzigzag_i128(value));
                }
                ctx.cur = ctx.cur.add(len);
            }
            STATUS_OK
        }
        Err(_) => STATUS_INVALID,
    }
}

/// Decodes node `node` into `dst` with the interpreter, from the stored
/// cursor (advancing it): the parts generated code does not build itself.
pub(crate) unsafe extern "C" fn interpret(ctx: *mut DecodeCtx, node: u32, dst: *mut u8) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    let mut progress = Progress {
        pos: ctx.position(),
        depth_left: ctx.depth_left,
        zero_sized_left: ctx.zero_sized_left,
        deepest: ctx.deepest(),
        stack_limit: ctx.stack_limit,
    };
    // SAFETY: the plan outlives the run, the input is borrowed for it.
    let (plan, input) = unsafe {
        (
            &*ctx.plan,
            core::slice::from_raw_parts(ctx.start, ctx.input().len()),
        )
    };
    // SAFETY: `dst` is valid for writes of the node's shape (generated
    // code passes the destination of this node's value).
    let result = unsafe {
        interp::decode_part(
            plan,
            input,
            ctx.limits,
            &mut progress,
            NodeId::from_index(node as usize),
            PtrUninit::new(dst),
        )
    };
    // SAFETY: the interpreter read `progress.pos` bytes of this input.
    ctx.cur = unsafe { ctx.start.add(progress.pos) };
    ctx.depth_left = progress.depth_left;
    ctx.zero_sized_left = progress.zero_sized_left;
    ctx.lowest_depth_left = ctx
        .lowest_depth_left
        .min(ctx.limits.max_depth.saturating_sub(progress.deepest));
    match result {
        Ok(()) => STATUS_OK,
        Err(error) => ctx.fail(error),
    }
}

/// Starts facet's slice builder `builder` of the `Box/Arc/Rc<[T]>` of node
/// `node` in `slot` (storage for a [`SliceBuild`]).
pub(crate) unsafe extern "C" fn slice_start(
    ctx: *mut DecodeCtx,
    node: u32,
    builder: *const facet_core::SliceBuilderVTable,
    slot: *mut SliceBuild,
) -> u32 {
    // SAFETY: generated code passes the live context of this run, and the
    // builder of the node (a `'static` vtable).
    let (ctx, builder) = unsafe { (&mut *ctx, &*builder) };
    match SliceBuild::start(builder, ctx.node(node)) {
        // SAFETY: `slot` is writable storage for a `SliceBuild`.
        Ok(build) => unsafe {
            slot.write(build);
            STATUS_OK
        },
        Err(error) => ctx.fail(error),
    }
}

/// Moves the element at `item` into the slice being built in `slot`.
pub(crate) unsafe extern "C" fn slice_push(
    ctx: *mut DecodeCtx,
    node: u32,
    slot: *const SliceBuild,
    item: *mut u8,
) -> u32 {
    // SAFETY: generated code passes the live context, a started builder
    // and an initialized element, which the push moves out.
    unsafe {
        let ctx = &mut *ctx;
        match (*slot).push(ctx.node(node), PtrMut::new(item)) {
            Ok(()) => STATUS_OK,
            Err(error) => ctx.fail(error),
        }
    }
}

/// Pushes the `count` elements at `bytes` (inside the input: elements whose
/// memory is their wire form, `stride` bytes each) into the slice being
/// built in `slot`.
pub(crate) unsafe extern "C" fn slice_push_run(
    ctx: *mut DecodeCtx,
    node: u32,
    slot: *const SliceBuild,
    bytes: *const u8,
    count: usize,
    stride: usize,
) -> u32 {
    for index in 0..count {
        // SAFETY: each element of the run is a valid value (its bytes are
        // its wire form, checked by generated code where that matters); the
        // push copies it out of the input.
        let status = unsafe { slice_push(ctx, node, slot, bytes.add(index * stride).cast_mut()) };
        if status != STATUS_OK {
            return status;
        }
    }
    STATUS_OK
}

/// Drops the builder in `slot` and what it holds (a failure path).
pub(crate) unsafe extern "C" fn slice_free(slot: *mut SliceBuild) {
    // SAFETY: generated code passes a started builder, freed once.
    unsafe { slot.read().free() };
}

/// Makes the pointer of the builder in `slot` and writes it into `dst`.
pub(crate) unsafe extern "C" fn slice_finish(
    ctx: *mut DecodeCtx,
    node: u32,
    slot: *mut SliceBuild,
    dst: *mut u8,
) -> u32 {
    // SAFETY: generated code passes the live context, a started builder
    // (consumed once, here) and the destination of the node's pointer.
    unsafe {
        let ctx = &mut *ctx;
        match slot.read().finish(ctx.node(node), PtrUninit::new(dst)) {
            Ok(()) => STATUS_OK,
            Err(error) => ctx.fail(error),
        }
    }
}

/// Drops the value of node `node` at `value` (a failure path drops what
/// it built); a panicking `Drop` is contained.
pub(crate) unsafe extern "C" fn drop_value(ctx: *mut DecodeCtx, node: u32, value: *mut u8) {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &*ctx };
    let shape = ctx.node(node).shape;
    // SAFETY: generated code drops each value it built exactly once.
    unsafe { interp::drop_built(shape, PtrMut::new(value), ctx.deepest()) };
}

/// Drops the `count` values of node `node` from `base` at `stride` (the
/// elements of a run that failed).
pub(crate) unsafe extern "C" fn drop_run(
    ctx: *mut DecodeCtx,
    node: u32,
    base: *mut u8,
    count: usize,
    stride: usize,
) {
    for index in 0..count {
        // SAFETY: generated code passes the live context and a run of
        // `count` initialized values, each dropped once here.
        unsafe { drop_value(ctx, node, base.add(index * stride)) };
    }
}

/// Checks that the `len` bytes at `bytes` (inside the input) are all 0 or
/// 1, the wire form of a run of `bool`s ([`STATUS_INVALID`] if not).
pub(crate) unsafe extern "C" fn check_bools(bytes: *const u8, len: usize) -> u32 {
    // SAFETY: generated code passes a range it checked is inside the input.
    let run = unsafe { core::slice::from_raw_parts(bytes, len) };
    if run.iter().all(|&byte| byte <= 1) {
        STATUS_OK
    } else {
        STATUS_INVALID
    }
}

/// Draws `count` elements of `stride` bytes that take no wire bytes from
/// the zero-size budget ([`STATUS_INVALID`] when it does not cover them).
pub(crate) unsafe extern "C" fn charge_zero_sized(
    ctx: *mut DecodeCtx,
    count: usize,
    stride: usize,
) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    let ctx = unsafe { &mut *ctx };
    if interp::charge_zero_sized(&mut ctx.zero_sized_left, count, stride) {
        STATUS_OK
    } else {
        STATUS_INVALID
    }
}

/// Allocates `size` (nonzero) bytes aligned to `align` (the layout of a
/// real type): null when the allocator fails (generated code then reports
/// it through [`allocation_failed`]).
pub(crate) unsafe extern "C" fn alloc(size: usize, align: usize) -> *mut u8 {
    // SAFETY: generated code passes the size and alignment of a type's
    // layout (a valid layout) with a nonzero size.
    unsafe { std::alloc::alloc(Layout::from_size_align_unchecked(size, align)) }
}

/// Reports that allocating `size` bytes failed.
pub(crate) unsafe extern "C" fn allocation_failed(ctx: *mut DecodeCtx, size: usize) -> u32 {
    // SAFETY: generated code passes the live context of this run.
    unsafe { &mut *ctx }.fail(Error::Allocation { additional: size })
}

/// Frees what [`alloc`] returned for the same `size` and `align`.
pub(crate) unsafe extern "C" fn dealloc(allocated: *mut u8, size: usize, align: usize) {
    // SAFETY: `alloc` succeeded with this layout, so it is valid; the
    // memory is freed once.
    unsafe { std::alloc::dealloc(allocated, Layout::from_size_align_unchecked(size, align)) };
}

impl RunContext for DecodeCtx {
    fn stack_limit_mut(&mut self) -> &mut usize {
        &mut self.stack_limit
    }
}

/// Input nested deeper than the depth limit ([`STATUS_INVALID`]; the
/// signature is the entry protocol's).
pub(crate) unsafe extern "C" fn too_deep(_ctx: *mut DecodeCtx, _node: u32) -> u32 {
    STATUS_INVALID
}

/// Signature of every compiled decode function: decode into `dst` (`meta`
/// is unused), return a status.
pub(crate) type DecodeFn =
    unsafe extern "C" fn(ctx: *mut DecodeCtx, dst: *const u8, meta: usize) -> u32;
