//! What jitcard must know about a part it delegates to facet-postcard,
//! which recurses over the value with no stack check and no depth limit of
//! its own.
//!
//! - A delegated type whose type graph has a cycle (a recursive type with a
//!   `flatten` field, a proxy or a tagged enum on the cycle) could be handed
//!   an arbitrarily deep or cyclic value: it is refused when lowering.
//! - Otherwise facet-postcard's recursion is bounded by how deeply the
//!   delegated types nest ([`Delegation::type_depth`]), and the fallback runs
//!   with room for that many levels.
//! - A dynamic value (`facet_value::Value`) nests as deep as its contents:
//!   its depth is measured before it is delegated (refused above
//!   [`MAX_DYNAMIC_DEPTH`]); one nested anywhere else in a delegated part
//!   could not be measured, so such parts are refused.
//!
//! The graph is walked the way facet-postcard walks values: through
//! container and field proxies (it writes the proxy type), `Def` children,
//! struct and variant fields.

use std::any::TypeId;
use std::collections::HashMap;

use facet_core::{Def, DynValueKind, PtrConst, Shape, Type, UserType};

/// Stack facet-postcard gets per level of nesting, on top of
/// [`crate::stack::FALLBACK_ROOM`] (generous: a debug build of its
/// serializer uses about 30 KiB per level of a dynamic value; only the
/// pages actually used are ever touched).
pub(crate) const ROOM_PER_LEVEL: usize = 64 * 1024;

/// The deepest dynamic value delegated to facet-postcard; deeper ones fail
/// with `Error::TooDeep`.
pub const MAX_DYNAMIC_DEPTH: usize = 512;

/// The facts about one delegated node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delegation {
    /// The longest chain of nested types in the delegated type graph.
    pub type_depth: usize,
    /// Whether the node itself is a dynamic value (its depth is measured
    /// per value).
    pub dynamic: bool,
}

/// The delegation facts of `shape`, or why it cannot be delegated safely.
pub(crate) fn inspect(shape: &'static Shape) -> Result<Delegation, &'static str> {
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        OnPath,
        Done(usize),
    }
    let dynamic_root = matches!(shape.def, Def::DynamicValue(_));
    let mut visits: HashMap<TypeId, Visit> = HashMap::new();
    // (shape, its children, next child, deepest child seen): an explicit
    // stack, so deeply nested types cannot overflow the native one.
    let mut stack = vec![(shape, children(shape), 0usize, 0usize)];
    visits.insert(shape.id.get(), Visit::OnPath);
    let mut depth = 0;
    while let Some((current, kids, next, deepest)) = stack.last_mut() {
        if let Some(&child) = kids.get(*next) {
            *next += 1;
            if matches!(child.def, Def::DynamicValue(_)) && !std::ptr::eq(child, shape) {
                return Err(
                    "a dynamic value nested inside a part delegated to facet-postcard \
                            cannot be depth-checked",
                );
            }
            match visits.get(&child.id.get()) {
                Some(Visit::OnPath) => {
                    return Err("the part delegated to facet-postcard is recursive, and \
                                facet-postcard has no depth limit: a deep or cyclic value \
                                would overflow the stack");
                }
                Some(Visit::Done(child_depth)) => *deepest = (*deepest).max(*child_depth),
                None => {
                    visits.insert(child.id.get(), Visit::OnPath);
                    stack.push((child, children(child), 0, 0));
                }
            }
        } else {
            let finished = 1 + *deepest;
            visits.insert(current.id.get(), Visit::Done(finished));
            stack.pop();
            match stack.last_mut() {
                Some((_, _, _, parent_deepest)) => {
                    *parent_deepest = (*parent_deepest).max(finished)
                }
                None => depth = finished,
            }
        }
    }
    Ok(Delegation {
        type_depth: depth,
        dynamic: dynamic_root,
    })
}

/// The shapes facet-postcard visits inside a value of `shape`.
fn children(shape: &'static Shape) -> Vec<&'static Shape> {
    if let Some(proxy) = shape.effective_proxy(Some("postcard")) {
        return vec![proxy.shape];
    }
    match shape.def {
        Def::Option(d) => vec![d.t],
        Def::Result(d) => vec![d.t, d.e],
        Def::List(d) => vec![d.t],
        Def::Slice(d) => vec![d.t],
        Def::Array(d) => vec![d.t],
        Def::Set(d) => vec![d.t],
        Def::Map(d) => vec![d.k, d.v],
        Def::Pointer(d) => d.pointee.into_iter().collect(),
        Def::NdArray(d) => vec![d.t],
        Def::Scalar | Def::DynamicValue(_) => vec![],
        _ => {
            let field_shape = |field: &'static facet_core::Field| {
                field
                    .effective_proxy(Some("postcard"))
                    .map_or_else(|| field.shape(), |proxy| proxy.shape)
            };
            match shape.ty {
                Type::User(UserType::Struct(st)) => st.fields.iter().map(field_shape).collect(),
                Type::User(UserType::Enum(et)) => et
                    .variants
                    .iter()
                    .flat_map(|v| v.data.fields.iter().map(field_shape))
                    .collect(),
                _ => vec![],
            }
        }
    }
}

/// How deeply the dynamic value at `src` (of the `Def::DynamicValue`
/// shape `shape`) nests, or `None` when it nests deeper than `limit`.
/// Iterative; panics of facet's (Rust-ABI) accessors propagate to the
/// caller, which catches them.
///
/// # Safety
/// `src` points at a live value of `shape`.
pub(crate) unsafe fn dynamic_depth(
    shape: &'static Shape,
    src: PtrConst,
    limit: usize,
) -> Option<usize> {
    let Def::DynamicValue(def) = shape.def else {
        return Some(1);
    };
    let vtable = def.vtable;
    let mut deepest = 0;
    let mut pending = vec![(src, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > limit {
            return None;
        }
        deepest = deepest.max(depth);
        // SAFETY: `value` is the root (the caller's contract) or an element
        // or entry value the vtable itself returned.
        unsafe {
            match (vtable.get_kind)(value) {
                DynValueKind::Array => {
                    for index in 0..(vtable.array_len)(value).unwrap_or(0) {
                        if let Some(element) = (vtable.array_get)(value, index) {
                            pending.push((element, depth + 1));
                        }
                    }
                }
                DynValueKind::Object => {
                    for index in 0..(vtable.object_len)(value).unwrap_or(0) {
                        if let Some((_, entry)) = (vtable.object_get_entry)(value, index) {
                            pending.push((entry, depth + 1));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Some(deepest)
}
