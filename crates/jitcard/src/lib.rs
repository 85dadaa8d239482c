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
mod error;
mod fallback;
mod interp;
pub mod plan;
pub mod wire;

use core::fmt;
use core::marker::PhantomData;
use std::sync::Arc;

use facet::Facet;
use facet_core::PtrConst;

pub use error::Error;
use plan::Plan;

/// The README's examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// Which engine runs an encoder's plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Walks the plan for every value: no code generation, available on
    /// every target. The reference semantics for every other engine.
    #[default]
    Interpreter,
}

impl Engine {
    /// The engine [`to_vec`] and [`to_extend`] use on this host.
    pub fn host_default() -> Engine {
        Engine::Interpreter
    }

    /// A short stable name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interpreter => "jitcard-interp",
        }
    }
}

/// A postcard encoder for values of type `T`, built once and reused.
///
/// Building one lowers (or fetches from the process-wide cache) the plan of
/// `T`; encoding only runs it. Encoders are cheap to clone and can be shared
/// between threads.
pub struct Encoder<T: ?Sized> {
    plan: Arc<Plan>,
    engine: Engine,
    _encodes: PhantomData<fn(&T)>,
}

impl<T: Facet<'static> + ?Sized> Encoder<T> {
    /// Builds the encoder of `T` for `engine`.
    ///
    /// Fails with [`Error::Unsupported`], naming the field path, when `T`
    /// contains something postcard has no encoding for.
    pub fn new(engine: Engine) -> Result<Self, Error> {
        Ok(Encoder {
            plan: cache::plan_for(T::SHAPE)?,
            engine,
            _encodes: PhantomData,
        })
    }

    /// Appends the postcard encoding of `value` to `out`.
    ///
    /// On error `out` is left as it was: no partial encoding is kept.
    pub fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let src = PtrConst::new(value as *const T);
        let result = match self.engine {
            // SAFETY: `src` points at `value`, a live `T`, and the plan was
            // lowered from `T::SHAPE`.
            Engine::Interpreter => unsafe { interp::encode(&self.plan, src, out) },
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
}

impl<T: ?Sized> Clone for Encoder<T> {
    fn clone(&self) -> Self {
        Encoder {
            plan: Arc::clone(&self.plan),
            engine: self.engine,
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
