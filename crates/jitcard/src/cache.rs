//! The process-wide registry of what jitcard builds per root type: its plan
//! and its compiled encoders, one per [`VtableCalls`](crate::VtableCalls)
//! mode. Building an `Encoder`, or calling `to_vec`, for a type seen before
//! takes no lock and writes no shared memory: a lookup is a few atomic loads.
//!
//! - **Keys.** Entries are keyed by facet's lifetime-erased type identity,
//!   `Shape::id` (the `typeid` crate's `TypeId` of a type with its lifetimes
//!   erased), so `Msg<'a>` and `Msg<'b>` share one entry. That is sound
//!   because lifetimes are erased before layout: two types that differ only
//!   in lifetimes have the same layout, and their `Shape` (a `'static`
//!   constant) describes the same fields, offsets and vtable functions. A
//!   plan or machine code built from one describes the other exactly.
//! - **Lifetime.** Entries are leaked and never freed (like the machine
//!   code, which lives until the process ends), so readers get `&'static`
//!   references: no reference counts change on the encode path. Memory grows
//!   with the number of distinct root types used, not with calls.
//! - **Table.** The hot path does not even compute the type id: an
//!   open-addressing table (at most half full) maps the address of the
//!   type's `Shape` to its entry, probed with acquire loads. One type may
//!   have several shape addresses (a `const` can be instantiated once per
//!   codegen unit); the first use of each address finds the type's entry by
//!   id under the writers' mutex and adds an alias. A full table is replaced
//!   by a twice as large copy, published atomically (the old one is leaked,
//!   since readers may still be probing it; sizes double, so all old tables
//!   together are smaller than the current one).
//! - **Front cache.** `to_vec` first looks in a tiny per-thread cache of
//!   (shape address, plan, runner): a hit reads only thread-local memory.
//! - **Building.** Each entry's plan and encoders are `OnceLock`s: concurrent
//!   first uses of one type lower and compile once, different types in
//!   parallel. Results are cached, errors included (lowering and compiling
//!   are deterministic).

use std::any::TypeId;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

use facet_core::Shape;

use crate::decoder::DecodeRunner;
use crate::encoder::SizeRunner;
use crate::plan::{self, Plan};
use crate::{Error, Runner};

/// Everything built for one root type.
pub(crate) struct TypeEntry {
    id: TypeId,
    shape: &'static Shape,
    plan: OnceLock<Result<Plan, Error>>,
    decode_plan: OnceLock<Result<Plan, Error>>,
    #[cfg(feature = "jit")]
    encoders: [OnceLock<Result<crate::jit::CompiledEncoder, Error>>; crate::VtableCalls::COUNT],
    #[cfg(feature = "jit")]
    decoders: [OnceLock<Result<crate::jit::CompiledDecoder, Error>>; crate::VtableCalls::COUNT],
    /// Size-only encoders (`serialized_size`), compiled on first use.
    #[cfg(feature = "jit")]
    sizers: [OnceLock<Result<crate::jit::CompiledSizer, Error>>; crate::VtableCalls::COUNT],
    /// The plan and what the default-engine `serialized_size` runs.
    default_size: OnceLock<Result<(&'static Plan, SizeRunner), Error>>,
    /// The decode plan and what `from_bytes` runs it on.
    default_decode: OnceLock<Result<(&'static Plan, DecodeRunner), Error>>,
    /// The plan and what the default-engine API runs it on: one load on
    /// the `to_vec` path.
    default: OnceLock<Result<(&'static Plan, Runner), Error>>,
}

impl TypeEntry {
    /// The plan and runner of the default-engine API (`to_vec`, ...): the
    /// JIT encoder where the JIT runs here and the type compiled, else the
    /// interpreter (so a host that forbids executable memory still encodes).
    #[inline]
    pub(crate) fn default_runner(&'static self) -> Result<(&'static Plan, Runner), Error> {
        cached(&self.default, || {
            let plan = self.plan()?;
            #[cfg(feature = "jit")]
            if let crate::Engine::Jit { vtable_calls } = crate::Engine::host_default()
                && let Ok(compiled) = self.encoder(vtable_calls)
            {
                return Ok((plan, Runner::Jit(compiled)));
            }
            Ok((plan, Runner::Interpreter))
        })
        .copied()
    }

    /// The plan and size runner of the default-engine `serialized_size`:
    /// the size-only JIT code where the default encoder is compiled, else
    /// the interpreter.
    pub(crate) fn default_sizer(&'static self) -> Result<(&'static Plan, SizeRunner), Error> {
        cached(&self.default_size, || {
            let (plan, _runner) = self.default_runner()?;
            #[cfg(feature = "jit")]
            if let Runner::Jit(_) = _runner
                && let crate::Engine::Jit { vtable_calls } = crate::Engine::host_default()
            {
                return Ok((plan, self.size_runner(vtable_calls)));
            }
            Ok((plan, SizeRunner::Interpreter))
        })
        .copied()
    }

    /// What computes sizes for an encoder in `mode`: its size-only code,
    /// compiled on first request, or the interpreter if that fails.
    #[cfg(feature = "jit")]
    #[inline]
    pub(crate) fn size_runner(&'static self, mode: crate::VtableCalls) -> SizeRunner {
        if let Some(Ok(sizer)) = self.sizers[mode.index()].get() {
            return SizeRunner::Jit(sizer);
        }
        self.compile_sizer(mode)
    }

    #[cfg(feature = "jit")]
    #[cold]
    fn compile_sizer(&'static self, mode: crate::VtableCalls) -> SizeRunner {
        let sizer = cached(&self.sizers[mode.index()], || {
            let plan = self.plan()?;
            COMPILATIONS.fetch_add(1, Ordering::Relaxed);
            crate::jit::compile_sizer(plan, mode)
        });
        match sizer {
            Ok(sizer) => SizeRunner::Jit(sizer),
            Err(_) => SizeRunner::Interpreter,
        }
    }

    /// The plan of the type, lowered on first request.
    pub(crate) fn plan(&'static self) -> Result<&'static Plan, Error> {
        cached(&self.plan, || {
            crate::stack::with_room(crate::stack::BUILD_ROOM, || plan::lower(self.shape))
        })
    }

    /// The decode plan of the type, lowered on first request.
    pub(crate) fn decode_plan(&'static self) -> Result<&'static Plan, Error> {
        cached(&self.decode_plan, || {
            crate::stack::with_room(crate::stack::BUILD_ROOM, || {
                plan::lower_for_decode(self.shape)
            })
        })
    }

    /// The compiled encoder of the type for `mode`, compiled on first request.
    #[cfg(feature = "jit")]
    pub(crate) fn encoder(
        &'static self,
        mode: crate::VtableCalls,
    ) -> Result<&'static crate::jit::CompiledEncoder, Error> {
        cached(&self.encoders[mode.index()], || {
            let plan = self.plan()?;
            COMPILATIONS.fetch_add(1, Ordering::Relaxed);
            crate::jit::compile(plan, mode)
        })
    }

    /// The decode plan and runner of the default-engine API (`from_bytes`,
    /// ...): the JIT decoder where the JIT runs here and the type compiled,
    /// else the interpreter.
    pub(crate) fn default_decoder(&'static self) -> Result<(&'static Plan, DecodeRunner), Error> {
        cached(&self.default_decode, || {
            let plan = self.decode_plan()?;
            #[cfg(feature = "jit")]
            if let crate::Engine::Jit { vtable_calls } = crate::Engine::host_default()
                && let Ok(compiled) = self.decoder(vtable_calls)
            {
                return Ok((plan, DecodeRunner::Jit(compiled)));
            }
            Ok((plan, DecodeRunner::Interpreter))
        })
        .copied()
    }

    /// The compiled decoder of the type for `mode`, compiled on first request.
    #[cfg(feature = "jit")]
    pub(crate) fn decoder(
        &'static self,
        mode: crate::VtableCalls,
    ) -> Result<&'static crate::jit::CompiledDecoder, Error> {
        cached(&self.decoders[mode.index()], || {
            let plan = self.decode_plan()?;
            COMPILATIONS.fetch_add(1, Ordering::Relaxed);
            crate::jit::compile_decoder(plan, mode)
        })
    }
}

/// What `slot` holds, built by `build` on first request: entries cache
/// errors too (building is deterministic).
fn cached<T>(
    slot: &'static OnceLock<Result<T, Error>>,
    build: impl FnOnce() -> Result<T, Error>,
) -> Result<&'static T, Error> {
    match slot.get_or_init(build) {
        Ok(value) => Ok(value),
        Err(error) => Err(error.clone()),
    }
}

/// How many plans the registry has compiled to machine code.
#[cfg(feature = "jit")]
static COMPILATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many plans the registry has compiled to machine code (each root type
/// and mode compiles at most once).
#[cfg(feature = "jit")]
pub(crate) fn compilations() -> usize {
    COMPILATIONS.load(Ordering::Relaxed)
}

/// The plan and runner of the default-engine API for `shape`'s type (see
/// [`TypeEntry::default_runner`]), through a small per-thread front cache:
/// a hit costs a few loads of thread-local memory, with no pointer chasing
/// through the shared table.
#[inline]
pub(crate) fn default_runner(shape: &'static Shape) -> Result<(&'static Plan, Runner), Error> {
    let slot = &FRONT.with(|front| front[front_slot(shape)].get());
    if ptr::eq(slot.shape, shape) {
        // SAFETY: front slots only ever hold plans of leaked entries.
        return Ok((unsafe { &*slot.plan }, slot.runner));
    }
    default_runner_slow(shape)
}

#[cold]
fn default_runner_slow(shape: &'static Shape) -> Result<(&'static Plan, Runner), Error> {
    let (plan, runner) = entry(shape).default_runner()?;
    FRONT.with(|front| {
        front[front_slot(shape)].set(Front {
            shape,
            plan,
            runner,
        })
    });
    Ok((plan, runner))
}

/// One slot of the per-thread front cache.
#[derive(Clone, Copy)]
struct Front {
    shape: *const Shape,
    plan: *const Plan,
    runner: Runner,
}

const FRONT_SLOTS: usize = 8;

thread_local! {
    /// Direct-mapped by shape address; empty slots match no shape.
    static FRONT: [core::cell::Cell<Front>; FRONT_SLOTS] = const {
        [const {
            core::cell::Cell::new(Front {
                shape: ptr::null(),
                plan: ptr::null(),
                runner: Runner::Interpreter,
            })
        }; FRONT_SLOTS]
    };
}

#[inline]
fn front_slot(shape: *const Shape) -> usize {
    (shape as usize >> 4) % FRONT_SLOTS
}

/// The entry of `shape`'s type, created on first request.
#[inline]
pub(crate) fn entry(shape: &'static Shape) -> &'static TypeEntry {
    find(shape).unwrap_or_else(|| insert(shape))
}

/// One slot of the table: a shape address and the entry of its type.
/// Several addresses may name one type (a `const` shape can be
/// instantiated more than once across codegen units): they share the entry.
struct Alias {
    shape: *const Shape,
    entry: &'static TypeEntry,
}

struct Table {
    /// Length a power of two; null = empty.
    slots: Box<[AtomicPtr<Alias>]>,
}

static TABLE: AtomicPtr<Table> = AtomicPtr::new(ptr::null_mut());

/// What only writers touch, under the lock: every entry (to find the entry
/// of a type by id when a new shape address of it shows up), the number
/// of aliases in the table, and the tables a growth replaced.
struct Writer {
    entries: Vec<&'static TypeEntry>,
    aliases: usize,
    /// Replaced tables are never freed (readers may still be probing
    /// them); kept here so that they stay reachable, like the rest of the
    /// registry (their total size is under twice the current table's).
    retired: Vec<RetiredTable>,
}

/// A table pointer kept only so that the table stays reachable.
struct RetiredTable(#[allow(dead_code)] *mut Table);

// SAFETY: the pointer is never dereferenced through this wrapper.
unsafe impl Send for RetiredTable {}

static WRITER: Mutex<Writer> = Mutex::new(Writer {
    entries: Vec::new(),
    aliases: 0,
    retired: Vec::new(),
});

const FIRST_TABLE_LEN: usize = 64;

/// The first slot of `shape`'s probe sequence: the address, multiplied
/// (Fibonacci hashing) and cut to the table's size.
#[inline]
fn slot_of(shape: *const Shape, len: usize) -> usize {
    let mixed = (shape as usize as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 32) as usize & (len - 1)
}

/// The entry of the type of `shape`, if that address was seen before.
/// Lock-free: acquire loads only.
#[inline]
fn find(shape: &'static Shape) -> Option<&'static TypeEntry> {
    let table = TABLE.load(Ordering::Acquire);
    if table.is_null() {
        return None;
    }
    // SAFETY: tables are published fully built and never freed.
    let slots = unsafe { &(*table).slots };
    let mut index = slot_of(shape, slots.len());
    loop {
        let alias = slots[index].load(Ordering::Acquire);
        if alias.is_null() {
            // Tables are at most half full, so every probe ends here or at a hit.
            return None;
        }
        // SAFETY: aliases are published fully built and never freed.
        let alias = unsafe { &*alias };
        if ptr::eq(alias.shape, shape) {
            return Some(alias.entry);
        }
        index = (index + 1) & (slots.len() - 1);
    }
}

/// Stores `alias` in the first empty slot of its probe sequence.
fn place(slots: &[AtomicPtr<Alias>], alias: *mut Alias) {
    // SAFETY: aliases are published fully built and never freed.
    let mut index = slot_of(unsafe { (*alias).shape }, slots.len());
    while !slots[index].load(Ordering::Relaxed).is_null() {
        index = (index + 1) & (slots.len() - 1);
    }
    slots[index].store(alias, Ordering::Release);
}

#[cold]
fn insert(shape: &'static Shape) -> &'static TypeEntry {
    // A poisoned lock only means another thread panicked while holding it;
    // the table is only ever changed by complete stores.
    let mut writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(entry) = find(shape) {
        return entry;
    }
    let id = shape.id.get();
    let entry = match writer.entries.iter().find(|entry| entry.id == id) {
        Some(entry) => *entry,
        None => {
            let entry: &'static TypeEntry = Box::leak(Box::new(TypeEntry {
                id,
                shape,
                plan: OnceLock::new(),
                decode_plan: OnceLock::new(),
                #[cfg(feature = "jit")]
                encoders: Default::default(),
                #[cfg(feature = "jit")]
                decoders: Default::default(),
                #[cfg(feature = "jit")]
                sizers: Default::default(),
                default_size: OnceLock::new(),
                default_decode: OnceLock::new(),
                default: OnceLock::new(),
            }));
            writer.entries.push(entry);
            entry
        }
    };
    let mut table = TABLE.load(Ordering::Acquire);
    // SAFETY: tables are published fully built and never freed.
    let len = unsafe { table.as_ref() }.map_or(0, |table| table.slots.len());
    if 2 * (writer.aliases + 1) > len {
        let grown = Table {
            slots: (0..(2 * len).max(FIRST_TABLE_LEN))
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
        };
        if !table.is_null() {
            // SAFETY: tables are published fully built and never freed.
            let old_slots = unsafe { &(*table).slots };
            for slot in old_slots.iter() {
                let alias = slot.load(Ordering::Relaxed);
                if !alias.is_null() {
                    place(&grown.slots, alias);
                }
            }
        }
        // The old table is retired, not freed: readers may still be
        // probing it.
        if !table.is_null() {
            writer.retired.push(RetiredTable(table));
        }
        table = Box::into_raw(Box::new(grown));
        TABLE.store(table, Ordering::Release);
    }
    let alias = Box::into_raw(Box::new(Alias { shape, entry }));
    // SAFETY: as above.
    place(unsafe { &(*table).slots }, alias);
    writer.aliases += 1;
    entry
}
