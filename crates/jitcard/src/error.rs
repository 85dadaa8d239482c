//! jitcard's error type: what went wrong, on which type, at which field path.

use core::fmt;

/// An encoder or decoder could not be built, a value could not be encoded,
/// or bytes could not be decoded.
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
    /// or function pointers, packed structs, opaque types without a proxy),
    /// or, for a decoder, something that cannot be built from bytes (`&u32`,
    /// a part facet-postcard would have to decode). Raised when the encoder
    /// or decoder is built, before any byte is read or written.
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
    /// The value nests deeper than the encoder's depth limit (see
    /// `Encoder::with_max_depth`): raised instead of overflowing the stack,
    /// e.g. on a cyclic structure of `&'static` references.
    TooDeep {
        /// Where the limit was reached (the recursive type's first path).
        path: String,
        /// Its facet type name.
        type_name: String,
        /// The limit: how many times recursive types may nest.
        max_depth: usize,
    },
    /// A Rust-ABI facet function jitcard called (a set or map iterator's
    /// `next`, a list's `get`, ...) panicked. The panic is caught at the
    /// call, the partial encoding discarded and everything jitcard built
    /// freed. (A panic inside one of facet's `extern "C"` functions, such as
    /// a collection's `len`, aborts the process before jitcard can see it.)
    Panicked {
        /// Where the value being encoded sits.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// The panic message.
        message: String,
    },
    /// The bytes are not a postcard encoding of the requested type (or
    /// would exceed the decoder's limits): what is wrong, at which byte
    /// offset of the input, in which part of the type.
    Invalid {
        /// Where the value being decoded sits, e.g. `Config.servers[2].port`.
        path: String,
        /// Its facet type name.
        type_name: String,
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        kind: InvalidKind,
    },
    /// The output buffer could not grow by `additional` bytes.
    Allocation {
        /// How many more bytes were needed.
        additional: usize,
    },
    /// The slice given to `to_slice` (or `to_slice_cobs`) is shorter than
    /// the encoding. Nothing was written to it.
    BufferTooSmall {
        /// Bytes the encoding (or its COBS frame) takes.
        needed: usize,
        /// Bytes the slice has.
        available: usize,
    },
    /// The writer given to `to_io` failed. The encoding was complete; part
    /// of it may have been written.
    Io {
        /// The writer's error kind.
        kind: std::io::ErrorKind,
        /// The writer's error message.
        message: String,
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
    /// JIT needs the `jit` cargo feature, a 64-bit little-endian host
    /// Cranelift supports, and an OS that lets a process make memory
    /// executable).
    EngineUnavailable {
        /// The engine's name.
        engine: &'static str,
        /// Why, e.g. the OS error of making code executable.
        reason: String,
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

/// What is wrong with bytes being decoded (see [`Error::Invalid`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidKind {
    /// The input ended in the middle of a value.
    UnexpectedEnd,
    /// A varint longer than its integer allows, or with bits left over.
    BadVarint,
    /// A `bool` byte other than 0 or 1.
    BadBool(u8),
    /// An `Option` tag other than 0 or 1.
    BadOptionTag(u8),
    /// An enum (or `Result`) variant index with no variant.
    BadVariantIndex {
        /// The index read.
        index: u64,
        /// How many variants there are.
        variants: usize,
    },
    /// A string that is not valid UTF-8.
    BadUtf8,
    /// A `char` that is not one char of at most 4 UTF-8 bytes.
    BadChar,
    /// An integer that does not fit its type (a `usize` length beyond this
    /// host's address space).
    IntegerTooLarge,
    /// A declared length whose elements cannot fit in the rest of the
    /// input, even at their smallest encoding.
    LengthExceedsInput {
        /// The declared number of elements (or bytes).
        declared: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// More elements that take no wire bytes than
    /// `DecodeLimits::max_zero_sized_elements` allows in one decode.
    TooManyZeroSized {
        /// The limit.
        limit: usize,
    },
    /// Values nested deeper than `DecodeLimits::max_depth`.
    TooDeep {
        /// The limit.
        max_depth: usize,
    },
    /// A conversion the type defines (a facet proxy's `TryFrom`, a default)
    /// refused the value.
    Conversion(String),
    /// A value of a type that has none (`Infallible`) was asked for: no
    /// bytes decode to one.
    Uninhabited,
    /// The input of `from_bytes_cobs` is not a COBS frame: a code byte
    /// points past the frame's end, or the frame is empty.
    BadCobsFrame {
        /// Bytes decoded before the problem.
        decoded: usize,
    },
}

impl fmt::Display for InvalidKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidKind::UnexpectedEnd => f.write_str("unexpected end of input"),
            InvalidKind::BadVarint => f.write_str("malformed varint"),
            InvalidKind::BadBool(byte) => write!(f, "invalid bool byte {byte:#04x}"),
            InvalidKind::BadOptionTag(byte) => write!(f, "invalid option tag {byte:#04x}"),
            InvalidKind::BadVariantIndex { index, variants } => write!(
                f,
                "variant index {index} out of range (the type has {variants} variants)"
            ),
            InvalidKind::BadUtf8 => f.write_str("invalid UTF-8 in a string"),
            InvalidKind::BadChar => f.write_str("invalid char"),
            InvalidKind::IntegerTooLarge => f.write_str("integer too large for its type"),
            InvalidKind::LengthExceedsInput {
                declared,
                remaining,
            } => write!(
                f,
                "declared length {declared} cannot fit in the {remaining} bytes left"
            ),
            InvalidKind::TooManyZeroSized { limit } => write!(
                f,
                "more than {limit} elements that take no bytes (DecodeLimits::max_zero_sized_elements)"
            ),
            InvalidKind::TooDeep { max_depth } => write!(
                f,
                "values nested deeper than {max_depth} levels (DecodeLimits::max_depth)"
            ),
            InvalidKind::Conversion(message) => write!(f, "conversion failed: {message}"),
            InvalidKind::Uninhabited => f.write_str("the type has no values"),
            InvalidKind::BadCobsFrame { decoded } => write!(
                f,
                "not a COBS frame (a code byte points past its end after {decoded} decoded bytes, or it is empty)"
            ),
        }
    }
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
            | Error::TooDeep { path, .. }
            | Error::Panicked { path, .. }
            | Error::Invalid { path, .. }
            | Error::Fallback { path, .. } => path,
            Error::Allocation { .. }
            | Error::BufferTooSmall { .. }
            | Error::Io { .. }
            | Error::EngineUnavailable { .. }
            | Error::Internal { .. } => "",
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
                    "jitcard does not support `{path}` (type `{type_name}`): {reason}"
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
            Error::TooDeep {
                path,
                type_name,
                max_depth,
            } => write!(
                f,
                "value at `{path}` (type `{type_name}`) nests more than {max_depth} levels deep"
            ),
            Error::Panicked {
                path,
                type_name,
                message,
            } => write!(
                f,
                "a facet function panicked while encoding `{path}` (type `{type_name}`): {message}"
            ),
            Error::Invalid {
                path,
                type_name,
                offset,
                kind,
            } => write!(
                f,
                "invalid postcard input at byte {offset}, decoding `{path}` (type `{type_name}`): {kind}"
            ),
            Error::Allocation { additional } => {
                write!(
                    f,
                    "jitcard could not grow the output buffer by {additional} bytes"
                )
            }
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "the output slice has {available} bytes but the encoding needs {needed}; \
                 nothing was written"
            ),
            Error::Io { kind, message } => {
                write!(f, "writing the encoding failed ({kind:?}): {message}")
            }
            Error::NotCompiled {
                path,
                type_name,
                reason,
            } => write!(
                f,
                "strict mode: `{path}` (type `{type_name}`) would not run on the requested \
                 engine: {reason}"
            ),
            Error::EngineUnavailable { engine, reason } => {
                write!(f, "the {engine} engine is not available here: {reason}")
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

impl Error {
    /// The same error, reported at `path` (a located instance path instead
    /// of the node's first path); errors without a path are unchanged.
    pub(crate) fn at_path(mut self, located: String) -> Error {
        match &mut self {
            Error::Unsupported { path, .. }
            | Error::InvalidDiscriminant { path, .. }
            | Error::LengthMismatch { path, .. }
            | Error::NotCompiled { path, .. }
            | Error::TooDeep { path, .. }
            | Error::Panicked { path, .. }
            | Error::Invalid { path, .. }
            | Error::Fallback { path, .. } => *path = located,
            Error::Allocation { .. }
            | Error::BufferTooSmall { .. }
            | Error::Io { .. }
            | Error::EngineUnavailable { .. }
            | Error::Internal { .. } => {}
        }
        self
    }
}

/// The message of a caught panic's payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_string())
}
