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
use crate::plan::delegated::{self, MAX_DYNAMIC_DEPTH, ROOM_PER_LEVEL};
use crate::plan::{NodeId, Plan};
use crate::stack;

/// Appends `facet-postcard`'s encoding of the value at `src`, with stack
/// room for as deep as the value can nest (see [`delegated`]).
///
/// # Safety
/// `src` points at a live value of node `id`'s shape.
pub(crate) unsafe fn encode(
    plan: &Plan,
    id: NodeId,
    src: PtrConst,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let node = plan.node(id);
    let failure = |message: String| Error::Fallback {
        path: node.path.clone(),
        type_name: node.shape.to_string(),
        message,
    };
    let delegation = plan.delegation(id);
    let mut levels = delegation.map_or(1, |d| d.type_depth);
    if delegation.is_some_and(|d| d.dynamic) {
        // SAFETY: `src` points at a live dynamic value (the caller's contract).
        let measured = catch_unwind(AssertUnwindSafe(|| unsafe {
            delegated::dynamic_depth(node.shape, src, MAX_DYNAMIC_DEPTH)
        }));
        match measured {
            Ok(Some(depth)) => levels = levels.max(depth),
            Ok(None) => return Err(node.too_deep(MAX_DYNAMIC_DEPTH)),
            Err(panic) => return Err(node.panicked(crate::error::panic_message(&*panic))),
        }
    }
    // SAFETY: the caller guarantees `src` points at a value of `node.shape`.
    let peek = unsafe { Peek::unchecked_new(src, node.shape) };
    // facet-postcard recurses without stack checks of its own: give it room
    // for every level the value can nest.
    let room = stack::FALLBACK_ROOM.saturating_add(levels.saturating_mul(ROOM_PER_LEVEL));
    let encoded = stack::with_room(room, || {
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
