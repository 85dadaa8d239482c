//! Encoding: values of a facet type → postcard bytes. The [`Encoder`] of a
//! type, the one-shot functions with postcard's names ([`to_vec`],
//! [`to_extend`], [`to_slice`], [`to_io`], [`serialized_size`],
//! [`max_size`]), and what they share: run the chosen engine, and on
//! failure leave the output as it was and report the failing value's own
//! path.
//!
//! Slices and writers are filled from a per-thread scratch vector (reused,
//! so a warm `to_slice` allocates nothing): the engines append to vectors,
//! and a slice receives the bytes only once the whole encoding fits.

use core::fmt;
use core::marker::PhantomData;

use facet::Facet;
use facet_core::PtrConst;

#[cfg(feature = "jit")]
use crate::jit;
use crate::plan::{self, Plan};
use crate::{CompileReport, Coverage, DEFAULT_MAX_DEPTH, Engine, Error, RunsOn, cache, interp};

/// What runs a plan: a copyable handle to process-lifetime data, so
/// encoders and one-shot calls never touch a reference count.
#[derive(Clone, Copy)]
pub(crate) enum Runner {
    Interpreter,
    #[cfg(feature = "jit")]
    Jit(&'static jit::CompiledEncoder),
}

/// What computes encoding sizes (`serialized_size`): like [`Runner`].
#[derive(Clone, Copy)]
pub(crate) enum SizeRunner {
    Interpreter,
    #[cfg(feature = "jit")]
    Jit(&'static jit::CompiledSizer),
}

/// A postcard encoder for values of type `T`, built once and reused.
///
/// Building one lowers the plan of `T` and, for [`Engine::Jit`], compiles
/// it; both are cached for the life of the process (once per type and mode,
/// lifetimes ignored: `Msg<'a>` and `Msg<'b>` share them), so building
/// another encoder of the same type is a lock-free lookup. Encoders are
/// `Copy`-cheap to clone and can be shared between threads.
pub struct Encoder<T: ?Sized> {
    /// Where the type's size-only code is compiled on first use.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    entry: &'static cache::TypeEntry,
    plan: &'static Plan,
    engine: Engine,
    runner: Runner,
    max_depth: usize,
    _encodes: PhantomData<fn(&T)>,
}

impl<'a, T: Facet<'a> + ?Sized> Encoder<T> {
    /// Builds the encoder of `T` for `engine`.
    ///
    /// Fails with [`Error::Unsupported`], naming the field path, when `T`
    /// contains something postcard has no encoding for, and with
    /// [`Error::EngineUnavailable`] (saying why) when `engine` cannot run
    /// here, e.g. the JIT on a host that forbids executable memory.
    pub fn new(engine: Engine) -> Result<Self, Error> {
        let entry = cache::entry(T::SHAPE);
        let plan = entry.plan()?;
        engine.check_available()?;
        let runner = match engine {
            Engine::Interpreter => Runner::Interpreter,
            #[cfg(feature = "jit")]
            Engine::Jit { vtable_calls } => Runner::Jit(entry.encoder(vtable_calls)?),
            #[cfg(not(feature = "jit"))]
            Engine::Jit { .. } => unreachable!("check_available refuses the JIT without `jit`"),
        };
        Ok(Encoder {
            entry,
            plan,
            engine,
            runner,
            max_depth: DEFAULT_MAX_DEPTH,
            _encodes: PhantomData,
        })
    }

    /// Like [`new`](Self::new), but fails with [`Error::NotCompiled`] if any
    /// part of `T` would not run on `engine` itself (delegated to
    /// facet-postcard): for tests and benchmarks that must measure the engine.
    pub fn strict(engine: Engine) -> Result<Self, Error> {
        let encoder = Self::new(engine)?;
        if let Some((node, reason)) = encoder.plan.fallbacks().next() {
            return Err(Error::NotCompiled {
                path: node.path.clone(),
                type_name: node.shape.to_string(),
                reason: format!("delegated to facet-postcard: {reason}"),
            });
        }
        Ok(encoder)
    }

    /// The same encoder, failing with [`Error::TooDeep`] on values in which
    /// recursive types nest more than `max_depth` times (default
    /// [`DEFAULT_MAX_DEPTH`]). Any depth within the limit encodes on any
    /// thread: the stack grows on demand.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Appends the postcard encoding of `value` to `out`.
    ///
    /// On error `out` is left as it was (no partial encoding is kept), and
    /// the error names the path of the failing value itself, e.g.
    /// `Mid.set[3]{value}`.
    pub fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        // SAFETY: the pointer is to `value`, a live `T`, and the plan and
        // runner were built from `T::SHAPE`.
        unsafe {
            encode_with(
                self.plan,
                self.runner,
                PtrConst::new(value as *const T),
                out,
                self.max_depth,
            )
        }
    }

    /// Returns the postcard encoding of `value` in a new vector.
    pub fn to_vec(&self, value: &T) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode(value, &mut out)?;
        Ok(out)
    }

    /// Writes the encoding of `value` at the start of `buf` and returns the
    /// written prefix (as `postcard::to_slice`). Fails with
    /// [`Error::BufferTooSmall`] when it does not fit, without writing to
    /// `buf`.
    pub fn encode_to_slice<'b>(&self, value: &T, buf: &'b mut [u8]) -> Result<&'b mut [u8], Error> {
        with_scratch(|scratch| {
            self.encode(value, scratch)?;
            copy_to_slice(scratch, buf)
        })
    }

    /// Writes the encoding of `value` to `writer` and returns the writer
    /// (as `postcard::to_io`). The value is encoded completely before the
    /// first write, so an encoding error writes nothing.
    pub fn encode_to_io<W: std::io::Write>(&self, value: &T, writer: W) -> Result<W, Error> {
        with_scratch(|scratch| {
            self.encode(value, scratch)?;
            write_all(scratch, writer)
        })
    }

    /// The exact length of `value`'s encoding, without writing it (see
    /// [`serialized_size`]). On [`Engine::Jit`], the first call compiles
    /// the type's size-only code.
    pub fn serialized_size(&self, value: &T) -> Result<usize, Error> {
        let runner = match self.runner {
            Runner::Interpreter => SizeRunner::Interpreter,
            #[cfg(feature = "jit")]
            Runner::Jit(_) => match self.engine {
                Engine::Jit { vtable_calls } => self.entry.size_runner(vtable_calls),
                Engine::Interpreter => SizeRunner::Interpreter,
            },
        };
        // SAFETY: as in `encode`.
        unsafe {
            measure_with(
                self.plan,
                runner,
                PtrConst::new(value as *const T),
                self.max_depth,
            )
        }
    }

    /// The most bytes any value of `T` encodes to, `None` when that is
    /// unbounded (see [`max_size`]).
    pub fn max_size(&self) -> Option<usize> {
        self.plan.max_wire_size(self.plan.root())
    }

    /// Compiles the optimized code of an [`Engine::Jit`] encoder now, and
    /// waits for it (nothing to do for the interpreter, or when done).
    ///
    /// JIT encoders start on *quick* code, about a third of the compile
    /// work of optimized code and about 1.5× slower, and switch by
    /// themselves after roughly a thousand encodes or a megabyte written
    /// (the thread that crosses the line compiles, a few milliseconds for
    /// a large type). Call this to pay that cost up front, e.g. at start-up
    /// of a server, or before timing. All encoders of the type share the
    /// optimized code.
    pub fn optimize(&self) -> Result<(), Error> {
        match self.runner {
            Runner::Interpreter => Ok(()),
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => compiled.optimize(self.plan),
        }
    }

    /// Whether this is an [`Engine::Jit`] encoder running its optimized
    /// code (see [`optimize`](Self::optimize)); `false` for the interpreter.
    pub fn is_optimized(&self) -> bool {
        match self.runner {
            Runner::Interpreter => false,
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => compiled.is_optimized(),
        }
    }

    /// The plan this encoder runs (printable with `{}`).
    pub fn plan(&self) -> &Plan {
        self.plan
    }

    /// The engine this encoder runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The depth limit (see [`with_max_depth`](Self::with_max_depth)).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// What encodes each part (plan node) of `T`: the engine, or
    /// facet-postcard for delegated parts.
    pub fn coverage(&self) -> Vec<Coverage> {
        self.plan
            .nodes()
            .iter()
            .map(|node| Coverage {
                path: node.path.clone(),
                type_name: node.shape.to_string(),
                runs_on: match &node.op {
                    plan::Op::Fallback(reason) => RunsOn::FacetPostcard(reason.clone()),
                    _ => RunsOn::Engine(self.engine),
                },
            })
            .collect()
    }

    /// Machine-code size and compile time of [`Engine::Jit`] encoders: of
    /// the quick code `new` compiled (the first and only such compilation
    /// of this type and mode; lowering not included), not of the optimized
    /// code compiled later (see [`optimize`](Self::optimize)).
    pub fn compile_report(&self) -> Option<CompileReport> {
        match self.runner {
            Runner::Interpreter => None,
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => Some(CompileReport {
                code_size: compiled.code_size(),
                compile_time: compiled.compile_time(),
            }),
        }
    }
}

impl<T: ?Sized> Clone for Encoder<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Encoder<T> {}

impl<T: ?Sized> fmt::Debug for Encoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("engine", &self.engine)
            .field("root", &self.plan.node(self.plan.root()).shape.to_string())
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

/// Encodes `value` to postcard bytes with the host's default engine.
///
/// The first call for a type builds its encoder; later calls (from any
/// thread) find it without taking a lock.
#[doc(alias = "to_allocvec")]
#[doc(alias = "to_stdvec")]
pub fn to_vec<'a, T: Facet<'a> + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    to_extend(value, Vec::new())
}

/// Appends the postcard encoding of `value` to `out` and returns it, with the
/// host's default engine. On error the bytes already in `out` are dropped with it.
pub fn to_extend<'a, T: Facet<'a> + ?Sized>(value: &T, mut out: Vec<u8>) -> Result<Vec<u8>, Error> {
    encode_default(value, &mut out)?;
    Ok(out)
}

/// Appends the encoding of the value at `src` with `runner`; on failure
/// leaves `out` as it was and reports the error at the failing value's path.
///
/// # Safety
/// `src` points at a live value of the plan root's shape; `runner` was
/// built from `plan`.
#[inline]
unsafe fn encode_with(
    plan: &'static Plan,
    runner: Runner,
    src: PtrConst,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), Error> {
    let start = out.len();
    // SAFETY: forwarded from the caller's contract.
    let result = unsafe {
        match runner {
            Runner::Interpreter => interp::encode::encode(plan, src, out, max_depth),
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => compiled.encode(plan, src, out, max_depth),
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(error) => {
            out.truncate(start);
            // SAFETY: forwarded from the caller's contract.
            Err(unsafe { locate(plan, src, max_depth, error) })
        }
    }
}

/// Engines report a failure at its node's first path (the first place its
/// type appears). For failures that depend on the value, re-walk the value
/// with the path-tracking interpreter to name the failing value itself;
/// keep the original if the re-walk disagrees (e.g. a collection that
/// behaves differently the second time).
///
/// # Safety
/// As [`encode_with`].
#[cold]
#[inline(never)]
unsafe fn locate(plan: &Plan, src: PtrConst, max_depth: usize, error: Error) -> Error {
    let value_dependent = matches!(
        error,
        Error::InvalidDiscriminant { .. }
            | Error::LengthMismatch { .. }
            | Error::Panicked { .. }
            | Error::Fallback { .. }
    );
    if !value_dependent {
        return error;
    }
    // SAFETY: forwarded from the caller's contract.
    match unsafe { interp::encode::locate(plan, src, max_depth) } {
        Some(located) if core::mem::discriminant(&located) == core::mem::discriminant(&error) => {
            located
        }
        _ => error,
    }
}

/// Writes the encoding of `value` at the start of `buf`, with the host's
/// default engine, and returns the written prefix (`postcard::to_slice`).
///
/// A buffer exactly as long as the encoding suffices. One that is shorter
/// fails with [`Error::BufferTooSmall`] (saying how many bytes were
/// needed), and nothing is written to it.
pub fn to_slice<'a, 'b, T: Facet<'a> + ?Sized>(
    value: &T,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], Error> {
    with_scratch(|scratch| {
        encode_default(value, scratch)?;
        copy_to_slice(scratch, buf)
    })
}

/// Writes the encoding of `value` to `writer`, with the host's default
/// engine, and returns the writer (`postcard::to_io`). The value is
/// encoded completely before the first write, so an encoding error writes
/// nothing; a writer error is [`Error::Io`].
pub fn to_io<'a, T: Facet<'a> + ?Sized, W: std::io::Write>(
    value: &T,
    writer: W,
) -> Result<W, Error> {
    with_scratch(|scratch| {
        encode_default(value, scratch)?;
        write_all(scratch, writer)
    })
}

/// The exact length of `value`'s encoding (what `to_vec(value)?.len()`
/// would be), computed without writing the bytes: where the JIT runs, by
/// size-only machine code compiled on the type's first call.
pub fn serialized_size<'a, T: Facet<'a> + ?Sized>(value: &T) -> Result<usize, Error> {
    let (plan, runner) = cache::entry(T::SHAPE).default_sizer()?;
    // SAFETY: the pointer is to `value`, a live `T`, and the plan and runner
    // were built from `T::SHAPE`.
    unsafe {
        measure_with(
            plan,
            runner,
            PtrConst::new(value as *const T),
            DEFAULT_MAX_DEPTH,
        )
    }
}

/// The most bytes any value of `T` encodes to: exact (some value takes
/// exactly that many, unless `T` has no values), computed from `T`'s plan.
///
/// `None` when there is no bound: `T` holds a string, a sequence, a set or
/// a map, is recursive, or holds a part jitcard delegates to facet-postcard
/// (a facet proxy such as `Duration`'s); also when `T` cannot be encoded at
/// all. Where postcard's `MaxSize` derive is exact this is the same number;
/// for an enum with a power-of-128 number of variants postcard counts one
/// tag byte too many, this does not.
pub fn max_size<'a, T: Facet<'a> + ?Sized>() -> Option<usize> {
    let plan = cache::entry(T::SHAPE).plan().ok()?;
    plan.max_wire_size(plan.root())
}

/// Encodes `value` with the default engine, appending to `out`.
pub(crate) fn encode_default<'a, T: Facet<'a> + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let (plan, runner) = cache::default_runner(T::SHAPE)?;
    // SAFETY: the pointer is to `value`, a live `T`, and the plan and runner
    // were built from `T::SHAPE`.
    unsafe {
        encode_with(
            plan,
            runner,
            PtrConst::new(value as *const T),
            out,
            DEFAULT_MAX_DEPTH,
        )
    }
}

/// Copies an encoding to the start of `buf` if it fits, else writes nothing.
pub(crate) fn copy_to_slice<'b>(bytes: &[u8], buf: &'b mut [u8]) -> Result<&'b mut [u8], Error> {
    if bytes.len() > buf.len() {
        return Err(Error::BufferTooSmall {
            needed: bytes.len(),
            available: buf.len(),
        });
    }
    let prefix = &mut buf[..bytes.len()];
    prefix.copy_from_slice(bytes);
    Ok(prefix)
}

/// Writes a whole encoding to `writer`.
fn write_all<W: std::io::Write>(bytes: &[u8], mut writer: W) -> Result<W, Error> {
    match writer.write_all(bytes) {
        Ok(()) => Ok(writer),
        Err(error) => Err(Error::Io {
            kind: error.kind(),
            message: error.to_string(),
        }),
    }
}

/// Largest scratch capacity kept for the next call (larger encodings free
/// theirs), so a thread holds at most this much between calls.
const SCRATCH_KEPT: usize = 1 << 20;

thread_local! {
    static SCRATCH: core::cell::Cell<Vec<u8>> = const { core::cell::Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's empty scratch vector. A call nested inside `f`
/// (a facet conversion that encodes) finds none and starts a new one, as
/// does a call while the thread is being torn down.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut scratch = SCRATCH.try_with(core::cell::Cell::take).unwrap_or_default();
    scratch.clear();
    let result = f(&mut scratch);
    if scratch.capacity() <= SCRATCH_KEPT {
        let _ = SCRATCH.try_with(|slot| slot.set(scratch));
    }
    result
}

/// The exact length of the encoding of the value at `src`.
///
/// # Safety
/// As [`encode_with`].
#[inline]
unsafe fn measure_with(
    plan: &'static Plan,
    runner: SizeRunner,
    src: PtrConst,
    max_depth: usize,
) -> Result<usize, Error> {
    // SAFETY: forwarded from the caller's contract.
    let result = unsafe {
        match runner {
            SizeRunner::Interpreter => interp::encode::measure(plan, src, max_depth),
            #[cfg(feature = "jit")]
            SizeRunner::Jit(sizer) => sizer.measure(plan, src, max_depth),
        }
    };
    // SAFETY: forwarded from the caller's contract.
    result.map_err(|error| unsafe { locate(plan, src, max_depth, error) })
}
