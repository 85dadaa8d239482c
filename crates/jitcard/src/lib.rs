//! jitcard: postcard encoders and decoders for any `#[derive(Facet)]` type,
//! built from an explicit plan.
//!
//! The bytes are exactly postcard 1.x (the serde data model): a value encoded
//! by jitcard decodes with `postcard` + serde or with `facet-postcard`, and
//! jitcard decodes exactly the bytes `postcard::from_bytes` accepts.
//!
//! ```
//! use facet::Facet;
//!
//! #[derive(Facet, Debug, PartialEq)]
//! struct Point { x: i32, y: i32, label: Option<String> }
//!
//! let point = Point { x: 1, y: -1, label: Some("origin".into()) };
//! let bytes = jitcard::to_vec(&point)?;
//! assert_eq!(bytes, [2, 1, 1, 6, b'o', b'r', b'i', b'g', b'i', b'n']);
//! assert_eq!(jitcard::from_bytes::<Point>(&bytes)?, point);
//!
//! // Build once, reuse: the plan is lowered on first use and cached.
//! let encoder = jitcard::Encoder::<Point>::new(jitcard::Engine::Interpreter)?;
//! let mut buf = Vec::new();
//! encoder.encode(&point, &mut buf)?; // appends
//! assert_eq!(buf, bytes);
//! let decoder = jitcard::Decoder::<Point>::new(jitcard::Engine::Interpreter)?;
//! assert_eq!(decoder.decode(&buf)?, point);
//! # Ok::<(), jitcard::Error>(())
//! ```
//!
//! How it works: [`plan::lower`] turns a facet `Shape` into a [`plan::Plan`]
//! (one node per type, wire rule plus the reflection to reach the data);
//! an [`Engine`] runs that plan. Parts of a type whose wire form facet defines
//! through attributes (proxies, tagged enums, ...) are delegated to
//! `facet-postcard` when encoding, listed by [`plan::Plan::fallbacks`]; parts
//! postcard cannot encode at all make [`Encoder::new`] fail with the field
//! path. [`plan::lower_for_decode`] lowers the same wire rules plus how each
//! value is constructed ([`plan::Build`]); proxies decode natively, and what
//! cannot be built from bytes makes [`Decoder::new`] fail with the path.
//! Both directions run on the interpreter (the reference) or compiled to
//! machine code by the Cranelift JIT (`Engine::Jit`, the default where it
//! runs), which calls facet's `extern "C"` vtable functions directly.

mod cache;
mod calibration;
mod cobs_frame;
mod collections;
mod decoder;
pub mod diagnostics;
mod encoder;
mod engine;
mod error;
mod fallback;
mod interp;
#[cfg(feature = "jit")]
mod jit;
pub mod plan;
mod stack;
pub mod wire;

pub use cobs_frame::{from_bytes_cobs, take_from_bytes_cobs, to_slice_cobs, to_vec_cobs};
pub use decoder::{DecodeCoverage, DecodeLimits, Decoder, from_bytes, take_from_bytes};
pub(crate) use encoder::Runner;
pub use encoder::{Encoder, max_size, serialized_size, to_extend, to_io, to_slice, to_vec};
pub use engine::{Engine, VtableCalls};
pub use error::{Error, InvalidKind};
use plan::FallbackReason;
pub use stack::DEFAULT_MAX_DEPTH;

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
    /// Wall time of compiling the plan; for
    /// [`diagnostics::measure_jit_compile`], of lowering the shape too.
    pub compile_time: std::time::Duration,
}
