//! Plan ops → Cranelift IR: how each node of a [`Plan`] is written with the
//! vocabulary of [`FunctionEmitter`].
//!
//! Nodes are emitted inline into the function of the nearest enclosing
//! "function node" (the root, nodes on a cycle, and elements of sets and
//! indexed lists, which runtime helpers call through a pointer); a function
//! node reached from elsewhere is a direct call. A map's key and value are
//! inlined into its entry function ([`NodeEmitter::map_entry_body`]), which
//! the runtime calls once per entry. Runs of fields with
//! a bounded encoded size share one capacity check.
//!
//! Reads that need no call where [`PlanFacts`] knows the layout: an option's
//! presence and payload ([`crate::calibration::presence`]), a pointer's pointee and a wide
//! pointer's length ([`crate::calibration::layout::pointer_layout`]), a `String`'s,
//! `&str`'s or `Vec`'s data and length; slices come as facet's wide pointer
//! words. Everything else goes through facet's vtable ([`VtableCallEmitter`]).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Type, Value, types};
use cranelift_frontend::Switch;

use super::Callees;
use super::emit::FunctionEmitter;
use super::facet_ptr::{THIN_META, UNTAG_MASK, WIDE_TAG};
use super::facts::PlanFacts;
use super::runtime;
use super::vtable_calls::VtableCallEmitter;
use crate::plan::{
    DiscriminantRead, Elements, FieldStep, IntKind, NodeId, Op, OptionOp, Plan, StrAccess,
};
use crate::wire;

/// Emits the body of one function node.
pub(crate) struct NodeEmitter<'p> {
    pub plan: &'p Plan,
    pub facts: &'p PlanFacts,
    pub calls: VtableCallEmitter,
    /// The function node being emitted (emitted inline, not called).
    pub function_node: NodeId,
    /// The callee reference of every function, in this function.
    pub callees: Callees,
    /// Whether the recursive function node being emitted is already
    /// inlined once into itself (see [`NodeEmitter::node_here`]).
    pub unrolled: std::cell::Cell<bool>,
    /// A pointer node's data word, already loaded by the option around it
    /// to test presence (see [`NodeEmitter::option`]): its node and value.
    pub loaded_word: std::cell::Cell<Option<(NodeId, Value)>>,
    /// Wide pointers this function tagged itself (see
    /// [`NodeEmitter::tag_wide`]): the tagged value and the address.
    pub tagged: std::cell::RefCell<Vec<(Value, Value)>>,
}

impl NodeEmitter<'_> {
    /// Emits the entry checks and the body of the function node being
    /// compiled.
    pub fn function_body(&self, e: &mut FunctionEmitter, data: Value, meta: Value) {
        let id = self.function_node;
        let this = self.callees.nodes[id.index()].expect("every function node is declared");
        let depth_node = self.plan.is_recursive(id).then_some(id.index() as u32);
        e.enter(this, data, meta, depth_node);
        self.inline(e, id, data, meta, false);
    }

    /// Emits the body of the entry function of the map node being compiled
    /// ([`Function::MapEntry`](super::Function::MapEntry)): `data` points
    /// at the key's and the value's facet pointer words, which are encoded
    /// one after the other, inline (one capacity check when both are
    /// bounded).
    pub fn map_entry_body(&self, e: &mut FunctionEmitter, data: Value, meta: Value) {
        let id = self.function_node;
        let this = self.callees.map_entries[id.index()].expect("every map entry is declared");
        // Depth is counted by the map's own level, not per entry.
        e.enter(this, data, meta, None);
        let Op::Map(op) = &self.plan.node(id).op else {
            unreachable!("map entry functions are declared for map nodes only")
        };
        let ptr = e.ptr;
        let word = i32::from(ptr.bytes() as u8);
        let key = e.load(ptr, data, 0);
        let key_meta = e.load(ptr, data, word);
        let value = e.load(ptr, data, 2 * word);
        let value_meta = e.load(ptr, data, 3 * word);
        let reserved = match (self.facts.max_size[op.key], self.facts.max_size[op.value]) {
            (Some(key_bytes), Some(value_bytes)) => {
                e.ensure_const(key_bytes + value_bytes);
                true
            }
            _ => false,
        };
        self.node(e, op.key, key, key_meta, reserved);
        self.node(e, op.value, value, value_meta, reserved);
    }

    /// Emits the encoding of the value (`data`, `meta`) of node `id`: a call
    /// for function nodes (the current one included: that is recursion),
    /// inline code otherwise. `reserved` says the caller already ensured the
    /// node's bounded size.
    fn node(&self, e: &mut FunctionEmitter, id: NodeId, data: Value, meta: Value, reserved: bool) {
        // Emission recurses once per level of (non-recursive) type nesting.
        crate::stack::with_room(crate::stack::RED_ZONE, || {
            self.node_here(e, id, data, meta, reserved)
        })
    }

    fn node_here(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        data: Value,
        meta: Value,
        reserved: bool,
    ) {
        if self.facts.own_function[id] {
            // Self-recursion (a tree's children) is unrolled once: the
            // child's level is inlined, with its own depth count, and only
            // grandchildren cost a call. Its frame is this function's, so no
            // stack check is needed; deeper levels check at their entry.
            if id == self.function_node && self.plan.is_recursive(id) && !self.unrolled.get() {
                self.unrolled.set(true);
                let before = e.take_depth(id.index() as u32, false);
                self.inline(e, id, data, meta, reserved);
                e.give_depth(before);
                self.unrolled.set(false);
                return;
            }
            let callee = self.callees.nodes[id.index()].expect("every function node is declared");
            e.call_compiled(callee, data, meta);
            return;
        }
        self.inline(e, id, data, meta, reserved);
    }

    fn inline(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        data: Value,
        meta: Value,
        reserved: bool,
    ) {
        let reserved = reserved || {
            match self.facts.max_size[id] {
                Some(bytes) => {
                    e.ensure_const(bytes);
                    true
                }
                None => false,
            }
        };
        if let Some(size) = self.plan.plain_size(id) {
            // A plain record: its memory is its wire form.
            if !reserved {
                e.ensure_const(size);
            }
            e.put_copy_const(data, size);
            return;
        }
        let node = self.plan.node(id);
        match &node.op {
            Op::Nothing => {}
            Op::Bool | Op::Byte => {
                let byte = e.load(types::I8, data, 0);
                e.put_byte(byte);
            }
            Op::Int(kind) => self.int(e, *kind, data),
            Op::F32 => {
                let bits = e.load(types::I32, data, 0);
                e.put_raw(bits);
            }
            Op::F64 => {
                let bits = e.load(types::I64, data, 0);
                e.put_raw(bits);
            }
            Op::Char => {
                let c = e.load_extended(types::I32, false, data);
                e.put_char(c);
            }
            Op::Str(access) => {
                let (bytes, len) = self.str_parts(e, *access, data, meta);
                self.length_prefixed_copy(e, bytes, len);
            }
            Op::Fields(fields) => self.fields(e, fields, data, reserved, None),
            Op::Enum(op) => self.enum_(e, id, op, data, reserved),
            Op::Option(op) => self.option(e, id, op, data, reserved, reserved),
            Op::Result(op) => {
                let is_ok = self.calls.result_is_ok(e, op.vtable.is_ok, data);
                e.put_tag_arms(is_ok, 0, reserved, |e, tag| {
                    let (value, inner) = if tag == 0 {
                        (self.calls.result_get_ok(e, op.vtable.get_ok, data), op.ok)
                    } else {
                        (
                            self.calls.result_get_err(e, op.vtable.get_err, data),
                            op.err,
                        )
                    };
                    let thin = e.iconst_ptr(THIN_META);
                    self.node(e, inner, value, thin, reserved);
                });
            }
            Op::Pointer(op) => {
                let (pointee, pointee_meta) = match self.facts.layouts.pointer_layout[id] {
                    // The pointee's address from the pointer's own words
                    // (see `layout::pointer_layout`), as facet's words.
                    Some(layout) => {
                        let ptr = e.ptr;
                        let address = match self.loaded_word.take() {
                            Some((node, word)) if node == id => word,
                            _ => e.load(ptr, data, layout.data_word),
                        };
                        let address = e.b.ins().iadd_imm_u(address, layout.data_offset as i64);
                        match layout.len_word {
                            None => (address, e.iconst_ptr(THIN_META)),
                            Some(len_word) => {
                                let len = e.load(ptr, data, len_word);
                                (self.tag_wide(e, address), len)
                            }
                        }
                    }
                    None => self.calls.pointer_borrow(e, op.borrow, data),
                };
                self.node(e, op.pointee, pointee, pointee_meta, reserved);
            }
            Op::List(op) => match op.vtable.as_ptr {
                Some(as_ptr) => {
                    let (elements, len) = match self.facts.layouts.vec_layout[id] {
                        Some(layout) => {
                            let ptr = e.ptr;
                            // Size-only code never reads bytes it would copy.
                            let elements = if e.measuring() && op.elements.memory_is_wire {
                                e.iconst_ptr(0)
                            } else {
                                e.load(ptr, data, layout.ptr_offset)
                            };
                            (elements, e.load(ptr, data, layout.len_offset))
                        }
                        None => (
                            self.calls.list_as_ptr(e, as_ptr, data),
                            self.calls.list_len(e, op.vtable.len, data),
                        ),
                    };
                    self.length_prefixed_run(e, &op.elements, elements, len);
                }
                None => {
                    let element = self.function_address(e, op.elements.node);
                    self.node_helper(
                        e,
                        runtime::encode_indexed_list as *const u8,
                        id,
                        data,
                        &[element],
                    );
                }
            },
            Op::Slice(op) => {
                // A slice is reached through facet's wide pointer: the
                // tagged address and the length (see `facet_ptr`).
                let elements = self.untag(e, data);
                self.length_prefixed_run(e, &op.elements, elements, meta);
            }
            Op::Array(op) => {
                let len = e.iconst_ptr(op.len as i64);
                self.run(e, &op.elements, data, len, reserved);
            }
            // The length prefix here (one direct call of facet's `len`),
            // the items through the Rust-ABI iterator in the runtime.
            Op::Set(op) => {
                let len = self.calls.list_len(e, op.len, data);
                e.ensure_const(wire::MAX_VARINT_U64_LEN);
                e.put_length(len);
                let element = self.function_address(e, op.element);
                self.node_helper(
                    e,
                    runtime::encode_iterated as *const u8,
                    id,
                    data,
                    &[element, len],
                );
            }
            Op::Map(op) => {
                let len = self.calls.list_len(e, op.len, data);
                e.ensure_const(wire::MAX_VARINT_U64_LEN);
                e.put_length(len);
                let callee = self.callees.map_entries[id.index()]
                    .expect("every map node's entry function is declared");
                let ptr = e.ptr;
                let entry = e.b.ins().func_addr(ptr, callee);
                self.node_helper(
                    e,
                    runtime::encode_iterated as *const u8,
                    id,
                    data,
                    &[entry, len],
                );
            }
            Op::Fallback(_) => {
                self.node_helper(e, runtime::fallback as *const u8, id, data, &[meta]);
            }
        }
    }

    /// Writes `fields` of the value at `data`, after the varint `tag` when
    /// given (an enum variant's). Runs of fields whose size is known before
    /// writing (a bounded size, or a string: its length plus the longest
    /// varint) share one capacity check, the tag's bytes included in the
    /// first; a lone field checks its own.
    fn fields(
        &self,
        e: &mut FunctionEmitter,
        fields: &[FieldStep],
        data: Value,
        reserved: bool,
        tag: Option<u64>,
    ) {
        let mut tag = tag.map(|tag| {
            let mut bytes = [0u8; wire::MAX_VARINT_U64_LEN];
            (tag, wire::encode_varint_u64(tag, &mut bytes))
        });
        let mut index = 0;
        loop {
            let head = tag.map_or(0, |(_, len)| len);
            if index >= fields.len() && head == 0 {
                break;
            }
            let run: Vec<KnownSize> = fields[index..]
                .iter()
                .map_while(|f| self.sized(f.node))
                .take(MAX_RUN_FIELDS)
                .collect();
            // The tag byte of an option with an unbounded payload right
            // after the run joins the check.
            let tail = fields
                .get(index + run.len())
                .filter(|f| run.len() < MAX_RUN_FIELDS && self.option_tag_after_run(f.node))
                .map_or(0, |_| 1);
            let checked = !reserved && (run.len() + tail > 1 || head > 0);
            // The strings' parts are read first, so one check can cover them.
            let mut strings = Vec::new();
            if checked {
                let fixed = head + tail + run.iter().map(KnownSize::fixed).sum::<usize>();
                let mut total = None;
                for (field, part) in fields[index..].iter().zip(&run) {
                    if let KnownSize::Str(access) = part {
                        let at = e.b.ins().iadd_imm_u(data, field.offset as i64);
                        let thin = e.iconst_ptr(THIN_META);
                        let (bytes, len) = self.str_parts(e, *access, at, thin);
                        // Live strings lie in the address space (< 2^57
                        // bytes on every supported host): a few lengths
                        // cannot wrap the sum.
                        let sum = match total {
                            Some(total) => e.b.ins().iadd(total, len),
                            None => e.b.ins().iadd_imm_u(len, fixed as i64),
                        };
                        total = Some(sum);
                        strings.push((bytes, len));
                    }
                }
                match total {
                    Some(total) => e.ensure(total),
                    None => e.ensure_const(fixed),
                }
            }
            // Size-only code counts the run's strings at once (see
            // `FunctionEmitter::count_strings`).
            let strings_counted = e.measuring() && !strings.is_empty();
            if strings_counted {
                let lens: Vec<Value> = strings.iter().map(|&(_, len)| len).collect();
                e.count_strings(&lens);
            }
            if let Some((value, _)) = tag.take() {
                e.put_varint_const(value);
            }
            let count = (run.len() + tail)
                .max(1)
                .min(fields.len() - index.min(fields.len()));
            let mut strings = strings.into_iter();
            for (offset, field) in fields[index..].iter().take(count).enumerate() {
                let in_run = checked && offset < run.len();
                if in_run && let KnownSize::Str(_) = run[offset] {
                    let (bytes, len) = strings.next().expect("one read per string of the run");
                    if !strings_counted {
                        e.put_length(len);
                        e.put_copy(bytes, len);
                    }
                    continue;
                }
                let at = e.b.ins().iadd_imm_u(data, field.offset as i64);
                if checked && tail == 1 && offset == run.len() {
                    let Op::Option(op) = &self.plan.node(field.node).op else {
                        unreachable!("the run's tail is an option")
                    };
                    self.option(e, field.node, op, at, false, true);
                    continue;
                }
                let thin = e.iconst_ptr(THIN_META);
                self.node(e, field.node, at, thin, reserved || in_run);
            }
            index += count.max(1);
        }
    }

    /// Writes the option (node `id`, op `op`) at `data`: `reserved` says the
    /// room of the whole option is ensured, `tag_reserved` the room of its
    /// tag byte only (a field run's check covered it; the payload checks
    /// its own).
    fn option(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        op: &OptionOp,
        data: Value,
        reserved: bool,
        tag_reserved: bool,
    ) {
        let mut payload_word = None;
        let (is_some, value) = match self.facts.layouts.presence[id] {
            // Calibrated presence (see `presence`): one load and a compare
            // instead of `get_value`.
            Some(presence) => {
                let ty = int_type(presence.width);
                let word = e.load(ty, data, presence.offset);
                let none = e.b.ins().iconst(ty, presence.none as i64);
                let is_some = e.b.ins().icmp(IntCC::NotEqual, word, none);
                let value = e.b.ins().iadd_imm_u(data, presence.payload_offset as i64);
                // A pointer payload whose data word is the presence word
                // (`Option<Box<T>>`): it reuses this load.
                if ty == e.ptr
                    && !self.facts.own_function[op.some]
                    && matches!(self.plan.node(op.some).op, Op::Pointer(_))
                    && let Some(layout) = self.facts.layouts.pointer_layout[op.some]
                    && presence.offset == presence.payload_offset + layout.data_word
                {
                    payload_word = Some((op.some, word));
                }
                (is_some, value)
            }
            None => {
                let value = self.calls.option_get_value(e, op.vtable.get_value, data);
                (value, value)
            }
        };
        e.put_tag_arms(is_some, 1, tag_reserved, |e, tag| {
            if tag == 1 {
                let thin = e.iconst_ptr(THIN_META);
                self.loaded_word.set(payload_word);
                self.node(e, op.some, value, thin, reserved);
                self.loaded_word.set(None);
            }
        });
    }

    /// Whether node `id` is an inline option with an unbounded payload: a
    /// field run's check may cover its tag byte (see [`Self::fields`]).
    fn option_tag_after_run(&self, id: NodeId) -> bool {
        !self.facts.own_function[id]
            && self.bounded(id).is_none()
            && matches!(self.plan.node(id).op, Op::Option(_))
    }

    /// How many bytes a field writes at most, when known before writing it.
    fn sized(&self, id: NodeId) -> Option<KnownSize> {
        if let Some(bytes) = self.bounded(id) {
            return Some(KnownSize::Fixed(bytes));
        }
        match self.plan.node(id).op {
            Op::Str(access) if !self.facts.own_function[id] && access != StrAccess::Unsized => {
                Some(KnownSize::Str(access))
            }
            _ => None,
        }
    }

    /// facet's wide pointer data word for `address` (see `facet_ptr`):
    /// the address with the tag bit set, remembered so that
    /// [`untag`](Self::untag) gives the address back without an
    /// instruction.
    fn tag_wide(&self, e: &mut FunctionEmitter, address: Value) -> Value {
        let tagged = e.b.ins().bor_imm_s(address, WIDE_TAG);
        self.tagged.borrow_mut().push((tagged, address));
        tagged
    }

    /// The address of a wide pointer's data word `data`: the address
    /// [`tag_wide`](Self::tag_wide) tagged (an address never has the tag
    /// bit set), or the word with the tag cleared.
    fn untag(&self, e: &mut FunctionEmitter, data: Value) -> Value {
        let known = self
            .tagged
            .borrow()
            .iter()
            .find(|&&(tagged, _)| tagged == data)
            .map(|&(_, address)| address);
        known.unwrap_or_else(|| e.b.ins().band_imm_u(data, UNTAG_MASK))
    }

    fn bounded(&self, id: NodeId) -> Option<usize> {
        if self.facts.own_function[id] {
            None
        } else {
            self.facts.max_size[id]
        }
    }

    fn int(&self, e: &mut FunctionEmitter, kind: IntKind, data: Value) {
        let value = match kind {
            IntKind::U16 => e.load_extended(types::I16, false, data),
            IntKind::U32 => e.load_extended(types::I32, false, data),
            IntKind::U64 | IntKind::I64 => e.load(types::I64, data, 0),
            IntKind::I16 => e.load_extended(types::I16, true, data),
            IntKind::I32 => e.load_extended(types::I32, true, data),
            IntKind::U128 if !e.measuring() && !e.is_compact() => {
                let low = e.load(types::I64, data, 0);
                let high = e.load(types::I64, data, 8);
                e.put_varint_u128(low, high);
                return;
            }
            IntKind::I128 if !e.measuring() && !e.is_compact() => {
                // Zigzag across both words: (v << 1) ^ (v >> 127).
                let low = e.load(types::I64, data, 0);
                let high = e.load(types::I64, data, 8);
                let sign = e.b.ins().sshr_imm_u(high, 63);
                let low_doubled = e.b.ins().ishl_imm_u(low, 1);
                let carry = e.b.ins().ushr_imm_u(low, 63);
                let high_doubled = e.b.ins().ishl_imm_u(high, 1);
                let high_doubled = e.b.ins().bor(high_doubled, carry);
                let low = e.b.ins().bxor(low_doubled, sign);
                let high = e.b.ins().bxor(high_doubled, sign);
                e.put_varint_u128(low, high);
                return;
            }
            IntKind::U128 | IntKind::I128 => {
                let helper = match (kind == IntKind::U128, e.measuring()) {
                    (true, false) => runtime::write_varint_u128 as *const u8,
                    (false, false) => runtime::write_varint_i128 as *const u8,
                    (true, true) => runtime::measure_varint_u128 as *const u8,
                    (false, true) => runtime::measure_varint_i128 as *const u8,
                };
                let cur = e.cur();
                let ptr = e.ptr;
                let next = e.call_native(helper, &[ptr, ptr], &[ptr], &[cur, data])[0];
                e.set_cur(next);
                return;
            }
        };
        let value = if kind.is_signed() {
            let doubled = e.b.ins().ishl_imm_u(value, 1);
            let sign = e.b.ins().sshr_imm_u(value, 63);
            e.b.ins().bxor(doubled, sign)
        } else {
            value
        };
        // Zigzag keeps a signed type's width.
        e.put_varint_of(value, kind.varint_width().bits());
    }

    /// The data pointer and length of a string.
    fn str_parts(
        &self,
        e: &mut FunctionEmitter,
        access: StrAccess,
        data: Value,
        meta: Value,
    ) -> (Value, Value) {
        let ptr = e.ptr;
        let layout = match access {
            StrAccess::String => self.facts.layouts.string_layout,
            StrAccess::StrRef => self.facts.layouts.str_ref_layout,
            StrAccess::Unsized => None,
        };
        match (access, layout) {
            // Size-only code never reads the bytes.
            (StrAccess::String | StrAccess::StrRef, Some(layout)) if e.measuring() => {
                (e.iconst_ptr(0), e.load(ptr, data, layout.len_offset))
            }
            (StrAccess::String | StrAccess::StrRef, Some(layout)) => (
                e.load(ptr, data, layout.ptr_offset),
                e.load(ptr, data, layout.len_offset),
            ),
            (StrAccess::String | StrAccess::StrRef, _) => {
                let helper = if access == StrAccess::String {
                    runtime::string_parts as *const u8
                } else {
                    runtime::str_ref_parts as *const u8
                };
                let slot = e.word_slot(1);
                let bytes = e.call_native(helper, &[ptr, ptr], &[ptr], &[data, slot])[0];
                (bytes, e.load(ptr, slot, 0))
            }
            // A wide pointer's data word carries facet's tag.
            (StrAccess::Unsized, _) => (self.untag(e, data), meta),
        }
    }

    /// Writes `len` as a varint, then copies `len` bytes from `bytes`.
    fn length_prefixed_copy(&self, e: &mut FunctionEmitter, bytes: Value, len: Value) {
        let total = e.b.ins().iadd_imm_u(len, wire::MAX_VARINT_U64_LEN as i64);
        e.ensure(total);
        e.put_length(len);
        e.put_copy(bytes, len);
    }

    /// Writes `len` as a varint, then the `len` elements at `elements`.
    fn length_prefixed_run(
        &self,
        e: &mut FunctionEmitter,
        run: &Elements,
        elements: Value,
        len: Value,
    ) {
        if run.memory_is_wire {
            let bytes = e.b.ins().imul_imm_u(len, run.stride as i64);
            let total = e.b.ins().iadd_imm_u(bytes, wire::MAX_VARINT_U64_LEN as i64);
            e.ensure(total);
            e.put_length(len);
            e.put_copy(elements, bytes);
        } else {
            e.ensure_const(wire::MAX_VARINT_U64_LEN);
            e.put_length(len);
            self.run(e, run, elements, len, false);
        }
    }

    /// Writes the `len` elements at `elements` (no length).
    fn run(
        &self,
        e: &mut FunctionEmitter,
        run: &Elements,
        elements: Value,
        len: Value,
        reserved: bool,
    ) {
        if run.memory_is_wire {
            let bytes = e.b.ins().imul_imm_u(len, run.stride as i64);
            if !reserved {
                e.ensure(bytes);
            }
            e.put_copy(elements, bytes);
            return;
        }
        e.counted_loop(len, |e, index| {
            let offset = e.b.ins().imul_imm_u(index, run.stride as i64);
            let element = e.b.ins().iadd(elements, offset);
            let thin = e.iconst_ptr(THIN_META);
            self.node(e, run.node, element, thin, reserved);
        });
    }

    fn enum_(
        &self,
        e: &mut FunctionEmitter,
        id: NodeId,
        op: &crate::plan::EnumOp,
        data: Value,
        reserved: bool,
    ) {
        let discriminant = match op.discriminant {
            DiscriminantRead::U8 => e.load_extended(types::I8, false, data),
            DiscriminantRead::U16 => e.load_extended(types::I16, false, data),
            DiscriminantRead::U32 => e.load_extended(types::I32, false, data),
            DiscriminantRead::U64 | DiscriminantRead::I64 => e.load(types::I64, data, 0),
            DiscriminantRead::I8 => e.load_extended(types::I8, true, data),
            DiscriminantRead::I16 => e.load_extended(types::I16, true, data),
            DiscriminantRead::I32 => e.load_extended(types::I32, true, data),
        };
        let done = e.b.create_block();
        let invalid = e.b.create_block();
        e.b.set_cold_block(invalid);
        let mut switch = Switch::new();
        let blocks: Vec<_> = op
            .variants
            .iter()
            .map(|variant| {
                let block = e.b.create_block();
                switch.set_entry(u128::from(variant.discriminant as u64), block);
                block
            })
            .collect();
        switch.emit(e.b, discriminant, invalid);

        e.b.switch_to_block(invalid);
        let ctx = e.ctx;
        let node_index = e.b.ins().iconst(types::I32, id.index() as i64);
        let ptr = e.ptr;
        let status = e.call_helper_writing(
            runtime::invalid_discriminant as *const u8,
            &[ptr, types::I32, types::I64],
            &[ctx, node_index, discriminant],
        );
        e.fail_with(status);

        for (variant, block) in op.variants.iter().zip(blocks) {
            e.b.switch_to_block(block);
            let tag = u64::from(variant.index);
            self.fields(e, &variant.fields, data, reserved, Some(tag));
            e.b.ins().jump(done, &[]);
        }
        e.b.switch_to_block(done);
    }

    /// The address of the compiled function of a function node.
    fn function_address(&self, e: &mut FunctionEmitter, id: NodeId) -> Value {
        let callee = self.callees.nodes[id.index()].expect("every function node is declared");
        let ptr = e.ptr;
        e.b.ins().func_addr(ptr, callee)
    }

    /// Calls a runtime helper of signature `(ctx, node index, data,
    /// extra words...) -> status` that writes, and propagates its failure.
    fn node_helper(
        &self,
        e: &mut FunctionEmitter,
        helper: *const u8,
        id: NodeId,
        data: Value,
        extra: &[Value],
    ) {
        let node_index = e.b.ins().iconst(types::I32, id.index() as i64);
        let ptr = e.ptr;
        let mut params = vec![ptr, types::I32, ptr];
        params.extend(extra.iter().map(|_| ptr));
        let mut args = vec![e.ctx, node_index, data];
        args.extend_from_slice(extra);
        let status = e.call_helper_writing(helper, &params, &args);
        e.check(status);
    }
}

/// Most fields one capacity check covers (which also bounds how many
/// string lengths its sum adds).
const MAX_RUN_FIELDS: usize = 16;

/// A field whose size is known before it is written (see
/// [`NodeEmitter::fields`]).
#[derive(Clone, Copy)]
enum KnownSize {
    /// At most this many bytes.
    Fixed(usize),
    /// A string (not behind a wide pointer): its length plus the longest
    /// length varint.
    Str(StrAccess),
}

impl KnownSize {
    /// The constant part of its size.
    fn fixed(&self) -> usize {
        match self {
            KnownSize::Fixed(bytes) => *bytes,
            KnownSize::Str(_) => wire::MAX_VARINT_U64_LEN,
        }
    }
}

/// The integer type of `width` (1, 2, 4 or 8) bytes.
fn int_type(width: u8) -> Type {
    match width {
        1 => types::I8,
        2 => types::I16,
        4 => types::I32,
        _ => types::I64,
    }
}
