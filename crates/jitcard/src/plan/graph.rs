//! The plan as a graph: which nodes a node refers to, and which nodes close
//! a cycle.
//!
//! Both engines need the same answer to "where can recursion happen?": the
//! interpreter counts nesting depth there and the JIT gives those nodes a
//! function of their own (and checks the stack there). It is computed once,
//! when the plan is lowered, from the plan alone.

use super::{Build, NodeId, Op, Plan};

/// One value per node of a plan, indexed by [`NodeId`]: how analyses keep
/// per-node answers (instead of parallel vectors indexed by position).
/// (Only the code generators' analyses use it so far.)
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
pub(crate) struct NodeMap<T>(Vec<T>);

#[cfg_attr(not(feature = "jit"), allow(dead_code))]
impl<T> NodeMap<T> {
    /// The value of every node of `plan`, computed from its id.
    pub fn of(plan: &Plan, value: impl FnMut(NodeId) -> T) -> NodeMap<T> {
        NodeMap(plan.ids().map(value).collect())
    }

    /// The same value for every node of `plan`.
    pub fn filled(plan: &Plan, value: T) -> NodeMap<T>
    where
        T: Clone,
    {
        NodeMap(vec![value; plan.nodes().len()])
    }

    /// The (node, value) pairs in node order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &T)> {
        self.0
            .iter()
            .enumerate()
            .map(|(i, v)| (NodeId::from_index(i), v))
    }
}

impl<T> std::ops::Index<NodeId> for NodeMap<T> {
    type Output = T;
    fn index(&self, id: NodeId) -> &T {
        &self.0[id.index()]
    }
}

impl<T> std::ops::IndexMut<NodeId> for NodeMap<T> {
    fn index_mut(&mut self, id: NodeId) -> &mut T {
        &mut self.0[id.index()]
    }
}

/// The nodes `id` refers to directly, in field / variant order (a node
/// referred to twice appears twice).
///
/// Every id an op holds must be listed here: the encoding interpreter's
/// unchecked reads are sound because `interp::program::Program::of`
/// checks these ids (a new op kind with an id left out would read out of
/// bounds).
pub(crate) fn children(plan: &Plan, id: NodeId) -> Vec<NodeId> {
    match &plan.node(id).op {
        Op::Fields(fields) => fields.iter().map(|f| f.node).collect(),
        Op::Enum(op) => op
            .variants
            .iter()
            .flat_map(|v| v.fields.iter().map(|f| f.node))
            .collect(),
        Op::Option(op) => vec![op.some],
        Op::Result(op) => vec![op.ok, op.err],
        Op::Pointer(op) => vec![op.pointee],
        Op::List(op) => vec![op.elements.node],
        Op::Slice(op) => vec![op.elements.node],
        Op::Array(op) => vec![op.elements.node],
        Op::Set(op) => vec![op.element],
        Op::Map(op) => vec![op.key, op.value],
        // A decode plan reads a proxied value as its proxy type: that node is
        // a child (recursion can pass through it).
        Op::Fallback(_) => match &plan.node(id).build {
            Some(Build::Proxy { proxy, .. }) => vec![*proxy],
            _ => vec![],
        },
        Op::Nothing
        | Op::Bool
        | Op::Byte
        | Op::Int(_)
        | Op::F32
        | Op::F64
        | Op::Char
        | Op::Str(_) => vec![],
    }
}

/// The targets of back edges of a depth-first walk from the root: every
/// cycle of the plan passes through at least one of them, so a value can
/// only nest without bound by re-entering one of these nodes
/// (`Tree -> Option<Box<Tree>> -> Box<Tree> -> Tree` has one: `Tree`).
pub(crate) fn cycle_breakers(plan: &Plan) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        New,
        OnPath,
        Done,
    }
    let mut visit = vec![Visit::New; plan.nodes().len()];
    let mut breakers = vec![false; plan.nodes().len()];
    // (node, its children, next child index): an explicit stack, so deep
    // plans cannot overflow the native one.
    let mut stack = vec![(plan.root(), children(plan, plan.root()), 0)];
    visit[plan.root().index()] = Visit::OnPath;
    while let Some((id, kids, next)) = stack.last_mut() {
        if let Some(&child) = kids.get(*next) {
            *next += 1;
            match visit[child.index()] {
                Visit::OnPath => breakers[child.index()] = true,
                Visit::New => {
                    visit[child.index()] = Visit::OnPath;
                    let grandchildren = children(plan, child);
                    stack.push((child, grandchildren, 0));
                }
                Visit::Done => {}
            }
        } else {
            visit[id.index()] = Visit::Done;
            stack.pop();
        }
    }
    breakers
}
