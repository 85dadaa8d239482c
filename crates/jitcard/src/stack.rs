//! Deep values without stack overflows: both engines grow the native stack
//! on demand and bound how deeply recursive types may nest.
//!
//! - **Stack room.** Each engine keeps a *stack limit*: an address
//!   [`RED_ZONE`] bytes above the lowest usable address of the stack it runs
//!   on. Before going deeper (the interpreter at every node, generated code
//!   at every function entry) it compares the stack pointer with the limit;
//!   below it, the rest of the walk continues on a fresh [`SEGMENT`] from
//!   [`on_new_segment`] (the `stacker` crate, as rustc does), whose own limit
//!   then applies. So any thread, a 2 MiB one included, encodes any depth
//!   that fits in memory.
//! - **Depth.** Stack growth alone would let a cyclic value (a ring of
//!   `&'static` references is safe Rust) consume all memory. Both engines
//!   count nesting where a value can recurse, i.e. at the plan's recursive
//!   nodes ([`Plan::is_recursive`](crate::plan::Plan::is_recursive)), and
//!   fail with `Error::TooDeep` beyond the encoder's `max_depth`
//!   ([`DEFAULT_MAX_DEPTH`] unless set), at the same depth on every engine.
//!
//! `RED_ZONE` must cover what runs between two checks: one node's or one
//! generated function's frame plus the runtime helpers it calls. What
//! recurses without checks of its own asks for room before it starts
//! ([`with_room`]): the facet-postcard fallback ([`FALLBACK_ROOM`]), and
//! lowering and compiling ([`BUILD_ROOM`]), which run on whichever thread
//! first builds an encoder.

/// Stack that must remain below the current frame before a check passes.
pub(crate) const RED_ZONE: usize = 256 * 1024;

/// Size of each stack segment taken when the current one runs low.
pub(crate) const SEGMENT: usize = 4 * 1024 * 1024;

/// Stack the facet-postcard fallback gets before it starts (it has no
/// checks of its own).
pub(crate) const FALLBACK_ROOM: usize = 1024 * 1024;

/// Stack that lowering a shape and compiling a plan (Cranelift) get before
/// they start: they run on whichever thread first builds an encoder, which
/// may have a small stack.
pub(crate) const BUILD_ROOM: usize = 2 * 1024 * 1024;

/// How many times recursive types may nest by default: deep enough for
/// values serde+postcard encodes on an 8 MiB stack (a 100,000-long linked
/// list), shallow enough that a cyclic value fails after bounded memory.
pub const DEFAULT_MAX_DEPTH: usize = 1 << 17;

/// An address close to the current stack pointer: the register itself on
/// 64-bit x86-64 and AArch64 (one instruction where the interpreter checks
/// every node), else the address of a local.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    #[cfg(all(target_arch = "x86_64", target_pointer_width = "64", not(miri)))]
    {
        let sp: usize;
        // SAFETY: copies the stack pointer into a register; no memory,
        // stack or flags are touched.
        unsafe {
            core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(all(target_arch = "aarch64", target_pointer_width = "64", not(miri)))]
    {
        let sp: usize;
        // SAFETY: as above.
        unsafe {
            core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
        };
        sp
    }
    #[cfg(not(all(
        any(target_arch = "x86_64", target_arch = "aarch64"),
        target_pointer_width = "64",
        not(miri)
    )))]
    {
        let marker = 0u8;
        core::hint::black_box(&marker) as *const u8 as usize
    }
}

/// The stack limit of the stack the caller runs on: the lowest address it
/// may reach plus [`RED_ZONE`], or 0 when the platform cannot tell (then no
/// check ever fails and only the depth limit protects the stack).
pub(crate) fn current_limit() -> usize {
    match stacker::remaining_stack() {
        Some(remaining) => stack_pointer()
            .saturating_sub(remaining)
            .saturating_add(RED_ZONE),
        None => 0,
    }
}

/// Runs `f` with at least `room` bytes of stack: here, or on a fresh
/// segment (of at least [`SEGMENT`] bytes) when less remains.
pub(crate) fn with_room<R>(room: usize, f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(room, room.max(SEGMENT), f)
}

/// Runs `f` on a fresh stack segment, handing it that segment's limit.
pub(crate) fn on_new_segment<R>(f: impl FnOnce(usize) -> R) -> R {
    stacker::grow(SEGMENT, || f(current_limit()))
}
