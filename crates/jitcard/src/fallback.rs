//! The `facet-postcard` fallback: encodes one subtree with facet's reflective
//! serializer, into the same buffer.
//!
//! Used for shapes whose wire form facet defines through attributes or
//! proxies rather than through their layout (see
//! [`FallbackReason`](crate::plan::FallbackReason)). The bytes are still
//! postcard, by facet's own semantics for that shape. A failure or panic
//! inside `facet-postcard` becomes [`Error::Fallback`]; it never unwinds into
//! the caller. One correction: a scalar with a proxy (`Duration`) is
//! encoded as its proxy value, as serde and every decoder read it (see
//! [`proxied_scalar`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use facet_core::{Def, ProxyDef, PtrConst, PtrMut, PtrUninit, Shape};
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
    // facet-postcard recurses without stack checks of its own: give it room
    // for every level the value can nest.
    let room = stack::FALLBACK_ROOM.saturating_add(levels.saturating_mul(ROOM_PER_LEVEL));
    let mut encode = |shape: &'static Shape, value: PtrConst| {
        // SAFETY: callers pass a live value of `shape`.
        let peek = unsafe { Peek::unchecked_new(value, shape) };
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
    };
    match proxied_scalar(node.shape) {
        // SAFETY: the caller guarantees `src` points at a value of the shape.
        Some(proxy) => unsafe { through_proxy(proxy, src, &failure, encode) },
        None => encode(node.shape, src),
    }
}

/// The proxy of a scalar shape that has one (`Duration`): facet-postcard
/// 0.46 writes such a scalar as its `Display` string, which neither its
/// own decoder nor serde reads back (`Duration::new(5, 7)` becomes
/// `"5s 7ns"`, read back as 6.000000053 s). Through the proxy, the bytes
/// are what serde writes and what every decoder reads.
fn proxied_scalar(shape: &'static Shape) -> Option<&'static ProxyDef> {
    match shape.def {
        Def::Scalar => shape.effective_proxy(Some("postcard")),
        _ => None,
    }
}

/// Converts the value at `src` to its proxy (in scratch storage), encodes
/// the proxy value with `encode` and drops it.
///
/// # Safety
/// `src` points at a live value of the proxy's target type.
unsafe fn through_proxy(
    proxy: &'static ProxyDef,
    src: PtrConst,
    failure: &dyn Fn(String) -> Error,
    encode: impl FnOnce(&'static Shape, PtrConst) -> Result<(), Error>,
) -> Result<(), Error> {
    let layout = proxy
        .shape
        .layout
        .sized_layout()
        .map_err(|_| failure("unsized proxy type".to_string()))?;
    let storage = if layout.size() == 0 {
        ptr::without_provenance_mut(layout.align())
    } else {
        // SAFETY: the layout has a nonzero size.
        let storage = unsafe { std::alloc::alloc(layout) };
        if storage.is_null() {
            return Err(Error::Allocation {
                additional: layout.size(),
            });
        }
        storage
    };
    let free = || {
        if layout.size() != 0 {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { std::alloc::dealloc(storage, layout) };
        }
    };
    // SAFETY: `src` is a live target value; the storage is valid for the
    // proxy type.
    let converted = catch_unwind(AssertUnwindSafe(|| unsafe {
        (proxy.convert_out)(src, PtrUninit::new(storage))
    }));
    let result = match converted {
        Ok(Ok(_)) => {
            let result = encode(proxy.shape, PtrConst::new(storage.cast_const()));
            // SAFETY: the storage holds the proxy value; dropped once.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
                proxy.shape.call_drop_in_place(PtrMut::new(storage))
            }));
            result
        }
        Ok(Err(message)) => Err(failure(format!("proxy conversion failed: {message}"))),
        Err(panic) => Err(failure(format!(
            "proxy conversion panicked: {}",
            crate::error::panic_message(&*panic)
        ))),
    };
    free();
    result
}
