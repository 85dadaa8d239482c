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
//! Here every module gets cranelift-jit's `ArenaMemoryProvider`: one
//! reservation of address space made up front, from which all the
//! module's code and data are carved. A reservation is at most
//! [`MAX_RESERVATION`] (128 MiB), so any two addresses inside it are within
//! reach of every relative call and relocation the supported ISAs use;
//! this holds by construction, whatever the host's memory map.
//!
//! # Sizing
//!
//! The code's size is known only once it is compiled, and cranelift-jit
//! copies each function into its memory as it is defined. So a compile
//! starts from [`Reservation::first`], a generous estimate from the plan's
//! node count (address space, not memory: pages are committed as code is
//! written, except on Windows, where `region` commits the reservation), and
//! when the reservation runs out the whole compile is redone in one four
//! times larger ([`Reservation::grown`]), up to [`MAX_RESERVATION`]; past
//! that the compile fails with an error. An abandoned module's reservation
//! is released when it is dropped (nothing in it was finalized).

use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_jit::{ArenaMemoryProvider, JITBuilder, JITModule};
use cranelift_module::{ModuleError, default_libcall_names};

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
        (self.0 < MAX_RESERVATION).then(|| Reservation((self.0 * 4).min(MAX_RESERVATION)))
    }

    pub fn bytes(self) -> usize {
        self.0
    }
}

/// Whether `error` (from defining a function) means the reservation is
/// full, so a larger one may succeed.
pub(crate) fn is_out_of_room(error: &ModuleError) -> bool {
    matches!(error, ModuleError::Allocation { .. })
}

/// A JIT module for `isa` whose code lives in one reservation of `size`,
/// resolving every symbol generated code may need from this table, never
/// from the dynamic linker (statically linked programs have none:
/// cranelift-jit would panic looking up `memcpy`).
///
/// Fails when the address space cannot be reserved.
pub(crate) fn new_module(isa: OwnedTargetIsa, size: Reservation) -> Result<JITModule, String> {
    let arena = ArenaMemoryProvider::new_with_size(size.bytes()).map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::*;

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
