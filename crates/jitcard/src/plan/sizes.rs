//! The fewest wire bytes each node's encoding can take.
//!
//! Decoders use it against hostile lengths: a declared count of `n`
//! elements of minimum size `m` needs `n * m` bytes of input, so a count
//! that cannot fit is refused before anything is allocated. The bound must
//! never be too large (that would refuse valid input); for recursive nodes
//! it is computed as a fixed point starting from 0, so it is a true lower
//! bound.

use super::{Build, Op, Plan};

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
