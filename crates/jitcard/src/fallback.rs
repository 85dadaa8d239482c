//! The `facet-postcard` fallback: encodes one subtree with facet's reflective
//! serializer, into the same buffer.
//!
//! Used for shapes whose wire form facet defines through attributes or
//! proxies rather than through their layout (see
//! [`FallbackReason`](crate::plan::FallbackReason)). The bytes are still
//! postcard, by facet's own semantics for that shape. A failure or panic
//! inside `facet-postcard` becomes [`Error::Fallback`]; it never unwinds into
//! the caller.

use std::panic::{AssertUnwindSafe, catch_unwind};

use facet_core::PtrConst;
use facet_reflect::Peek;

use crate::Error;
use crate::plan::Node;

/// Appends `facet-postcard`'s encoding of the value at `src`.
///
/// # Safety
/// `src` points at a live value of `node.shape`.
pub(crate) unsafe fn encode(node: &Node, src: PtrConst, out: &mut Vec<u8>) -> Result<(), Error> {
    // SAFETY: the caller guarantees `src` points at a value of `node.shape`.
    let peek = unsafe { Peek::unchecked_new(src, node.shape) };
    let failure = |message: String| Error::Fallback {
        path: node.path.clone(),
        type_name: node.shape.to_string(),
        message,
    };
    // facet-postcard recurses without stack checks of its own: give it room.
    let encoded = crate::stack::with_room(crate::stack::FALLBACK_ROOM, || {
        catch_unwind(AssertUnwindSafe(|| facet_postcard::peek_to_vec(peek)))
    });
    match encoded {
        Ok(Ok(bytes)) => {
            out.extend_from_slice(&bytes);
            Ok(())
        }
        Ok(Err(error)) => Err(failure(error.to_string())),
        Err(panic) => Err(failure(format!(
            "facet-postcard panicked: {}",
            crate::error::panic_message(&*panic)
        ))),
    }
}
