//! What code generation needs to know about a plan before emitting any
//! function: which nodes get a function of their own, the bounded encoded
//! size of each node (for shared capacity checks), and the calibrated
//! layouts it may load inline. Analysis only; [`super::codegen`] emits.
//!
//! **Functions.** Everything is inlined into the function of the nearest
//! enclosing function node, except:
//! - the root and the plan's recursive nodes (so inlining terminates),
//! - items of sets, maps and indexed lists (runtime helpers call them
//!   through a pointer),
//! - nodes used more than once whose inlined code would exceed
//!   [`SHARED_INLINE_BUDGET`]: without this, `Pair<Pair<...<u8>>>` nested 16
//!   deep inlines 2^16 copies of the leaf. With it, code size and compile
//!   time grow with the number of distinct shapes, not with the number of
//!   paths through them, while small shared nodes (an `Option<String>` in
//!   ten fields) stay inline where they are fastest.

use super::layout::{self, PtrLenLayout};
use crate::plan::{IntKind, NodeId, Op, Plan, children};
use crate::wire;

/// Facts about the plan that code generation needs for every function.
pub(crate) struct PlanFacts {
    /// Nodes that get a function of their own.
    pub own_function: Vec<bool>,
    /// Upper bound of each node's encoded size, when bounded and free of
    /// calls that write (so one capacity check can cover it).
    pub max_size: Vec<Option<usize>>,
    /// Calibrated `Vec` layout of each contiguous list node.
    pub vec_layout: Vec<Option<PtrLenLayout>>,
    /// Calibrated `String` layout on this host.
    pub string_layout: Option<PtrLenLayout>,
}

impl PlanFacts {
    pub fn of(plan: &Plan) -> PlanFacts {
        let n = plan.nodes().len();
        let mut own_function: Vec<bool> = (0..n)
            .map(|index| plan.is_recursive(NodeId::from_index(index)))
            .collect();
        own_function[plan.root().index()] = true;
        for node in plan.nodes() {
            match &node.op {
                Op::Set(op) => own_function[op.element.index()] = true,
                Op::Map(op) => {
                    own_function[op.key.index()] = true;
                    own_function[op.value.index()] = true;
                }
                Op::List(op) if op.vtable.as_ptr.is_none() => {
                    own_function[op.elements.node.index()] = true
                }
                _ => {}
            }
        }
        outline_large_shared_nodes(plan, &mut own_function);
        let mut sizes = vec![None; n];
        let max_size = (0..n)
            .map(|index| bounded_size(plan, &own_function, NodeId::from_index(index), &mut sizes))
            .collect();
        let vec_layout = vec_layouts(plan);
        PlanFacts {
            own_function,
            max_size,
            vec_layout,
            string_layout: layout::string_layout(),
        }
    }
}

/// The nodes that get a decode function of their own: the root, the
/// plan's recursive nodes, and large shared nodes (as for encoding; the
/// items of sets and maps are built by the interpreter, see
/// [`super::decode_codegen`]).
pub(crate) fn decode_functions(plan: &Plan) -> Vec<bool> {
    let mut own_function: Vec<bool> = (0..plan.nodes().len())
        .map(|index| plan.is_recursive(NodeId::from_index(index)))
        .collect();
    own_function[plan.root().index()] = true;
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
            own_function[op.elements.node.index()] = true;
        }
    }
    outline_large_shared_nodes(plan, &mut own_function);
    own_function
}

/// The calibrated `Vec` layout of each contiguous list node.
pub(crate) fn vec_layouts(plan: &Plan) -> Vec<Option<PtrLenLayout>> {
    plan.nodes()
        .iter()
        .map(|node| match (&node.op, node.shape.def) {
            (Op::List(op), facet_core::Def::List(def)) if op.vtable.as_ptr.is_some() => {
                layout::vec_layout(node.shape, &def)
            }
            _ => None,
        })
        .collect()
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
fn outline_large_shared_nodes(plan: &Plan, own_function: &mut [bool]) {
    let n = plan.nodes().len();
    let mut uses = vec![0usize; n];
    for index in 0..n {
        for child in children(plan, NodeId::from_index(index)) {
            uses[child.index()] += 1;
        }
    }
    struct Outliner<'a> {
        plan: &'a Plan,
        uses: Vec<usize>,
        own_function: &'a mut [bool],
        inline_cost: Vec<Option<usize>>,
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
            if self.own_function[id.index()] {
                return CALL_COST;
            }
            let cost = match self.inline_cost[id.index()] {
                Some(cost) => cost,
                None => {
                    // Acyclic: every cycle passes through a recursive node,
                    // which already has its own function.
                    let cost = self.body(id);
                    self.inline_cost[id.index()] = Some(cost);
                    if self.uses[id.index()] > 1 && cost > SHARED_INLINE_BUDGET {
                        self.own_function[id.index()] = true;
                    }
                    cost
                }
            };
            if self.own_function[id.index()] {
                CALL_COST
            } else {
                cost
            }
        }
    }
    let functions: Vec<NodeId> = (0..n)
        .filter(|&index| own_function[index])
        .map(NodeId::from_index)
        .collect();
    let mut outliner = Outliner {
        plan,
        uses,
        own_function,
        inline_cost: vec![None; n],
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

/// The bounded encoded size of `id` when inlined (`None` when unbounded or
/// when it calls a function that writes), memoized in `sizes`.
fn bounded_size(
    plan: &Plan,
    own_function: &[bool],
    id: NodeId,
    sizes: &mut Vec<Option<Option<usize>>>,
) -> Option<usize> {
    if let Some(known) = sizes[id.index()] {
        return known;
    }
    // Provisional answer while `id` is being sized: a cycle (which only
    // passes through function nodes, sized as `None`) is unbounded.
    sizes[id.index()] = Some(None);
    let mut size = |child: NodeId| {
        if own_function[child.index()] {
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
        Op::Int(kind) => Some(varint_max(*kind)),
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
    sizes[id.index()] = Some(result);
    result
}

fn varint_max(kind: IntKind) -> usize {
    match kind {
        IntKind::U16 | IntKind::I16 => 3,
        IntKind::U32 | IntKind::I32 => 5,
        IntKind::U64 | IntKind::I64 => wire::MAX_VARINT_U64_LEN,
        IntKind::U128 | IntKind::I128 => wire::MAX_VARINT_U128_LEN,
    }
}
