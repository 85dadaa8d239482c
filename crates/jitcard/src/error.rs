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
    /// The field path of the part that failed.
    pub fn path(&self) -> &str {
        match self {
            Error::Unsupported { path, .. }
            | Error::InvalidDiscriminant { path, .. }
            | Error::LengthMismatch { path, .. }
            | Error::Fallback { path, .. } => path,
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
