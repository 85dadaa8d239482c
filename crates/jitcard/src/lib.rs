//! jitcard: postcard encoders for any `#[derive(Facet)]` type, built from an
//! explicit encode plan.
//!
//! The bytes are exactly postcard 1.x (the serde data model): a value encoded
//! by jitcard decodes with `postcard` + serde or with `facet-postcard`.
//!
//! ```
//! use facet::Facet;
//!
//! #[derive(Facet)]
//! struct Point { x: i32, y: i32, label: Option<String> }
//!
//! let point = Point { x: 1, y: -1, label: Some("origin".into()) };
//! let bytes = jitcard::to_vec(&point)?;
//! assert_eq!(bytes, [2, 1, 1, 6, b'o', b'r', b'i', b'g', b'i', b'n']);
//!
//! // Build once, reuse: the plan is lowered on first use and cached.
//! let encoder = jitcard::Encoder::<Point>::new(jitcard::Engine::Interpreter)?;
//! let mut buf = Vec::new();
//! encoder.encode(&point, &mut buf)?; // appends
//! assert_eq!(buf, bytes);
//! # Ok::<(), jitcard::Error>(())
//! ```
//!
//! How it works: [`plan::lower`] turns a facet `Shape` into a [`plan::Plan`]
//! (one node per type, wire rule plus the reflection to reach the data);
//! an [`Engine`] runs that plan. Parts of a type whose wire form facet defines
//! through attributes (proxies, tagged enums, `skip_serializing_if`, ...) are
//! delegated to `facet-postcard`, listed by [`plan::Plan::fallbacks`]; parts
//! postcard cannot encode at all make [`Encoder::new`] fail with the field path.

mod cache;
mod engine;
mod error;
mod fallback;
mod interp;
#[cfg(feature = "jit")]
mod jit;
pub mod plan;
pub mod wire;

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;

use facet::Facet;
use facet_core::PtrConst;

pub use engine::{Engine, VtableCalls};
pub use error::Error;
use plan::{FallbackReason, Plan};

/// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// What actually encodes one part of a type (see [`Encoder::coverage`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunsOn {
    /// The encoder's own engine.
    Engine(Engine),
    /// `facet-postcard`, for the given reason.
    FacetPostcard(FallbackReason),
}

/// One part of a type and what encodes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Where the part first appears, e.g. `Config.servers[].addr`.
    pub path: String,
    /// Its facet type name.
    pub type_name: String,
    /// What encodes it.
    pub runs_on: RunsOn,
}

/// Size and cost of one compilation of a plan to machine code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileReport {
    /// Machine-code bytes of all compiled functions.
    pub code_size: usize,
    /// Wall time of lowering the shape and compiling the plan.
    pub compile_time: std::time::Duration,
}

/// Lowers and compiles `T` afresh, bypassing both caches, and reports the
/// cost: for measuring cold compile time in benchmarks. Each call keeps its
/// machine code for the life of the process (as the cache does), so do not
/// call it per encode.
pub fn measure_jit_compile<T: Facet<'static> + ?Sized>(
    vtable_calls: VtableCalls,
) -> Result<CompileReport, Error> {
    let engine = Engine::Jit { vtable_calls };
    if !engine.is_available() {
        return Err(Error::EngineUnavailable {
            engine: engine.name(),
        });
    }
    #[cfg(feature = "jit")]
    {
        let started = std::time::Instant::now();
        let plan = plan::lower(T::SHAPE)?;
        let compiled = jit::compile(&plan, vtable_calls)?;
        Ok(CompileReport {
            code_size: compiled.code_size,
            compile_time: started.elapsed(),
        })
    }
    #[cfg(not(feature = "jit"))]
    unreachable!("no JIT engine is available without the `jit` feature")
}

/// Starts (`true`, resetting the count) or stops counting how often
/// generated code enters a vtable trampoline. A diagnostic: tests use it to
/// show that [`VtableCalls::Direct`] encoders never take the trampoline path.
pub fn set_trampoline_counting(on: bool) {
    #[cfg(feature = "jit")]
    jit::trampolines::set_counting(on);
    #[cfg(not(feature = "jit"))]
    let _ = on;
}

/// Trampoline entries since counting was last started (see
/// [`set_trampoline_counting`]).
pub fn trampoline_calls() -> usize {
    #[cfg(feature = "jit")]
    {
        jit::trampolines::calls()
    }
    #[cfg(not(feature = "jit"))]
    {
        0
    }
}

/// How many plans this process has compiled to machine code (each root type
/// and [`VtableCalls`] mode compiles once, then comes from the cache).
pub fn jit_compilations() -> usize {
    #[cfg(feature = "jit")]
    {
        cache::compiled::compilations()
    }
    #[cfg(not(feature = "jit"))]
    {
        0
    }
}

enum Runner {
    Interpreter,
    #[cfg(feature = "jit")]
    Jit(Arc<jit::CompiledEncoder>),
}

/// A postcard encoder for values of type `T`, built once and reused.
///
/// Building one lowers the plan of `T` (or fetches it from the process-wide
/// cache) and, for [`Engine::Jit`], compiles it (also cached: once per type
/// and mode per process); encoding only runs it. Encoders are cheap to clone
/// and can be shared between threads.
pub struct Encoder<T: ?Sized> {
    plan: Arc<Plan>,
    engine: Engine,
    runner: Arc<Runner>,
    _encodes: PhantomData<fn(&T)>,
}

impl<T: Facet<'static> + ?Sized> Encoder<T> {
    /// Builds the encoder of `T` for `engine`.
    ///
    /// Fails with [`Error::Unsupported`], naming the field path, when `T`
    /// contains something postcard has no encoding for, and with
    /// [`Error::EngineUnavailable`] when `engine` cannot run here.
    pub fn new(engine: Engine) -> Result<Self, Error> {
        let plan = cache::plan_for(T::SHAPE)?;
        let runner = match engine {
            Engine::Interpreter => Runner::Interpreter,
            Engine::Jit { vtable_calls } => {
                if !engine.is_available() {
                    return Err(Error::EngineUnavailable {
                        engine: engine.name(),
                    });
                }
                #[cfg(feature = "jit")]
                {
                    Runner::Jit(cache::compiled::encoder_for(
                        T::SHAPE.id.get(),
                        &plan,
                        vtable_calls,
                    )?)
                }
                #[cfg(not(feature = "jit"))]
                {
                    let _ = vtable_calls;
                    unreachable!("no JIT engine is available without the `jit` feature")
                }
            }
        };
        Ok(Encoder {
            plan,
            engine,
            runner: Arc::new(runner),
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

    /// Appends the postcard encoding of `value` to `out`.
    ///
    /// On error `out` is left as it was: no partial encoding is kept.
    pub fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let src = PtrConst::new(value as *const T);
        let result = match &*self.runner {
            // SAFETY: `src` points at `value`, a live `T`, and the plan was
            // lowered from `T::SHAPE`.
            Runner::Interpreter => unsafe { interp::encode(&self.plan, src, out) },
            // SAFETY: as above; the code was compiled from this plan.
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => unsafe { compiled.encode(&self.plan, src, out) },
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Returns the postcard encoding of `value` in a new vector.
    pub fn to_vec(&self, value: &T) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode(value, &mut out)?;
        Ok(out)
    }

    /// The plan this encoder runs (printable with `{}`).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The engine this encoder runs on.
    pub fn engine(&self) -> Engine {
        self.engine
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

    /// Machine-code size and compile time of [`Engine::Jit`] encoders (of
    /// the first and only compilation of this type and mode; lowering not
    /// included).
    pub fn compile_report(&self) -> Option<CompileReport> {
        match &*self.runner {
            Runner::Interpreter => None,
            #[cfg(feature = "jit")]
            Runner::Jit(compiled) => Some(CompileReport {
                code_size: compiled.code_size,
                compile_time: compiled.compile_time,
            }),
        }
    }
}

impl<T: ?Sized> Clone for Encoder<T> {
    fn clone(&self) -> Self {
        Encoder {
            plan: Arc::clone(&self.plan),
            engine: self.engine,
            runner: Arc::clone(&self.runner),
            _encodes: PhantomData,
        }
    }
}

impl<T: ?Sized> fmt::Debug for Encoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("engine", &self.engine)
            .field("root", &self.plan.node(self.plan.root()).shape.to_string())
            .finish()
    }
}

/// Encodes `value` to postcard bytes with the host's default engine.
pub fn to_vec<T: Facet<'static> + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    to_extend(value, Vec::new())
}

/// Appends the postcard encoding of `value` to `out` and returns it, with the
/// host's default engine. On error the bytes already in `out` are dropped with it.
pub fn to_extend<T: Facet<'static> + ?Sized>(
    value: &T,
    mut out: Vec<u8>,
) -> Result<Vec<u8>, Error> {
    Encoder::<T>::new(Engine::host_default())?.encode(value, &mut out)?;
    Ok(out)
}
