//! jitcard's error type: what went wrong, on which type, at which field path.

use core::fmt;

/// An encoder could not be built, or a value could not be encoded.
///
/// Every variant names the `path` from the root type to the part that failed,
/// e.g. `Config.servers[].addr`, and the facet type name found there.
/// Paths use `.field` for struct and tuple fields, `[]` for elements,
/// `{key}`/`{value}` for map entries, `::Variant` for enum variants, `.Some`,
/// `.Ok`, `.Err` for options and results and `*` for a pointee.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The type contains something postcard has no encoding for (unions, raw
    /// or function pointers, packed structs, opaque types without a proxy).
    /// Raised when the encoder is built, before any byte is written.
    Unsupported {
        /// Where the unsupported part sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// Why it cannot be encoded.
        reason: String,
    },
    /// An enum value's discriminant matches none of its declared variants.
    InvalidDiscriminant {
        /// Where the enum sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// The discriminant read from memory.
        discriminant: i64,
    },
    /// A collection's length disagreed with the number of elements it
    /// yielded, so no correct length prefix can be written.
    LengthMismatch {
        /// Where the collection sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// The length its vtable reported.
        reported: usize,
        /// The number of elements it yielded.
        yielded: usize,
    },
    /// The output buffer could not grow by `additional` bytes.
    Allocation {
        /// How many more bytes were needed.
        additional: usize,
    },
    /// A strict encoder was asked for a type part of which would not run on
    /// the requested engine (see `Encoder::strict`).
    NotCompiled {
        /// Where the part sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// What would have run it instead.
        reason: String,
    },
    /// The requested engine cannot run in this build or on this host (the
    /// JIT needs the `jit` cargo feature and a 64-bit little-endian host
    /// Cranelift supports).
    EngineUnavailable {
        /// The engine's name.
        engine: &'static str,
    },
    /// The code generator failed; this is a jitcard bug.
    Internal {
        /// What failed.
        message: String,
    },
    /// A value handed to the `facet-postcard` fallback could not be encoded by it.
    Fallback {
        /// Where the delegated value sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// What `facet-postcard` reported.
        message: String,
    },
}

impl Error {
    /// The field path of the part that failed (empty for failures that
    /// concern no particular part: allocation, engine availability and
    /// internal errors).
    pub fn path(&self) -> &str {
        match self {
            Error::Unsupported { path, .. }
            | Error::InvalidDiscriminant { path, .. }
            | Error::LengthMismatch { path, .. }
            | Error::NotCompiled { path, .. }
            | Error::Fallback { path, .. } => path,
            Error::Allocation { .. } | Error::EngineUnavailable { .. } | Error::Internal { .. } => {
                ""
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported {
                path,
                type_name,
                reason,
            } => {
                write!(
                    f,
                    "jitcard cannot encode `{path}` (type `{type_name}`): {reason}"
                )
            }
            Error::InvalidDiscriminant {
                path,
                type_name,
                discriminant,
            } => write!(
                f,
                "enum at `{path}` (type `{type_name}`) has discriminant {discriminant}, \
                 which matches no declared variant"
            ),
            Error::LengthMismatch {
                path,
                type_name,
                reported,
                yielded,
            } => write!(
                f,
                "collection at `{path}` (type `{type_name}`) reported {reported} elements \
                 but yielded {yielded}"
            ),
            Error::Allocation { additional } => {
                write!(
                    f,
                    "jitcard could not grow the output buffer by {additional} bytes"
                )
            }
            Error::NotCompiled {
                path,
                type_name,
                reason,
            } => write!(
                f,
                "strict encoder: `{path}` (type `{type_name}`) would not run on the requested \
                 engine: {reason}"
            ),
            Error::EngineUnavailable { engine } => {
                write!(
                    f,
                    "the {engine} engine is not available in this build or on this host"
                )
            }
            Error::Internal { message } => write!(f, "jitcard internal error: {message}"),
            Error::Fallback {
                path,
                type_name,
                message,
            } => write!(
                f,
                "facet-postcard fallback failed on `{path}` (type `{type_name}`): {message}"
            ),
        }
    }
}

impl std::error::Error for Error {}
