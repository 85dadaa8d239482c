//! The plan interpreter: runs a [`Plan`] against a value, through facet's
//! vtables, appending postcard bytes to a `Vec<u8>`.
//!
//! It is the engine on hosts without a code generator and the reference
//! semantics every other engine must reproduce byte for byte. It does no
//! shape inspection of its own: every decision was made by the lowering,
//! and where run-time calibration knows a layout ([`crate::calibration`]:
//! option presence, pointees, `Vec` words) it reads memory as generated code
//! does instead of calling facet's vtable.
//!
//! It walks the plan's flat form, [`super::program`]: each hop reads one
//! `Code` (a scalar, a struct's fields, a calibrated option or pointer, or
//! both at once for `Option<Box<T>>` and the like, an enum's variant
//! table) and falls back to the node's op in the plan for every other
//! kind.
//!
//! The output is a [`Sink`]: a vector, or a byte [`Count`] for
//! `serialized_size` (which then reads lengths, never the bytes).
//!
//! It also *locates* failures: [`locate`] re-runs an encode that failed on
//! any engine while tracking where in the value it is (see [`super::path`]),
//! so errors name the failing value's own path (`Mid.set[3]{value}`) rather
//! than the first place its type appears in the plan. The tracking is a type
//! parameter, so the ordinary run pays nothing for it.

use core::ptr;

use facet_core::PtrConst;

use crate::Error;
use crate::calibration::Layouts;
use crate::collections;
use crate::fallback;
use crate::plan::{
    DiscriminantRead, Elements, EnumOp, FieldStep, ListOp, MapOp, NodeId, Op, OptionOp, Plan,
    PointerOp, ResultOp, SetOp, SliceOp, VariantStep,
};
use crate::stack;
use crate::wire::{self, zigzag_i64};

use super::path::{InstancePath, NoPath, PathTracking, Step};
use super::program::{Code, Part, Program, Scalar};

/// Appends the encoding of the value at `src`, whose shape is the plan's root.
///
/// # Safety
/// `src` must point at a live, initialized value of the plan root's shape
/// (a wide pointer when that shape is unsized).
pub(crate) unsafe fn encode(
    plan: &Plan,
    src: PtrConst,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), Error> {
    let mut run = Run::new(plan, out, max_depth, NoPath);
    // SAFETY: forwarded from the caller's contract.
    unsafe { run.node(plan.root(), src) }.map_err(|error| *error)
}

/// The exact length of the encoding of the value at `src`, counted without
/// writing it.
///
/// # Safety
/// As [`encode`].
pub(crate) unsafe fn measure(plan: &Plan, src: PtrConst, max_depth: usize) -> Result<usize, Error> {
    let mut count = Count(0);
    let mut run = Run::new(plan, &mut count, max_depth, NoPath);
    // SAFETY: forwarded from the caller's contract.
    unsafe { run.node(plan.root(), src) }.map_err(|error| *error)?;
    Ok(count.0)
}

/// Where a run's bytes go.
trait Sink {
    fn push(&mut self, byte: u8);
    fn extend(&mut self, bytes: &[u8]);
    fn varint(&mut self, value: u64);
    fn varint_u128(&mut self, value: u128);
    /// A length-prefixed byte string.
    fn bytes(&mut self, bytes: &[u8]);
    fn char(&mut self, value: char);
    /// facet-postcard's encoding of delegated node `id`.
    ///
    /// # Safety
    /// `src` points at a live value of the node's shape.
    unsafe fn fallback(&mut self, plan: &Plan, id: NodeId, src: PtrConst) -> Result<(), Error>;
}

impl Sink for Vec<u8> {
    #[inline(always)]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
    #[inline(always)]
    fn extend(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline(always)]
    fn varint(&mut self, value: u64) {
        wire::write_varint_u64(self, value);
    }
    fn varint_u128(&mut self, value: u128) {
        wire::write_varint_u128(self, value);
    }
    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        wire::write_bytes(self, bytes);
    }
    fn char(&mut self, value: char) {
        wire::write_char(self, value);
    }
    unsafe fn fallback(&mut self, plan: &Plan, id: NodeId, src: PtrConst) -> Result<(), Error> {
        // SAFETY: forwarded from the caller's contract.
        unsafe { fallback::encode(plan, id, src, self) }
    }
}

/// A sink that only counts bytes.
struct Count(usize);

impl Sink for Count {
    #[inline(always)]
    fn push(&mut self, _: u8) {
        self.0 += 1;
    }
    #[inline(always)]
    fn extend(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    #[inline(always)]
    fn varint(&mut self, value: u64) {
        self.0 += wire::varint_len(value);
    }
    fn varint_u128(&mut self, value: u128) {
        let mut bytes = [0u8; wire::MAX_VARINT_U128_LEN];
        self.0 += wire::encode_varint_u128(value, &mut bytes);
    }
    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        self.0 += wire::bytes_len(bytes.len());
    }
    fn char(&mut self, value: char) {
        self.0 += wire::char_len(value);
    }
    unsafe fn fallback(&mut self, plan: &Plan, id: NodeId, src: PtrConst) -> Result<(), Error> {
        // facet-postcard decides these bytes: count what it writes.
        let mut scratch = Vec::new();
        // SAFETY: forwarded from the caller's contract.
        unsafe { fallback::encode(plan, id, src, &mut scratch) }?;
        self.0 += scratch.len();
        Ok(())
    }
}

/// Re-encodes the value at `src` (into a scratch buffer) while tracking the
/// path to the part being encoded, and returns the error the run fails
/// with, reported at the failing value's own path; `None` if it succeeds.
///
/// # Safety
/// As [`encode`].
pub(crate) unsafe fn locate(plan: &Plan, src: PtrConst, max_depth: usize) -> Option<Error> {
    let mut scratch = Vec::new();
    let mut run = Run::new(plan, &mut scratch, max_depth, InstancePath::default());
    // SAFETY: forwarded from the caller's contract.
    let error = *unsafe { run.node(plan.root(), src) }.err()?;
    let root = &plan.node(plan.root()).path;
    Some(error.at_path(run.path.render(root)))
}

/// How the walk's steps end: an error is boxed, so the common `Ok` is one
/// register rather than an `Error`-sized value written through memory at
/// every level.
type Flow = Result<(), Box<Error>>;

/// One encode: the output, the stack and depth budget, and the path.
struct Run<'p, 'o, P: PathTracking, S: Sink> {
    plan: &'p Plan,
    /// The plan's flat form: each hop reads its node's code here.
    program: &'p Program,
    layouts: &'p Layouts,
    out: &'o mut S,
    /// How many more recursive nodes may be entered.
    depth_left: usize,
    max_depth: usize,
    /// See [`stack`]: below this address the run moves to a new segment.
    stack_limit: usize,
    path: P,
}

impl<'p, 'o, P: PathTracking, S: Sink> Run<'p, 'o, P, S> {
    fn new(plan: &'p Plan, out: &'o mut S, max_depth: usize, path: P) -> Self {
        Run {
            plan,
            program: plan.interp_program(),
            layouts: plan.layouts(),
            out,
            depth_left: max_depth,
            max_depth,
            stack_limit: stack::current_limit(),
            path,
        }
    }

    /// Encodes the value at `src` of node `id`, on a new stack segment if
    /// this one runs low, counting depth at recursive nodes.
    ///
    /// Every function on the recursion path (this one, [`op`](Self::op),
    /// the per-kind methods it dispatches to, [`part`](Self::part)) is kept
    /// small, since a value nesting `n` levels deep stacks `n` of each.
    ///
    /// Optimized builds inline it into its callers: the check then runs in
    /// the caller's frame, still before [`op`](Self::op)'s frame (never
    /// inlined) is allocated. Debug builds keep it a call, so a deep
    /// value's levels do not each carry its locals.
    ///
    /// # Safety
    /// `src` points at a live value of `plan.node(id).shape`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    unsafe fn node(&mut self, id: NodeId, src: PtrConst) -> Flow {
        if stack::stack_pointer() < self.stack_limit {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.node_on_new_segment(id, src) };
        }
        // SAFETY: the walk only meets ids of its own plan: the root and
        // children of its nodes.
        let entry = unsafe { self.program.entry_unchecked(id) };
        if !entry.recursive {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.op(id, &entry.code, src) };
        }
        if self.depth_left == 0 {
            return Err(Box::new(self.plan.node(id).too_deep(self.max_depth)));
        }
        self.depth_left -= 1;
        // SAFETY: forwarded from this function's contract.
        let result = unsafe { self.op(id, &entry.code, src) };
        self.depth_left += 1;
        result
    }

    /// [`node`](Self::node), continued on a fresh stack segment.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    #[cold]
    #[inline(never)]
    unsafe fn node_on_new_segment(&mut self, id: NodeId, src: PtrConst) -> Flow {
        stack::on_new_segment(|limit| {
            let outer = core::mem::replace(&mut self.stack_limit, limit);
            // SAFETY: forwarded from this function's contract.
            let result = unsafe { self.node(id, src) };
            self.stack_limit = outer;
            result
        })
    }

    /// [`node`](Self::node) of a part of the current value, one step away.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    unsafe fn part(&mut self, step: Step, id: NodeId, src: PtrConst) -> Flow {
        self.path.enter(step);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.node(id, src) }?;
        self.path.leave();
        Ok(())
    }

    /// [`part`](Self::part), with a scalar written right here, and options
    /// and pointers followed to their payload in [`follow`](Self::follow):
    /// scalars cannot fail, recurse or nest, so they skip the stack and
    /// depth checks and the dispatch of [`node`](Self::node) (most parts
    /// are scalars).
    ///
    /// # Safety
    /// As [`node`](Self::node).
    #[inline(always)]
    unsafe fn child(&mut self, step: Step, id: NodeId, src: PtrConst) -> Flow {
        // SAFETY: as in `node`.
        let code = unsafe { &self.program.entry_unchecked(id).code };
        // SAFETY: forwarded from this function's contract.
        unsafe { self.child_coded(step, id, code, src) }
    }

    /// [`child`](Self::child) of a node whose code the caller has at hand.
    ///
    /// # Safety
    /// As [`node`](Self::node); `code` is node `id`'s.
    #[inline(always)]
    unsafe fn child_coded(
        &mut self,
        step: Step,
        id: NodeId,
        code: &'p Code,
        src: PtrConst,
    ) -> Flow {
        if let Code::Scalar(scalar) = *code {
            // SAFETY: forwarded from this function's contract.
            unsafe { write_scalar(scalar, src, self.out) };
            return Ok(());
        }
        self.path.enter(step);
        // SAFETY: forwarded from this function's contract.
        unsafe { self.follow(id, code, src)? };
        self.path.leave();
        Ok(())
    }

    /// Encodes the value at `src` of node `id`, whose code is `code`, with
    /// options and pointers followed to their payload right here, in a
    /// loop, without the stack and depth checks and the dispatch of `node`
    /// (they are most of what recursive values are made of; an option of a
    /// pointer is one hop, [`Code::NullablePointer`]). The loop adds no
    /// frame per level, so no stack check is skipped; an option or pointer
    /// that closes a cycle has no such code (the program gives it
    /// [`Code::Op`]) and goes through `node`, which counts its depth.
    ///
    /// # Safety
    /// As [`node`](Self::node).
    #[inline(always)]
    unsafe fn follow(&mut self, id: NodeId, code: &'p Code, src: PtrConst) -> Flow {
        let (mut id, mut code, mut src) = (id, code, src);
        let mut entered = 0;
        loop {
            // In every arm `src` is a live value of node `id`'s shape (this
            // function's contract, then what the previous step found), and
            // `code` is that node's.
            let (step, next, at) = match *code {
                Code::Option { presence, some } => {
                    // SAFETY: the rule was calibrated on this option's shape.
                    match unsafe { presence.payload(src.raw_ptr()) } {
                        Some(payload) => {
                            self.out.push(1);
                            (Step::Some, some, PtrConst::new_sized(payload))
                        }
                        None => {
                            self.out.push(0);
                            break;
                        }
                    }
                }
                Code::Pointer { layout, pointee } => {
                    // SAFETY: the layout was calibrated on this pointer's shape.
                    (Step::Pointee, pointee, unsafe {
                        layout.pointee(src.raw_ptr())
                    })
                }
                Code::NullablePointer {
                    word,
                    data_offset,
                    pointee,
                } => {
                    // SAFETY: `Program::of` makes this code only where the
                    // option's calibrated presence rule is
                    // `Presence::null_word(word)` and its payload, at
                    // offset 0, is a thin pointer whose calibrated address
                    // word is at `word` too: the word lies inside the live
                    // option, is null for `None`, and otherwise is the
                    // pointer's address, `data_offset` bytes before the
                    // live pointee.
                    unsafe {
                        let address = src
                            .raw_ptr()
                            .add(word as usize)
                            .cast::<*const u8>()
                            .read_unaligned();
                        if address.is_null() {
                            self.out.push(0);
                            break;
                        }
                        self.out.push(1);
                        self.path.enter(Step::Some);
                        entered += 1;
                        let pointee_at = PtrConst::new_sized(address.add(data_offset as usize));
                        (Step::Pointee, pointee, pointee_at)
                    }
                }
                Code::Scalar(scalar) => {
                    // SAFETY: `src` is a live value of this scalar kind.
                    unsafe { write_scalar(scalar, src, self.out) };
                    break;
                }
                _ => {
                    // SAFETY: `src` is a live value of node `id`'s shape.
                    unsafe { self.node(id, src)? };
                    break;
                }
            };
            self.path.enter(step);
            entered += 1;
            (id, src) = (next, at);
            // SAFETY: as in `node`.
            code = unsafe { &self.program.entry_unchecked(id).code };
        }
        for _ in 0..entered {
            self.path.leave();
        }
        Ok(())
    }

    /// Never inlined: [`node`](Self::node) checks the stack in a small
    /// frame of its own, before this one (which holds every kind's locals)
    /// is allocated. Inlined, a root call with a few KiB of stack left
    /// overflowed before its first check (`adversarial`'s
    /// `jit_root_frame_larger_than_remaining_stack` catches it).
    ///
    /// # Safety
    /// `src` points at a live value of `plan.node(id).shape`, whose code is
    /// `code`.
    #[inline(never)]
    unsafe fn op(&mut self, id: NodeId, code: &'p Code, src: PtrConst) -> Flow {
        // SAFETY: (every arm) `src` points at a value of the node's shape,
        // and the program's code and the plan's op were both chosen from
        // that shape, so each read has the type and offset facet reported
        // (or calibration verified), and each vtable function belongs to
        // that shape. A `Fields` code's range is its own.
        unsafe {
            match *code {
                Code::Scalar(scalar) => {
                    write_scalar(scalar, src, self.out);
                    Ok(())
                }
                Code::Plain(size) => {
                    // A plain record: `size` bytes with no padding, which are
                    // its wire bytes (the scalars that are plain write the
                    // same bytes).
                    self.out
                        .extend(core::slice::from_raw_parts(src.raw_ptr(), size));
                    Ok(())
                }
                Code::Fields { start, end } => {
                    self.parts(self.program.parts_unchecked(start, end), src)
                }
                Code::Enum {
                    read,
                    base,
                    first,
                    len,
                } => self.variant(id, (read, base, first, len), src),
                Code::Option { .. } | Code::Pointer { .. } | Code::NullablePointer { .. } => {
                    self.follow(id, code, src)
                }
                Code::Op => self.plan_op(id, src),
            }
        }
    }

    /// What [`op`](Self::op) does for nodes the program leaves to their
    /// op in the plan ([`Code::Op`]). Not forced inline: a debug build
    /// would then give every level of a deep value a frame holding every
    /// kind's locals (`adversarial`'s `cyclic_value_peak_memory` bounds the
    /// memory a cyclic value costs).
    ///
    /// # Safety
    /// As [`op`](Self::op).
    #[inline]
    unsafe fn plan_op(&mut self, id: NodeId, src: PtrConst) -> Flow {
        let plan = self.plan;
        // SAFETY: as in `op`.
        unsafe {
            match &plan.node(id).op {
                Op::Fields(fields) => self.fields(fields, src),
                Op::Enum(op) => self.enum_(id, op, src),
                Op::Option(op) => self.option(id, op, src),
                Op::Result(op) => self.result(op, src),
                Op::Pointer(op) => self.child(Step::Pointee, op.pointee, self.pointee(id, op, src)),
                Op::List(op) => self.list(id, op, src),
                Op::Slice(op) => self.slice(op, src),
                Op::Array(op) => self.run(&op.elements, src.raw_ptr(), op.len),
                Op::Set(op) => self.set(id, op, src),
                Op::Map(op) => self.map(id, op, src),
                Op::Fallback(_) => self.out.fallback(plan, id, src).map_err(Box::new),
                scalar => {
                    if let Some(scalar) = Scalar::of(scalar) {
                        write_scalar(scalar, src, self.out);
                    }
                    Ok(())
                }
            }
        }
    }

    /// # Safety
    /// `src` points at a live slice of `op`'s vtable (a wide pointer).
    unsafe fn slice(&mut self, op: &SliceOp, src: PtrConst) -> Flow {
        // SAFETY: the vtable belongs to the slice at `src`; `as_ptr` points
        // at its `len` elements.
        unsafe {
            let len = (op.vtable.len)(src);
            self.out.varint(len as u64);
            self.run(&op.elements, (op.vtable.as_ptr)(src).raw_ptr(), len)
        }
    }

    /// # Safety
    /// `src` points at a live struct or variant whose fields these are.
    unsafe fn fields(&mut self, fields: &[FieldStep], src: PtrConst) -> Flow {
        for field in fields {
            // SAFETY: the field lies at its offset inside the live value.
            unsafe { self.child(Step::Field(field.name), field.node, src.field(field.offset))? };
        }
        Ok(())
    }

    /// [`fields`](Self::fields), read from the program. Inlined, so a
    /// struct costs no call beyond [`op`](Self::op)'s.
    ///
    /// # Safety
    /// `src` points at a live struct or variant whose fields these are.
    #[inline(always)]
    unsafe fn parts(&mut self, parts: &'p [Part], src: PtrConst) -> Flow {
        // Parts belong to sized values (see `Code::Fields`): only `src`'s
        // address is used (it may still carry the wide tag of an unsized
        // parent it was reached from), and each field's pointer is thin
        // (cheaper than `PtrConst::field`, which keeps a tag).
        let at = src.raw_ptr();
        for part in parts {
            // SAFETY: the field lies at its offset inside the live value.
            let field = PtrConst::new_sized(unsafe { at.add(part.offset) });
            // SAFETY: the field is a live value of the part's node.
            unsafe { self.child_coded(Step::Field(part.name), part.node, &part.code, field)? };
        }
        Ok(())
    }

    /// # Safety
    /// `src` points at a live enum of node `id`, whose op is `op`.
    unsafe fn enum_(&mut self, id: NodeId, op: &EnumOp, src: PtrConst) -> Flow {
        let at = src.raw_ptr();
        // SAFETY: the discriminant is stored at offset 0 as `op` says.
        let Some(variant) = (unsafe { active_variant(op, at) }) else {
            // SAFETY: as above.
            let discriminant = unsafe { read_discriminant(op.discriminant, at) };
            return Err(Box::new(
                self.plan.node(id).invalid_discriminant(discriminant),
            ));
        };
        self.out.varint(u64::from(variant.index));
        self.path.enter(Step::Variant(variant.name));
        // SAFETY: the active variant's fields are live.
        unsafe { self.fields(&variant.fields, src)? };
        self.path.leave();
        Ok(())
    }

    /// A [`Code::Enum`] value, `(read, base, first, len)` its code's
    /// fields: the active variant's declaration index, then its fields.
    ///
    /// # Safety
    /// `src` points at a live enum of node `id`, whose code this is.
    unsafe fn variant(
        &mut self,
        id: NodeId,
        (read, base, first, len): (DiscriminantRead, i64, u32, u32),
        src: PtrConst,
    ) -> Flow {
        // SAFETY: the discriminant is stored at offset 0 as `read` says.
        let discriminant = unsafe { read_discriminant(read, src.raw_ptr()) };
        // Exact: every discriminant with an entry is less than `len` above
        // `base`, so a difference that wraps around cannot land below `len`.
        let offset = (discriminant as u64).wrapping_sub(base as u64);
        let Some(variant) = self.program.variant(first, len, offset) else {
            return Err(Box::new(
                self.plan.node(id).invalid_discriminant(discriminant),
            ));
        };
        self.out.varint(u64::from(variant.index));
        self.path.enter(Step::Variant(variant.name));
        // SAFETY: the active variant's fields are live, and the range is
        // the variant's own.
        unsafe {
            self.parts(
                self.program.parts_unchecked(variant.start, variant.end),
                src,
            )?
        };
        self.path.leave();
        Ok(())
    }

    /// # Safety
    /// `src` points at a live option of node `id`, whose op is `op`.
    unsafe fn option(&mut self, id: NodeId, op: &OptionOp, src: PtrConst) -> Flow {
        // SAFETY: forwarded from this function's contract.
        let Some(value) = (unsafe { self.option_payload(id, op, src) }) else {
            self.out.push(0);
            return Ok(());
        };
        self.out.push(1);
        // SAFETY: the payload is the live `Some` value.
        unsafe { self.child(Step::Some, op.some, PtrConst::new_sized(value)) }
    }

    /// The payload of the option at `src`, or `None` for `None`: read with
    /// the calibrated rule where there is one, else from facet's
    /// `get_value` (null for `None`, its documented contract).
    ///
    /// # Safety
    /// `src` points at a live option of node `id`, whose op is `op`.
    #[inline(always)]
    unsafe fn option_payload(&self, id: NodeId, op: &OptionOp, src: PtrConst) -> Option<*const u8> {
        match self.layouts.presence[id] {
            // SAFETY: the rule was calibrated on this option's shape.
            Some(presence) => unsafe { presence.payload(src.raw_ptr()) },
            None => {
                // SAFETY: the vtable belongs to the option at `src`.
                let value = unsafe { (op.vtable.get_value)(src) };
                (!value.is_null()).then_some(value)
            }
        }
    }

    /// The pointee of the pointer at `src`: from the calibrated layout where
    /// there is one, else from facet's `borrow`.
    ///
    /// # Safety
    /// `src` points at a live pointer of node `id`, whose op is `op`.
    #[inline(always)]
    unsafe fn pointee(&self, id: NodeId, op: &PointerOp, src: PtrConst) -> PtrConst {
        match self.layouts.pointer_layout[id] {
            // SAFETY: the layout was calibrated on this pointer's shape.
            Some(layout) => unsafe { layout.pointee(src.raw_ptr()) },
            // SAFETY: `borrow` belongs to the pointer's shape.
            None => unsafe { (op.borrow)(src) },
        }
    }

    /// # Safety
    /// `src` points at a live result of `op`'s vtable.
    unsafe fn result(&mut self, op: &ResultOp, src: PtrConst) -> Flow {
        // SAFETY: the vtable belongs to the result at `src`, and `get_ok` /
        // `get_err` are only called on the variant `is_ok` reported.
        unsafe {
            if (op.vtable.is_ok)(src) {
                self.out.push(0);
                let ok = PtrConst::new((op.vtable.get_ok)(src));
                self.part(Step::Ok, op.ok, ok)
            } else {
                self.out.push(1);
                let err = PtrConst::new((op.vtable.get_err)(src));
                self.part(Step::Err, op.err, err)
            }
        }
    }

    /// # Safety
    /// `src` points at a live list of node `id`, whose op is `op`.
    unsafe fn list(&mut self, id: NodeId, op: &ListOp, src: PtrConst) -> Flow {
        // SAFETY: the vtable belongs to the list at `src`; `as_ptr` points at
        // `len` contiguous elements.
        unsafe {
            if let Some(layout) = self.layouts.vec_layout[id] {
                // The same words `len` and `as_ptr` read (calibrated).
                let (data, len) = layout.read(src.raw_ptr());
                self.out.varint(len as u64);
                return self.run(&op.elements, data, len);
            }
            let len = (op.vtable.len)(src);
            self.out.varint(len as u64);
            if let Some(as_ptr) = op.vtable.as_ptr {
                return self.run(&op.elements, as_ptr(src).raw_ptr(), len);
            }
            let mut index = 0;
            collections::for_each_indexed(self.plan.node(id), op, len, src, |element| {
                self.part(Step::Index(index), op.elements.node, element)
                    .map_err(|error| *error)?;
                index += 1;
                Ok(())
            })
            .map_err(Box::new)
        }
    }

    /// # Safety
    /// `src` points at a live set of node `id`, whose op is `op`.
    unsafe fn set(&mut self, id: NodeId, op: &SetOp, src: PtrConst) -> Flow {
        // SAFETY: the set's functions belong to the set at `src`; items are
        // its live elements.
        unsafe {
            let len = (op.len)(src);
            self.out.varint(len as u64);
            let mut index = 0;
            collections::for_each_iterated(self.plan.node(id), len, &op.iter, src, |&element| {
                self.part(Step::Index(index), op.element, element)
                    .map_err(|error| *error)?;
                index += 1;
                Ok(())
            })
            .map_err(Box::new)
        }
    }

    /// # Safety
    /// `src` points at a live map of node `id`, whose op is `op`.
    unsafe fn map(&mut self, id: NodeId, op: &MapOp, src: PtrConst) -> Flow {
        // SAFETY: the map's functions belong to the map at `src`; items are
        // its live entries.
        unsafe {
            let len = (op.len)(src);
            self.out.varint(len as u64);
            let mut index = 0;
            let node = self.plan.node(id);
            collections::for_each_iterated(node, len, &op.iter, src, |&(key, value)| {
                self.part(Step::Key(index), op.key, key)
                    .map_err(|error| *error)?;
                self.part(Step::Value(index), op.value, value)
                    .map_err(|error| *error)?;
                index += 1;
                Ok(())
            })
            .map_err(Box::new)
        }
    }

    /// Encodes `len` elements laid out `elements.stride` bytes apart from `data`.
    ///
    /// # Safety
    /// `data` points at `len` live elements of the element node's shape.
    unsafe fn run(&mut self, elements: &Elements, data: *const u8, len: usize) -> Flow {
        if len == 0 {
            return Ok(());
        }
        if elements.memory_is_wire {
            // SAFETY: the run is `len` initialized elements of `stride` bytes
            // each, and for these element types the bytes are the wire bytes.
            let bytes = unsafe { core::slice::from_raw_parts(data, len * elements.stride) };
            self.out.extend(bytes);
            return Ok(());
        }
        // SAFETY: as in `node`.
        let code = unsafe { &self.program.entry_unchecked(elements.node).code };
        for index in 0..len {
            // SAFETY: `index < len`, so the element lies inside the run.
            let element = PtrConst::new(unsafe { data.add(index * elements.stride) });
            // SAFETY: the element is a live value of the element node's
            // shape, whose code `code` is.
            unsafe { self.child_coded(Step::Index(index), elements.node, code, element)? };
        }
        Ok(())
    }
}

/// Writes a scalar (or nothing, for [`Scalar::Nothing`]).
///
/// # Safety
/// `src` points at a live value of the scalar kind `scalar` names (through
/// a wide pointer for [`Scalar::Str`]). Reads are unaligned, so no
/// alignment assumption is made.
#[inline(always)]
unsafe fn write_scalar(scalar: Scalar, src: PtrConst, out: &mut impl Sink) {
    let at = src.raw_ptr();
    /// The value of type `T` at `at`.
    ///
    /// # Safety
    /// A `T` lives at `at`.
    #[inline(always)]
    unsafe fn read<T>(at: *const u8) -> T {
        // SAFETY: forwarded from the caller's contract.
        unsafe { ptr::read_unaligned(at.cast::<T>()) }
    }
    // SAFETY: forwarded from the caller's contract: each arm reads the
    // type its scalar kind names.
    unsafe {
        match scalar {
            Scalar::Nothing => {}
            Scalar::Byte => out.push(*at),
            Scalar::U16 => out.varint(read::<u16>(at).into()),
            Scalar::U32 => out.varint(read::<u32>(at).into()),
            Scalar::U64 => out.varint(read::<u64>(at)),
            Scalar::U128 => out.varint_u128(read::<u128>(at)),
            Scalar::I16 => out.varint(zigzag_i64(read::<i16>(at).into())),
            Scalar::I32 => out.varint(zigzag_i64(read::<i32>(at).into())),
            Scalar::I64 => out.varint(zigzag_i64(read::<i64>(at))),
            Scalar::I128 => out.varint_u128(wire::zigzag_i128(read::<i128>(at))),
            Scalar::F32 => out.extend(&read::<f32>(at).to_le_bytes()),
            Scalar::F64 => out.extend(&read::<f64>(at).to_le_bytes()),
            Scalar::Char => out.char(read::<char>(at)),
            Scalar::String => out.bytes(src.get::<String>().as_bytes()),
            Scalar::StrRef => out.bytes(src.get::<&str>().as_bytes()),
            Scalar::Str => {
                debug_assert!(
                    src.is_wide(),
                    "an unsized str is always reached through a wide pointer"
                );
                out.bytes(src.get::<str>().as_bytes())
            }
        }
    }
}

/// # Safety
/// `at` points at an enum whose discriminant is stored as `read` at offset 0.
unsafe fn read_discriminant(read: DiscriminantRead, at: *const u8) -> i64 {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        match read {
            DiscriminantRead::U8 => i64::from(*at),
            DiscriminantRead::U16 => i64::from(ptr::read_unaligned(at.cast::<u16>())),
            DiscriminantRead::U32 => i64::from(ptr::read_unaligned(at.cast::<u32>())),
            DiscriminantRead::U64 => ptr::read_unaligned(at.cast::<u64>()) as i64,
            DiscriminantRead::I8 => i64::from(ptr::read_unaligned(at.cast::<i8>())),
            DiscriminantRead::I16 => i64::from(ptr::read_unaligned(at.cast::<i16>())),
            DiscriminantRead::I32 => i64::from(ptr::read_unaligned(at.cast::<i32>())),
            DiscriminantRead::I64 => ptr::read_unaligned(at.cast::<i64>()),
        }
    }
}

/// # Safety
/// `at` points at a value of the enum `op` was lowered from.
unsafe fn active_variant(op: &EnumOp, at: *const u8) -> Option<&VariantStep> {
    // SAFETY: forwarded from the caller's contract.
    let discriminant = unsafe { read_discriminant(op.discriminant, at) };
    if op.dense {
        usize::try_from(discriminant)
            .ok()
            .and_then(|index| op.variants.get(index))
    } else if !op.table.is_empty() {
        let entry = discriminant
            .checked_sub(op.table_base)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|offset| op.table.get(offset))?;
        op.variants.get(*entry as usize)
    } else {
        op.variants.iter().find(|v| v.discriminant == discriminant)
    }
}
