//! What code generation needs to know about a plan before emitting any
//! function: which nodes get a function of their own, the bounded encoded
//! size of each node (for shared capacity checks), and the calibrated
//! layouts it may load inline (strings, vectors, pointers, option presence:
//! the plan's own, see [`crate::calibration`]).
//! Analysis only, every answer keyed by [`NodeId`]; [`super::codegen`] and
//! [`super::decode_codegen`] emit.
//!
//! **Functions.** Everything is inlined into the function of the nearest
//! enclosing function node, except:
//! - the root and the plan's recursive nodes (so inlining terminates),
//! - items of sets and indexed lists (runtime helpers call them through a
//!   pointer); a map's key and value are inlined into one function per
//!   entry instead ([`Function::MapEntry`]: one call per entry, not two),
//! - nodes used more than once whose inlined code would exceed
//!   [`SHARED_INLINE_BUDGET`]: without this, `Pair<Pair<...<u8>>>` nested 16
//!   deep inlines 2^16 copies of the leaf. With it, code size and compile
//!   time grow with the number of distinct shapes, not with the number of
//!   paths through them, while small shared nodes (an `Option<String>` in
//!   ten fields) stay inline where they are fastest.

use super::Function;
use super::emit::VARINT_STORE;
use crate::calibration::Layouts;
use crate::plan::{NodeId, NodeMap, Op, Plan, children};
use crate::wire;

/// Facts about the plan that code generation needs for every function.
pub(crate) struct PlanFacts {
    /// Nodes that get a function of their own.
    pub own_function: NodeMap<bool>,
    /// Upper bound of each node's encoded size, when bounded and free of
    /// calls that write (so one capacity check can cover it).
    pub max_size: NodeMap<Option<usize>>,
    /// The plan's calibrated layouts (see [`crate::calibration`]).
    pub layouts: Layouts,
}

impl PlanFacts {
    pub fn of(plan: &Plan) -> PlanFacts {
        let mut own_function = entry_and_recursive(plan);
        for id in plan.ids() {
            match &plan.node(id).op {
                Op::Set(op) => own_function[op.element] = true,
                Op::List(op) if op.vtable.as_ptr.is_none() => own_function[op.elements.node] = true,
                _ => {}
            }
        }
        outline_large_shared_nodes(plan, &mut own_function);
        let max_size = bounded_sizes(plan, &own_function);
        PlanFacts {
            own_function,
            max_size,
            layouts: plan.layouts().clone(),
        }
    }

    /// Every function the encoder compiles: one per node with a function
    /// of its own, one per map node's entries.
    pub fn functions(&self, plan: &Plan) -> Vec<Function> {
        let entries = plan
            .ids()
            .filter(|&id| matches!(plan.node(id).op, Op::Map(_)))
            .map(Function::MapEntry);
        Function::of_nodes(&self.own_function)
            .chain(entries)
            .collect()
    }
}

/// The nodes that get a decode function of their own: the root, the
/// plan's recursive nodes, and large shared nodes (as for encoding; the
/// items of sets and maps are built by the interpreter, see
/// [`super::decode_codegen`]).
pub(crate) fn decode_functions(plan: &Plan) -> NodeMap<bool> {
    let mut own_function = entry_and_recursive(plan);
    // Elements of lists that are records, enums or lists themselves: one
    // call per element costs little beside building it, and smaller
    // functions compile much faster (register allocation grows faster than
    // the function).
    for node in plan.nodes() {
        if let Op::List(op) = &node.op
            && !op.elements.memory_is_wire
            && matches!(
                plan.node(op.elements.node).op,
                Op::Fields(_) | Op::Enum(_) | Op::List(_)
            )
        {
            own_function[op.elements.node] = true;
        }
    }
    outline_large_shared_nodes(plan, &mut own_function);
    own_function
}

/// The root and the plan's recursive nodes: the functions every compiled
/// plan has (inlining must stop at a cycle).
fn entry_and_recursive(plan: &Plan) -> NodeMap<bool> {
    NodeMap::of(plan, |id| id == plan.root() || plan.is_recursive(id))
}

/// Estimated IR size of a node that is used more than once, above which it
/// gets a function of its own instead of being inlined at every use.
pub(crate) const SHARED_INLINE_BUDGET: usize = 320;

/// Estimated IR size of a call to a compiled function (spill, call, reload,
/// status check).
const CALL_COST: usize = 12;

/// Estimated IR size of a node's own code, children excluded.
fn own_cost(op: &Op) -> usize {
    match op {
        Op::Nothing => 0,
        Op::Bool | Op::Byte | Op::F32 | Op::F64 => 4,
        Op::Char => 8,
        Op::Int(_) => 24,
        Op::Str(_) => 40,
        Op::Fields(fields) => 6 + 2 * fields.len(),
        Op::Enum(op) => 16 + 12 * op.variants.len(),
        Op::Option(_) => 30,
        Op::Result(_) => 40,
        Op::Pointer(_) => 20,
        Op::List(_) | Op::Slice(_) => 50,
        Op::Array(_) => 20,
        Op::Set(_) | Op::Map(_) | Op::Fallback(_) => 12,
    }
}

/// Marks for outlining every node used more than once whose inlined code
/// (with its own outlined descendants as calls) exceeds
/// [`SHARED_INLINE_BUDGET`]. Bottom-up, so a node's cost already counts its
/// outlined children as calls.
fn outline_large_shared_nodes(plan: &Plan, own_function: &mut NodeMap<bool>) {
    let mut uses = NodeMap::filled(plan, 0usize);
    for id in plan.ids() {
        for child in children(plan, id) {
            uses[child] += 1;
        }
    }
    struct Outliner<'a> {
        plan: &'a Plan,
        uses: NodeMap<usize>,
        own_function: &'a mut NodeMap<bool>,
        inline_cost: NodeMap<Option<usize>>,
    }
    impl Outliner<'_> {
        /// Cost of `id`'s code with its children inlined or called.
        fn body(&mut self, id: NodeId) -> usize {
            let mut cost = own_cost(&self.plan.node(id).op);
            for child in children(self.plan, id) {
                cost += self.at_use(child);
            }
            cost
        }
        /// Cost of one use of `id` inside another node's code (recursing
        /// once per level of type nesting, on a fresh stack segment when
        /// this one runs low).
        fn at_use(&mut self, id: NodeId) -> usize {
            crate::stack::with_room(crate::stack::RED_ZONE, || self.at_use_here(id))
        }
        fn at_use_here(&mut self, id: NodeId) -> usize {
            if self.own_function[id] {
                return CALL_COST;
            }
            let cost = match self.inline_cost[id] {
                Some(cost) => cost,
                None => {
                    // Acyclic: every cycle passes through a recursive node,
                    // which already has its own function.
                    let cost = self.body(id);
                    self.inline_cost[id] = Some(cost);
                    if self.uses[id] > 1 && cost > SHARED_INLINE_BUDGET {
                        self.own_function[id] = true;
                    }
                    cost
                }
            };
            if self.own_function[id] {
                CALL_COST
            } else {
                cost
            }
        }
    }
    let functions: Vec<NodeId> = own_function
        .iter()
        .filter(|(_, own)| **own)
        .map(|(id, _)| id)
        .collect();
    let mut outliner = Outliner {
        plan,
        uses,
        own_function,
        inline_cost: NodeMap::filled(plan, None),
    };
    for id in functions {
        outliner.body(id);
    }
}

/// Largest element count of an array whose bounded elements are still
/// treated as one bounded run.
const MAX_BOUNDED_ARRAY: usize = 64;

/// Largest bounded size one capacity check reserves; larger bounds are
/// treated as unbounded (checked piecewise).
const MAX_RESERVED: usize = 64 * 1024;

/// The bounded encoded size of every node when inlined (`None` when
/// unbounded or when it calls a function that writes).
fn bounded_sizes(plan: &Plan, own_function: &NodeMap<bool>) -> NodeMap<Option<usize>> {
    let mut sizes = NodeMap::filled(plan, None);
    for id in plan.ids() {
        bounded_size(plan, own_function, id, &mut sizes);
    }
    NodeMap::of(plan, |id| sizes[id].flatten())
}

/// The bounded encoded size of `id` when inlined, memoized in `sizes`.
fn bounded_size(
    plan: &Plan,
    own_function: &NodeMap<bool>,
    id: NodeId,
    sizes: &mut NodeMap<Option<Option<usize>>>,
) -> Option<usize> {
    if let Some(known) = sizes[id] {
        return known;
    }
    // Provisional answer while `id` is being sized: a cycle (which only
    // passes through function nodes, sized as `None`) is unbounded.
    sizes[id] = Some(None);
    let mut size = |child: NodeId| {
        if own_function[child] {
            None
        } else {
            // Recurses once per level of type nesting.
            crate::stack::with_room(crate::stack::RED_ZONE, || {
                bounded_size(plan, own_function, child, sizes)
            })
        }
    };
    fn sum(mut sizes: impl Iterator<Item = Option<usize>>) -> Option<usize> {
        sizes.try_fold(0usize, |total, size| total.checked_add(size?))
    }
    let result = match &plan.node(id).op {
        Op::Nothing => Some(0),
        Op::Bool | Op::Byte => Some(1),
        // Room for the word a varint store may write (see `put_varint`).
        Op::Int(kind) => Some(kind.varint_width().max_len().max(VARINT_STORE)),
        Op::F32 => Some(4),
        Op::F64 => Some(8),
        Op::Char => Some(5),
        Op::Fields(fields) => sum(fields.iter().map(|f| size(f.node))),
        Op::Enum(op) => op
            .variants
            .iter()
            .map(|v| sum(v.fields.iter().map(|f| size(f.node))))
            .try_fold(wire::MAX_VARINT_U64_LEN, |max, v| {
                Some(max.max(wire::MAX_VARINT_U64_LEN.checked_add(v?)?))
            }),
        Op::Option(op) => size(op.some).and_then(|s| s.checked_add(1)),
        Op::Result(op) => size(op.ok)?.max(size(op.err)?).checked_add(1),
        Op::Pointer(op) => size(op.pointee),
        Op::Array(op) if op.len <= MAX_BOUNDED_ARRAY => {
            size(op.elements.node).and_then(|s| s.checked_mul(op.len))
        }
        _ => None,
    };
    // A larger bound would reserve more than values of the type usually need.
    let result = result.filter(|&bytes| bytes <= MAX_RESERVED);
    sizes[id] = Some(result);
    result
}
