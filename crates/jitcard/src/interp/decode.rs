//! The decode interpreter: runs a decode [`Plan`] over postcard bytes,
//! building the value in place through facet's vtables.
//!
//! The reference engine for decoding: it accepts exactly the bytes
//! `postcard::from_bytes` (serde derives) accepts, by the rules of
//! [`crate::wire`], and builds each value as the plan's [`Build`] says.
//!
//! Hostile input, whatever the bytes:
//! - a declared count is checked against the input left before anything is
//!   allocated for it (`count × min_wire_size ≤ remaining`), and elements
//!   that take no wire bytes draw on a budget for the whole decode
//!   ([`DecodeLimits::max_zero_sized_elements`]); collections then start at
//!   a cautious capacity (at most 1 MiB, like serde's `size_hint::cautious`)
//!   and grow as elements actually decode;
//! - recursive nodes count nesting against [`DecodeLimits::max_depth`], and
//!   the stack grows on demand (as when encoding, see [`crate::stack`]);
//! - panics of Rust-ABI facet functions (proxy conversions, defaults, slice
//!   builders) are caught and become [`Error::Panicked`];
//! - every failure drops exactly what was built so far (fields decoded,
//!   elements pushed, the half-built element) and leaves the destination
//!   uninitialized: each method's contract is "on `Ok` the destination is
//!   initialized, on `Err` it is not, and nothing leaked".
//!
//! Like the encoder, it can also *locate* a failure ([`locate`]): a second
//! decode of the same bytes that tracks where in the value it is.

use core::alloc::Layout;
use core::ptr;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;

use facet_core::{Def, PtrConst, PtrMut, PtrUninit, Shape};

use super::path::{InstancePath, NoPath, PathTracking, Step};
use crate::error::{InvalidKind, panic_message};
use crate::plan::build::{
    Build, DefaultFrom, ListBuild, MapBuild, PointerBuild, SetBuild, SkippedField, StrPointer,
};
use crate::plan::{
    DiscriminantRead, Elements, EnumOp, FieldStep, IntKind, ListOp, MapOp, NodeId, Op, OptionOp,
    Plan, PointerOp, ResultOp, SetOp,
};
use crate::wire::{self, ReadError, VarintWidth};
use crate::{DecodeLimits, Error, stack};

/// Most bytes a collection reserves before its elements have decoded
/// (serde's `size_hint::cautious` uses the same bound).
const CAUTIOUS_BYTES: usize = 1024 * 1024;

/// Decodes the plan root's value from the start of `input` into `dst`;
/// returns how many bytes it took.
///
/// # Safety
/// `dst` is valid for writes of the plan root's (sized) shape; on `Ok` it
/// holds a value the caller now owns, on `Err` it is uninitialized. Values
/// borrowing from `input` (`&str`, `&[u8]`) are only sound to use while
/// `input` lives.
pub(crate) unsafe fn decode(
    plan: &Plan,
    input: &[u8],
    dst: PtrUninit,
    limits: DecodeLimits,
) -> Result<usize, Error> {
    let mut run = Run::new(plan, input, limits, NoPath);
    // SAFETY: forwarded from the caller's contract.
    unsafe { run.node(plan.root(), dst) }?;
    Ok(run.pos)
}

/// Decodes `input` again, into scratch, tracking the path, and returns the
/// error it fails with, reported at the failing part's own path; `None` if
/// it succeeds (the value is then dropped).
pub(crate) fn locate(plan: &Plan, input: &[u8], limits: DecodeLimits) -> Option<Error> {
    let root = plan.node(plan.root());
    let scratch = Scratch::new(root.shape).ok()?;
    let mut run = Run::new(plan, input, limits, InstancePath::default());
    // SAFETY: the scratch is valid for writes of the root shape.
    match unsafe { run.node(plan.root(), scratch.uninit()) } {
        Ok(()) => {
            // SAFETY: the decode initialized the scratch; dropped once.
            unsafe { run.drop(root.shape, scratch.uninit().assume_init()) };
            None
        }
        Err(error) => Some(error.at_path(run.path.render(&root.path))),
    }
}

/// Heap storage for one value of a shape, freed (never dropped) when the
/// guard goes: whoever initializes it moves or drops the value first.
struct Scratch {
    ptr: *mut u8,
    layout: Layout,
}

impl Scratch {
    /// Storage for a value of `shape` (dangling for zero-sized shapes).
    fn new(shape: &'static Shape) -> Result<Scratch, Error> {
        let layout = shape.layout.sized_layout().map_err(|_| Error::Internal {
            message: format!("scratch for the unsized shape `{shape}`"),
        })?;
        Scratch::with_layout(layout)
    }

    /// Storage for one element of `shape` at a time, for `count` of them:
    /// allocated only when `count` is nonzero. Callers take it before they
    /// start a collection, so that failing to get it leaks nothing.
    fn for_elements(shape: &'static Shape, count: usize) -> Result<Scratch, Error> {
        if count == 0 {
            Scratch::with_layout(Layout::new::<()>())
        } else {
            Scratch::new(shape)
        }
    }

    fn with_layout(layout: Layout) -> Result<Scratch, Error> {
        let ptr = if layout.size() == 0 {
            ptr::without_provenance_mut(layout.align())
        } else {
            // SAFETY: the layout has a nonzero size.
            let ptr = unsafe { std::alloc::alloc(layout) };
            if ptr.is_null() {
                return Err(Error::Allocation {
                    additional: layout.size(),
                });
            }
            ptr
        };
        Ok(Scratch { ptr, layout })
    }

    fn uninit(&self) -> PtrUninit {
        PtrUninit::new(self.ptr)
    }

    fn at(&self, offset: usize) -> PtrUninit {
        // SAFETY: callers pass offsets inside the layout.
        PtrUninit::new(unsafe { self.ptr.add(offset) })
    }
}

/// A deferred field's proxy value, waiting to be converted.
struct Deferred {
    /// The field's index in its wire fields.
    field: usize,
    /// The proxy value.
    value: Scratch,
    /// Where it was read from.
    start: usize,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: allocated in `with_layout` with this layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr, self.layout) };
        }
    }
}

/// A growable buffer of elements decoded one after another (for sets and
/// maps built from a slice); it owns only storage: the caller drops or
/// moves the elements.
struct ElementBuffer {
    storage: Scratch,
    /// Size of one element (a multiple of `align`).
    stride: usize,
    align: usize,
    /// Elements it has room for.
    room: usize,
}

impl ElementBuffer {
    fn new(stride: usize, align: usize, room: usize) -> Result<ElementBuffer, Error> {
        let layout = layout_of(stride, align, room)?;
        Ok(ElementBuffer {
            storage: Scratch::with_layout(layout)?,
            stride,
            align,
            room: if stride == 0 { usize::MAX } else { room },
        })
    }

    /// The slot of element `index`, growing the buffer (keeping elements
    /// `0..index`) when full.
    fn slot(&mut self, index: usize) -> Result<PtrUninit, Error> {
        if index >= self.room {
            let room = self.room.saturating_mul(2).max(index + 1);
            let grown = Scratch::with_layout(layout_of(self.stride, self.align, room)?)?;
            // SAFETY: both buffers hold at least `index` elements' bytes and
            // do not overlap; elements are moved bitwise, the old storage is
            // then only freed.
            unsafe { ptr::copy_nonoverlapping(self.storage.ptr, grown.ptr, index * self.stride) };
            self.storage = grown;
            self.room = room;
        }
        Ok(self.storage.at(index * self.stride))
    }
}

fn layout_of(stride: usize, align: usize, count: usize) -> Result<Layout, Error> {
    stride
        .checked_mul(count)
        .and_then(|size| Layout::from_size_align(size, align).ok())
        .ok_or(Error::Allocation {
            additional: usize::MAX,
        })
}

/// Stack a drop gets per level of nesting the decode reached (a value that
/// fails to decode midway is dropped by recursive drop glue: a 100,000-deep
/// partial chain must not overflow a small thread).
const DROP_ROOM_PER_LEVEL: usize = 2048;

/// Drops the value at `ptr` through facet. An `Option` is dropped through
/// its value's shape: facet's own `Option` drop runs inside an `extern "C"`
/// function, where a panicking `Drop` of the value would abort.
///
/// # Safety
/// `ptr` points at a live value of `shape`, dropped exactly once.
unsafe fn drop_through_facet(shape: &'static Shape, ptr: PtrMut) {
    match shape.def {
        Def::Option(def) => {
            // SAFETY: `ptr` is a live option of this vtable.
            let value = unsafe { (def.vtable.get_value)(ptr.as_const()) };
            if !value.is_null() {
                // SAFETY: the option's value is live; dropping it in place
                // leaves nothing else to drop (the storage is freed by the
                // caller).
                unsafe { drop_through_facet(def.t, PtrMut::new(value.cast_mut())) };
            }
        }
        // SAFETY: forwarded from the caller's contract (shapes without type
        // operations are only allowed for `Copy` values: nothing to drop).
        _ => unsafe {
            shape.call_drop_in_place(ptr);
        },
    }
}

/// Draws `count` elements of `stride` bytes that take no wire bytes from
/// the zero-size budget `left` (at least one unit per element); `false`
/// (nothing drawn) when the budget does not cover them.
pub(crate) fn charge_zero_sized(left: &mut usize, count: usize, stride: usize) -> bool {
    let units = count.saturating_mul(stride.max(1));
    if units > *left {
        return false;
    }
    *left -= units;
    true
}

/// Drops a value a decode built (on a failure path), with stack room for
/// `deepest` levels of recursive nesting; a panicking `Drop` is contained
/// (the decode's own error is what the caller gets).
///
/// # Safety
/// `ptr` points at a live value of `shape`, dropped exactly once.
pub(crate) unsafe fn drop_built(shape: &'static Shape, ptr: PtrMut, deepest: usize) {
    let room = stack::RED_ZONE.saturating_add(deepest.saturating_mul(DROP_ROOM_PER_LEVEL));
    stack::with_room(room, || {
        // SAFETY: forwarded from this function's contract.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            drop_through_facet(shape, ptr)
        }));
    });
}

/// facet's slice builder of one `Box<[T]>`, `Arc<[T]>` or `Rc<[T]>` being
/// decoded (its Rust-ABI functions run with panics caught).
pub(crate) struct SliceBuild {
    builder: &'static facet_core::SliceBuilderVTable,
    handle: PtrMut,
}

impl SliceBuild {
    /// A new, empty builder; a panic is reported at `node`.
    pub(crate) fn start(
        builder: &'static facet_core::SliceBuilderVTable,
        node: &crate::plan::Node,
    ) -> Result<SliceBuild, Error> {
        catch_unwind(builder.new_fn)
            .map(|handle| SliceBuild { builder, handle })
            .map_err(|panic| node.panicked(panic_message(&*panic)))
    }

    /// Moves the element at `item` into the slice.
    ///
    /// # Safety
    /// `item` holds an initialized element of the builder's type, which is
    /// moved out (its storage is then only freed).
    pub(crate) unsafe fn push(&self, node: &crate::plan::Node, item: PtrMut) -> Result<(), Error> {
        // SAFETY: the handle came from `new_fn`; forwarded from the caller.
        catch_unwind(AssertUnwindSafe(|| unsafe {
            (self.builder.push_fn)(self.handle, item)
        }))
        .map_err(|panic| node.panicked(panic_message(&*panic)))
    }

    /// Drops the builder and the elements pushed so far.
    ///
    /// # Safety
    /// Called once, instead of [`finish`](Self::finish).
    pub(crate) unsafe fn free(self) {
        // SAFETY: the handle came from `new_fn` and is freed once; a panic
        // is contained (the decode's own error is what the caller gets).
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            (self.builder.free_fn)(self.handle)
        }));
    }

    /// Makes the pointer and writes it into `dst`.
    ///
    /// # Safety
    /// Called once; `dst` is valid for writes of the pointer type of
    /// `node`, whose builder this is.
    pub(crate) unsafe fn finish(
        self,
        node: &crate::plan::Node,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        // SAFETY: the handle came from `new_fn`; `convert_fn` consumes it.
        let cell = catch_unwind(AssertUnwindSafe(|| unsafe {
            (self.builder.convert_fn)(self.handle)
        }))
        .map_err(|panic| node.panicked(panic_message(&*panic)))?;
        let layout = node
            .shape
            .layout
            .sized_layout()
            .map_err(|_| Error::Internal {
                message: "unsized slice pointer".to_string(),
            })?;
        // SAFETY: `convert_fn` returns a heap cell of the pointer type's
        // layout holding the finished pointer (facet's slice builders): it
        // is moved bitwise into `dst` and the cell freed without dropping.
        unsafe {
            ptr::copy_nonoverlapping(cell.raw_ptr(), dst.as_mut_byte_ptr(), layout.size());
            if layout.size() != 0 {
                std::alloc::dealloc(cell.raw_ptr().cast_mut(), layout);
            }
        }
        Ok(())
    }
}

/// Where a decode run by another engine stands when it hands one part to
/// the interpreter ([`decode_part`]), and after.
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
pub(crate) struct Progress {
    /// Input position.
    pub pos: usize,
    /// Recursive nodes that may still be entered.
    pub depth_left: usize,
    /// Zero-size budget left.
    pub zero_sized_left: usize,
    /// Deepest nesting reached.
    pub deepest: usize,
    /// The stack limit of the stack the part runs on.
    pub stack_limit: usize,
}

#[cfg_attr(not(feature = "jit"), allow(dead_code))]
/// Decodes one part (node `id`) of a decode another engine runs, from
/// `progress.pos` into `dst`, and updates `progress`.
///
/// # Safety
/// As [`decode`], for node `id`'s shape.
pub(crate) unsafe fn decode_part(
    plan: &Plan,
    input: &[u8],
    limits: DecodeLimits,
    progress: &mut Progress,
    id: NodeId,
    dst: PtrUninit,
) -> Result<(), Error> {
    let mut run = Run::on_stack(plan, input, limits, NoPath, progress.stack_limit);
    run.pos = progress.pos;
    run.depth_left = progress.depth_left;
    run.zero_sized_left = progress.zero_sized_left;
    run.deepest = progress.deepest;
    // SAFETY: forwarded from the caller's contract.
    let result = unsafe { run.node(id, dst) };
    progress.pos = run.pos;
    progress.depth_left = run.depth_left;
    progress.zero_sized_left = run.zero_sized_left;
    progress.deepest = run.deepest;
    result
}

/// How many elements to make room for before any has decoded.
pub(crate) fn cautious(count: usize, stride: usize) -> usize {
    match CAUTIOUS_BYTES.checked_div(stride) {
        Some(fit) => count.min(fit.max(1)),
        None => count,
    }
}

/// One decode: the input and position, the limits, the stack, the path.
struct Run<'p, 'de, P: PathTracking> {
    plan: &'p Plan,
    input: &'de [u8],
    pos: usize,
    limits: DecodeLimits,
    /// How many more recursive nodes may be entered.
    depth_left: usize,
    /// How much more of the zero-wire-size budget (bytes of memory, at
    /// least one per element) may be used.
    zero_sized_left: usize,
    /// The deepest nesting of recursive nodes reached (how deep a partly
    /// built value can be when it is dropped).
    deepest: usize,
    /// See [`stack`]: below this address the run moves to a new segment.
    stack_limit: usize,
    path: P,
}

impl<'p, 'de, P: PathTracking> Run<'p, 'de, P> {
    fn new(plan: &'p Plan, input: &'de [u8], limits: DecodeLimits, path: P) -> Self {
        Self::on_stack(plan, input, limits, path, stack::current_limit())
    }

    /// A run whose stack limit is `stack_limit`.
    fn on_stack(
        plan: &'p Plan,
        input: &'de [u8],
        limits: DecodeLimits,
        path: P,
        stack_limit: usize,
    ) -> Self {
        Run {
            plan,
            input,
            pos: 0,
            limits,
            depth_left: limits.max_depth,
            zero_sized_left: limits.max_zero_sized_elements,
            deepest: 0,
            stack_limit,
            path,
        }
    }

    /// Drops a value built by this decode (on a failure path), with stack
    /// room for as deep as it can be; a panicking `Drop` is contained (the
    /// decode's own error is what the caller gets).
    ///
    /// # Safety
    /// `ptr` points at a live value of `shape`, dropped exactly once.
    unsafe fn drop(&self, shape: &'static Shape, ptr: PtrMut) {
        // SAFETY: forwarded from this function's contract.
        unsafe { drop_built(shape, ptr, self.deepest) };
    }

    /// Draws `count` elements of `stride` bytes that take no wire bytes from
    /// the zero-size budget (at least one unit per element), or fails at
    /// `start` in node `id`.
    fn charge_zero_sized(
        &mut self,
        id: NodeId,
        start: usize,
        count: usize,
        stride: usize,
    ) -> Result<(), Error> {
        if charge_zero_sized(&mut self.zero_sized_left, count, stride) {
            Ok(())
        } else {
            Err(self.invalid_at(
                id,
                start,
                InvalidKind::TooManyZeroSized {
                    limit: self.limits.max_zero_sized_elements,
                },
            ))
        }
    }

    /// Fails with an unexpected end unless the input left can hold node
    /// `id`'s smallest encoding: checked before scratch storage for it is
    /// allocated, so a short input never allocates a large type's storage.
    fn room_for(&self, id: NodeId) -> Result<(), Error> {
        if self.plan.min_wire_size(id) > self.remaining() {
            Err(self.invalid(id, InvalidKind::UnexpectedEnd))
        } else {
            Ok(())
        }
    }

    // ------------------------------------------------------------ reading

    /// The error `kind` at byte `offset`, in node `id`.
    fn invalid_at(&self, id: NodeId, offset: usize, kind: InvalidKind) -> Error {
        self.plan.node(id).invalid_at(offset, kind)
    }

    fn invalid(&self, id: NodeId, kind: InvalidKind) -> Error {
        self.invalid_at(id, self.pos, kind)
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn byte(&mut self, id: NodeId) -> Result<u8, Error> {
        let byte = *self
            .input
            .get(self.pos)
            .ok_or_else(|| self.invalid(id, InvalidKind::UnexpectedEnd))?;
        self.pos += 1;
        Ok(byte)
    }

    fn read_error(&self, id: NodeId, error: ReadError) -> Error {
        self.invalid(
            id,
            match error {
                ReadError::UnexpectedEnd => InvalidKind::UnexpectedEnd,
                ReadError::BadVarint => InvalidKind::BadVarint,
            },
        )
    }

    fn varint(&mut self, id: NodeId, width: VarintWidth) -> Result<u64, Error> {
        match wire::read_varint_u64(&self.input[self.pos..], width) {
            Ok((value, len)) => {
                self.pos += len;
                Ok(value)
            }
            Err(error) => Err(self.read_error(id, error)),
        }
    }

    fn varint_u128(&mut self, id: NodeId) -> Result<u128, Error> {
        match wire::read_varint_u128(&self.input[self.pos..]) {
            Ok((value, len)) => {
                self.pos += len;
                Ok(value)
            }
            Err(error) => Err(self.read_error(id, error)),
        }
    }

    /// A `usize` varint (lengths): read as postcard does on this host.
    fn length(&mut self, id: NodeId) -> Result<usize, Error> {
        let start = self.pos;
        let width = if usize::BITS == 64 {
            VarintWidth::U64
        } else {
            VarintWidth::U32
        };
        let value = self.varint(id, width)?;
        usize::try_from(value).map_err(|_| self.invalid_at(id, start, InvalidKind::IntegerTooLarge))
    }

    /// The next `len` bytes.
    fn take(&mut self, id: NodeId, len: usize) -> Result<&'de [u8], Error> {
        if len > self.remaining() {
            return Err(self.invalid(id, InvalidKind::UnexpectedEnd));
        }
        let bytes = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// A length-prefixed byte string.
    fn bytes(&mut self, id: NodeId) -> Result<&'de [u8], Error> {
        let start = self.pos;
        let len = self.length(id)?;
        if len > self.remaining() {
            return Err(self.invalid_at(
                id,
                start,
                InvalidKind::LengthExceedsInput {
                    declared: len as u64,
                    remaining: self.remaining(),
                },
            ));
        }
        self.take(id, len)
    }

    /// A length-prefixed UTF-8 string.
    fn str(&mut self, id: NodeId) -> Result<&'de str, Error> {
        let start = self.pos;
        let bytes = self.bytes(id)?;
        core::str::from_utf8(bytes).map_err(|_| self.invalid_at(id, start, InvalidKind::BadUtf8))
    }

    /// A collection's declared element count, checked against the input
    /// left (elements of `min` wire bytes at least) or, for elements that
    /// may take no wire bytes, against the zero-size budget (`stride` bytes
    /// of memory each).
    fn count(&mut self, id: NodeId, min: usize, stride: usize) -> Result<usize, Error> {
        let start = self.pos;
        let count = self.length(id)?;
        if min == 0 {
            self.charge_zero_sized(id, start, count, stride)?;
        } else if count > self.remaining() / min {
            return Err(self.invalid_at(
                id,
                start,
                InvalidKind::LengthExceedsInput {
                    declared: count as u64,
                    remaining: self.remaining(),
                },
            ));
        }
        Ok(count)
    }

    // ------------------------------------------------------------ nodes

    /// Decodes a value of node `id` into `dst`, on a new stack segment if
    /// this one runs low, counting depth at recursive nodes.
    ///
    /// # Safety
    /// `dst` is valid for writes of the node's (sized) shape; on `Ok` it is
    /// initialized, on `Err` it is not and nothing leaked.
    unsafe fn node(&mut self, id: NodeId, dst: PtrUninit) -> Result<(), Error> {
        if stack::stack_pointer() < self.stack_limit {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.node_on_new_segment(id, dst) };
        }
        if !self.plan.is_recursive(id) {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.build(id, dst) };
        }
        if self.depth_left == 0 {
            let max_depth = self.limits.max_depth;
            return Err(self.invalid(id, InvalidKind::TooDeep { max_depth }));
        }
        self.depth_left -= 1;
        self.deepest = self.deepest.max(self.limits.max_depth - self.depth_left);
        // SAFETY: forwarded from this function's contract.
        let result = unsafe { self.build(id, dst) };
        self.depth_left += 1;
        result
    }

    /// # Safety
    /// As [`node`](Self::node).
    #[cold]
    #[inline(never)]
    unsafe fn node_on_new_segment(&mut self, id: NodeId, dst: PtrUninit) -> Result<(), Error> {
        stack::on_new_segment(|limit| {
            let outer = core::mem::replace(&mut self.stack_limit, limit);
            // SAFETY: forwarded from this function's contract.
            let result = unsafe { self.node(id, dst) };
            self.stack_limit = outer;
            result
        })
    }

    /// [`node`](Self::node) of a part of the current value, one step away.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    unsafe fn part(&mut self, step: Step, id: NodeId, dst: PtrUninit) -> Result<(), Error> {
        self.path.enter(step);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.node(id, dst) }?;
        self.path.leave();
        Ok(())
    }

    /// Builds node `id`'s value as its plan says.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    unsafe fn build(&mut self, id: NodeId, dst: PtrUninit) -> Result<(), Error> {
        let plan = self.plan;
        if let Some(size) = plan.plain_size(id)
            && size <= self.remaining()
        {
            let bytes = self.take(id, size)?;
            // SAFETY: `dst` is valid for the node's `size` bytes (a plain
            // record), whose every byte pattern is a value: the wire bytes
            // are the value. (Short input takes the field-by-field path
            // below, which names the field where it ends.)
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_mut_byte_ptr(), size) };
            return Ok(());
        }
        let node = plan.node(id);
        let Some(build) = &node.build else {
            return Err(Error::Internal {
                message: format!("`{}` was lowered for encoding only", node.path),
            });
        };
        // SAFETY: (every arm) `dst` is valid for the node's shape and the
        // build was decided from that shape by the lowering.
        unsafe {
            match (build, &node.op) {
                (Build::InPlace, op) => self.in_place(id, op, dst),
                (Build::Fields(skipped), Op::Fields(fields)) => {
                    self.fields(id, fields, skipped, dst)
                }
                (Build::Enum(skipped), Op::Enum(op)) => self.enum_(id, op, skipped, dst),
                (Build::Uninhabited, _) => Err(self.invalid(id, InvalidKind::Uninhabited)),
                (Build::String, _) => {
                    let text = self.str(id)?;
                    dst.put(String::from(text));
                    Ok(())
                }
                (Build::BorrowedStr, _) => {
                    let text: &'de str = self.str(id)?;
                    dst.put(text);
                    Ok(())
                }
                (Build::Pointer(how), Op::Pointer(op)) => self.pointer(id, op, *how, dst),
                (Build::List(how), Op::List(op)) => self.list(id, op, how, dst),
                (Build::Set(how), Op::Set(op)) => self.set(id, op, *how, dst),
                (Build::Map(how), Op::Map(op)) => self.map(id, op, *how, dst),
                (Build::Proxy { proxy, convert_in }, _) => {
                    self.via_proxy(id, *proxy, *convert_in, dst)
                }
                _ => Err(Error::Internal {
                    message: format!("`{}` has no decodable build", node.path),
                }),
            }
        }
    }

    /// Values whose op writes them directly.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    unsafe fn in_place(&mut self, id: NodeId, op: &Op, dst: PtrUninit) -> Result<(), Error> {
        let at = dst.as_mut_byte_ptr();
        // SAFETY: (every arm) `dst` is valid for writes of the node's shape,
        // which the op was chosen from; writes are unaligned so no alignment
        // is assumed.
        unsafe {
            match op {
                Op::Nothing => {}
                Op::Bool => {
                    let start = self.pos;
                    match self.byte(id)? {
                        byte @ (0 | 1) => *at = byte,
                        byte => return Err(self.invalid_at(id, start, InvalidKind::BadBool(byte))),
                    }
                }
                Op::Byte => *at = self.byte(id)?,
                Op::Int(kind) => self.int(id, *kind, at)?,
                Op::F32 => {
                    let bytes = self.take(id, 4)?;
                    ptr::copy_nonoverlapping(bytes.as_ptr(), at, 4);
                }
                Op::F64 => {
                    let bytes = self.take(id, 8)?;
                    ptr::copy_nonoverlapping(bytes.as_ptr(), at, 8);
                }
                Op::Char => {
                    let start = self.pos;
                    let len = self.length(id)?;
                    if len > 4 {
                        return Err(self.invalid_at(id, start, InvalidKind::BadChar));
                    }
                    let bytes = self.take(id, len)?;
                    let c = wire::char_from_utf8(bytes)
                        .ok_or_else(|| self.invalid_at(id, start, InvalidKind::BadChar))?;
                    ptr::write_unaligned(at.cast::<char>(), c);
                }
                Op::Array(op) => self.run(&op.elements, at, op.len)?,
                Op::Option(op) => self.option(id, op, dst)?,
                Op::Result(op) => self.result(id, op, dst)?,
                _ => {
                    return Err(Error::Internal {
                        message: format!("`{}` is not built in place", self.plan.node(id).path),
                    });
                }
            }
        }
        Ok(())
    }

    /// # Safety
    /// `at` is valid for writes of an integer of `kind`.
    unsafe fn int(&mut self, id: NodeId, kind: IntKind, at: *mut u8) -> Result<(), Error> {
        // SAFETY: forwarded from the caller's contract (unaligned writes).
        unsafe {
            match kind {
                IntKind::U16 => {
                    let v = self.varint(id, VarintWidth::U16)?;
                    ptr::write_unaligned(at.cast::<u16>(), v as u16);
                }
                IntKind::U32 => {
                    let v = self.varint(id, VarintWidth::U32)?;
                    ptr::write_unaligned(at.cast::<u32>(), v as u32);
                }
                IntKind::U64 => {
                    let v = self.varint(id, VarintWidth::U64)?;
                    ptr::write_unaligned(at.cast::<u64>(), v);
                }
                IntKind::U128 => {
                    let v = self.varint_u128(id)?;
                    ptr::write_unaligned(at.cast::<u128>(), v);
                }
                IntKind::I16 => {
                    let v = self.varint(id, VarintWidth::U16)?;
                    ptr::write_unaligned(at.cast::<i16>(), wire::unzigzag_i64(v) as i16);
                }
                IntKind::I32 => {
                    let v = self.varint(id, VarintWidth::U32)?;
                    ptr::write_unaligned(at.cast::<i32>(), wire::unzigzag_i64(v) as i32);
                }
                IntKind::I64 => {
                    let v = self.varint(id, VarintWidth::U64)?;
                    ptr::write_unaligned(at.cast::<i64>(), wire::unzigzag_i64(v));
                }
                IntKind::I128 => {
                    let v = self.varint_u128(id)?;
                    ptr::write_unaligned(at.cast::<i128>(), wire::unzigzag_i128(v));
                }
            }
        }
        Ok(())
    }

    /// Decodes `len` elements into consecutive slots from `at`; on failure
    /// drops the ones already decoded.
    ///
    /// # Safety
    /// `at` is valid for writes of `len` elements at `elements.stride`.
    unsafe fn run(&mut self, elements: &Elements, at: *mut u8, len: usize) -> Result<(), Error> {
        let element = self.plan.node(elements.node);
        if elements.memory_is_wire {
            // Bytes, bools, little-endian floats, and zero-sized elements
            // that take no bytes: the wire bytes are the memory.
            let bytes = self.take(elements.node, len * elements.stride)?;
            if matches!(element.op, Op::Bool)
                && let Some(bad) = bytes.iter().position(|&b| b > 1)
            {
                let offset = self.pos - bytes.len() + bad;
                return Err(self.invalid_at(
                    elements.node,
                    offset,
                    InvalidKind::BadBool(bytes[bad]),
                ));
            }
            // SAFETY: the destination has room for the run's bytes.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()) };
            return Ok(());
        }
        if self.plan.min_wire_size(elements.node) == 0 {
            // Elements that may take no wire bytes: an array of them costs
            // time without input, like a long `Vec<()>`.
            self.charge_zero_sized(elements.node, self.pos, len, elements.stride)?;
        }
        for index in 0..len {
            // SAFETY: `index < len`: the slot is inside the run.
            let slot = PtrUninit::new(unsafe { at.add(index * elements.stride) });
            // SAFETY: the slot is valid for one element.
            if let Err(error) = unsafe { self.part(Step::Index(index), elements.node, slot) } {
                for done in 0..index {
                    // SAFETY: elements `0..index` were initialized and are
                    // dropped once.
                    unsafe {
                        let slot = PtrMut::new(at.add(done * elements.stride));
                        self.drop(element.shape, slot);
                    }
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// # Safety
    /// As [`node`](Self::node), for an option of `op`'s vtable.
    unsafe fn option(&mut self, id: NodeId, op: &OptionOp, dst: PtrUninit) -> Result<(), Error> {
        let start = self.pos;
        match self.byte(id)? {
            0 => {
                // SAFETY: the vtable belongs to the option at `dst`.
                unsafe { (op.vtable.init_none)(dst) };
                Ok(())
            }
            1 => {
                self.room_for(op.some)?;
                let scratch = Scratch::new(self.plan.node(op.some).shape)?;
                // SAFETY: the scratch is valid for the `Some` value; on
                // success `init_some` moves it out (the storage is then only
                // freed).
                unsafe {
                    self.part(Step::Some, op.some, scratch.uninit())?;
                    (op.vtable.init_some)(dst, scratch.uninit().assume_init());
                }
                Ok(())
            }
            tag => Err(self.invalid_at(id, start, InvalidKind::BadOptionTag(tag))),
        }
    }

    /// # Safety
    /// As [`node`](Self::node), for a result of `op`'s vtable.
    unsafe fn result(&mut self, id: NodeId, op: &ResultOp, dst: PtrUninit) -> Result<(), Error> {
        let start = self.pos;
        let index = self.varint(id, VarintWidth::U32)?;
        let (step, value_node) = match index {
            0 => (Step::Ok, op.ok),
            1 => (Step::Err, op.err),
            _ => {
                return Err(self.invalid_at(
                    id,
                    start,
                    InvalidKind::BadVariantIndex { index, variants: 2 },
                ));
            }
        };
        self.room_for(value_node)?;
        let scratch = Scratch::new(self.plan.node(value_node).shape)?;
        // SAFETY: the scratch is valid for the variant's value; on success
        // `init_ok`/`init_err` moves it out (the storage is then only freed).
        unsafe {
            self.part(step, value_node, scratch.uninit())?;
            let value = scratch.uninit().assume_init();
            if index == 0 {
                (op.vtable.init_ok)(dst, value);
            } else {
                (op.vtable.init_err)(dst, value);
            }
        }
        Ok(())
    }

    /// The wire fields of a struct or variant, then its skipped fields; on
    /// failure drops what was built.
    ///
    /// A proxied field whose type facet cannot drop (the plan marks it
    /// [`deferred`](crate::plan::FieldProxy::deferred); there is at most
    /// one) is held as its proxy value until everything else is built and
    /// converted last: no failure ever has to drop it.
    ///
    /// # Safety
    /// `dst` is valid for writes of the struct (or enum) the fields belong to.
    unsafe fn fields(
        &mut self,
        owner: NodeId,
        fields: &[FieldStep],
        skipped: &[SkippedField],
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let mut deferred: Option<Deferred> = None;
        for (done, field) in fields.iter().enumerate() {
            // SAFETY: the field lies at its offset inside the destination.
            let slot = unsafe { dst.field_uninit(field.offset) };
            let decoded = match field.proxy {
                Some(proxy) => {
                    self.path.enter(Step::Field(field.name));
                    let start = self.pos;
                    let result = if proxy.deferred {
                        self.proxy_value(field.node).map(|value| {
                            deferred = Some(Deferred {
                                field: done,
                                value,
                                start,
                            });
                        })
                    } else {
                        // SAFETY: the slot is valid for the field's type.
                        unsafe { self.via_proxy(field.node, field.node, proxy.convert_in, slot) }
                    };
                    if result.is_ok() {
                        self.path.leave();
                    }
                    result
                }
                // SAFETY: the slot is valid for the field's type.
                None => unsafe { self.part(Step::Field(field.name), field.node, slot) },
            };
            if let Err(error) = decoded {
                // SAFETY: fields `..done` were initialized (but a deferred
                // one, whose proxy value drops with it); dropped once.
                unsafe { self.drop_fields(&fields[..done], &[], dst, deferred.as_ref()) };
                return Err(error);
            }
        }
        for (done, field) in skipped.iter().enumerate() {
            let filled = match field.default {
                // The plan lists these last: all of them come out of one
                // default value of the container.
                // SAFETY: `dst` is valid for the container's fields.
                DefaultFrom::Container(container) => unsafe {
                    self.fill_from_container(owner, container, &skipped[done..], dst)
                },
                // SAFETY: the field lies at its offset inside the
                // destination, valid for the field's type.
                _ => unsafe { self.fill(owner, field, dst.field_uninit(field.offset)) },
            };
            if let Err(error) = filled {
                // SAFETY: all wire fields (but a deferred one) and skipped
                // `..done` were initialized; dropped once.
                unsafe { self.drop_fields(fields, &skipped[..done], dst, deferred.as_ref()) };
                return Err(error);
            }
            if let DefaultFrom::Container(_) = field.default {
                break;
            }
        }
        if let Some(held) = deferred {
            let field = &fields[held.field];
            let Some(proxy) = field.proxy else {
                return Err(Error::Internal {
                    message: "deferred field without a proxy".to_string(),
                });
            };
            self.path.enter(Step::Field(field.name));
            // SAFETY: the field lies at its offset inside the destination;
            // the held value is a proxy value, consumed by the conversion.
            let converted = unsafe {
                self.convert(
                    field.node,
                    held.start,
                    held.value,
                    proxy.convert_in,
                    dst.field_uninit(field.offset),
                )
            };
            match converted {
                Ok(()) => self.path.leave(),
                Err(error) => {
                    let others = fields.iter().enumerate().filter(|(i, _)| *i != held.field);
                    for (_, other) in others {
                        // SAFETY: every other wire field was initialized;
                        // dropped once.
                        unsafe { self.drop_fields(std::slice::from_ref(other), &[], dst, None) };
                    }
                    // SAFETY: every skipped field was filled; dropped once.
                    unsafe { self.drop_fields(&[], skipped, dst, None) };
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// # Safety
    /// The listed fields of the value at `dst` are initialized (but
    /// `deferred`'s, which is not built yet and is dropped as the proxy
    /// value it holds); they are dropped.
    unsafe fn drop_fields(
        &self,
        fields: &[FieldStep],
        skipped: &[SkippedField],
        dst: PtrUninit,
        deferred: Option<&Deferred>,
    ) {
        for (index, field) in fields.iter().enumerate() {
            // A proxied field holds the proxy's target, not the proxy type.
            let shape = match field.proxy {
                Some(_) if deferred.is_some_and(|held| held.field == index) => {
                    let held = deferred.map(|held| &held.value);
                    if let Some(value) = held {
                        // SAFETY: the held proxy value is initialized; it is
                        // dropped once (its storage is freed by its owner).
                        unsafe {
                            self.drop(
                                self.plan.node(field.node).shape,
                                value.uninit().assume_init(),
                            )
                        };
                    }
                    continue;
                }
                Some(proxy) => proxy.target,
                None => self.plan.node(field.node).shape,
            };
            // SAFETY: forwarded from the caller's contract.
            unsafe { self.drop(shape, dst.field_uninit(field.offset).assume_init()) };
        }
        for field in skipped {
            // SAFETY: forwarded from the caller's contract.
            unsafe { self.drop(field.shape, dst.field_uninit(field.offset).assume_init()) };
        }
    }

    /// Fills a skipped field.
    ///
    /// # Safety
    /// `slot` is valid for writes of the field's shape.
    unsafe fn fill(
        &mut self,
        owner: NodeId,
        field: &SkippedField,
        slot: PtrUninit,
    ) -> Result<(), Error> {
        let path = format!("{}.{}", self.plan.node(owner).path, field.name);
        let no_default = || Error::Invalid {
            path: path.clone(),
            type_name: field.shape.to_string(),
            offset: self.pos,
            kind: InvalidKind::Conversion(format!("skipped field `{}` has no default", field.name)),
        };
        let panicked = |panic: Box<dyn std::any::Any + Send>| Error::Panicked {
            path: path.clone(),
            type_name: field.shape.to_string(),
            message: panic_message(&*panic),
        };
        match field.default {
            // SAFETY: the default function writes a value of the field's
            // type into the slot.
            DefaultFrom::Custom(default) => catch_unwind(AssertUnwindSafe(|| unsafe {
                default(slot);
            }))
            .map_err(panicked),
            DefaultFrom::FieldType => {
                // SAFETY: the slot is valid for the field's shape.
                match catch_unwind(AssertUnwindSafe(|| unsafe {
                    field.shape.call_default_in_place(slot)
                })) {
                    Ok(Some(())) => Ok(()),
                    Ok(None) => Err(no_default()),
                    Err(panic) => Err(panicked(panic)),
                }
            }
            DefaultFrom::Container(_) => unreachable!("filled by fill_from_container"),
        }
    }

    /// Fills `taken` (the struct's skipped fields whose value comes from
    /// its default) from one default value of `container`: they are moved
    /// out of it and its other fields are dropped.
    ///
    /// # Safety
    /// `dst` is valid for writes of a `container`; `taken` are fields of it.
    unsafe fn fill_from_container(
        &mut self,
        owner: NodeId,
        container: &'static facet_core::Shape,
        taken: &[SkippedField],
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let path = self.plan.node(owner).path.clone();
        let scratch = Scratch::new(container)?;
        // SAFETY: the scratch is valid for the container.
        match catch_unwind(AssertUnwindSafe(|| unsafe {
            container.call_default_in_place(scratch.uninit())
        })) {
            Ok(Some(())) => {}
            Ok(None) => {
                return Err(Error::Invalid {
                    path,
                    type_name: container.to_string(),
                    offset: self.pos,
                    kind: InvalidKind::Conversion("the container has no default".to_string()),
                });
            }
            Err(panic) => {
                return Err(Error::Panicked {
                    path,
                    type_name: container.to_string(),
                    message: panic_message(&*panic),
                });
            }
        }
        // SAFETY: the default container is initialized: each taken field is
        // moved (bitwise) into its slot, every other field is dropped in
        // place, and the scratch storage is then only freed.
        unsafe {
            for field in taken {
                let size = field.shape.layout.sized_layout().map_or(0, |l| l.size());
                ptr::copy_nonoverlapping(
                    scratch.at(field.offset).as_mut_byte_ptr(),
                    dst.field_uninit(field.offset).as_mut_byte_ptr(),
                    size,
                );
            }
            if let facet_core::Type::User(facet_core::UserType::Struct(st)) = container.ty {
                for other in st.fields.iter() {
                    if !taken
                        .iter()
                        .any(|field| field.offset == other.offset && field.name == other.name)
                    {
                        self.drop(other.shape(), scratch.at(other.offset).assume_init());
                    }
                }
            }
        }
        Ok(())
    }

    /// Decodes node `proxy` (the proxy type) into scratch and converts it
    /// into `dst` with `convert_in`, which consumes the proxy whatever it
    /// returns.
    ///
    /// # Safety
    /// `dst` is valid for writes of the proxy's target type.
    unsafe fn via_proxy(
        &mut self,
        id: NodeId,
        proxy: NodeId,
        convert_in: facet_core::ProxyConvertInFn,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let start = self.pos;
        let value = self.proxy_value(proxy)?;
        // SAFETY: the scratch holds a proxy value; `dst` is valid for the
        // target.
        unsafe { self.convert(id, start, value, convert_in, dst) }
    }

    /// Decodes node `proxy` (a proxy type) into fresh scratch, which then
    /// holds an initialized proxy value.
    fn proxy_value(&mut self, proxy: NodeId) -> Result<Scratch, Error> {
        self.room_for(proxy)?;
        let scratch = Scratch::new(self.plan.node(proxy).shape)?;
        // SAFETY: the scratch is valid for the proxy type.
        unsafe { self.node(proxy, scratch.uninit()) }?;
        Ok(scratch)
    }

    /// Converts the proxy value held in `value` (read from byte `start`)
    /// into `dst` with `convert_in`, which consumes it whatever it returns.
    ///
    /// # Safety
    /// `value` holds an initialized proxy value of the type `convert_in`
    /// takes; `dst` is valid for writes of its target type.
    unsafe fn convert(
        &self,
        id: NodeId,
        start: usize,
        value: Scratch,
        convert_in: facet_core::ProxyConvertInFn,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let converted = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the scratch holds a proxy value, which `convert_in`
            // consumes; `dst` is valid for the target.
            unsafe { convert_in(PtrConst::new(value.ptr), dst) }
        }));
        match converted {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(message)) => Err(self.invalid_at(id, start, InvalidKind::Conversion(message))),
            Err(panic) => Err(self.plan.node(id).panicked(panic_message(&*panic))),
        }
    }

    /// # Safety
    /// As [`node`](Self::node), for an enum of `op`.
    unsafe fn enum_(
        &mut self,
        id: NodeId,
        op: &EnumOp,
        skipped: &[Vec<SkippedField>],
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let start = self.pos;
        let index = self.varint(id, VarintWidth::U32)?;
        let (Some(variant), Some(skipped)) =
            (op.variants.get(index as usize), skipped.get(index as usize))
        else {
            return Err(self.invalid_at(
                id,
                start,
                InvalidKind::BadVariantIndex {
                    index,
                    variants: op.variants.len(),
                },
            ));
        };
        let at = dst.as_mut_byte_ptr();
        let tag = variant.discriminant;
        // SAFETY: the tag sits at offset 0 with the repr's width (facet's
        // derive requires an integer repr); the value is the variant's
        // discriminant, truncated to that width.
        unsafe {
            match op.discriminant.size() {
                1 => ptr::write_unaligned(at, tag as u8),
                2 => ptr::write_unaligned(at.cast::<u16>(), tag as u16),
                4 => ptr::write_unaligned(at.cast::<u32>(), tag as u32),
                _ => ptr::write_unaligned(at.cast::<u64>(), tag as u64),
            }
        }
        debug_assert!(matches!(
            op.discriminant,
            DiscriminantRead::U8
                | DiscriminantRead::U16
                | DiscriminantRead::U32
                | DiscriminantRead::U64
                | DiscriminantRead::I8
                | DiscriminantRead::I16
                | DiscriminantRead::I32
                | DiscriminantRead::I64
        ));
        self.path.enter(Step::Variant(variant.name));
        // SAFETY: the variant's field offsets lie inside the enum.
        unsafe { self.fields(id, &variant.fields, skipped, dst) }?;
        self.path.leave();
        Ok(())
    }

    /// # Safety
    /// As [`node`](Self::node), for a pointer of `op`.
    unsafe fn pointer(
        &mut self,
        id: NodeId,
        op: &PointerOp,
        how: PointerBuild,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let pointee = self.plan.node(op.pointee);
        // SAFETY: (every arm) `dst` is valid for writes of the pointer type,
        // which the build was chosen for (by type id where a std type is
        // written directly).
        unsafe {
            match how {
                PointerBuild::BoxInPlace => {
                    self.room_for(op.pointee)?;
                    let storage = Scratch::new(pointee.shape)?;
                    self.part(Step::Pointee, op.pointee, storage.uninit())?;
                    // The allocation becomes the box: a `Box` of a sized type
                    // is one pointer to it.
                    let address = storage.ptr;
                    core::mem::forget(storage);
                    dst.put(address);
                }
                PointerBuild::NewInto(new_into) => {
                    self.room_for(op.pointee)?;
                    let scratch = Scratch::new(pointee.shape)?;
                    self.part(Step::Pointee, op.pointee, scratch.uninit())?;
                    new_into(dst, scratch.uninit().assume_init());
                }
                PointerBuild::Str(kind) => {
                    let text = self.str(id)?;
                    match kind {
                        StrPointer::Box => dst.put(Box::<str>::from(text)),
                        StrPointer::Arc => dst.put(Arc::<str>::from(text)),
                        StrPointer::Rc => dst.put(Rc::<str>::from(text)),
                    };
                }
                PointerBuild::CowStr => {
                    let text = self.str(id)?;
                    dst.put(Cow::<'static, str>::Owned(text.to_owned()));
                }
                PointerBuild::CowBytes => {
                    let bytes = self.bytes(id)?;
                    dst.put(Cow::<'static, [u8]>::Owned(bytes.to_vec()));
                }
                PointerBuild::BorrowedBytes => {
                    let bytes: &'de [u8] = self.bytes(id)?;
                    dst.put(bytes);
                }
                PointerBuild::Slice(builder) => {
                    let Op::Slice(slice) = &pointee.op else {
                        return Err(Error::Internal {
                            message: format!("`{}` points at no slice", pointee.path),
                        });
                    };
                    self.boxed_slice(id, &slice.elements, builder, dst)?;
                }
            }
        }
        Ok(())
    }

    /// `Box<[T]>`, `Arc<[T]>`, `Rc<[T]>` through facet's slice builder.
    ///
    /// # Safety
    /// `dst` is valid for writes of the slice pointer whose builder this is.
    unsafe fn boxed_slice(
        &mut self,
        id: NodeId,
        elements: &Elements,
        builder: &'static facet_core::SliceBuilderVTable,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let count = self.count(id, self.plan.min_wire_size(elements.node), elements.stride)?;
        let node = self.plan.node(id);
        let scratch = Scratch::for_elements(self.plan.node(elements.node).shape, count)?;
        let slice = SliceBuild::start(builder, node)?;
        for index in 0..count {
            // SAFETY: the scratch is valid for one element; on success the
            // builder's `push` moves it out.
            let pushed = unsafe { self.part(Step::Index(index), elements.node, scratch.uninit()) }
                .and_then(|()| {
                    // SAFETY: the scratch holds an element.
                    unsafe { slice.push(node, scratch.uninit().assume_init()) }
                });
            if let Err(error) = pushed {
                // SAFETY: the builder is live and freed once.
                unsafe { slice.free() };
                return Err(error);
            }
        }
        // SAFETY: `dst` is valid for the pointer type the builder makes.
        unsafe { slice.finish(node, dst) }
    }

    /// # Safety
    /// As [`node`](Self::node), for a list of `op`.
    unsafe fn list(
        &mut self,
        id: NodeId,
        op: &ListOp,
        how: &ListBuild,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let elements = &op.elements;
        let count = self.count(id, self.plan.min_wire_size(elements.node), elements.stride)?;
        let stride = elements.stride;
        // Elements whose memory is their wire form take exactly as many
        // bytes of memory as of the input left: their capacity is the count.
        let mut room = if elements.memory_is_wire {
            count
        } else {
            cautious(count, stride)
        };
        // SAFETY: `dst` is valid for the list; the capacity is bounded by the
        // input left (or the zero-size budget), so it cannot overflow.
        let list = unsafe { (how.init)(dst, room) };
        if elements.memory_is_wire {
            // The wire bytes are the elements' memory: one copy.
            // SAFETY: the list has room for all `count` elements.
            let copied = unsafe { self.run(elements, (how.as_mut_ptr)(list), count) };
            return match copied {
                Ok(()) => {
                    // SAFETY: all `count` elements are initialized.
                    unsafe { (how.set_len)(list, count) };
                    Ok(())
                }
                Err(error) => {
                    // SAFETY: an empty list, dropped once.
                    unsafe { self.drop(self.plan.node(id).shape, list) };
                    Err(error)
                }
            };
        }
        // SAFETY: the list's element storage (re-read after growing).
        let mut base = unsafe { (how.as_mut_ptr)(list) };
        for len in 0..count {
            if len == room {
                let additional = (count - len).min(len.max(4));
                // SAFETY: `len` elements are initialized; the list is told
                // so before it grows (and may move them).
                unsafe {
                    (how.set_len)(list, len);
                    (how.reserve)(list, additional);
                    base = (how.as_mut_ptr)(list);
                }
                room = len + additional;
            }
            // SAFETY: `len < room`: the slot is inside the list's storage.
            let slot = PtrUninit::new(unsafe { base.add(len * stride) });
            // SAFETY: the slot is valid for one element.
            if let Err(error) = unsafe { self.part(Step::Index(len), elements.node, slot) } {
                // SAFETY: `len` elements are initialized: the list owns them
                // and is dropped once, with them.
                unsafe {
                    (how.set_len)(list, len);
                    self.drop(self.plan.node(id).shape, list);
                }
                return Err(error);
            }
        }
        // SAFETY: all `count` elements are initialized.
        unsafe { (how.set_len)(list, count) };
        Ok(())
    }

    /// # Safety
    /// As [`node`](Self::node), for a set of `op`.
    unsafe fn set(
        &mut self,
        id: NodeId,
        op: &SetOp,
        how: SetBuild,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let element = self.plan.node(op.element).shape;
        let layout = element.layout.sized_layout().map_err(|_| Error::Internal {
            message: "unsized set element".to_string(),
        })?;
        let count = self.count(id, self.plan.min_wire_size(op.element), layout.size())?;
        match how {
            SetBuild::Insert { init, insert } => {
                let scratch = Scratch::for_elements(element, count)?;
                // SAFETY: `dst` is valid for the set; the capacity is bounded.
                let set = unsafe { init(dst, cautious(count, layout.size())) };
                for index in 0..count {
                    // SAFETY: the scratch is valid for one element; `insert`
                    // moves it in (or drops a duplicate).
                    let decoded =
                        unsafe { self.part(Step::Index(index), op.element, scratch.uninit()) };
                    match decoded {
                        // SAFETY: as above.
                        Ok(()) => unsafe {
                            insert(set, scratch.uninit().assume_init());
                        },
                        Err(error) => {
                            // SAFETY: the set is initialized; dropped once.
                            unsafe { self.drop(self.plan.node(id).shape, set) };
                            return Err(error);
                        }
                    }
                }
                Ok(())
            }
            SetBuild::FromSlice(from_slice) => {
                let stride = layout.size();
                let mut buffer =
                    ElementBuffer::new(stride, layout.align(), cautious(count, stride))?;
                for index in 0..count {
                    let slot = buffer.slot(index)?;
                    // SAFETY: the slot is valid for one element.
                    if let Err(error) = unsafe { self.part(Step::Index(index), op.element, slot) } {
                        for done in 0..index {
                            // SAFETY: elements `..index` are initialized;
                            // dropped once.
                            unsafe {
                                self.drop(element, buffer.storage.at(done * stride).assume_init())
                            };
                        }
                        return Err(error);
                    }
                }
                // SAFETY: `count` initialized elements at `stride`, moved into
                // the set; the buffer's storage is then only freed.
                unsafe { from_slice(dst, buffer.storage.ptr, count) };
                Ok(())
            }
        }
    }

    /// # Safety
    /// As [`node`](Self::node), for a map of `op`.
    unsafe fn map(
        &mut self,
        id: NodeId,
        op: &MapOp,
        how: MapBuild,
        dst: PtrUninit,
    ) -> Result<(), Error> {
        let plan = self.plan;
        let (key_shape, value_shape) = (plan.node(op.key).shape, plan.node(op.value).shape);
        let pair_size = key_shape.layout.sized_layout().map_or(0, |l| l.size())
            + value_shape.layout.sized_layout().map_or(0, |l| l.size());
        let min = plan
            .min_wire_size(op.key)
            .saturating_add(plan.min_wire_size(op.value));
        let count = self.count(id, min, pair_size)?;
        match how {
            MapBuild::Insert { init, insert } => {
                let key = Scratch::for_elements(key_shape, count)?;
                let value = Scratch::for_elements(value_shape, count)?;
                // SAFETY: `dst` is valid for the map; the capacity is bounded.
                let map = unsafe { init(dst, cautious(count, pair_size)) };
                for index in 0..count {
                    // SAFETY: the scratches are valid for a key and a value;
                    // `insert` moves both in.
                    let decoded = unsafe {
                        self.part(Step::Key(index), op.key, key.uninit())
                            .and_then(|()| {
                                self.part(Step::Value(index), op.value, value.uninit())
                                    .inspect_err(|_| {
                                        self.drop(key_shape, key.uninit().assume_init())
                                    })
                            })
                    };
                    match decoded {
                        // SAFETY: as above.
                        Ok(()) => unsafe {
                            insert(
                                map,
                                key.uninit().assume_init(),
                                value.uninit().assume_init(),
                            )
                        },
                        Err(error) => {
                            // SAFETY: the map is initialized; dropped once.
                            unsafe { self.drop(plan.node(id).shape, map) };
                            return Err(error);
                        }
                    }
                }
                Ok(())
            }
            MapBuild::FromPairs {
                from_pairs,
                pair_stride,
                key_offset,
                value_offset,
                pair_align,
            } => {
                let mut buffer =
                    ElementBuffer::new(pair_stride, pair_align, cautious(count, pair_stride))?;
                for index in 0..count {
                    let pair = buffer.slot(index)?.as_mut_byte_ptr();
                    // SAFETY: the pair slot is valid for a key and a value at
                    // their offsets.
                    let decoded = unsafe {
                        let key = PtrUninit::new(pair.add(key_offset));
                        let value = PtrUninit::new(pair.add(value_offset));
                        self.part(Step::Key(index), op.key, key).and_then(|()| {
                            self.part(Step::Value(index), op.value, value)
                                .inspect_err(|_| self.drop(key_shape, key.assume_init()))
                        })
                    };
                    if let Err(error) = decoded {
                        for done in 0..index {
                            // SAFETY: pairs `..index` are initialized; their
                            // keys and values are dropped once.
                            unsafe {
                                let pair = buffer.storage.at(done * pair_stride).as_mut_byte_ptr();
                                self.drop(key_shape, PtrMut::new(pair.add(key_offset)));
                                self.drop(value_shape, PtrMut::new(pair.add(value_offset)));
                            }
                        }
                        return Err(error);
                    }
                }
                // SAFETY: `count` initialized pairs, moved into the map; the
                // buffer's storage is then only freed.
                unsafe { from_pairs(dst, buffer.storage.ptr, count) };
                Ok(())
            }
        }
    }
}
