//! The interpreters: the reference engines, which walk a plan through
//! facet's vtables, one value at a time. Every other engine must reproduce
//! them byte for byte (encoding) and value for value (decoding).

pub(crate) mod decode;
pub(crate) mod encode;
mod path;
pub(crate) mod program;
