//! The input-reading vocabulary of a generated decoder function: bytes
//! left, fixed-size reads, varints, error exits, and calls that read the
//! input through the stored cursor (see [`super::decode_runtime`]).
//!
//! The cursor registers are [`FunctionEmitter`]'s: in a decoder, `cur` is
//! the next input byte and `end` the end of the input. Every error exit
//! takes a *failure block* (one `i32` parameter, the status), which drops
//! what the enclosing nodes built and returns; nothing here knows about
//! plans.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, Value, types};

use super::decode_runtime;
use super::emit::{FunctionEmitter, flags};
use crate::wire::VarintWidth;

impl FunctionEmitter<'_, '_> {
    /// Input bytes left after the cursor.
    pub fn remaining(&mut self) -> Value {
        let cur = self.cur();
        let end = self.end();
        self.b.ins().isub(end, cur)
    }

    /// Fails into `fail` because the input is not a valid encoding; the
    /// current block ends. Generated code does not describe the error: the
    /// caller finds it by decoding the same bytes with the interpreter,
    /// which fails on the same byte and names it (kind, offset, path).
    pub fn fail_input(&mut self, fail: Block) {
        let status = self
            .b
            .ins()
            .iconst(types::I32, i64::from(decode_runtime::STATUS_INVALID));
        self.b.ins().jump(fail, &[status.into()]);
    }

    /// Opens a cold block where `condition` holds, in which the caller
    /// emits a failure; continues after it where it does not.
    pub fn cold_if(&mut self, condition: Value) -> Block {
        let cold = self.b.create_block();
        let fine = self.b.create_block();
        self.b.set_cold_block(cold);
        self.b.ins().brif(condition, cold, &[], fine, &[]);
        self.b.switch_to_block(cold);
        fine
    }

    /// Fails (an unexpected end) unless `bytes` (a constant) are left.
    pub fn need_const(&mut self, bytes: u64, fail: Block) {
        let left = self.remaining();
        let short = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, left, bytes as i64);
        self.fail_if_short(short, fail);
    }

    /// Fails (an unexpected end) unless `bytes` are left.
    pub fn need(&mut self, bytes: Value, fail: Block) {
        let left = self.remaining();
        let short = self.b.ins().icmp(IntCC::UnsignedLessThan, left, bytes);
        self.fail_if_short(short, fail);
    }

    fn fail_if_short(&mut self, short: Value, fail: Block) {
        let fine = self.cold_if(short);
        self.fail_input(fail);
        self.b.switch_to_block(fine);
    }

    /// Branches on a tag (an `i64`) that must be 0 or 1 (an option's byte,
    /// a result's variant index): `zero` and `one` emit the two arms, any
    /// other value fails into `fail`; emission continues after both.
    pub fn on_tag(
        &mut self,
        tag: Value,
        fail: Block,
        zero: impl FnOnce(&mut Self),
        one: impl FnOnce(&mut Self),
    ) {
        let on_zero = self.b.create_block();
        let not_zero = self.b.create_block();
        let on_one = self.b.create_block();
        let bad = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(bad);
        self.b.ins().brif(tag, not_zero, &[], on_zero, &[]);
        self.b.switch_to_block(not_zero);
        let is_one = self.b.ins().icmp_imm_u(IntCC::Equal, tag, 1);
        self.b.ins().brif(is_one, on_one, &[], bad, &[]);
        self.b.switch_to_block(bad);
        self.fail_input(fail);
        self.b.switch_to_block(on_zero);
        zero(self);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(on_one);
        one(self);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// Loads the byte at the cursor (zero-extended to `i64`) without
    /// advancing; the caller checked it is there.
    pub fn peek_byte(&mut self) -> Value {
        let cur = self.cur();
        self.b.ins().uload8(types::I64, flags(), cur, 0)
    }

    /// Moves the cursor `bytes` (a constant) forward.
    pub fn skip(&mut self, bytes: i64) {
        let bytes = self.iconst_ptr(bytes);
        self.advance(bytes);
    }

    /// Reads a varint of `width` (not `U128`) as postcard does, as an
    /// `i64`.
    ///
    /// Inline when the input holds the longest encoding (one branch for a
    /// one-byte varint, a loop otherwise); near the end of the input, or
    /// for a malformed varint, [`decode_runtime::varint`] reads it (or
    /// fails).
    pub fn read_varint(&mut self, width: VarintWidth, fail: Block) -> Value {
        let max = width.max_len() as i64;
        let slow = self.b.create_block();
        let fast = self.b.create_block();
        let multi = self.b.create_block();
        let more = self.b.create_block();
        let last = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(slow);
        let value = self.b.append_block_param(done, types::I64);
        let length = self.b.append_block_param(done, self.ptr);
        let acc = self.b.append_block_param(multi, types::I64);
        let index = self.b.append_block_param(multi, self.ptr);

        let left = self.remaining();
        let room = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, left, max);
        self.b.ins().brif(room, fast, &[], slow, &[]);

        self.b.switch_to_block(fast);
        let first = self.peek_byte();
        let one = self.iconst_ptr(1);
        let low = self.b.ins().band_imm_u(first, 0x7f);
        let small = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, first, 0x80);
        self.b.ins().brif(
            small,
            done,
            &[first.into(), one.into()],
            multi,
            &[low.into(), one.into()],
        );

        // Byte `index` (from 1) of a longer varint; `acc` holds the bits so far.
        self.b.switch_to_block(multi);
        let cur = self.cur();
        let at = self.b.ins().iadd(cur, index);
        let byte = self.b.ins().uload8(types::I64, flags(), at, 0);
        let bits = self.b.ins().band_imm_u(byte, 0x7f);
        let shift = self.b.ins().imul_imm_u(index, 7);
        let shifted = self.b.ins().ishl(bits, shift);
        let acc2 = self.b.ins().bor(acc, shifted);
        let next = self.b.ins().iadd_imm_u(index, 1);
        let continues = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, byte, 0x80);
        self.b.ins().brif(continues, more, &[], last, &[]);

        self.b.switch_to_block(more);
        let too_long = self.b.ins().icmp_imm_u(IntCC::Equal, next, max);
        self.b
            .ins()
            .brif(too_long, slow, &[], multi, &[acc2.into(), next.into()]);

        self.b.switch_to_block(last);
        let is_last_possible = self.b.ins().icmp_imm_u(IntCC::Equal, next, max);
        let too_big = self.b.ins().icmp_imm_u(
            IntCC::UnsignedGreaterThan,
            byte,
            i64::from(width.last_byte_max()),
        );
        let bad = self.b.ins().band(is_last_possible, too_big);
        self.b
            .ins()
            .brif(bad, slow, &[], done, &[acc2.into(), next.into()]);

        self.b.switch_to_block(slow);
        let slot = self.word_slot(1);
        let ctx = self.ctx;
        let ptr = self.ptr;
        let width_code = self.b.ins().iconst(
            types::I32,
            match width {
                VarintWidth::U16 => 0,
                VarintWidth::U32 => 1,
                _ => 2,
            },
        );
        let status = self.call_helper_writing(
            decode_runtime::varint as *const u8,
            &[ptr, types::I32, ptr],
            &[ctx, width_code, slot],
        );
        self.check_to(status, fail);
        let read = self.load(types::I64, slot, 0);
        let zero = self.iconst_ptr(0);
        self.b.ins().jump(done, &[read.into(), zero.into()]);

        self.b.switch_to_block(done);
        self.advance(length);
        value
    }
}
