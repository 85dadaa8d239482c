//! Where compiled code lives: one contiguous reservation of address space
//! per `JITModule`, and the JIT modules built on it.
//!
//! # Why one reservation
//!
//! Compiled functions of one plan call each other directly: they are
//! declared `Linkage::Local`, so Cranelift emits PC-relative calls (x86-64
//! `call rel32`, reaching ±2 GiB; AArch64 `bl`, ±128 MiB). cranelift-jit's
//! default memory provider maps each function's code separately, wherever
//! the kernel finds room: in a fragmented address space (a long-running
//! process, a fuzzer, a sanitizer's shadow regions) two functions of one
//! plan can land farther apart than a relative call reaches, and
//! cranelift-jit then panics while relocating (x86-64 has no veneers).
//! CI's fuzzing hit exactly that; `tests/far_mappings.rs` reproduces it.
//!
//! Here every module gets a [`CodeArena`]: one reservation of address
//! space made up front, from which all the module's code is carved in
//! order. A reservation is at most [`MAX_RESERVATION`] (128 MiB), so any
//! two addresses inside it are within reach of every relative call and
//! relocation the supported ISAs use (x86-64 `rel32`, AArch64 `bl` and
//! `adrp`); this holds by construction, whatever the host's memory map.
//! Everything else generated code refers to is reached through absolute
//! addresses (`iconst` of a helper's address, cranelift-frontend's
//! `memcpy` calls, libcalls: `use_colocated_libcalls` is off).
//!
//! The arena (rather than cranelift-jit's own `ArenaMemoryProvider`)
//! reports every failure of the OS as an error instead of panicking: a
//! host that refuses executable memory (systemd's
//! `MemoryDenyWriteExecute`, SELinux `deny_execmem`) must get
//! `Error::EngineUnavailable` with the OS's reason, also in programs
//! built with `panic = "abort"`.
//!
//! # Sizing
//!
//! The code's size is known only once it is compiled, and cranelift-jit
//! copies each function into its memory as it is defined. So a compile
//! starts from [`Reservation::first`], a generous estimate from the plan's
//! node count (address space, not memory: pages are made accessible as
//! code is written, except on Windows, where `region` commits the whole
//! reservation), and when the reservation runs out the whole compile is
//! redone in one four times larger ([`Reservation::grown`]), up to
//! [`MAX_RESERVATION`]; past that the compile fails with an error. An
//! abandoned module's reservation is released when it is dropped (nothing
//! in it was made executable).

use std::io;

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::{BranchProtection, JITBuilder, JITMemoryKind, JITMemoryProvider, JITModule};
use cranelift_module::{ModuleError, ModuleResult, default_libcall_names};

/// The largest reservation: within reach of AArch64's `bl` (±128 MiB), so
/// no call ever needs a veneer, and far within x86-64's ±2 GiB.
pub(crate) const MAX_RESERVATION: usize = 128 << 20;

// x86-64 `rel32` and AArch64 `bl` (a 26-bit word offset) reach across it.
const _: () = assert!(MAX_RESERVATION <= i32::MAX as usize && MAX_RESERVATION <= 1 << 27);

/// The smallest reservation (also the probe's).
const MIN_RESERVATION: usize = 256 << 10;

/// Address space reserved per plan node on the first attempt: about 4×
/// the machine code an optimized node takes on the workloads.
const PER_NODE: usize = 4 << 10;

/// The address space a module's code is carved from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reservation(usize);

impl Reservation {
    /// The first attempt for a plan of `nodes` nodes.
    pub fn first(nodes: usize) -> Self {
        #[cfg(test)]
        if let Some(bytes) = tests::FIRST.get() {
            return Reservation(bytes);
        }
        Reservation(
            nodes
                .saturating_mul(PER_NODE)
                .clamp(MIN_RESERVATION, MAX_RESERVATION),
        )
    }

    /// The probe's: one tiny function.
    pub fn probe() -> Self {
        Reservation(MIN_RESERVATION)
    }

    /// The next attempt after this one ran out, or `None` at the limit.
    pub fn grown(self) -> Option<Self> {
        #[cfg(test)]
        tests::GROWN.set(tests::GROWN.get() + 1);
        (self.0 < MAX_RESERVATION).then(|| Reservation((self.0 * 4).min(MAX_RESERVATION)))
    }

    pub fn bytes(self) -> usize {
        self.0
    }
}

/// The error [`CodeArena::allocate`] gives when the reservation is full.
#[derive(Debug)]
struct ReservationFull;

impl std::fmt::Display for ReservationFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the machine code does not fit its address-space reservation")
    }
}

impl std::error::Error for ReservationFull {}

/// Whether `error` (from defining a function) means the reservation is
/// full, so a larger one may succeed.
pub(crate) fn is_out_of_room(error: &ModuleError) -> bool {
    matches!(error, ModuleError::Allocation { err }
        if err.get_ref().is_some_and(|inner| inner.is::<ReservationFull>()))
}

/// Whether `error` (from defining a function) is the OS refusing memory,
/// a condition of the host rather than a fault of the compile.
pub(crate) fn is_host_refusal(error: &ModuleError) -> bool {
    matches!(error, ModuleError::Allocation { .. }) && !is_out_of_room(error)
}

/// A JIT module for `isa` whose code lives in one reservation of `size`,
/// resolving every symbol generated code may need from this table, never
/// from the dynamic linker (statically linked programs have none:
/// cranelift-jit would panic looking up `memcpy`).
///
/// Fails with the OS's reason when the address space cannot be reserved.
pub(crate) fn new_module(isa: OwnedTargetIsa, size: Reservation) -> Result<JITModule, String> {
    let arena = CodeArena::reserve(size.bytes()).map_err(|e| {
        format!(
            "cannot reserve {} KiB of address space for machine code: {e}",
            size.bytes() >> 10
        )
    })?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.memory_provider(Box::new(arena));
    builder.symbols([
        ("memcpy", libc::memcpy as *const u8),
        ("memmove", libc::memmove as *const u8),
        ("memset", libc::memset as *const u8),
        ("memcmp", libc::memcmp as *const u8),
    ]);
    Ok(JITModule::new(builder))
}

/// One reservation of address space, handed out in order to a module's
/// code (cranelift-jit's [`JITMemoryProvider`]).
///
/// Invariants, all offsets from `base`: `executable_end <= used <=
/// writable_end <= size`, `executable_end` and `writable_end` are page
/// multiples; `[0, executable_end)` is read+execute (finalized code),
/// `[executable_end, writable_end)` read+write, the rest inaccessible.
struct CodeArena {
    /// The reservation; `None` once released.
    reservation: Option<region::Allocation>,
    base: *mut u8,
    size: usize,
    used: usize,
    writable_end: usize,
    executable_end: usize,
}

// SAFETY: the arena owns its reservation exclusively; its pointers point
// into it and move with it. cranelift-jit only uses it through `&mut`.
unsafe impl Send for CodeArena {}

impl CodeArena {
    /// Reserves `size` bytes (rounded up to pages), inaccessible until
    /// allocated from.
    fn reserve(size: usize) -> Result<Self, region::Error> {
        let mut reservation = region::alloc(size, region::Protection::NONE)?;
        let base = reservation.as_mut_ptr::<u8>();
        let size = reservation.len();
        Ok(CodeArena {
            reservation: Some(reservation),
            base,
            size,
            used: 0,
            writable_end: 0,
            executable_end: 0,
        })
    }

    /// Makes `[from, to)` (page multiples inside the reservation) have
    /// `protection`.
    fn protect(&self, from: usize, to: usize, protection: region::Protection) -> io::Result<()> {
        debug_assert!(from <= to && to <= self.size);
        if from == to {
            return Ok(());
        }
        // SAFETY: `[from, to)` lies inside the reservation, which this
        // arena owns; no Rust reference points into it.
        unsafe { region::protect(self.base.add(from), to - from, protection) }
            .map_err(io::Error::other)
    }
}

impl JITMemoryProvider for CodeArena {
    fn allocate(&mut self, size: usize, align: u64, kind: JITMemoryKind) -> io::Result<*mut u8> {
        if !matches!(kind, JITMemoryKind::Executable) {
            // jitcard declares no data objects, and with `is_pic` off
            // cranelift-jit makes no GOT or PLT.
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "jitcard's code arena holds machine code only",
            ));
        }
        let full = || io::Error::new(io::ErrorKind::OutOfMemory, ReservationFull);
        let align = usize::try_from(align).map_err(|_| full())?;
        let start = self
            .used
            .checked_next_multiple_of(align.max(1))
            .ok_or_else(full)?;
        let end = start
            .checked_add(size)
            .filter(|&end| end <= self.size)
            .ok_or_else(full)?;
        let page = region::page::size();
        let writable_end = end.next_multiple_of(page).min(self.size);
        if writable_end > self.writable_end {
            self.protect(
                self.writable_end,
                writable_end,
                region::Protection::READ_WRITE,
            )?;
            self.writable_end = writable_end;
        }
        self.used = end;
        // SAFETY: `start <= end <= size`: inside the reservation.
        Ok(unsafe { self.base.add(start) })
    }

    unsafe fn free_memory(&mut self) {
        // Unmaps the reservation (the caller guarantees nothing runs or
        // refers to the code any more).
        self.reservation = None;
        self.base = std::ptr::null_mut();
        self.size = 0;
        self.used = 0;
        self.writable_end = 0;
        self.executable_end = 0;
    }

    fn finalize(&mut self, branch_protection: BranchProtection) -> ModuleResult<()> {
        let (from, to) = (self.executable_end, self.writable_end);
        let refused = |what: &str, e: io::Error| {
            ModuleError::Backend(
                anyhow::Error::new(e).context(format!("unable to make memory {what}")),
            )
        };
        if to > from {
            // SAFETY: `[from, to)` is written code inside the reservation.
            unsafe {
                wasmtime_internal_jit_icache_coherence::clear_cache(
                    self.base.add(from).cast(),
                    to - from,
                )
            }
            .map_err(|e| refused("coherent with the instruction cache", e))?;
            self.protect(from, to, region::Protection::READ_EXECUTE)
                .map_err(|e| refused("readable+executable", e))?;
            set_branch_protection(self, from, to, branch_protection)
                .map_err(|e| refused("branch-protected", e))?;
        }
        self.executable_end = to;
        // Later code starts on a fresh (writable) page.
        self.used = to;
        wasmtime_internal_jit_icache_coherence::pipeline_flush_mt()
            .map_err(|e| refused("visible to every thread's pipeline", e))
    }
}

/// Marks `[from, to)` of `arena` as BTI-guarded where Cranelift emitted
/// landing pads for it (AArch64 Linux with BTI), as cranelift-jit does.
fn set_branch_protection(
    arena: &CodeArena,
    from: usize,
    to: usize,
    protection: BranchProtection,
) -> io::Result<()> {
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    if protection == BranchProtection::BTI && std::arch::is_aarch64_feature_detected!("bti") {
        const PROT_BTI: libc::c_int = 0x10;
        // SAFETY: `[from, to)` is finalized code inside the reservation.
        let status = unsafe {
            libc::mprotect(
                arena.base.add(from).cast(),
                to - from,
                libc::PROT_READ | libc::PROT_EXEC | PROT_BTI,
            )
        };
        if status != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let _ = (arena, from, to, protection);
    Ok(())
}

impl Drop for CodeArena {
    fn drop(&mut self) {
        // Code made executable may still be called (a module dropped
        // without `free_memory`): keep it mapped. Otherwise the reservation
        // is released with `self`.
        if self.executable_end > 0
            && let Some(reservation) = self.reservation.take()
        {
            std::mem::forget(reservation);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::{Decoder, Encoder, Engine, VtableCalls};

    thread_local! {
        /// Overrides [`Reservation::first`] for compiles on this thread.
        pub(super) static FIRST: Cell<Option<usize>> = const { Cell::new(None) };
        /// How many times a reservation was grown on this thread.
        pub(super) static GROWN: Cell<usize> = const { Cell::new(0) };
    }

    #[derive(facet::Facet, Debug, PartialEq)]
    struct Record {
        id: u64,
        name: String,
        tags: Vec<String>,
        score: Option<f64>,
        pair: (i16, u8, char),
        note: Option<String>,
        counts: Vec<u32>,
        flag: bool,
        small: [u16; 3],
    }

    #[derive(facet::Facet, Debug, PartialEq)]
    struct Retried {
        records: Vec<Record>,
        first: Record,
        names: Vec<String>,
    }

    /// A compile whose code outgrows its first reservation (one page
    /// here) is redone in larger ones until it fits, and the code works.
    #[test]
    fn a_compile_that_outgrows_its_reservation_is_redone_larger() {
        let record = |id: u64| Record {
            id,
            name: format!("r{id}"),
            tags: vec!["x".into(); id as usize % 3],
            score: id.is_multiple_of(2).then_some(id as f64),
            pair: (-(id as i16), id as u8, 'é'),
            note: (id > 2).then(|| "note".into()),
            counts: vec![id as u32; 2],
            flag: id > 1,
            small: [1, 300, id as u16],
        };
        let value = Retried {
            records: (0..5).map(record).collect(),
            first: record(300),
            names: vec!["a".into(), String::new()],
        };
        let expected = Encoder::<Retried>::new(Engine::Interpreter)
            .unwrap()
            .to_vec(&value)
            .unwrap();
        let page = region::page::size();
        FIRST.set(Some(page));
        GROWN.set(0);
        let engine = Engine::Jit {
            vtable_calls: VtableCalls::Direct,
        };
        let encoder = Encoder::<Retried>::new(engine).unwrap();
        assert_eq!(encoder.to_vec(&value).unwrap(), expected);
        let report = encoder.compile_report().expect("compiled");
        assert!(report.code_size > page, "{report:?}");
        let grown_for_encoder = GROWN.get();
        assert!(grown_for_encoder >= 1);
        let decoder = Decoder::<Retried>::new(engine).unwrap();
        assert_eq!(decoder.decode(&expected).unwrap(), value);
        FIRST.set(None);
        let report = decoder.compile_report().expect("compiled");
        assert!(report.code_size > page, "{report:?}");
        assert!(GROWN.get() > grown_for_encoder);
    }

    #[test]
    fn reservations_grow_fourfold_to_the_limit_and_stop() {
        let first = Reservation::first(0);
        assert_eq!(first.bytes(), MIN_RESERVATION);
        assert_eq!(Reservation::first(100).bytes(), 100 * PER_NODE);
        assert_eq!(Reservation::first(usize::MAX).bytes(), MAX_RESERVATION);
        let mut sizes = vec![first.bytes()];
        let mut at = first;
        while let Some(next) = at.grown() {
            assert!(next.bytes() > at.bytes());
            at = next;
            sizes.push(at.bytes());
        }
        assert_eq!(at.bytes(), MAX_RESERVATION);
        assert!(sizes.len() < 10, "{sizes:?}");
        assert!(sizes.windows(2).all(|w| w[1] <= w[0] * 4));
    }

    /// Defining functions into a full reservation fails with the error
    /// [`is_out_of_room`] recognizes (so `build` retries with a larger
    /// one), and the module stays usable for what did fit.
    #[test]
    fn a_full_reservation_is_reported_as_out_of_room() {
        use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, UserFuncName};
        use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
        use cranelift_module::{Linkage, Module};

        let Some(isa) = super::super::host_isa(super::super::Tier::Quick) else {
            panic!("no Cranelift ISA for this host");
        };
        let mut module = new_module(isa.clone(), Reservation::probe()).unwrap();
        let ptr = module.isa().pointer_type();
        let frontend = module.isa().frontend_config();
        let mut signature = module.make_signature();
        signature.params.push(AbiParam::new(ptr));
        let mut ctx = module.make_context();
        let mut builder_ctx = FunctionBuilderContext::new();
        let mut defined = 0usize;
        let outcome = loop {
            let id = module
                .declare_function(&format!("f{defined}"), Linkage::Local, &signature)
                .unwrap();
            ctx.clear();
            ctx.func.signature = signature.clone();
            ctx.func.name = UserFuncName::user(0, id.as_u32());
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
                let block = b.create_block();
                b.append_block_params_for_function_params(block);
                b.switch_to_block(block);
                let base = b.block_params(block)[0];
                // About 16 KiB of stores.
                for i in 0..2000i32 {
                    let v = b.ins().iconst(ir::types::I32, i64::from(i) * 7919);
                    b.ins().store(MemFlagsData::new(), v, base, i * 4);
                }
                b.ins().return_(&[]);
                b.seal_all_blocks();
                b.finalize(frontend);
            }
            match module.define_function(id, &mut ctx) {
                Ok(()) => defined += 1,
                Err(e) => break e,
            }
            assert!(defined < 1000, "256 KiB never ran out");
        };
        assert!(is_out_of_room(&outcome), "{outcome:?}");
        assert!(defined >= 4, "only {defined} functions fit");
        module.finalize_definitions().unwrap();
        // SAFETY: nothing refers to the module's code.
        unsafe { module.free_memory() };
    }
}
