//! Decoding: postcard bytes → values of a facet type. The [`Decoder`] of a
//! type, the one-shot [`from_bytes`] / [`take_from_bytes`], and the
//! [`DecodeLimits`] that bound what hostile input can cost.
//!
//! A byte string is accepted exactly when `postcard::from_bytes` (serde
//! derives) accepts it, with an equal value, up to the documented limits.

use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use facet::Facet;
use facet_core::PtrUninit;

use crate::plan::Plan;
use crate::{CompileReport, Engine, Error, cache, interp};

/// What runs a decode plan.
#[derive(Clone, Copy)]
pub(crate) enum DecodeRunner {
    Interpreter,
    #[cfg(feature = "jit")]
    Jit(&'static crate::jit::CompiledDecoder),
}

/// Bounds on what one decode may spend on hostile input. The defaults are
/// safe on any thread (the decoder grows its stack on demand) and far above
/// what ordinary data needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// How many times recursive types may nest (a linked list of `n`
    /// elements nests `n` times); deeper input fails with
    /// [`InvalidKind::TooDeep`](crate::InvalidKind::TooDeep). Default 1024.
    pub max_depth: usize,
    /// How much one decode may produce of elements that take no wire bytes
    /// (`()`, `[u8; 0]`, structs whose fields are all skipped, ...), in
    /// lists and arrays alike, since their count alone does not have to fit
    /// in the input: each costs one unit, or its size in bytes when larger
    /// (so the memory they take is bounded too). More fail with
    /// [`InvalidKind::TooManyZeroSized`](crate::InvalidKind::TooManyZeroSized).
    /// Default 2^24 (facet's own cap on such elements).
    pub max_zero_sized_elements: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: 1024,
            max_zero_sized_elements: 1 << 24,
        }
    }
}

/// A postcard decoder for values of type `T`, built once and reused.
///
/// Building one lowers the decode plan of `T` (cached for the life of the
/// process, lifetimes ignored). Decoders are `Copy`-cheap to clone and can
/// be shared between threads.
pub struct Decoder<T> {
    plan: &'static Plan,
    engine: Engine,
    runner: DecodeRunner,
    limits: DecodeLimits,
    _decodes: PhantomData<fn() -> T>,
}

impl<'de, T: Facet<'de>> Decoder<T> {
    /// Builds the decoder of `T` for `engine`.
    ///
    /// Fails with [`Error::Unsupported`], naming the field path, when part
    /// of `T` cannot be built from postcard bytes (`&u32`, a part whose wire
    /// form only facet-postcard defines), and with
    /// [`Error::EngineUnavailable`] (saying why) when `engine` cannot run
    /// here, e.g. the JIT on a host that forbids executable memory.
    ///
    /// A JIT decoder builds most parts of `T` in generated code and hands
    /// the rest (sets, maps, proxies, skipped fields, ...) to the
    /// interpreter, on the same bytes: [`Decoder::coverage`] lists which.
    pub fn new(engine: Engine) -> Result<Self, Error> {
        let entry = cache::entry(T::SHAPE);
        let plan = entry.decode_plan()?;
        engine.check_available()?;
        let runner = match engine {
            Engine::Interpreter => DecodeRunner::Interpreter,
            #[cfg(feature = "jit")]
            Engine::Jit { vtable_calls } => DecodeRunner::Jit(entry.decoder(vtable_calls)?),
            #[cfg(not(feature = "jit"))]
            Engine::Jit { .. } => unreachable!("check_available refuses the JIT without `jit`"),
        };
        Ok(Decoder {
            plan,
            engine,
            runner,
            limits: DecodeLimits::default(),
            _decodes: PhantomData,
        })
    }

    /// Like [`new`](Self::new), but fails with [`Error::NotCompiled`] if any
    /// part of `T` would not be built by `engine` itself (a JIT decoder
    /// hands some parts to the interpreter): for tests and benchmarks that
    /// must measure the engine.
    pub fn strict(engine: Engine) -> Result<Self, Error> {
        let decoder = Self::new(engine)?;
        if let Some(part) = decoder
            .coverage()
            .into_iter()
            .find(|part| part.built_by != engine)
        {
            return Err(Error::NotCompiled {
                path: part.path,
                type_name: part.type_name,
                reason: format!("built by the {}", part.built_by.name()),
            });
        }
        Ok(decoder)
    }

    /// Which engine builds each part (plan node) of `T`: for a JIT decoder,
    /// the parts generated code hands to the interpreter.
    pub fn coverage(&self) -> Vec<DecodeCoverage> {
        self.plan
            .nodes()
            .iter()
            .enumerate()
            .filter(|(_, node)| !matches!(node.build, Some(crate::plan::Build::Unsized)))
            .map(|(index, node)| DecodeCoverage {
                path: node.path.clone(),
                type_name: node.shape.to_string(),
                built_by: match self.engine {
                    #[cfg(feature = "jit")]
                    Engine::Jit { .. }
                        if !crate::jit::decode_builds_inline(
                            self.plan,
                            crate::plan::NodeId::from_index(index),
                        ) =>
                    {
                        Engine::Interpreter
                    }
                    engine => {
                        let _ = index;
                        engine
                    }
                },
            })
            .collect()
    }

    /// Machine-code size and compile time of a JIT decoder (of the first
    /// and only compilation of this type and mode).
    pub fn compile_report(&self) -> Option<CompileReport> {
        match self.runner {
            DecodeRunner::Interpreter => None,
            #[cfg(feature = "jit")]
            DecodeRunner::Jit(compiled) => Some(CompileReport {
                code_size: compiled.code_size,
                compile_time: compiled.compile_time,
            }),
        }
    }

    /// The same decoder with other limits.
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Decodes a `T` from the start of `bytes`, ignoring any bytes after it
    /// (as `postcard::from_bytes` does).
    pub fn decode(&self, bytes: &'de [u8]) -> Result<T, Error> {
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: as in `take`.
        unsafe { decode_into(self.plan, self.runner, bytes, self.limits, &mut slot) }?;
        // SAFETY: the decode initialized `slot` with a `T`.
        Ok(unsafe { slot.assume_init() })
    }

    /// Decodes a `T` from the start of `bytes` and returns it with the bytes
    /// after it (as `postcard::take_from_bytes` does).
    pub fn take(&self, bytes: &'de [u8]) -> Result<(T, &'de [u8]), Error> {
        // SAFETY: the plan was lowered from `T::SHAPE`, whose values `slot`
        // holds, and the runner runs it; on `Ok` the decoder initialized it.
        // Values borrowing from the input borrow `bytes` for `'de`, which
        // `T: Facet<'de>` ties to every lifetime `T` has (facet's derive
        // requires it).
        unsafe { take_with(self.plan, self.runner, bytes, self.limits) }
    }

    /// The decode plan this decoder runs (printable with `{}`).
    pub fn plan(&self) -> &Plan {
        self.plan
    }

    /// The engine this decoder runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Its limits.
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }
}

/// Which engine builds one part of a decoded type (see
/// [`Decoder::coverage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeCoverage {
    /// The part's path, e.g. `Payload.entries[].name`.
    pub path: String,
    /// Its type.
    pub type_name: String,
    /// The engine that builds it.
    pub built_by: Engine,
}

impl<T> Clone for Decoder<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Decoder<T> {}

impl<T> fmt::Debug for Decoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("engine", &self.engine)
            .field("root", &self.plan.node(self.plan.root()).shape.to_string())
            .field("limits", &self.limits)
            .finish()
    }
}

/// Decodes a `T` from the start of `bytes` with the default engine and
/// limits, ignoring any bytes after it (as `postcard::from_bytes` does).
pub fn from_bytes<'de, T: Facet<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    take_from_bytes(bytes).map(|(value, _)| value)
}

/// Decodes a `T` from the start of `bytes` with the default engine and
/// limits, and returns it with the bytes after it (as
/// `postcard::take_from_bytes` does).
pub fn take_from_bytes<'de, T: Facet<'de>>(bytes: &'de [u8]) -> Result<(T, &'de [u8]), Error> {
    let (plan, runner) = cache::entry(T::SHAPE).default_decoder()?;
    // SAFETY: as in `Decoder::take`.
    unsafe { take_with(plan, runner, bytes, DecodeLimits::default()) }
}

/// # Safety
/// `plan` is the decode plan of `T`'s shape, and `runner` runs it.
#[inline]
unsafe fn take_with<'de, T: Facet<'de>>(
    plan: &Plan,
    runner: DecodeRunner,
    bytes: &'de [u8],
    limits: DecodeLimits,
) -> Result<(T, &'de [u8]), Error> {
    let mut slot = MaybeUninit::<T>::uninit();
    // SAFETY: forwarded from the caller's contract.
    let used = unsafe { decode_into(plan, runner, bytes, limits, &mut slot) }?;
    // SAFETY: the decode initialized `slot` with a `T`.
    Ok((unsafe { slot.assume_init() }, &bytes[used..]))
}

/// Decodes a `T` from the start of `bytes` into `slot` (initialized on
/// `Ok`); returns how many bytes it took.
///
/// # Safety
/// As [`take_with`].
#[inline]
unsafe fn decode_into<'de, T: Facet<'de>>(
    plan: &Plan,
    runner: DecodeRunner,
    bytes: &'de [u8],
    limits: DecodeLimits,
    slot: &mut MaybeUninit<T>,
) -> Result<usize, Error> {
    // SAFETY: `slot` is valid for writes of `T`, the plan's root shape.
    let decoded = unsafe {
        match runner {
            DecodeRunner::Interpreter => {
                interp::decode::decode(plan, bytes, PtrUninit::new(slot.as_mut_ptr()), limits)
            }
            #[cfg(feature = "jit")]
            DecodeRunner::Jit(compiled) => {
                match compiled.decode(plan, bytes, slot.as_mut_ptr().cast(), limits) {
                    Ok(used) => Ok(used),
                    Err(Some(error)) => Err(error),
                    // Invalid input: the interpreter fails on the same byte
                    // and says what and where.
                    Err(None) => return Err(invalid_input(plan, bytes, limits)),
                }
            }
        }
    };
    decoded.map_err(|error| locate(plan, bytes, limits, error))
}

/// The error of input a compiled decoder refused: the interpreter's,
/// located (it fails on the same byte, by the same rules).
#[cfg(feature = "jit")]
#[cold]
#[inline(never)]
fn invalid_input(plan: &Plan, bytes: &[u8], limits: DecodeLimits) -> Error {
    interp::decode::locate(plan, bytes, limits).unwrap_or_else(|| Error::Internal {
        message: "the compiled decoder refused input the interpreter accepts".to_string(),
    })
}

/// A decode error reported at the failing part's own path, found by
/// decoding the same bytes again with path tracking (kept as it was if the
/// second decode disagrees).
#[cold]
#[inline(never)]
fn locate(plan: &Plan, bytes: &[u8], limits: DecodeLimits, error: Error) -> Error {
    if !matches!(error, Error::Invalid { .. } | Error::Panicked { .. }) {
        return error;
    }
    match interp::decode::locate(plan, bytes, limits) {
        Some(located) if located == error.clone().at_path(located.path().to_string()) => located,
        _ => error,
    }
}
