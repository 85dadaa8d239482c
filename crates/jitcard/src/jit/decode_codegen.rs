//! Decode plan → Cranelift IR: how each node of a decode [`Plan`] is read
//! and built, in the vocabulary of [`FunctionEmitter`] and
//! [`super::decode_emit`].
//!
//! Every node is emitted as "decode into `dst`, or jump to `fail`": the
//! failure block it is given drops whatever the enclosing nodes built
//! before it and returns the status, so each failure point knows, at
//! compile time, exactly what is initialized (fields before it, elements
//! before it, the list that owns them). Generated code accepts exactly
//! what the interpreter ([`crate::interp::decode`], the reference) accepts;
//! on invalid input it only says so ([`FunctionEmitter::fail_input`]) and
//! the interpreter, decoding the same bytes, names the error (kind, offset,
//! path), so the error rules live in one place.
//!
//! Built by generated code: scalars, structs and enums (without skipped or
//! proxied fields), arrays, options and results (through their vtables'
//! constructors, the value decoded into scratch), `Box<T>` of a sized `T`
//! (straight into its allocation), `Arc<T>`/`Rc<T>` (through `new_into`),
//! lists (in place: facet's `init`, elements written at their stride,
//! `set_len`; one copy for runs whose memory is their wire form), sets and
//! maps built by `insert`, and byte strings (`String`, `&str`, `Box<str>`,
//! `Arc<str>`, `Rc<str>`, `Cow`, `&[u8]`: one helper call each,
//! [`decode_runtime::text_at`]), `char` and 128-bit integers
//! (through helpers), and `Box/Arc/Rc<[T]>` (facet's slice builder, through
//! helpers). Everything else (sets and maps built from a slice, proxies,
//! skipped fields) is built by the interpreter through
//! [`decode_runtime::interpret`], from the same cursor.

use std::cell::Cell;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    Block, FuncRef, InstBuilder, StackSlotData, StackSlotKind, Value, types,
};
use cranelift_frontend::Switch;
use facet_core::KnownPointer;

use super::decode_runtime::{self, text_kind};
use super::emit::{FunctionEmitter, flags};
use super::facet_ptr::THIN_META;
use super::vtable_calls::{Arg, VtableCallEmitter};
use super::vtable_ops::VtableOp;
use crate::calibration::layout;
use crate::interp::decode::cautious;
use crate::plan::build::{Build, ListBuild, MapBuild, PointerBuild, SetBuild, StrPointer};
use crate::plan::{Elements, FieldStep, IntKind, NodeId, NodeMap, Op, Plan};
use crate::wire::VarintWidth;

/// Largest scratch value kept in the function's stack frame (larger ones
/// are allocated).
const MAX_STACK_SCRATCH: u32 = 4096;
/// Most stack scratch one function takes in all.
const MAX_STACK_SCRATCH_TOTAL: u32 = 64 * 1024;

/// Whether generated code builds node `id` itself (else the interpreter
/// does, through [`decode_runtime::interpret`]).
pub(crate) fn builds_inline(plan: &Plan, id: NodeId) -> bool {
    let node = plan.node(id);
    let plain = |fields: &[FieldStep]| fields.iter().all(|field| field.proxy.is_none());
    match (&node.build, &node.op) {
        // Every op the lowering builds in place has its inline form.
        (Some(Build::InPlace), _) => true,
        (Some(Build::Fields(skipped)), Op::Fields(fields)) => skipped.is_empty() && plain(fields),
        (Some(Build::Enum(skipped)), Op::Enum(op)) => {
            skipped.iter().all(Vec::is_empty) && op.variants.iter().all(|v| plain(&v.fields))
        }
        (Some(Build::String | Build::BorrowedStr), _) => true,
        (Some(Build::Pointer(PointerBuild::Slice(_))), Op::Pointer(op)) => {
            match &plan.node(op.pointee).op {
                Op::Slice(slice) => {
                    slice.elements.memory_is_wire
                        || slice.elements.stride <= MAX_STACK_SCRATCH as usize
                }
                _ => false,
            }
        }
        (Some(Build::Pointer(_)), Op::Pointer(_)) => true,
        (Some(Build::List(_)), Op::List(_)) => true,
        (Some(Build::Set(SetBuild::Insert { .. })), Op::Set(_))
        | (Some(Build::Map(MapBuild::Insert { .. })), Op::Map(_)) => true,
        _ => false,
    }
}

/// Whether a value of node `id` may own anything (a `Copy` type never does).
fn needs_drop(plan: &Plan, id: NodeId) -> bool {
    !plan
        .node(id)
        .shape
        .marker_traits
        .contains(facet_core::MarkerTraits::COPY)
}

/// Scratch storage for one value: in the frame, allocated, or (zero-sized)
/// a dangling aligned address.
struct Scratch {
    address: Value,
    /// `(size, align)` of an allocation to free.
    heap: Option<(u64, u64)>,
}

/// Emits the body of one decode function node.
pub(crate) struct DecodeEmitter<'p> {
    pub plan: &'p Plan,
    pub own_function: &'p NodeMap<bool>,
    pub calls: VtableCallEmitter,
    /// The function node being emitted.
    pub function_node: NodeId,
    /// The callee reference of every function node, in this function.
    pub functions: Vec<Option<FuncRef>>,
    /// Stack scratch taken so far by this function.
    pub stack_scratch: Cell<u32>,
    /// Calibrated `Vec` layout of each list node (see [`layout`]), whose
    /// storage and length generated code then reaches without calls.
    pub vec_layouts: &'p NodeMap<Option<layout::PtrLenLayout>>,
}

impl DecodeEmitter<'_> {
    /// Emits the entry checks and the body of the function node.
    pub fn function_body(&self, e: &mut FunctionEmitter, data: Value, meta: Value) {
        let id = self.function_node;
        let this = self.functions[id.index()].expect("every function node is declared");
        // A part the interpreter builds counts its own depth.
        let counts = self.plan.is_recursive(id) && builds_inline(self.plan, id);
        e.enter(this, data, meta, counts.then_some(id.index() as u32));
        let fail = e.fail_block();
        self.inline(e, id, data, fail);
    }

    fn index(id: NodeId) -> u32 {
        id.index() as u32
    }

    /// Decodes node `id` into `dst`, or drops what it built and jumps to
    /// `fail`: a call for function nodes, inline code otherwise.
    fn node(&self, e: &mut FunctionEmitter, id: NodeId, dst: Value, fail: Block) {
        crate::stack::with_room(crate::stack::RED_ZONE, || {
            if self.own_function[id] {
                let callee = self.functions[id.index()].expect("every function node is declared");
                e.spill_cursor();
                let ctx = e.ctx;
                let thin = e.iconst_ptr(THIN_META);
                let call = e.b.ins().call(callee, &[ctx, dst, thin]);
                let status = e.b.inst_results(call)[0];
                e.reload_cursor();
                e.check_to(status, fail);
            } else {
                self.inline(e, id, dst, fail);
            }
        })
    }

    fn inline(&self, e: &mut FunctionEmitter, id: NodeId, dst: Value, fail: Block) {
        if !builds_inline(self.plan, id) {
            self.interpret(e, id, dst, fail);
            return;
        }
        if self.plan.plain_size(id).is_some() {
            self.fixed(e, id, dst, false, fail);
            return;
        }
        let node = self.plan.node(id);
        match (&node.build, &node.op) {
            (Some(Build::String), _) => self.text(e, dst, text_kind::STRING, fail),
            (Some(Build::BorrowedStr), _) => self.text(e, dst, text_kind::STR_REF, fail),
            (Some(Build::Fields(_)), Op::Fields(fields)) => self.fields(e, fields, dst, fail),
            (Some(Build::Enum(_)), Op::Enum(op)) => self.enum_(e, op, dst, fail),
            (Some(Build::Pointer(how)), Op::Pointer(op)) => {
                self.pointer(e, id, op.pointee, *how, dst, fail)
            }
            (Some(Build::List(how)), Op::List(op)) => {
                self.list(e, id, how, &op.elements, dst, fail)
            }
            (Some(Build::Set(SetBuild::Insert { init, insert })), Op::Set(op)) => {
                let calls = (
                    *init as usize,
                    *insert as usize,
                    VtableOp::SetInit,
                    VtableOp::SetInsert,
                );
                self.inserted(e, id, &[op.element], calls, dst, fail)
            }
            (Some(Build::Map(MapBuild::Insert { init, insert })), Op::Map(op)) => {
                let calls = (
                    *init as usize,
                    *insert as usize,
                    VtableOp::MapInit,
                    VtableOp::MapInsert,
                );
                self.inserted(e, id, &[op.key, op.value], calls, dst, fail)
            }
            (_, Op::Nothing) => {}
            (_, Op::Bool | Op::Byte | Op::F32 | Op::F64) => self.fixed(e, id, dst, false, fail),
            (_, Op::Int(kind @ (IntKind::U128 | IntKind::I128))) => {
                let ptr = e.ptr;
                let ctx = e.ctx;
                let signed = e.b.ins().iconst(types::I32, i64::from(kind.is_signed()));
                let status = e.call_helper_writing(
                    decode_runtime::int128 as *const u8,
                    &[ptr, ptr, types::I32],
                    &[ctx, dst, signed],
                );
                e.check_to(status, fail);
            }
            (_, Op::Int(kind)) => self.int(e, *kind, dst, fail),
            (_, Op::Char) => {
                let len = e.read_varint(VarintWidth::U64, fail);
                let ptr = e.ptr;
                let ctx = e.ctx;
                let bytes = e.cur();
                let status = e.call_native(
                    decode_runtime::char_value as *const u8,
                    &[ptr, ptr, ptr, ptr],
                    &[types::I32],
                    &[ctx, dst, bytes, len],
                )[0];
                e.check_to(status, fail);
                e.advance(len);
            }
            (_, Op::Array(op)) => {
                let len = e.iconst_ptr(op.len as i64);
                self.run(e, &op.elements, dst, len, fail);
            }
            (_, Op::Option(op)) => self.option(e, id, op, dst, fail),
            (_, Op::Result(op)) => self.result(e, op, dst, fail),
            _ => self.interpret(e, id, dst, fail),
        }
    }

    /// Hands node `id` to the interpreter.
    fn interpret(&self, e: &mut FunctionEmitter, id: NodeId, dst: Value, fail: Block) {
        let ptr = e.ptr;
        let ctx = e.ctx;
        let node = e.b.ins().iconst(types::I32, id.index() as i64);
        let status = e.call_helper_writing(
            decode_runtime::interpret as *const u8,
            &[ptr, types::I32, ptr],
            &[ctx, node, dst],
        );
        e.check_to(status, fail);
    }

    fn int(&self, e: &mut FunctionEmitter, kind: IntKind, dst: Value, fail: Block) {
        // 128-bit integers are read by a helper, not here.
        let width = match kind.varint_width() {
            VarintWidth::U128 => VarintWidth::U64,
            width => width,
        };
        let raw = e.read_varint(width, fail);
        let value = if kind.is_signed() {
            let half = e.b.ins().ushr_imm_u(raw, 1);
            let low = e.b.ins().band_imm_u(raw, 1);
            let sign = e.b.ins().ineg(low);
            e.b.ins().bxor(half, sign)
        } else {
            raw
        };
        match kind.size() {
            2 => {
                e.b.ins().istore16(flags(), value, dst, 0);
            }
            4 => {
                e.b.ins().istore32(flags(), value, dst, 0);
            }
            _ => {
                e.b.ins().store(flags(), value, dst, 0);
            }
        }
    }

    /// A length-prefixed byte string, built as `kind` says (see
    /// [`text_kind`]).
    fn text(&self, e: &mut FunctionEmitter, dst: Value, kind: u32, fail: Block) {
        // One helper reads the length and the bytes and makes the value:
        // its work (an allocation, UTF-8 validation) dwarfs the call, and
        // the inline varint would be most of a decoder's code.
        let ptr = e.ptr;
        let ctx = e.ctx;
        let kind = e.b.ins().iconst(types::I32, i64::from(kind));
        let status = e.call_helper_writing(
            decode_runtime::text_at as *const u8,
            &[ptr, ptr, types::I32],
            &[ctx, dst, kind],
        );
        e.check_to(status, fail);
    }

    /// Fields in order; a failure drops the fields before it. A run of
    /// fixed-size fields (`bool`, `u8`, `i8`, floats) shares one check of
    /// the input left.
    fn fields(&self, e: &mut FunctionEmitter, fields: &[FieldStep], dst: Value, fail: Block) {
        let mut cleanup = fail;
        let mut checked_until = 0;
        for (index, field) in fields.iter().enumerate() {
            let at = e.b.ins().iadd_imm_u(dst, field.offset as i64);
            if index >= checked_until && self.fixed_size(field.node).is_some() {
                let run: Vec<u64> = fields[index..]
                    .iter()
                    .map_while(|f| self.fixed_size(f.node))
                    .collect();
                if run.len() > 1 {
                    e.need_const(run.iter().sum(), cleanup);
                    checked_until = index + run.len();
                }
            }
            if index < checked_until {
                self.fixed(e, field.node, at, true, cleanup);
            } else {
                self.node(e, field.node, at, cleanup);
            }
            if needs_drop(self.plan, field.node) {
                cleanup = self.drop_then(e, field.node, at, cleanup);
            }
        }
    }

    /// The wire size of node `id` when it is fixed and built inline.
    fn fixed_size(&self, id: NodeId) -> Option<u64> {
        if self.own_function[id] {
            return None;
        }
        if let Some(size) = self.plan.plain_size(id) {
            return Some(size as u64);
        }
        match self.plan.node(id).op {
            Op::Bool | Op::Byte => Some(1),
            Op::F32 => Some(4),
            Op::F64 => Some(8),
            _ => None,
        }
    }

    /// A fixed-size scalar (`bool` checked to be 0 or 1) or plain record
    /// (its wire bytes are its memory); `checked`: the caller made sure its
    /// bytes are there.
    fn fixed(&self, e: &mut FunctionEmitter, id: NodeId, dst: Value, checked: bool, fail: Block) {
        if let Some(size) = self.plan.plain_size(id) {
            if !checked {
                e.need_const(size as u64, fail);
            }
            let cur = e.cur();
            e.copy_const(dst, cur, size);
            e.skip(size as i64);
            return;
        }
        let (ty, bytes) = match self.plan.node(id).op {
            Op::F32 => (types::I32, 4),
            Op::F64 => (types::I64, 8),
            _ => (types::I8, 1),
        };
        if !checked {
            e.need_const(bytes, fail);
        }
        if let Op::Bool = self.plan.node(id).op {
            let byte = e.peek_byte();
            let bad = e.b.ins().icmp_imm_u(IntCC::UnsignedGreaterThan, byte, 1);
            let fine = e.cold_if(bad);
            e.fail_input(fail);
            e.b.switch_to_block(fine);
            e.b.ins().istore8(flags(), byte, dst, 0);
        } else {
            let cur = e.cur();
            let value = e.load(ty, cur, 0);
            e.b.ins().store(flags(), value, dst, 0);
        }
        e.skip(bytes as i64);
    }

    /// A failure block that drops the value of node `id` at `value`, then
    /// continues to `next`.
    fn drop_then(&self, e: &mut FunctionEmitter, id: NodeId, value: Value, next: Block) -> Block {
        self.cleanup_then(e, next, |e| self.drop_value(e, id, value))
    }

    fn drop_value(&self, e: &mut FunctionEmitter, id: NodeId, value: Value) {
        let ptr = e.ptr;
        let ctx = e.ctx;
        let node = e.b.ins().iconst(types::I32, id.index() as i64);
        e.call_native(
            decode_runtime::drop_value as *const u8,
            &[ptr, types::I32, ptr],
            &[],
            &[ctx, node, value],
        );
    }

    /// A failure block that runs `emit` (cleanup), then continues to `next`.
    fn cleanup_then(
        &self,
        e: &mut FunctionEmitter,
        next: Block,
        emit: impl FnOnce(&mut FunctionEmitter),
    ) -> Block {
        let block = e.b.create_block();
        e.b.set_cold_block(block);
        let status = e.b.append_block_param(block, types::I32);
        // The current block must be filled before another is emitted: it
        // continues in a fresh one (the jump costs nothing once laid out).
        let here = e.b.create_block();
        e.b.ins().jump(here, &[]);
        e.b.switch_to_block(block);
        emit(e);
        e.b.ins().jump(next, &[status.into()]);
        e.b.switch_to_block(here);
        block
    }

    fn enum_(&self, e: &mut FunctionEmitter, op: &crate::plan::EnumOp, dst: Value, fail: Block) {
        let index = e.read_varint(VarintWidth::U32, fail);
        let done = e.b.create_block();
        let invalid = e.b.create_block();
        e.b.set_cold_block(invalid);
        let mut switch = Switch::new();
        let blocks: Vec<_> = op
            .variants
            .iter()
            .enumerate()
            .map(|(position, _)| {
                let block = e.b.create_block();
                switch.set_entry(position as u128, block);
                block
            })
            .collect();
        switch.emit(e.b, index, invalid);

        e.b.switch_to_block(invalid);
        e.fail_input(fail);

        for (variant, block) in op.variants.iter().zip(blocks) {
            e.b.switch_to_block(block);
            let tag = variant.discriminant;
            let ty = match op.discriminant.size() {
                1 => types::I8,
                2 => types::I16,
                4 => types::I32,
                _ => types::I64,
            };
            let tag = e.b.ins().iconst(ty, truncate(tag, ty));
            e.b.ins().store(flags(), tag, dst, 0);
            self.fields(e, &variant.fields, dst, fail);
            e.b.ins().jump(done, &[]);
        }
        e.b.switch_to_block(done);
    }

    /// Fails (an unexpected end) unless the input left can hold `id`'s
    /// smallest encoding: checked, as the interpreter does, before scratch
    /// is taken for a value, so a short input never allocates a large
    /// type's storage (and fails as it would, not for want of memory).
    fn room_for(&self, e: &mut FunctionEmitter, id: NodeId, fail: Block) {
        let min = self.plan.min_wire_size(id) as u64;
        if min > 0 {
            e.need_const(min, fail);
        }
    }

    /// Scratch for one value of node `id`; a failure to allocate jumps to
    /// `fail`.
    fn scratch(&self, e: &mut FunctionEmitter, id: NodeId, fail: Block) -> Scratch {
        let layout = self
            .plan
            .node(id)
            .shape
            .layout
            .sized_layout()
            .unwrap_or(core::alloc::Layout::new::<()>());
        let (size, align) = (layout.size() as u64, layout.align() as u64);
        if size == 0 {
            return Scratch {
                address: e.iconst_ptr(align as i64),
                heap: None,
            };
        }
        let taken = self.stack_scratch.get();
        if size <= u64::from(MAX_STACK_SCRATCH)
            && align <= 16
            && taken + size as u32 <= MAX_STACK_SCRATCH_TOTAL
        {
            self.stack_scratch.set(taken + size as u32);
            let slot = e.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                size as u32,
                align.trailing_zeros() as u8,
            ));
            let ptr = e.ptr;
            return Scratch {
                address: e.b.ins().stack_addr(ptr, slot, 0),
                heap: None,
            };
        }
        let address = self.allocate(e, size, align, fail);
        Scratch {
            address,
            heap: Some((size, align)),
        }
    }

    /// The calibrated words of the `Box<[T]>` node `id` when its elements
    /// are a run whose memory is its wire form (see
    /// [`layout::boxed_slice_layout`]).
    fn boxed_run_layout(
        &self,
        id: NodeId,
        run: &Elements,
        builder: &'static facet_core::SliceBuilderVTable,
    ) -> Option<layout::PtrLenLayout> {
        let node = self.plan.node(id);
        let boxed = matches!(&node.op, Op::Pointer(p) if p.known == Some(KnownPointer::Box));
        // The calibration makes (and drops) elements from zeroed bytes: only
        // for `Copy` elements, which have no `Drop` to run on them.
        let copy = self
            .plan
            .node(run.node)
            .shape
            .marker_traits
            .contains(facet_core::MarkerTraits::COPY);
        if !boxed || !copy || !run.memory_is_wire || run.stride == 0 {
            return None;
        }
        layout::boxed_slice_layout(node.shape, builder, run.stride, self.align_of(run.node))
    }

    /// The alignment of node `id`'s type.
    fn align_of(&self, id: NodeId) -> usize {
        self.plan
            .node(id)
            .shape
            .layout
            .sized_layout()
            .map_or(1, |l| l.align())
    }

    /// Allocates `size` (nonzero) bytes; a failure jumps to `fail`.
    fn allocate(&self, e: &mut FunctionEmitter, size: u64, align: u64, fail: Block) -> Value {
        let size = e.iconst_ptr(size as i64);
        self.allocate_dynamic(e, size, align as usize, fail)
    }

    /// Allocates `size` (a nonzero value) bytes aligned to `align`; a
    /// failure jumps to `fail`.
    fn allocate_dynamic(
        &self,
        e: &mut FunctionEmitter,
        size: Value,
        align: usize,
        fail: Block,
    ) -> Value {
        let ptr = e.ptr;
        let ctx = e.ctx;
        let align = e.iconst_ptr(align as i64);
        let address = e.call_native(
            decode_runtime::alloc as *const u8,
            &[ptr, ptr],
            &[ptr],
            &[size, align],
        )[0];
        let failed = e.b.ins().icmp_imm_u(IntCC::Equal, address, 0);
        let fine = e.cold_if(failed);
        let status = e.call_native(
            decode_runtime::allocation_failed as *const u8,
            &[ptr, ptr],
            &[types::I32],
            &[ctx, size],
        )[0];
        e.b.ins().jump(fail, &[status.into()]);
        e.b.switch_to_block(fine);
        address
    }

    fn free(&self, e: &mut FunctionEmitter, scratch: &Scratch) {
        if let Some((size, align)) = scratch.heap {
            let ptr = e.ptr;
            let size = e.iconst_ptr(size as i64);
            let align = e.iconst_ptr(align as i64);
            e.call_native(
                decode_runtime::dealloc as *const u8,
                &[ptr, ptr, ptr],
                &[],
                &[scratch.address, size, align],
            );
        }
    }

    /// Decodes node `id` into fresh scratch (freed again on failure).
    fn decode_to_scratch(&self, e: &mut FunctionEmitter, id: NodeId, fail: Block) -> Scratch {
        self.room_for(e, id, fail);
        let scratch = self.scratch(e, id, fail);
        let on_fail = if scratch.heap.is_some() {
            let (address, heap) = (scratch.address, scratch.heap);
            self.cleanup_then(e, fail, |e| {
                self.free(e, &Scratch { address, heap });
            })
        } else {
            fail
        };
        self.node(e, id, scratch.address, on_fail);
        scratch
    }

    fn option(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        op: &crate::plan::OptionOp,
        dst: Value,
        fail: Block,
    ) {
        e.need_const(1, fail);
        let tag = e.peek_byte();
        e.skip(1);
        if let Some(pointee) = self.option_of_box(id, op) {
            return self.option_of_box_body(e, op.some, pointee, tag, dst, fail);
        }
        e.on_tag(
            tag,
            fail,
            |e| self.calls.option_init_none(e, op.vtable.init_none, dst),
            |e| {
                let scratch = self.decode_to_scratch(e, op.some, fail);
                let init_some = op.vtable.init_some as usize;
                self.calls.construct_from(
                    e,
                    VtableOp::OptionInitSome,
                    init_some,
                    dst,
                    scratch.address,
                );
                self.free(e, &scratch);
            },
        );
    }

    /// The pointee node of an `Option<Box<T>>` (sized `T`, built in place)
    /// whose layout is one pointer with `None` null (see
    /// [`layout::option_box_is_pointer`]).
    fn option_of_box(&self, id: NodeId, op: &crate::plan::OptionOp) -> Option<NodeId> {
        let some = self.plan.node(op.some);
        match (&some.op, &some.build) {
            (Op::Pointer(pointer), Some(Build::Pointer(PointerBuild::BoxInPlace)))
                if pointer.known == Some(KnownPointer::Box)
                    && pointer.pointee_sized
                    && !self.own_function[op.some]
                    && layout::option_box_is_pointer(self.plan.node(id).shape, op.vtable) =>
            {
                Some(pointer.pointee)
            }
            _ => None,
        }
    }

    /// An `Option<Box<T>>` that is one pointer: `None` is a null word,
    /// `Some` the box decoded straight into the option (no scratch, no
    /// vtable calls). `tag` is the option's byte.
    fn option_of_box_body(
        &self,
        e: &mut FunctionEmitter,
        box_node: NodeId,
        pointee: NodeId,
        tag: Value,
        dst: Value,
        fail: Block,
    ) {
        e.on_tag(
            tag,
            fail,
            |e| {
                let null = e.iconst_ptr(0);
                e.b.ins().store(flags(), null, dst, 0);
            },
            |e| {
                // As the generic path: the room of the `Some` value (a box
                // takes what its pointee takes, so the box's own check is the
                // same).
                self.room_for(e, box_node, fail);
                self.box_in_place(e, pointee, dst, fail);
            },
        );
    }

    fn result(&self, e: &mut FunctionEmitter, op: &crate::plan::ResultOp, dst: Value, fail: Block) {
        let index = e.read_varint(VarintWidth::U32, fail);
        let arm = |e: &mut FunctionEmitter, value_node: NodeId, init: VtableOp, function: usize| {
            let scratch = self.decode_to_scratch(e, value_node, fail);
            self.calls
                .construct_from(e, init, function, dst, scratch.address);
            self.free(e, &scratch);
        };
        e.on_tag(
            index,
            fail,
            |e| arm(e, op.ok, VtableOp::ResultInitOk, op.vtable.init_ok as usize),
            |e| {
                arm(
                    e,
                    op.err,
                    VtableOp::ResultInitErr,
                    op.vtable.init_err as usize,
                )
            },
        );
    }

    fn pointer(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        pointee: NodeId,
        how: PointerBuild,
        dst: Value,
        fail: Block,
    ) {
        match how {
            PointerBuild::BoxInPlace => {
                self.room_for(e, pointee, fail);
                self.box_in_place(e, pointee, dst, fail);
            }
            PointerBuild::NewInto(new_into) => {
                let scratch = self.decode_to_scratch(e, pointee, fail);
                self.calls.construct_from(
                    e,
                    VtableOp::PointerNewInto,
                    new_into as usize,
                    dst,
                    scratch.address,
                );
                self.free(e, &scratch);
            }
            PointerBuild::Str(which) => {
                let kind = match which {
                    StrPointer::Box => text_kind::BOX_STR,
                    StrPointer::Arc => text_kind::ARC_STR,
                    StrPointer::Rc => text_kind::RC_STR,
                };
                self.text(e, dst, kind, fail);
            }
            PointerBuild::CowStr => self.text(e, dst, text_kind::COW_STR, fail),
            PointerBuild::CowBytes => self.text(e, dst, text_kind::COW_BYTES, fail),
            PointerBuild::BorrowedBytes => self.text(e, dst, text_kind::BYTES_REF, fail),
            PointerBuild::Slice(builder) => {
                let Op::Slice(slice) = &self.plan.node(pointee).op else {
                    unreachable!("builds_inline admits slice builders of slices only")
                };
                self.boxed_slice(e, id, &slice.elements, builder, dst, fail);
            }
        }
    }

    /// `Box<[T]>`, `Arc<[T]>`, `Rc<[T]>` through facet's slice builder (Rust
    /// ABI, so through helpers): each element decoded into scratch and
    /// pushed, or a run whose memory is its wire form pushed straight from
    /// the input.
    fn boxed_slice(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        run: &Elements,
        builder: &'static facet_core::SliceBuilderVTable,
        dst: Value,
        fail: Block,
    ) {
        let n = Self::index(id);
        let count = self.count(e, self.plan.min_wire_size(run.node), run.stride, fail);
        if let Some(words) = self.boxed_run_layout(id, run, builder) {
            // `Box<[T]>` of a run whose memory is its wire form: one
            // allocation of exactly the elements, one copy, the two words.
            let bytes = e.b.ins().imul_imm_u(count, run.stride as i64);
            e.need(bytes, fail);
            if matches!(self.plan.node(run.node).op, Op::Bool) {
                self.check_bools(e, bytes, fail);
            }
            let align = self.align_of(run.node);
            let empty = e.b.create_block();
            let filled = e.b.create_block();
            let done = e.b.create_block();
            let data = e.b.append_block_param(done, e.ptr);
            e.b.ins().brif(count, filled, &[], empty, &[]);
            e.b.switch_to_block(empty);
            let dangling = e.iconst_ptr(align as i64);
            e.b.ins().jump(done, &[dangling.into()]);
            e.b.switch_to_block(filled);
            let allocated = self.allocate_dynamic(e, bytes, align, fail);
            let cur = e.cur();
            e.b.call_memcpy(e.frontend, allocated, cur, bytes);
            e.b.ins().jump(done, &[allocated.into()]);
            e.b.switch_to_block(done);
            e.advance(bytes);
            e.b.ins().store(flags(), data, dst, words.ptr_offset);
            e.b.ins().store(flags(), count, dst, words.len_offset);
            return;
        }
        let ptr = e.ptr;
        let ctx = e.ctx;
        let node = e.b.ins().iconst(types::I32, i64::from(n));
        // Storage for the builder (`interp::decode::SliceBuild`: 3 words).
        let slot = e.word_slot(4);
        let element_scratch = (!run.memory_is_wire).then(|| self.scratch(e, run.node, fail));
        // Scratch that did not fit in the frame is freed on every exit.
        let (fail, heap_scratch) = match &element_scratch {
            Some(scratch) if scratch.heap.is_some() => {
                let (address, heap) = (scratch.address, scratch.heap);
                let free = self.cleanup_then(e, fail, |e| {
                    self.free(e, &Scratch { address, heap });
                });
                (free, Some(Scratch { address, heap }))
            }
            _ => (fail, None),
        };
        let builder = e.iconst_ptr(builder as *const _ as i64);
        let status = e.call_native(
            decode_runtime::slice_start as *const u8,
            &[ptr, types::I32, ptr, ptr],
            &[types::I32],
            &[ctx, node, builder, slot],
        )[0];
        e.check_to(status, fail);
        let free_builder = self.cleanup_then(e, fail, |e| {
            e.call_native(
                decode_runtime::slice_free as *const u8,
                &[ptr],
                &[],
                &[slot],
            );
        });
        match element_scratch {
            None => {
                let bytes = e.b.ins().imul_imm_u(count, run.stride as i64);
                e.need(bytes, free_builder);
                if matches!(self.plan.node(run.node).op, Op::Bool) {
                    self.check_bools(e, bytes, free_builder);
                }
                let cur = e.cur();
                let stride = e.iconst_ptr(run.stride as i64);
                let status = e.call_native(
                    decode_runtime::slice_push_run as *const u8,
                    &[ptr, types::I32, ptr, ptr, ptr, ptr],
                    &[types::I32],
                    &[ctx, node, slot, cur, count, stride],
                )[0];
                e.check_to(status, free_builder);
                e.advance(bytes);
            }
            Some(scratch) => {
                e.counted_loop(count, |e, _| {
                    self.node(e, run.node, scratch.address, free_builder);
                    let status = e.call_native(
                        decode_runtime::slice_push as *const u8,
                        &[ptr, types::I32, ptr, ptr],
                        &[types::I32],
                        &[ctx, node, slot, scratch.address],
                    )[0];
                    e.check_to(status, free_builder);
                });
            }
        }
        let status = e.call_native(
            decode_runtime::slice_finish as *const u8,
            &[ptr, types::I32, ptr, ptr],
            &[types::I32],
            &[ctx, node, slot, dst],
        )[0];
        e.check_to(status, fail);
        if let Some(scratch) = heap_scratch {
            self.free(e, &scratch);
        }
    }

    /// `Box<T>` of a sized `T` (its room already checked): the pointee
    /// decoded straight into a fresh allocation, whose address is the box.
    fn box_in_place(&self, e: &mut FunctionEmitter, pointee: NodeId, dst: Value, fail: Block) {
        let layout = self
            .plan
            .node(pointee)
            .shape
            .layout
            .sized_layout()
            .unwrap_or(core::alloc::Layout::new::<()>());
        let (size, align) = (layout.size() as u64, layout.align() as u64);
        let storage = if size == 0 {
            e.iconst_ptr(align as i64)
        } else {
            self.allocate(e, size, align, fail)
        };
        let on_fail = if size == 0 {
            fail
        } else {
            self.cleanup_then(e, fail, |e| {
                self.free(
                    e,
                    &Scratch {
                        address: storage,
                        heap: Some((size, align)),
                    },
                );
            })
        };
        self.node(e, pointee, storage, on_fail);
        // A `Box` of a sized type is one pointer to its allocation.
        e.b.ins().store(flags(), storage, dst, 0);
    }

    /// A collection's declared element count, checked as the interpreter's
    /// `count` does: against the input left (elements of `min` wire bytes
    /// at least) or against the zero-size budget (`stride` bytes each).
    fn count(&self, e: &mut FunctionEmitter, min: usize, stride: usize, fail: Block) -> Value {
        let count = e.read_varint(VarintWidth::U64, fail);
        if min == 0 {
            self.charge_zero_sized(e, count, stride, fail);
        } else {
            let left = e.remaining();
            let fits = if min == 1 {
                left
            } else {
                e.b.ins().udiv_imm_u(left, min as i64)
            };
            let long = e.b.ins().icmp(IntCC::UnsignedGreaterThan, count, fits);
            let fine = e.cold_if(long);
            e.fail_input(fail);
            e.b.switch_to_block(fine);
        }
        count
    }

    /// Decodes `len` elements into consecutive slots from `base`; a failure
    /// drops the ones decoded before it.
    fn run(&self, e: &mut FunctionEmitter, run: &Elements, base: Value, len: Value, fail: Block) {
        if run.memory_is_wire {
            let bytes = e.b.ins().imul_imm_u(len, run.stride as i64);
            e.need(bytes, fail);
            if matches!(self.plan.node(run.node).op, Op::Bool) {
                self.check_bools(e, bytes, fail);
            }
            let cur = e.cur();
            e.b.call_memcpy(e.frontend, base, cur, bytes);
            e.advance(bytes);
            return;
        }
        if self.plan.min_wire_size(run.node) == 0 {
            self.charge_zero_sized(e, len, run.stride, fail);
        }
        e.counted_loop(len, |e, index| {
            let offset = e.b.ins().imul_imm_u(index, run.stride as i64);
            let slot = e.b.ins().iadd(base, offset);
            let on_fail = if needs_drop(self.plan, run.node) {
                self.cleanup_then(e, fail, |e| self.drop_run(e, run, base, index))
            } else {
                fail
            };
            self.node(e, run.node, slot, on_fail);
        });
    }

    /// Drops the `count` elements of `run` from `base`.
    fn drop_run(&self, e: &mut FunctionEmitter, run: &Elements, base: Value, count: Value) {
        let ptr = e.ptr;
        let ctx = e.ctx;
        let node = e.b.ins().iconst(types::I32, run.node.index() as i64);
        let stride = e.iconst_ptr(run.stride as i64);
        e.call_native(
            decode_runtime::drop_run as *const u8,
            &[ptr, types::I32, ptr, ptr, ptr],
            &[],
            &[ctx, node, base, count, stride],
        );
    }

    /// Fails (a bad `bool`) unless the `bytes` at the cursor are all 0 or 1.
    fn check_bools(&self, e: &mut FunctionEmitter, bytes: Value, fail: Block) {
        let ptr = e.ptr;
        let cur = e.cur();
        let status = e.call_native(
            decode_runtime::check_bools as *const u8,
            &[ptr, ptr],
            &[types::I32],
            &[cur, bytes],
        )[0];
        e.check_to(status, fail);
    }

    /// Draws `count` elements of `stride` bytes from the zero-size budget,
    /// or fails.
    fn charge_zero_sized(&self, e: &mut FunctionEmitter, count: Value, stride: usize, fail: Block) {
        let ptr = e.ptr;
        let ctx = e.ctx;
        let stride = e.iconst_ptr(stride as i64);
        let status = e.call_native(
            decode_runtime::charge_zero_sized as *const u8,
            &[ptr, ptr, ptr],
            &[types::I32],
            &[ctx, count, stride],
        )[0];
        e.check_to(status, fail);
    }

    /// A list, in place: facet's `init` with a cautious capacity, elements
    /// at their stride (growing as they decode), `set_len`.
    fn list(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        how: &ListBuild,
        run: &Elements,
        dst: Value,
        fail: Block,
    ) {
        let stride = run.stride;
        let count = self.count(e, self.plan.min_wire_size(run.node), stride, fail);
        // As the interpreter: runs whose memory is their wire form take
        // their whole count at once (no more memory than input), others a
        // cautious capacity.
        let fit = cautious(usize::MAX, stride);
        let room = if fit == usize::MAX || run.memory_is_wire {
            count
        } else {
            let fit = e.iconst_ptr(fit as i64);
            e.b.ins().umin(count, fit)
        };
        self.calls.construct(
            e,
            VtableOp::ListInit,
            how.init as usize,
            dst,
            &[Arg::Word(room)],
        );
        let list = dst;
        // On failure: the list (with the elements it was told of) is dropped.
        let drop_list = self.drop_then(e, id, list, fail);
        if run.memory_is_wire {
            let base = self.as_mut_ptr(e, id, how, list);
            self.run(e, run, base, count, drop_list);
            self.set_len(e, id, how, list, count);
            return;
        }
        let base = self.as_mut_ptr(e, id, how, list);
        let ptr = e.ptr;
        let head = e.b.create_block();
        let body = e.b.create_block();
        let grow = e.b.create_block();
        let element = e.b.create_block();
        let done = e.b.create_block();
        e.b.set_cold_block(grow);
        let len = e.b.append_block_param(head, ptr);
        let room_now = e.b.append_block_param(head, ptr);
        let base_now = e.b.append_block_param(head, ptr);
        let zero = e.iconst_ptr(0);
        e.b.ins()
            .jump(head, &[zero.into(), room.into(), base.into()]);

        e.b.switch_to_block(head);
        let finished = e.b.ins().icmp(IntCC::Equal, len, count);
        e.b.ins().brif(finished, done, &[], body, &[]);

        e.b.switch_to_block(body);
        let full = e.b.ins().icmp(IntCC::Equal, len, room_now);
        let slot_room = e.b.append_block_param(element, ptr);
        let slot_base = e.b.append_block_param(element, ptr);
        e.b.ins().brif(
            full,
            grow,
            &[],
            element,
            &[room_now.into(), base_now.into()],
        );

        // Grows as the interpreter does: by what is left, at most doubling
        // (at least 4); the list is told its length first.
        e.b.switch_to_block(grow);
        let left = e.b.ins().isub(count, len);
        let four = e.iconst_ptr(4);
        let at_least = e.b.ins().umax(len, four);
        let additional = e.b.ins().umin(left, at_least);
        self.set_len(e, id, how, list, len);
        self.calls.on_value(
            e,
            VtableOp::ListReserve,
            how.reserve as usize,
            list,
            &[additional],
        );
        let grown_base = self.as_mut_ptr(e, id, how, list);
        let grown_room = e.b.ins().iadd(len, additional);
        e.b.ins()
            .jump(element, &[grown_room.into(), grown_base.into()]);

        e.b.switch_to_block(element);
        let offset = e.b.ins().imul_imm_u(len, stride as i64);
        let slot = e.b.ins().iadd(slot_base, offset);
        let on_fail = self.cleanup_then(e, drop_list, |e| self.set_len(e, id, how, list, len));
        self.node(e, run.node, slot, on_fail);
        let next = e.b.ins().iadd_imm_u(len, 1);
        e.b.ins()
            .jump(head, &[next.into(), slot_room.into(), slot_base.into()]);

        e.b.switch_to_block(done);
        self.set_len(e, id, how, list, count);
    }

    /// A set (`parts` = the element) or a map (`parts` = key, value) built
    /// by inserting each decoded entry: facet's `init` with a cautious
    /// capacity, then per entry its parts decoded into scratch and moved in
    /// by `insert` (`calls` = init and insert functions and operations).
    fn inserted(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        parts: &[NodeId],
        calls: (usize, usize, VtableOp, VtableOp),
        dst: Value,
        fail: Block,
    ) {
        let (init, insert, init_op, insert_op) = calls;
        let size = |part: NodeId| {
            let shape = self.plan.node(part).shape;
            shape.layout.sized_layout().map_or(0, |l| l.size())
        };
        let entry_size: usize = parts.iter().map(|&part| size(part)).sum();
        let min = parts.iter().fold(0usize, |min, &part| {
            min.saturating_add(self.plan.min_wire_size(part))
        });
        let count = self.count(e, min, entry_size, fail);
        // An empty collection takes no scratch (whose allocation could fail).
        let empty = e.b.create_block();
        let entries = e.b.create_block();
        let exit = e.b.create_block();
        e.b.ins().brif(count, entries, &[], empty, &[]);
        e.b.switch_to_block(empty);
        let nothing = e.iconst_ptr(0);
        self.calls
            .construct(e, init_op, init, dst, &[Arg::Word(nothing)]);
        e.b.ins().jump(exit, &[]);
        e.b.switch_to_block(entries);
        // Scratch for each part, freed on every exit.
        let mut scratches = Vec::new();
        let mut on_fail = fail;
        for &part in parts {
            let scratch = self.scratch(e, part, on_fail);
            if scratch.heap.is_some() {
                let (address, heap) = (scratch.address, scratch.heap);
                on_fail = self.cleanup_then(e, on_fail, |e| {
                    self.free(e, &Scratch { address, heap });
                });
            }
            scratches.push(scratch);
        }
        let fit = cautious(usize::MAX, entry_size);
        let room = if fit == usize::MAX {
            count
        } else {
            let fit = e.iconst_ptr(fit as i64);
            e.b.ins().umin(count, fit)
        };
        self.calls
            .construct(e, init_op, init, dst, &[Arg::Word(room)]);
        let drop_collection = self.drop_then(e, id, dst, on_fail);

        e.counted_loop(count, |e, _| {
            let mut part_fail = drop_collection;
            for (&part, scratch) in parts.iter().zip(&scratches) {
                self.node(e, part, scratch.address, part_fail);
                if needs_drop(self.plan, part) {
                    part_fail = self.drop_then(e, part, scratch.address, part_fail);
                }
            }
            let mut args = vec![VtableCallEmitter::ptr_arg(e, dst)];
            for scratch in &scratches {
                args.push(VtableCallEmitter::ptr_arg(e, scratch.address));
            }
            self.calls.call(e, insert_op, insert, &args);
        });
        for scratch in &scratches {
            self.free(e, scratch);
        }
        e.b.ins().jump(exit, &[]);
        e.b.switch_to_block(exit);
    }

    /// The list's element storage: its calibrated pointer word, else
    /// facet's `as_mut_ptr_typed`.
    fn as_mut_ptr(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        how: &ListBuild,
        list: Value,
    ) -> Value {
        if let Some(layout) = self.vec_layouts[id] {
            let ptr = e.ptr;
            return e.load(ptr, list, layout.ptr_offset);
        }
        self.calls.on_value(
            e,
            VtableOp::ListAsMutPtr,
            how.as_mut_ptr as usize,
            list,
            &[],
        )[0]
    }

    /// Sets the list's length: its calibrated length word (what `set_len`
    /// writes), else facet's `set_len`.
    fn set_len(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        how: &ListBuild,
        list: Value,
        len: Value,
    ) {
        if let Some(layout) = self.vec_layouts[id] {
            e.b.ins().store(flags(), len, list, layout.len_offset);
            return;
        }
        self.calls
            .on_value(e, VtableOp::ListSetLen, how.set_len as usize, list, &[len]);
    }
}

/// `value` truncated to the width of `ty` (an iconst of a narrow type must
/// be given in range).
fn truncate(value: i64, ty: types::Type) -> i64 {
    match ty.bytes() {
        1 => i64::from(value as u8),
        2 => i64::from(value as u16),
        4 => i64::from(value as u32),
        _ => value,
    }
}
