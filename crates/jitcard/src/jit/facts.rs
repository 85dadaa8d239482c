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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use facet::Facet;

    use super::*;
    use crate::plan::{lower, lower_for_decode};

    /// The node first reached at `path` (e.g. `"Bounded.tag"`).
    fn at(plan: &Plan, path: &str) -> NodeId {
        plan.ids()
            .find(|&id| plan.node(id).path == path)
            .unwrap_or_else(|| panic!("no node at {path}"))
    }

    #[derive(Facet)]
    #[repr(u8)]
    #[allow(dead_code)]
    enum Small {
        Empty,
        Pair(u8, u16),
        Wide { a: u64, b: bool },
    }

    #[derive(Facet)]
    struct Bounded {
        byte: u8,
        flag: bool,
        short: u16,
        word: u32,
        long: i64,
        float: f32,
        double: f64,
        letter: char,
        maybe: Option<u16>,
        boxed: Box<u8>,
        array: [u16; 3],
        tag: Small,
        text: String,
        many: Vec<u8>,
    }

    /// Each bounded node's size is the longest encoding of its type, with
    /// room for the word a varint store writes; what has no bound (text,
    /// lists) has none, and neither has a struct holding one.
    #[test]
    fn bounded_sizes_are_the_longest_encodings() {
        let plan = lower(Bounded::SHAPE).expect("lowers");
        let facts = PlanFacts::of(&plan);
        let size = |path: &str| facts.max_size[at(&plan, path)];
        let varint = |longest: usize| Some(longest.max(VARINT_STORE));
        assert_eq!(size("Bounded.byte"), Some(1));
        assert_eq!(size("Bounded.flag"), Some(1));
        assert_eq!(size("Bounded.short"), varint(3));
        assert_eq!(size("Bounded.word"), varint(5));
        assert_eq!(size("Bounded.long"), varint(10));
        assert_eq!(size("Bounded.float"), Some(4));
        assert_eq!(size("Bounded.double"), Some(8));
        assert_eq!(size("Bounded.letter"), Some(5));
        assert_eq!(size("Bounded.maybe"), Some(1 + VARINT_STORE));
        assert_eq!(size("Bounded.boxed"), Some(1));
        assert_eq!(size("Bounded.array"), Some(3 * VARINT_STORE));
        // The tag's varint, then the largest variant: `Wide`'s u64 and bool.
        assert_eq!(size("Bounded.tag"), Some(wire::MAX_VARINT_U64_LEN + 10 + 1));
        assert_eq!(size("Bounded.text"), None);
        assert_eq!(size("Bounded.many"), None);
        assert_eq!(size("Bounded"), None);
        assert!(facts.own_function[plan.root()]);
        assert_eq!(
            facts.own_function.iter().filter(|(_, own)| **own).count(),
            1,
            "a plan without cycles, sets or shared large nodes is one function"
        );
    }

    #[derive(Facet)]
    struct Huge {
        block: [[[u8; 64]; 64]; 64],
        small: [[u16; 8]; 8],
    }

    /// A bound too large to reserve in one check counts as no bound.
    #[test]
    fn bounds_beyond_one_reservation_are_dropped() {
        let plan = lower(Huge::SHAPE).expect("lowers");
        let facts = PlanFacts::of(&plan);
        assert_eq!(
            facts.max_size[at(&plan, "Huge.small")],
            Some(64 * VARINT_STORE)
        );
        assert_eq!(facts.max_size[at(&plan, "Huge.block")], None);
    }

    #[derive(Facet)]
    struct Tree {
        value: i64,
        left: Option<Box<Tree>>,
        right: Option<Box<Tree>>,
    }

    #[derive(Facet)]
    struct Collections {
        set: BTreeSet<u32>,
        map: BTreeMap<u16, String>,
        list: Vec<Tree>,
    }

    /// The root, the node that closes a cycle, and each set's items get a
    /// function; each map gets an entry function; nothing else does, and
    /// a recursive node has no bound.
    #[test]
    fn functions_are_the_root_cycles_sets_and_map_entries() {
        let plan = lower(Collections::SHAPE).expect("lowers");
        let facts = PlanFacts::of(&plan);
        let tree = at(&plan, "Collections.list[]");
        assert!(plan.is_recursive(tree));
        let set_item = at(&plan, "Collections.set[]");
        let map = at(&plan, "Collections.map");
        let mut expected = vec![
            Function::Node(plan.root()),
            Function::Node(tree),
            Function::Node(set_item),
            Function::MapEntry(map),
        ];
        let mut functions = facts.functions(&plan);
        let key = |f: &Function| (matches!(f, Function::MapEntry(_)), f.node().index());
        expected.sort_by_key(key);
        functions.sort_by_key(key);
        assert_eq!(functions, expected);
        assert_eq!(facts.max_size[tree], None, "a tree has no bound");
        // The option of the box that reaches the tree again is inlined, and
        // unbounded: it calls the tree's function.
        let child = at(&plan, "Collections.list[].left");
        assert!(!facts.own_function[child]);
        assert_eq!(facts.max_size[child], None);
    }

    #[derive(Facet, Clone, Copy)]
    struct Pair<T> {
        a: T,
        b: T,
    }

    type P4<T> = Pair<Pair<Pair<Pair<T>>>>;

    #[derive(Facet)]
    struct Shared {
        big: P4<P4<bool>>,
        first: Option<String>,
        second: Option<String>,
    }

    /// A node used more than once goes into a function of its own only
    /// when inlining it everywhere would exceed the budget: the deep pairs
    /// do, the small option of a string stays inline at both uses.
    #[test]
    fn only_large_shared_nodes_are_outlined() {
        let plan = lower(Shared::SHAPE).expect("lowers");
        let facts = PlanFacts::of(&plan);
        let outlined: Vec<NodeId> = facts
            .own_function
            .iter()
            .filter(|&(id, own)| *own && id != plan.root())
            .map(|(id, _)| id)
            .collect();
        assert!(!outlined.is_empty(), "2^8 inlined leaves exceed the budget");
        for &id in &outlined {
            assert!(plan.node(id).path.starts_with("Shared.big"));
        }
        assert!(!facts.own_function[at(&plan, "Shared.first")]);
    }

    #[derive(Facet)]
    struct Rows {
        rows: Vec<Row>,
        bytes: Vec<u8>,
        names: Vec<String>,
    }

    #[derive(Facet)]
    struct Row {
        id: u32,
        name: String,
    }

    /// Decoders give elements of lists that are records a function of
    /// their own; scalar and string elements stay inline.
    #[test]
    fn decoders_outline_record_elements() {
        let plan = lower_for_decode(Rows::SHAPE).expect("lowers");
        let own = decode_functions(&plan);
        assert!(own[plan.root()]);
        let element = |path: &str| match &plan.node(at(&plan, path)).op {
            Op::List(op) => op.elements.node,
            _ => panic!("{path} is a list"),
        };
        assert!(own[element("Rows.rows")]);
        assert!(!own[element("Rows.bytes")]);
        assert!(!own[element("Rows.names")]);
    }
}
