//! Layout knowledge beyond what facet describes, found at run time and
//! verified: where a `String`'s or `Vec`'s pointer and length words are
//! ([`layout`]), where a std pointer's pointee starts ([`layout`]), and which
//! bytes of an `Option` tell `None` from `Some` ([`presence`]). Each module
//! carries its soundness argument; every answer is `None` where a probe
//! does not fit, and the engines then keep facet's vtable call.
//!
//! [`Layouts`] is what all of it says about one plan, keyed by [`NodeId`]:
//! computed once per plan ([`Plan::layouts`]) and followed by every engine,
//! the interpreter and the code generators alike.
//!
//! [`NodeId`]: crate::plan::NodeId

pub(crate) mod layout;
pub(crate) mod presence;

use crate::plan::{NodeMap, Op, Plan};
use layout::{PointerLayout, PtrLenLayout};
use presence::{KnownLayouts, Presence};

/// The calibrated layouts of one plan's nodes.
#[derive(Clone, Debug)]
pub(crate) struct Layouts {
    /// Calibrated `Vec` layout of each contiguous list node.
    pub vec_layout: NodeMap<Option<PtrLenLayout>>,
    /// Calibrated `String` layout on this host (the interpreter reads
    /// strings as Rust values; generated code loads these words).
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub string_layout: Option<PtrLenLayout>,
    /// Calibrated `&str` layout on this host (as `string_layout`).
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub str_ref_layout: Option<PtrLenLayout>,
    /// Where each pointer node's pointee is, when known without a call.
    pub pointer_layout: NodeMap<Option<PointerLayout>>,
    /// How each option node tells `None` from `Some` without a call.
    pub presence: NodeMap<Option<Presence>>,
}

impl Layouts {
    /// Calibrates every node of `plan` (use [`Plan::layouts`], which does
    /// this once). Fails safe: should the probing code panic (a shape that
    /// breaks an assumption it did not check), no node gets a layout and
    /// every engine keeps the vtable calls, rather than building an encoder
    /// failing with a panic.
    pub fn of(plan: &Plan) -> Layouts {
        Layouts::guarded(plan, Layouts::probe)
    }

    /// `probe`'s layouts, or none if it panics.
    fn guarded(plan: &Plan, probe: impl FnOnce(&Plan) -> Layouts) -> Layouts {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| probe(plan)))
            .unwrap_or_else(|_| Layouts::none(plan))
    }

    /// No calibrated layout for any node.
    fn none(plan: &Plan) -> Layouts {
        Layouts {
            vec_layout: NodeMap::filled(plan, None),
            string_layout: None,
            str_ref_layout: None,
            pointer_layout: NodeMap::filled(plan, None),
            presence: NodeMap::filled(plan, None),
        }
    }

    fn probe(plan: &Plan) -> Layouts {
        let vec_layout = vec_layouts(plan);
        let string_layout = layout::string_layout();
        let str_ref_layout = layout::str_ref_layout();
        let pointer_layout = pointer_layouts(plan);
        let presence = presence::presences(
            plan,
            &KnownLayouts {
                string: string_layout,
                str_ref: str_ref_layout,
                vecs: &vec_layout,
                pointers: &pointer_layout,
            },
        );
        Layouts {
            vec_layout,
            string_layout,
            str_ref_layout,
            pointer_layout,
            presence,
        }
    }
}

/// The calibrated `Vec` layout of each contiguous list node.
fn vec_layouts(plan: &Plan) -> NodeMap<Option<PtrLenLayout>> {
    NodeMap::of(plan, |id| {
        let node = plan.node(id);
        match (&node.op, node.shape.def) {
            (Op::List(op), facet_core::Def::List(def)) if op.vtable.as_ptr.is_some() => {
                layout::vec_layout(node.shape, &def)
            }
            _ => None,
        }
    })
}

/// The calibrated layout of each pointer node (see [`layout::pointer_layout`]).
fn pointer_layouts(plan: &Plan) -> NodeMap<Option<PointerLayout>> {
    NodeMap::of(plan, |id| match &plan.node(id).op {
        Op::Pointer(op) => layout::pointer_layout(plan.node(id).shape, plan.node(op.pointee).shape),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use facet::Facet;

    use super::*;

    #[derive(Facet)]
    struct Record {
        boxed: Option<Box<u64>>,
        list: Vec<u32>,
    }

    #[test]
    fn a_panicking_probe_leaves_every_node_on_the_call_path() {
        let plan = crate::plan::lower(Record::SHAPE).expect("encodable");
        let calibrated = Layouts::of(&plan);
        assert!(
            calibrated.presence.iter().any(|(_, p)| p.is_some()),
            "Option<Box<u64>> has a rule (a language guarantee)"
        );
        let failed = Layouts::guarded(&plan, |_| panic!("a probe's assumption broke"));
        assert!(failed.presence.iter().all(|(_, p)| p.is_none()));
        assert!(failed.vec_layout.iter().all(|(_, l)| l.is_none()));
        assert!(failed.pointer_layout.iter().all(|(_, l)| l.is_none()));
        assert_eq!((failed.string_layout, failed.str_ref_layout), (None, None));
    }
}
