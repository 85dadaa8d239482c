//! The instruction-level vocabulary of a generated encoder function: the
//! write cursor, capacity checks, byte and varint stores, copies, and calls
//! to runtime helpers with the spill/reload protocol of [`super::runtime`].
//!
//! [`super::codegen`] expresses plan ops in these terms; nothing here knows
//! about plans or shapes.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind,
    Type, Value, types,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, Variable};

use super::runtime::{CTX_CUR, CTX_DEPTH_LEFT, CTX_END, CTX_STACK_LIMIT};
use crate::wire;

/// One function being generated: the builder plus the registers that hold
/// the context, the cursor and the capacity end.
pub(crate) struct FunctionEmitter<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    pub ptr: Type,
    pub call_conv: CallConv,
    pub frontend: TargetFrontendConfig,
    /// The `*mut EncodeCtx` argument.
    pub ctx: Value,
    /// The cursor argument, when the cursor is passed in registers.
    cur_param: Option<Value>,
    cur: Variable,
    end: Variable,
    /// Returns the (non-zero) status in its parameter.
    fail: Block,
    /// The context's remaining depth before the function took one at entry,
    /// if it counts depth: stored back on success (with
    /// [`EntryHelpers::depth_in_registers`], only when a call site stored
    /// a depth).
    depth_at_entry: Option<Value>,
    /// With [`EntryHelpers::depth_in_registers`]: the remaining depth after
    /// the levels taken so far, which the context must hold at every call
    /// given the context.
    depth_now: Option<Value>,
    /// Whether a call site stored [`depth_now`](Self::depth_now) into the
    /// context (which the success exit then restores).
    depth_stored: bool,
    /// The runtime this function's entry protocol calls.
    entry: EntryHelpers,
    /// A size-only function (see [`measure_only`](Self::measure_only)).
    measuring: bool,
    /// Smallest IR over fastest code (see [`compact`](Self::compact)).
    compact: bool,
}

/// The runtime side of a function's entry protocol (the encoder's and the
/// decoder's contexts both start with the words `enter` touches: cursor,
/// end, stack limit, remaining depth).
#[derive(Clone, Copy)]
pub(crate) struct EntryHelpers {
    /// Whether compiled functions pass the cursor in registers (encoders:
    /// `fn(ctx, data, meta, cur) -> cur or FAILED`, see
    /// [`super::runtime`]) rather than through the context (decoders:
    /// `fn(ctx, data, meta) -> status`).
    pub cursor_in_registers: bool,
    /// Runs `function` again on a new stack segment, with the function's
    /// own signature after `(ctx, function, ...)`, returning what it returns.
    pub grow_stack: *const u8,
    /// `fn(ctx, node: u32) -> status`: reports nesting beyond the limit.
    pub too_deep: *const u8,
    /// Where the context records the lowest remaining depth reached, when
    /// it does (decoders: how deep a partly built value can be).
    pub lowest_depth_left: Option<i32>,
    /// Whether the depth a function takes stays in a register and reaches
    /// the context only before calls that are given it (encoders, whose
    /// calls given the context all go through
    /// [`FunctionEmitter::call_native`] and
    /// [`FunctionEmitter::call_compiled`]; facet's vtable functions and
    /// `memcpy` are not given it), rather than being stored at every take
    /// and give.
    pub depth_in_registers: bool,
}

/// Bytes [`FunctionEmitter::put_varint`] may store at the cursor whatever
/// the varint's length: callers ensure at least this much room (and the
/// varint's own maximum, when larger).
pub(crate) const VARINT_STORE: usize = 8;

/// Largest constant-size copy [`FunctionEmitter::copy_const`] emits as
/// moves instead of a `memcpy` call.
pub(crate) const INLINE_COPY_MAX: usize = 64;

/// Memory flags for loads of value fields and stores into the buffer: never
/// trapping, no alignment promised.
pub(crate) fn flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<'a, 'b> FunctionEmitter<'a, 'b> {
    /// Starts a function of the compiled-encoder signature in `b`: returns
    /// the emitter and the `data` and `meta` arguments. The caller emits the
    /// entry checks next ([`enter`](Self::enter)), then the body.
    pub fn begin(
        b: &'a mut FunctionBuilder<'b>,
        frontend: TargetFrontendConfig,
        call_conv: CallConv,
        entry: EntryHelpers,
    ) -> (Self, Value, Value) {
        let ptr = frontend.pointer_type();
        let first = b.create_block();
        b.append_block_params_for_function_params(first);
        b.switch_to_block(first);
        let params = b.block_params(first).to_vec();
        let cur = b.declare_var(ptr);
        let end = b.declare_var(ptr);
        let fail = b.create_block();
        b.append_block_param(fail, types::I32);
        b.set_cold_block(fail);
        let emitter = FunctionEmitter {
            b,
            ptr,
            call_conv,
            frontend,
            ctx: params[0],
            cur_param: entry.cursor_in_registers.then(|| params[3]),
            cur,
            end,
            fail,
            depth_at_entry: None,
            depth_now: None,
            depth_stored: false,
            entry,
            measuring: false,
            compact: false,
        };
        (emitter, params[1], params[2])
    }

    /// The entry protocol of [`super::runtime`]: if the stack pointer is
    /// below the context's stack limit, return what `this` (the function
    /// being emitted) returns when [`grow_stack`](super::runtime::grow_stack)
    /// runs it again on a new segment; for a recursive node (`depth_node`),
    /// take one from the remaining depth or fail with
    /// [`too_deep`](super::runtime::too_deep). Then load the cursor.
    pub fn enter(&mut self, this: FuncRef, data: Value, meta: Value, depth_node: Option<u32>) {
        let ptr = self.ptr;
        let ctx = self.ctx;
        let sp = self.b.ins().get_stack_pointer(ptr);
        let limit = self.b.ins().load(ptr, flags(), ctx, CTX_STACK_LIMIT);
        let low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        let grow = self.b.create_block();
        let room = self.b.create_block();
        self.b.set_cold_block(grow);
        self.b.ins().brif(low, grow, &[], room, &[]);
        self.b.switch_to_block(grow);
        let function = self.b.ins().func_addr(ptr, this);
        let returned = match self.cur_param {
            Some(cur) => self.call_native(
                self.entry.grow_stack,
                &[ptr, ptr, ptr, ptr, ptr],
                &[ptr],
                &[ctx, function, data, meta, cur],
            )[0],
            None => self.call_native(
                self.entry.grow_stack,
                &[ptr, ptr, ptr, ptr],
                &[types::I32],
                &[ctx, function, data, meta],
            )[0],
        };
        self.b.ins().return_(&[returned]);
        self.b.switch_to_block(room);
        if let Some(node) = depth_node {
            self.depth_at_entry = Some(self.take_depth(node, true));
        }
        match self.cur_param {
            // Recursive functions, called once per level, keep the cursor
            // in registers. Elsewhere it goes through the context once at
            // entry: a value loaded there leaves register allocation free,
            // where the argument's register (clobbered by every call)
            // cost long bodies extra moves.
            Some(cur) if depth_node.is_some() => {
                let end = self.b.ins().load(self.ptr, flags(), self.ctx, CTX_END);
                self.b.def_var(self.cur, cur);
                self.b.def_var(self.end, end);
            }
            Some(cur) => {
                self.b.ins().store(flags(), cur, self.ctx, CTX_CUR);
                self.reload_cursor();
            }
            None => self.reload_cursor(),
        }
    }

    /// Returns from the function as failed with `status` (an `i32`, the
    /// error in the context): the status itself, or [`FAILED`
    /// ](super::runtime::FAILED) when the cursor is passed in registers.
    fn return_failure(&mut self, status: Value) {
        if self.cur_param.is_some() {
            let failed = self.b.ins().iconst(self.ptr, super::runtime::FAILED as i64);
            self.b.ins().return_(&[failed]);
        } else {
            self.b.ins().return_(&[status]);
        }
    }

    /// Takes one from the remaining depth for a level of node `node` (from
    /// the context's at entry; with
    /// [`EntryHelpers::depth_in_registers`], then from the register's and
    /// without storing it), or reports nesting beyond the limit ([`too_deep`
    /// ](super::runtime::too_deep)): returning its status when `at_entry`
    /// (nothing to clean up yet), through the failure exit otherwise.
    /// Returns the remaining depth before, for [`give_depth`
    /// ](Self::give_depth).
    pub fn take_depth(&mut self, node: u32, at_entry: bool) -> Value {
        let ptr = self.ptr;
        let ctx = self.ctx;
        let left = match self.depth_now {
            Some(now) => now,
            None => self.b.ins().load(ptr, flags(), ctx, CTX_DEPTH_LEFT),
        };
        let deep = self.b.create_block();
        let allowed = self.b.create_block();
        self.b.set_cold_block(deep);
        self.b.ins().brif(left, allowed, &[], deep, &[]);
        self.b.switch_to_block(deep);
        let node = self.b.ins().iconst(types::I32, i64::from(node));
        let status = self.call_native(
            self.entry.too_deep,
            &[ptr, types::I32],
            &[types::I32],
            &[ctx, node],
        )[0];
        if at_entry {
            self.return_failure(status);
        } else {
            self.fail_with(status);
        }
        self.b.switch_to_block(allowed);
        let taken = self.b.ins().iadd_imm_s(left, -1);
        if self.entry.depth_in_registers {
            self.depth_now = Some(taken);
            return left;
        }
        self.b.ins().store(flags(), taken, ctx, CTX_DEPTH_LEFT);
        if let Some(lowest_at) = self.entry.lowest_depth_left {
            let lowest = self.b.ins().load(ptr, flags(), ctx, lowest_at);
            let lower = self.b.ins().umin(lowest, taken);
            self.b.ins().store(flags(), lower, ctx, lowest_at);
        }
        left
    }

    /// Gives back the one [`take_depth`](Self::take_depth) took, by making
    /// the remaining depth it found (`before`, its result) current again:
    /// the register's with [`EntryHelpers::depth_in_registers`], otherwise
    /// the context's, by storing it. Everything
    /// nested in between gave back what it took, or failed (and the
    /// failure exit gives nothing back). A store of a value known since the
    /// take, not an increment of the stored word: recursive code would
    /// otherwise chain every level's read-modify-write through memory.
    pub fn give_depth(&mut self, before: Value) {
        if self.entry.depth_in_registers {
            self.depth_now = Some(before);
        } else {
            self.b
                .ins()
                .store(flags(), before, self.ctx, CTX_DEPTH_LEFT);
        }
    }

    /// Before a call given the context (`args`), with
    /// [`EntryHelpers::depth_in_registers`]: makes the context's remaining
    /// depth the current one, so the callee (a compiled function at its
    /// entry, or a helper that calls back into compiled code or the
    /// interpreter) reads it there. Helpers that only report or grow the
    /// buffer do not read it; storing before every call given the context
    /// keeps the rule simple, and those calls are on cold paths.
    fn store_depth_for(&mut self, args: &[Value]) {
        if let Some(now) = self.depth_now
            && args.contains(&self.ctx)
        {
            self.b.ins().store(flags(), now, self.ctx, CTX_DEPTH_LEFT);
            self.depth_stored = true;
        }
    }

    /// Gives back the depth taken at entry and returns success (the
    /// cursor, or a stored cursor and status 0); then emits the failure
    /// exit.
    pub fn finish(mut self) {
        if self.cur_param.is_none() {
            self.spill_cursor();
        }
        if let Some(before) = self.depth_at_entry {
            if !self.entry.depth_in_registers {
                self.give_depth(before);
            } else if self.depth_stored {
                // Calls saw the depths below; the caller's is due back.
                self.b
                    .ins()
                    .store(flags(), before, self.ctx, CTX_DEPTH_LEFT);
            }
        }
        if self.cur_param.is_some() {
            let cur = self.b.use_var(self.cur);
            self.b.ins().return_(&[cur]);
        } else {
            let ok = self.b.ins().iconst(types::I32, 0);
            self.b.ins().return_(&[ok]);
        }
        self.b.switch_to_block(self.fail);
        let status = self.b.block_params(self.fail)[0];
        self.return_failure(status);
        self.b.seal_all_blocks();
    }

    /// Makes this a *size-only* function: the cursor counts bytes from 0
    /// instead of pointing into a buffer, every `put_*` only moves it by
    /// the length it would write (nothing is stored), and capacity checks
    /// vanish. The encoder's code, run with
    /// [`EncodeCtx::measuring`](super::runtime::EncodeCtx::measuring),
    /// then returns the encoding's exact length.
    pub fn measure_only(&mut self) {
        self.measuring = true;
    }

    /// Makes this function's IR small rather than its code fast, for quick
    /// compiles: copies call `memcpy` at any size (the inline short copies
    /// are most of the IR of string-heavy types; writing integer varints
    /// with the byte loop instead saved less and cost more), and 128-bit
    /// varints call the runtime (see `NodeEmitter::int`).
    pub fn compact(&mut self) {
        self.compact = true;
    }

    /// Whether this function is compact (see [`compact`](Self::compact)).
    pub fn is_compact(&self) -> bool {
        self.compact
    }

    /// Whether this is a size-only function.
    pub fn measuring(&self) -> bool {
        self.measuring
    }

    /// Moves the cursor by the length of `value`'s LEB128 varint (an `i64`
    /// read as unsigned): `ceil(bits / 7)`, at least 1, as in
    /// [`put_varint`](Self::put_varint).
    fn advance_varint(&mut self, value: Value) {
        let len = self.varint_len(value);
        self.advance(len);
    }

    /// The length of `value`'s LEB128 varint (an `i64` read as unsigned),
    /// branch-free: `ceil(bits / 7)`, at least 1.
    pub fn varint_len(&mut self, value: Value) -> Value {
        let nonzero = self.b.ins().bor_imm_u(value, 1);
        let leading = self.b.ins().clz(nonzero);
        let len = self.b.ins().imul_imm_s(leading, -37);
        let len = self.b.ins().iadd_imm_s(len, 70 * 37);
        self.b.ins().ushr_imm_u(len, 8)
    }

    /// Moves the cursor of a size-only function past strings of lengths
    /// `lens`, each a varint length and its bytes: when every length is
    /// below 128 (one test of their bitwise or), that is their sum plus
    /// one byte each; otherwise each length's varint is computed. The sums
    /// are pairwise, and the cursor moves once.
    pub fn count_strings(&mut self, lens: &[Value]) {
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(slow);
        let size = self.b.append_block_param(done, self.ptr);
        let any = lens
            .iter()
            .copied()
            .reduce(|a, b| self.b.ins().bor(a, b))
            .expect("at least one string");
        let bytes = self.sum(lens.to_vec());
        let short = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, any, 0x80);
        let fast = self.b.ins().iadd_imm_u(bytes, lens.len() as i64);
        self.b.ins().brif(short, done, &[fast.into()], slow, &[]);
        self.b.switch_to_block(slow);
        let prefixes: Vec<Value> = lens.iter().map(|&len| self.varint_len(len)).collect();
        let prefixes = self.sum(prefixes);
        let exact = self.b.ins().iadd(bytes, prefixes);
        self.b.ins().jump(done, &[exact.into()]);
        self.b.switch_to_block(done);
        self.advance(size);
    }

    /// The sum of `values`, added pairwise (no long chain of additions).
    fn sum(&mut self, mut values: Vec<Value>) -> Value {
        while values.len() > 1 {
            values = values
                .chunks(2)
                .map(|pair| match *pair {
                    [a, b] => self.b.ins().iadd(a, b),
                    [a] => a,
                    _ => unreachable!("chunks of two"),
                })
                .collect();
        }
        values[0]
    }

    /// Makes the stored cursor current (before calls that write).
    pub fn spill_cursor(&mut self) {
        let cur = self.b.use_var(self.cur);
        self.b.ins().store(flags(), cur, self.ctx, CTX_CUR);
    }

    /// Picks up cursor and capacity after calls that may have written or grown.
    pub fn reload_cursor(&mut self) {
        let cur = self.b.ins().load(self.ptr, flags(), self.ctx, CTX_CUR);
        let end = self.b.ins().load(self.ptr, flags(), self.ctx, CTX_END);
        self.b.def_var(self.cur, cur);
        self.b.def_var(self.end, end);
    }

    /// The current cursor.
    pub fn cur(&mut self) -> Value {
        self.b.use_var(self.cur)
    }

    /// The end of the buffer (encoders) or of the input (decoders).
    pub fn end(&mut self) -> Value {
        self.b.use_var(self.end)
    }

    /// Moves the cursor `bytes` forward.
    pub fn advance(&mut self, bytes: Value) {
        let cur = self.b.use_var(self.cur);
        let next = self.b.ins().iadd(cur, bytes);
        self.b.def_var(self.cur, next);
    }

    /// Replaces the cursor (after a helper that wrote and returned it).
    pub fn set_cur(&mut self, cur: Value) {
        self.b.def_var(self.cur, cur);
    }

    /// Ensures `bytes` (a constant) can be written without further checks.
    ///
    /// The test is `cur + bytes > end` (one `lea` and a compare; no
    /// overflow: the cursor is a user-space address and `bytes` below
    /// 2^32 here), and `cur == end` for one byte (the cursor never passes
    /// the end: every write stays within what was ensured).
    pub fn ensure_const(&mut self, bytes: usize) {
        if bytes == 0 || self.measuring {
            return;
        }
        if bytes > u32::MAX as usize {
            let needed = self.b.ins().iconst(self.ptr, bytes as i64);
            self.ensure(needed);
            return;
        }
        let cur = self.b.use_var(self.cur);
        let end = self.b.use_var(self.end);
        let short = if bytes == 1 {
            self.b.ins().icmp(IntCC::Equal, cur, end)
        } else {
            let past = self.b.ins().iadd_imm_u(cur, bytes as i64);
            self.b.ins().icmp(IntCC::UnsignedGreaterThan, past, end)
        };
        let needed = self.b.ins().iconst(self.ptr, bytes as i64);
        self.grow_if(short, needed);
    }

    /// Ensures `bytes` can be written without further checks, growing the
    /// buffer through the runtime when needed.
    pub fn ensure(&mut self, bytes: Value) {
        if self.measuring {
            return;
        }
        let cur = self.b.use_var(self.cur);
        let end = self.b.use_var(self.end);
        let available = self.b.ins().isub(end, cur);
        let short = self.b.ins().icmp(IntCC::UnsignedLessThan, available, bytes);
        self.grow_if(short, bytes);
    }

    /// When `short`, grows the buffer through the runtime by `bytes`.
    fn grow_if(&mut self, short: Value, bytes: Value) {
        let grow = self.b.create_block();
        let ready = self.b.create_block();
        self.b.set_cold_block(grow);
        self.b.ins().brif(short, grow, &[], ready, &[]);
        self.b.switch_to_block(grow);
        let ctx = self.ctx;
        let status = self.call_helper_writing(
            super::runtime::reserve as *const u8,
            &[self.ptr, self.ptr],
            &[ctx, bytes],
        );
        self.check(status);
        self.b.ins().jump(ready, &[]);
        self.b.switch_to_block(ready);
    }

    /// Stores the low byte of `value` at the cursor and advances by one.
    pub fn put_byte(&mut self, value: Value) {
        if self.measuring {
            let one = self.b.ins().iconst(self.ptr, 1);
            self.advance(one);
            return;
        }
        let cur = self.b.use_var(self.cur);
        if self.b.func.dfg.value_type(value) == types::I8 {
            self.b.ins().store(flags(), value, cur, 0);
        } else {
            self.b.ins().istore8(flags(), value, cur, 0);
        }
        let one = self.b.ins().iconst(self.ptr, 1);
        self.advance(one);
    }

    /// Stores the constant byte at the cursor and advances by one.
    pub fn put_const_byte(&mut self, byte: u8) {
        let value = self.b.ins().iconst(types::I32, i64::from(byte));
        self.put_byte(value);
    }

    /// Stores `value` (any integer type) at the cursor, little-endian, and
    /// advances by its size.
    pub fn put_raw(&mut self, value: Value) {
        if !self.measuring {
            let cur = self.b.use_var(self.cur);
            self.b.ins().store(flags(), value, cur, 0);
        }
        let size = self.b.func.dfg.value_type(value).bytes();
        let size = self.b.ins().iconst(self.ptr, i64::from(size));
        self.advance(size);
    }

    /// Writes a length (an `i64`, read as unsigned) as a LEB128 varint, in
    /// a byte loop: lengths are mostly one byte, and the loop is the
    /// smallest code (every string and list has one); the caller has
    /// ensured 10 bytes.
    pub fn put_length(&mut self, value: Value) {
        if self.measuring {
            // Mostly one byte: a predictable branch is cheaper than the
            // computed length.
            let one = self.b.create_block();
            let more = self.b.create_block();
            let done = self.b.create_block();
            let small = self
                .b
                .ins()
                .icmp_imm_u(IntCC::UnsignedLessThan, value, 0x80);
            self.b.ins().brif(small, one, &[], more, &[]);
            self.b.switch_to_block(one);
            let byte = self.b.ins().iconst(self.ptr, 1);
            self.advance(byte);
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(more);
            self.advance_varint(value);
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(done);
            return;
        }
        let head = self.b.create_block();
        let more = self.b.create_block();
        let last = self.b.create_block();
        let done = self.b.create_block();
        let v_head = self.b.append_block_param(head, types::I64);
        self.b.ins().jump(head, &[value.into()]);

        self.b.switch_to_block(head);
        let small = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, v_head, 0x80);
        self.b.ins().brif(small, last, &[], more, &[]);

        self.b.switch_to_block(more);
        let byte = self.b.ins().bor_imm_u(v_head, 0x80);
        self.put_byte(byte);
        let rest = self.b.ins().ushr_imm_u(v_head, 7);
        self.b.ins().jump(head, &[rest.into()]);

        self.b.switch_to_block(last);
        self.put_byte(v_head);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(done);
    }

    /// Writes an integer field's value (an `i64`, read as unsigned) as a
    /// LEB128 varint; the caller has ensured the longest varint of the
    /// value's type and at least [`VARINT_STORE`] bytes.
    ///
    /// One byte (values below 0x80) is stored directly. Otherwise there is
    /// no loop and no branch on the length: the low 56 bits' 7-bit groups
    /// spread to 8 bytes in three mask-and-shift steps and the whole word
    /// is stored (bytes past the encoding are scratch the cursor moves back
    /// over). Below 2^56 the length and the continuation bits of every byte
    /// but the last are read from [`wire::VARINT_SHAPES`] by the count of
    /// leading zeros; from 2^56 (only `u64`
    /// and `i64`, which ensure 10 bytes) all 8 bytes continue and the top
    /// 8 bits follow as one or two more bytes.
    pub fn put_varint(&mut self, value: Value) {
        self.put_varint_of(value, 64);
    }

    /// [`put_varint`](Self::put_varint) of a value known to have at most
    /// `bits` significant bits: below 57, the test for 2^56 and the long
    /// path are left out.
    pub fn put_varint_of(&mut self, value: Value, bits: u32) {
        if self.measuring {
            self.advance_varint(value);
            return;
        }
        let one = self.b.create_block();
        let rest = self.b.create_block();
        let short = self.b.create_block();
        let long = (bits > 56).then(|| self.b.create_block());
        let done = self.b.create_block();
        let small = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, value, 0x80);
        self.b.ins().brif(small, one, &[], rest, &[]);

        self.b.switch_to_block(one);
        self.put_byte(value);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(rest);
        let word = self.spread_groups(value);
        match long {
            None => {
                self.b.ins().jump(short, &[]);
            }
            Some(long) => {
                let fits = self
                    .b
                    .ins()
                    .icmp_imm_u(IntCC::UnsignedLessThan, value, 1 << 56);
                self.b.ins().brif(fits, short, &[], long, &[]);
            }
        }

        self.b.switch_to_block(short);
        // The length and the continuation bits of the first `len - 1`
        // bytes, looked up by the leading zeros (0..=64, inside the table).
        let leading = self.b.ins().clz(value);
        let shapes = self.iconst_ptr(&raw const wire::VARINT_SHAPES as i64);
        let index = self.b.ins().ishl_imm_u(leading, 3);
        let shape = self.b.ins().iadd(shapes, index);
        let continued = self.load(
            types::I64,
            shape,
            core::mem::offset_of!(wire::VarintShapes, continued) as i32,
        );
        let len = self.load(
            types::I64,
            shape,
            core::mem::offset_of!(wire::VarintShapes, len) as i32,
        );
        let encoded = self.b.ins().bor(word, continued);
        let cur = self.b.use_var(self.cur);
        self.b.ins().store(flags(), encoded, cur, 0);
        self.advance(len);
        self.b.ins().jump(done, &[]);

        if let Some(long) = long {
            self.b.switch_to_block(long);
            let encoded = self
                .b
                .ins()
                .bor_imm_u(word, 0x8080_8080_8080_8080u64 as i64);
            let cur = self.b.use_var(self.cur);
            self.b.ins().store(flags(), encoded, cur, 0);
            // As `wire::varint_u64_words`: the top 8 bits are the ninth
            // byte (its top bit its continuation bit), that bit the tenth.
            let top = self.b.ins().ushr_imm_u(value, 56);
            let tenth = self.b.ins().ushr_imm_u(top, 7);
            let shifted = self.b.ins().ishl_imm_u(tenth, 8);
            let tail = self.b.ins().bor(top, shifted);
            let tail = self.b.ins().ireduce(types::I16, tail);
            self.b.ins().store(flags(), tail, cur, 8);
            let len = self.b.ins().iadd_imm_u(tenth, 9);
            self.advance(len);
            self.b.ins().jump(done, &[]);
        }

        self.b.switch_to_block(done);
    }

    /// The low 56 bits of `value` as eight 7-bit groups, one per byte
    /// (continuation bits clear): three mask-and-shift steps.
    fn spread_groups(&mut self, value: Value) -> Value {
        let mut word = value;
        for (keep, moved, shift) in [
            (0x0000_0000_0FFF_FFFFi64, 0x00FF_FFFF_F000_0000i64, 4),
            (0x0000_3FFF_0000_3FFF, 0x0FFF_C000_0FFF_C000, 2),
            (0x007F_007F_007F_007F, 0x3F80_3F80_3F80_3F80, 1),
        ] {
            let kept = self.b.ins().band_imm_u(word, keep);
            let moved = self.b.ins().band_imm_u(word, moved);
            let moved = self.b.ins().ishl_imm_u(moved, shift);
            word = self.b.ins().bor(kept, moved);
        }
        word
    }

    /// Writes a 128-bit integer's varint from its low and high words (the
    /// caller has ensured 19 bytes): below 2^64, [`put_varint`] of the low
    /// word; otherwise the low 56 bits as eight continued bytes, then the
    /// rest (the value shifted right by 56, at most 72 bits) the same way
    /// once more: below 2^64 as a varint of its own, otherwise eight more
    /// continued bytes and the last 16 bits in the byte loop. At most 18
    /// bytes are touched before the last step's byte stores, and no more
    /// than the varint's own length after it.
    ///
    /// [`put_varint`]: Self::put_varint
    pub fn put_varint_u128(&mut self, low: Value, high: Value) {
        let small = self.b.create_block();
        let wide = self.b.create_block();
        let split = self.b.create_block();
        let huge = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(high, wide, &[], small, &[]);

        self.b.switch_to_block(small);
        self.put_varint(low);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(wide);
        self.put_continued_groups(low);
        // The value shifted right by 56: its low word and its top 8 bits.
        let top = self.b.ins().ushr_imm_u(low, 56);
        let shifted = self.b.ins().ishl_imm_u(high, 8);
        let rest_low = self.b.ins().bor(top, shifted);
        let rest_high = self.b.ins().ushr_imm_u(high, 56);
        self.b.ins().brif(rest_high, huge, &[], split, &[]);

        self.b.switch_to_block(split);
        self.put_varint(rest_low);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(huge);
        self.put_continued_groups(rest_low);
        let top = self.b.ins().ushr_imm_u(rest_low, 56);
        let shifted = self.b.ins().ishl_imm_u(rest_high, 8);
        let last = self.b.ins().bor(top, shifted);
        self.put_length(last);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(done);
    }

    /// Stores the low 56 bits of `value` as eight varint bytes that all
    /// continue, and advances by eight.
    fn put_continued_groups(&mut self, value: Value) {
        let word = self.spread_groups(value);
        let continued = self
            .b
            .ins()
            .bor_imm_u(word, 0x8080_8080_8080_8080u64 as i64);
        let cur = self.b.use_var(self.cur);
        self.b.ins().store(flags(), continued, cur, 0);
        let eight = self.b.ins().iconst(self.ptr, 8);
        self.advance(eight);
    }

    /// Branches on `condition` (non-zero: tag `tag_if_set`, zero: the
    /// other of 0 and 1), writes the tag byte (checking its room unless
    /// `reserved`) and emits `arm(tag)` after it: an option's or a result's
    /// two variants. Emission continues after both arms.
    pub fn put_tag_arms(
        &mut self,
        condition: Value,
        tag_if_set: u8,
        reserved: bool,
        mut arm: impl FnMut(&mut Self, u8),
    ) {
        let set = self.b.create_block();
        let clear = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().brif(condition, set, &[], clear, &[]);
        for (block, tag) in [(set, tag_if_set), (clear, 1 - tag_if_set)] {
            self.b.switch_to_block(block);
            if !reserved {
                self.ensure_const(1);
            }
            self.put_const_byte(tag);
            arm(self, tag);
            self.b.ins().jump(done, &[]);
        }
        self.b.switch_to_block(done);
    }

    /// Writes the `char` whose code point is `c` (an `i64`, from a live
    /// `char`, so valid) as postcard does: its UTF-8 length as one byte,
    /// then its 1 to 4 UTF-8 bytes. The caller has ensured 5 bytes: all
    /// five are stored, the cursor advances past the encoding only.
    pub fn put_char(&mut self, c: Value) {
        if self.measuring {
            // The length byte, then 1 to 4 UTF-8 bytes.
            let mut len = self.b.ins().iconst(types::I64, 2);
            for boundary in [0x80, 0x800, 0x1_0000] {
                let beyond =
                    self.b
                        .ins()
                        .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, c, boundary);
                let beyond = self.b.ins().uextend(types::I64, beyond);
                len = self.b.ins().iadd(len, beyond);
            }
            self.advance(len);
            return;
        }
        let done = self.b.create_block();
        let packed = self.b.append_block_param(done, types::I64);
        let written = self.b.append_block_param(done, types::I64);
        // (code points below, UTF-8 length, lead byte marker)
        let classes: [(i64, i64, i64); 4] = [
            (0x80, 1, 0),
            (0x800, 2, 0xC0),
            (0x1_0000, 3, 0xE0),
            (i64::MAX, 4, 0xF0),
        ];
        let mut pending;
        for (below, len, lead) in classes {
            if below != i64::MAX {
                let this = self.b.create_block();
                let next = self.b.create_block();
                let fits = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, c, below);
                self.b.ins().brif(fits, this, &[], next, &[]);
                self.b.switch_to_block(this);
                pending = Some(next);
            } else {
                pending = None;
            }
            // Byte 0 is the length; byte i (1..=len) holds bits
            // 6 * (len - i) and up of `c`, under the lead marker or 0x80.
            let mut word = self.b.ins().iconst(types::I64, len);
            for i in 1..=len {
                let shift = 6 * (len - i);
                let bits = self.b.ins().ushr_imm_u(c, shift);
                let (mask, marker) = if i == 1 {
                    (if len == 1 { 0x7F } else { 0x3F >> (len - 1) }, lead)
                } else {
                    (0x3F, 0x80)
                };
                let bits = self.b.ins().band_imm_u(bits, mask);
                let byte = self.b.ins().bor_imm_u(bits, marker);
                let placed = self.b.ins().ishl_imm_u(byte, 8 * i);
                word = self.b.ins().bor(word, placed);
            }
            let total = self.b.ins().iconst(types::I64, len + 1);
            self.b.ins().jump(done, &[word.into(), total.into()]);
            // The next class is tested where this one did not fit; the last
            // class takes every code point left.
            if let Some(next) = pending {
                self.b.switch_to_block(next);
            }
        }
        self.b.switch_to_block(done);
        let cur = self.b.use_var(self.cur);
        let low = self.b.ins().ireduce(types::I32, packed);
        let high = self.b.ins().ushr_imm_u(packed, 32);
        let high = self.b.ins().ireduce(types::I8, high);
        self.b.ins().store(flags(), low, cur, 0);
        self.b.ins().store(flags(), high, cur, 4);
        self.advance(written);
    }

    /// Writes the constant `value` as a LEB128 varint (its bytes known now:
    /// no loop); the caller has ensured its length.
    pub fn put_varint_const(&mut self, value: u64) {
        let mut bytes = [0u8; wire::MAX_VARINT_U64_LEN];
        let len = wire::encode_varint_u64(value, &mut bytes);
        for &byte in &bytes[..len] {
            self.put_const_byte(byte);
        }
    }

    /// Copies `bytes` bytes from `src` to the cursor and advances; the
    /// caller has ensured the room.
    ///
    /// Copies of up to 64 bytes (most strings) are inline: 33 to 64 bytes
    /// as the first and the last 32 (four 16-byte vectors), 17 to 32 as the
    /// first and the last 16, 8 to 16 as the first and the last 8 bytes,
    /// possibly overlapping; 4 to 7 bytes likewise with 4-byte words; 1 to 3
    /// bytes as the first, middle and last byte. Every load comes before
    /// the stores of its range, and the ranges do not overlap (the output
    /// buffer is not the input). No byte outside `[src, src + bytes)` is
    /// read and none outside the copy's destination written. Longer copies
    /// call `memcpy`.
    pub fn put_copy(&mut self, src: Value, bytes: Value) {
        if self.measuring {
            self.advance(bytes);
            return;
        }
        if self.compact {
            let cur = self.b.use_var(self.cur);
            self.b.call_memcpy(self.frontend, cur, src, bytes);
            self.advance(bytes);
            return;
        }
        let cur = self.b.use_var(self.cur);
        let words8 = self.b.create_block();
        let not8 = self.b.create_block();
        let small = self.b.create_block();
        let words4 = self.b.create_block();
        let not4 = self.b.create_block();
        let bytes3 = self.b.create_block();
        let wide = self.b.create_block();
        let words16 = self.b.create_block();
        let not16 = self.b.create_block();
        let words32 = self.b.create_block();
        let call = self.b.create_block();
        let done = self.b.create_block();
        // `count` consecutive words of `ty` at the start and as many at the
        // end, possibly overlapping; every load before the first store.
        let ends = |e: &mut Self, ty: Type, count: i32| {
            let width = ty.bytes() as i32;
            let from_end = e.b.ins().iadd_imm_s(bytes, -i64::from(width * count));
            let src_tail = e.b.ins().iadd(src, from_end);
            let dst_tail = e.b.ins().iadd(cur, from_end);
            let places: Vec<(Value, Value, i32)> = (0..count)
                .flat_map(|i| [(src, cur, i * width), (src_tail, dst_tail, i * width)])
                .collect();
            let words: Vec<Value> = places
                .iter()
                .map(|&(from, _, offset)| e.b.ins().load(ty, flags(), from, offset))
                .collect();
            for (word, &(_, to, offset)) in words.into_iter().zip(&places) {
                e.b.ins().store(flags(), word, to, offset);
            }
            e.b.ins().jump(done, &[]);
        };
        // To `inside` when `low <= bytes <= high`, else to `outside`.
        let in_range = |e: &mut Self, low: i64, high: i64, inside: Block, outside: Block| {
            let from_low = e.b.ins().iadd_imm_s(bytes, -low);
            let within =
                e.b.ins()
                    .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, from_low, high - low);
            e.b.ins().brif(within, inside, &[], outside, &[]);
        };
        in_range(self, 8, 16, words8, not8);

        self.b.switch_to_block(words8);
        ends(self, types::I64, 1);

        self.b.switch_to_block(not8);
        let under_8 = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, bytes, 8);
        self.b.ins().brif(under_8, small, &[], wide, &[]);

        // 17 to 64 bytes as 16-byte vectors: the first and the last one, or
        // the first and the last two.
        self.b.switch_to_block(wide);
        in_range(self, 17, 32, words16, not16);

        self.b.switch_to_block(words16);
        ends(self, types::I8X16, 1);

        self.b.switch_to_block(not16);
        in_range(self, 33, 64, words32, call);

        self.b.switch_to_block(words32);
        ends(self, types::I8X16, 2);

        self.b.switch_to_block(call);
        self.b.call_memcpy(self.frontend, cur, src, bytes);
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(small);
        in_range(self, 4, 7, words4, not4);

        self.b.switch_to_block(words4);
        ends(self, types::I32, 1);

        self.b.switch_to_block(not4);
        self.b.ins().brif(bytes, bytes3, &[], done, &[]);

        self.b.switch_to_block(bytes3);
        let half = self.b.ins().ushr_imm_u(bytes, 1);
        let last = self.b.ins().iadd_imm_s(bytes, -1);
        for at in [None, Some(half), Some(last)] {
            let (from, to) = match at {
                None => (src, cur),
                Some(offset) => (
                    self.b.ins().iadd(src, offset),
                    self.b.ins().iadd(cur, offset),
                ),
            };
            let byte = self.b.ins().load(types::I8, flags(), from, 0);
            self.b.ins().store(flags(), byte, to, 0);
        }
        self.b.ins().jump(done, &[]);

        self.b.switch_to_block(done);
        self.advance(bytes);
    }

    /// Copies `size` (a constant) bytes from `src` to `dst`: inline moves
    /// of 8, 4, 2 and 1 bytes up to [`INLINE_COPY_MAX`] bytes, `memcpy`
    /// beyond. The ranges do not overlap.
    pub fn copy_const(&mut self, dst: Value, src: Value, size: usize) {
        if size > INLINE_COPY_MAX {
            let bytes = self.iconst_ptr(size as i64);
            self.b.call_memcpy(self.frontend, dst, src, bytes);
            return;
        }
        let mut at = 0usize;
        for (ty, width) in [
            (types::I64, 8),
            (types::I32, 4),
            (types::I16, 2),
            (types::I8, 1),
        ] {
            while size - at >= width {
                let value = self.b.ins().load(ty, flags(), src, at as i32);
                self.b.ins().store(flags(), value, dst, at as i32);
                at += width;
            }
        }
    }

    /// Copies `size` (a constant) bytes from `src` to the cursor and
    /// advances; the caller has ensured the room.
    pub fn put_copy_const(&mut self, src: Value, size: usize) {
        if !self.measuring {
            let cur = self.b.use_var(self.cur);
            self.copy_const(cur, src, size);
        }
        let size = self.iconst_ptr(size as i64);
        self.advance(size);
    }

    /// Loads a value of type `ty` at `base + offset`.
    pub fn load(&mut self, ty: Type, base: Value, offset: i32) -> Value {
        self.b.ins().load(ty, flags(), base, offset)
    }

    /// Loads an integer of type `ty` at `base` and extends it to `i64`.
    pub fn load_extended(&mut self, ty: Type, signed: bool, base: Value) -> Value {
        let narrow = self.load(ty, base, 0);
        if signed {
            self.b.ins().sextend(types::I64, narrow)
        } else {
            self.b.ins().uextend(types::I64, narrow)
        }
    }

    /// Branches to the failure exit when `status` (an `i32`) is non-zero.
    pub fn check(&mut self, status: Value) {
        let ok = self.b.create_block();
        self.b
            .ins()
            .brif(status, self.fail, &[status.into()], ok, &[]);
        self.b.switch_to_block(ok);
    }

    /// Branches to `target` (a block taking the status) when `status` (an
    /// `i32`) is non-zero.
    pub fn check_to(&mut self, status: Value, target: Block) {
        let ok = self.b.create_block();
        self.b.ins().brif(status, target, &[status.into()], ok, &[]);
        self.b.switch_to_block(ok);
    }

    /// The function's failure exit: a block taking the status, which it
    /// returns.
    pub fn fail_block(&self) -> Block {
        self.fail
    }

    /// Branches to the failure exit with `status` unconditionally.
    pub fn fail_with(&mut self, status: Value) {
        self.b.ins().jump(self.fail, &[status.into()]);
    }

    /// A signature of the native C convention.
    pub fn signature(&self, params: &[Type], returns: &[Type]) -> Signature {
        let mut sig = Signature::new(self.call_conv);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns
            .extend(returns.iter().map(|&t| AbiParam::new(t)));
        sig
    }

    /// Calls the native function at `address` that does not touch the
    /// buffer; returns its results.
    pub fn call_native(
        &mut self,
        address: *const u8,
        params: &[Type],
        returns: &[Type],
        args: &[Value],
    ) -> Vec<Value> {
        self.store_depth_for(args);
        let sig = self.signature(params, returns);
        let sig = self.b.import_signature(sig);
        let callee = self.b.ins().iconst(self.ptr, address as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call).to_vec()
    }

    /// Calls a runtime helper that may write to or grow the buffer and
    /// returns an `i32` status: spills the cursor first, reloads it after.
    pub fn call_helper_writing(
        &mut self,
        address: *const u8,
        params: &[Type],
        args: &[Value],
    ) -> Value {
        self.spill_cursor();
        let status = self.call_native(address, params, &[types::I32], args)[0];
        self.reload_cursor();
        status
    }

    /// Calls another compiled function of this module (which writes) and
    /// propagates a failure: passing the cursor and taking the one it
    /// returns (reloading the end, which growth may move), or spilling and
    /// reloading both around the call.
    pub fn call_compiled(&mut self, callee: FuncRef, data: Value, meta: Value) {
        let ctx = self.ctx;
        if self.cur_param.is_some() {
            let cur = self.b.use_var(self.cur);
            self.store_depth_for(&[ctx]);
            let call = self.b.ins().call(callee, &[ctx, data, meta, cur]);
            let after = self.b.inst_results(call)[0];
            let failed =
                self.b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, after, super::runtime::FAILED as i64);
            // Branch on the comparison itself: a status made of it would
            // be materialized and tested again on every return.
            let propagate = self.b.create_block();
            let ok = self.b.create_block();
            self.b.set_cold_block(propagate);
            self.b.ins().brif(failed, propagate, &[], ok, &[]);
            self.b.switch_to_block(propagate);
            let status = self
                .b
                .ins()
                .iconst(types::I32, i64::from(super::runtime::STATUS_ERROR));
            self.fail_with(status);
            self.b.switch_to_block(ok);
            let end = self.b.ins().load(self.ptr, flags(), ctx, CTX_END);
            self.b.def_var(self.cur, after);
            self.b.def_var(self.end, end);
        } else {
            self.spill_cursor();
            self.store_depth_for(&[ctx]);
            let call = self.b.ins().call(callee, &[ctx, data, meta]);
            let status = self.b.inst_results(call)[0];
            self.reload_cursor();
            self.check(status);
        }
    }

    /// Emits `body(index)` for `index` in `0..count` (a pointer-sized
    /// value); emission continues after the loop.
    pub fn counted_loop(&mut self, count: Value, body: impl FnOnce(&mut Self, Value)) {
        let head = self.b.create_block();
        let step = self.b.create_block();
        let done = self.b.create_block();
        let index = self.b.append_block_param(head, self.ptr);
        let zero = self.iconst_ptr(0);
        self.b.ins().jump(head, &[zero.into()]);
        self.b.switch_to_block(head);
        let finished = self.b.ins().icmp(IntCC::Equal, index, count);
        self.b.ins().brif(finished, done, &[], step, &[]);
        self.b.switch_to_block(step);
        body(self, index);
        let next = self.b.ins().iadd_imm_u(index, 1);
        self.b.ins().jump(head, &[next.into()]);
        self.b.switch_to_block(done);
    }

    /// A stack slot of `words` pointer-sized words.
    pub fn word_slot(&mut self, words: u32) -> Value {
        let bytes = words * self.ptr.bytes();
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            bytes,
            3,
        ));
        self.b.ins().stack_addr(self.ptr, slot, 0)
    }

    /// A pointer-typed constant.
    pub fn iconst_ptr(&mut self, value: i64) -> Value {
        self.b.ins().iconst(self.ptr, value)
    }
}
