//! The fewest and the most wire bytes each node's encoding can take.
//!
//! The most is `max_size`'s answer: exact, and `None` wherever it is
//! unbounded.
//!
//! Decoders use the fewest against hostile lengths: a declared count of `n`
//! elements of minimum size `m` needs `n * m` bytes of input, so a count
//! that cannot fit is refused before anything is allocated. The bound must
//! never be too large (that would refuse valid input); for recursive nodes
//! it is computed as a fixed point starting from 0, so it is a true lower
//! bound.

use super::{Build, Op, Plan};
use crate::wire;

/// Per node, the fewest bytes any of its encodings takes.
pub(crate) fn min_wire_sizes(plan: &Plan) -> Vec<usize> {
    let n = plan.nodes().len();
    let mut sizes = vec![0usize; n];
    // Iterating the (monotone) size equations from 0 gives a lower bound of
    // the least solution after any number of rounds, so stopping early is
    // safe. Acyclic parts settle within `n` rounds; a cycle without a base
    // case (`struct Loop { next: Box<Loop> }`, which has no values) would
    // climb forever, hence the bound on rounds.
    for _round in 0..2 * n + 2 {
        let mut changed = false;
        for index in 0..n {
            let size = own_min(plan, index, &sizes);
            if size > sizes[index] {
                sizes[index] = size;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    sizes
}

/// The minimum size of node `index` given the current sizes of its children.
fn own_min(plan: &Plan, index: usize, sizes: &[usize]) -> usize {
    let size = |id: super::NodeId| sizes[id.index()];
    match &plan.nodes()[index].op {
        Op::Nothing => 0,
        Op::Bool | Op::Byte | Op::Int(_) => 1,
        Op::F32 => 4,
        Op::F64 => 8,
        // A length byte and at least one UTF-8 byte.
        Op::Char => 2,
        // A length: the empty string, list, set or map.
        Op::Str(_) | Op::List(_) | Op::Slice(_) | Op::Set(_) | Op::Map(_) => 1,
        Op::Fields(fields) => fields
            .iter()
            .fold(0usize, |total, f| total.saturating_add(size(f.node))),
        // A variant index, then the smallest variant (an enum without
        // variants has no encoding at all; 1 is still a lower bound).
        Op::Enum(op) => 1usize.saturating_add(
            op.variants
                .iter()
                .map(|v| {
                    v.fields
                        .iter()
                        .fold(0usize, |total, f| total.saturating_add(size(f.node)))
                })
                .min()
                .unwrap_or(0),
        ),
        // `None` is one byte.
        Op::Option(_) => 1,
        Op::Result(op) => 1usize.saturating_add(size(op.ok).min(size(op.err))),
        Op::Pointer(op) => size(op.pointee),
        Op::Array(op) => size(op.elements.node).saturating_mul(op.len),
        // A decode plan reads a proxied value as its proxy type; other
        // facet-defined forms: assume nothing.
        Op::Fallback(_) => match &plan.nodes()[index].build {
            Some(Build::Proxy { proxy, .. }) => size(*proxy),
            _ => 0,
        },
    }
}

/// Per node, the most bytes any of its encodings takes (`None`: no bound).
///
/// Exact, not a safe overestimate: every part's maximum is reached by some
/// value, and the parts of a struct, array or variant vary independently,
/// so their sum is reached too (an enum's tag is the varint of its largest
/// variant index, which postcard's derive rounds up when the variant count
/// is a power of 128). Strings, sequences, sets and maps are unbounded, and
/// so is everything on or above a cycle (recursion), and every part
/// delegated to facet-postcard (its bytes are facet-postcard's to decide:
/// `Duration`'s proxy, flattened fields...).
pub(crate) fn max_wire_sizes(plan: &Plan) -> Vec<Option<usize>> {
    let n = plan.nodes().len();
    // Every cycle passes through a node that closes it: with those
    // unbounded, the rest is acyclic, and rounds of the size equations
    // settle within `n + 1` rounds (one per level of the deepest chain).
    let mut sizes: Vec<Option<usize>> = (0..n)
        .map(|index| {
            if plan.is_recursive(super::NodeId::from_index(index)) {
                None
            } else {
                Some(0)
            }
        })
        .collect();
    for _round in 0..n + 1 {
        let mut changed = false;
        for index in 0..n {
            if plan.is_recursive(super::NodeId::from_index(index)) {
                continue;
            }
            let size = own_max(plan, index, &sizes);
            if size != sizes[index] {
                sizes[index] = size;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    sizes
}

/// The maximum size of node `index` given the current sizes of its children.
fn own_max(plan: &Plan, index: usize, sizes: &[Option<usize>]) -> Option<usize> {
    let size = |id: super::NodeId| sizes[id.index()];
    fn sum(mut parts: impl Iterator<Item = Option<usize>>) -> Option<usize> {
        parts.try_fold(0usize, |total, part| total.checked_add(part?))
    }
    match &plan.nodes()[index].op {
        Op::Nothing => Some(0),
        Op::Bool | Op::Byte => Some(1),
        Op::Int(kind) => Some(kind.varint_width().max_len()),
        Op::F32 => Some(4),
        Op::F64 => Some(8),
        Op::Char => Some(wire::char_len(char::MAX)),
        Op::Str(_) | Op::List(_) | Op::Slice(_) | Op::Set(_) | Op::Map(_) => None,
        Op::Fields(fields) => sum(fields.iter().map(|f| size(f.node))),
        // Each variant's own tag (its index's varint) plus its fields; an
        // enum without variants has no values (0 is vacuously exact).
        Op::Enum(op) => op.variants.iter().try_fold(0usize, |max, v| {
            let fields = sum(v.fields.iter().map(|f| size(f.node)))?;
            Some(max.max(wire::varint_len(u64::from(v.index)).checked_add(fields)?))
        }),
        Op::Option(op) => size(op.some)?.checked_add(1),
        Op::Result(op) => size(op.ok)?.max(size(op.err)?).checked_add(1),
        Op::Pointer(op) => size(op.pointee),
        // No elements, no bytes, whatever the element.
        Op::Array(op) if op.len == 0 => Some(0),
        Op::Array(op) => size(op.elements.node)?.checked_mul(op.len),
        Op::Fallback(_) => None,
    }
}
