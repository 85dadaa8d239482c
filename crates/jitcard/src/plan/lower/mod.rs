//! Lowering: `&'static Shape` → [`Plan`].
//!
//! Walks the shape graph once, creating one node per distinct type (keyed by
//! `TypeId`, so a recursive type refers back to its own node). It decides, per
//! shape, which wire rule applies, using only what facet reflects: scalar type
//! ids, `Def` vtables, field offsets and element layouts. Shapes postcard
//! cannot encode are rejected here with the field path; shapes whose wire form
//! facet defines through attributes (proxies, tagging, `skip_serializing_if`,
//! ...) become fallback nodes.

use std::any::TypeId;
use std::collections::HashMap;

use facet_core::{
    Def, EnumRepr, EnumType, Field, FieldFlags, KnownPointer, PointerType, PrimitiveType,
    ScalarType, Shape, Type, UserType,
};

use super::{
    ArrayOp, Build, DiscriminantRead, Elements, EnumOp, FallbackReason, FieldProxy, FieldStep,
    IntKind, Iteration, ListOp, MapOp, Node, NodeId, Op, OptionOp, Plan, PointerOp, ResultOp,
    SetOp, SliceOp, StrAccess, VariantStep,
};
use crate::Error;

mod build;

/// Which direction a plan is lowered for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encode,
    Decode,
}

/// Builds the encode plan of `root` and every shape reachable from it.
///
/// Fails with [`Error::Unsupported`] (naming the field path) when a reachable
/// shape has no postcard encoding.
pub fn lower(root: &'static Shape) -> Result<Plan, Error> {
    lower_in(root, Direction::Encode)
}

/// Builds the decode plan of `root`: the same wire rules as its encode plan,
/// plus how each value is constructed ([`Node::build`](super::Node::build)).
/// Parts the encoder delegates to facet-postcard are decoded natively when
/// facet defines their wire form through a proxy (the proxy type is lowered
/// and converted with facet's `convert_in`), and refused otherwise.
///
/// Fails with [`Error::Unsupported`] (naming the field path) when a
/// reachable shape cannot be built from postcard bytes.
pub fn lower_for_decode(root: &'static Shape) -> Result<Plan, Error> {
    lower_in(root, Direction::Decode)
}

fn lower_in(root: &'static Shape, direction: Direction) -> Result<Plan, Error> {
    let mut lowerer = Lowerer {
        nodes: Vec::new(),
        by_type: HashMap::new(),
        direction,
    };
    let root_id = lowerer.node_for(root, root.to_string())?;
    skip_wire_free_zero_sized_runs(&mut lowerer.nodes);
    let plain = plain_nodes(&lowerer.nodes);
    copy_runs_of_plain_records(&mut lowerer.nodes, &plain);
    let plain_sizes = plain
        .iter()
        .zip(&lowerer.nodes)
        .map(|(&plain, node)| {
            let record = matches!(node.op, Op::Fields(_) | Op::Array(_));
            let size = node.shape.layout.sized_layout().map_or(0, |l| l.size());
            (plain && record && size > 0).then_some(size)
        })
        .collect();
    let mut delegations = Vec::with_capacity(lowerer.nodes.len());
    for node in &lowerer.nodes {
        delegations.push(match node.op {
            // Decode plans decode every part natively (proxies included).
            Op::Fallback(_) if direction == Direction::Decode => None,
            Op::Fallback(_) => Some(super::delegated::inspect(node.shape).map_err(|reason| {
                Error::Unsupported {
                    path: node.path.clone(),
                    type_name: node.shape.to_string(),
                    reason: reason.to_string(),
                }
            })?),
            _ => None,
        });
    }
    let mut plan = Plan {
        nodes: lowerer.nodes,
        root: root_id,
        recursive: Vec::new(),
        delegations,
        min_wire_sizes: Vec::new(),
        max_wire_sizes: Vec::new(),
        plain_sizes,
        layouts: std::sync::OnceLock::new(),
        interp_program: std::sync::OnceLock::new(),
    };
    plan.recursive = super::graph::cycle_breakers(&plan);
    plan.min_wire_sizes = super::sizes::min_wire_sizes(&plan);
    plan.max_wire_sizes = super::sizes::max_wire_sizes(&plan);
    // Calibrated (and the interpreter's program built) now, while lowering
    // has its stack room, not on an encode's first call, which may run with
    // little stack left.
    plan.layouts();
    if direction == Direction::Encode {
        plan.interp_program();
    }
    Ok(plan)
}

/// The variant index of each discriminant of a sparse enum, from the lowest
/// discriminant on (see [`EnumOp::table`]): empty for dense enums and for
/// discriminants too far apart.
fn discriminant_table(variants: &[VariantStep], dense: bool) -> (Vec<u32>, i64) {
    let lowest = variants.iter().map(|v| v.discriminant).min();
    let highest = variants.iter().map(|v| v.discriminant).max();
    let (Some(lowest), Some(highest), false) = (lowest, highest, dense) else {
        return (Vec::new(), 0);
    };
    let span = highest.abs_diff(lowest);
    if span >= EnumOp::MAX_TABLE as u64 {
        return (Vec::new(), 0);
    }
    let mut table = vec![u32::MAX; span as usize + 1];
    for variant in variants {
        table[variant.discriminant.abs_diff(lowest) as usize] = variant.index;
    }
    (table, lowest)
}

/// *Plain records*, values whose memory is their wire form byte for byte:
/// structs, tuples and arrays made only of `u8`, `i8` and little-endian
/// `f32`/`f64`, with no padding (each field starts where the previous one
/// ends, the last ends at the value's size) and nothing that is not on the
/// wire (a skipped field, a proxy). `bool` is left out: a decoder must check
/// each such byte. Engines copy a plain record (see [`Plan::plain_size`])
/// and a run of them (a "memory is wire" run) as one block of bytes, both
/// ways.
fn plain_nodes(nodes: &[Node]) -> Vec<bool> {
    /// Whether node `index`'s memory is its wire form; cycles are not.
    fn plain(nodes: &[Node], index: usize, known: &mut [Option<bool>]) -> bool {
        if let Some(answer) = known[index] {
            return answer;
        }
        known[index] = Some(false);
        let node = &nodes[index];
        let size = node
            .shape
            .layout
            .sized_layout()
            .map_or(usize::MAX, |l| l.size());
        let skips = matches!(&node.build, Some(Build::Fields(skipped)) if !skipped.is_empty());
        let answer = !skips
            && match &node.op {
                Op::Byte => true,
                Op::F32 | Op::F64 => cfg!(target_endian = "little"),
                Op::Fields(fields) => {
                    let mut end = 0;
                    let contiguous = fields.iter().all(|field| {
                        let field_size = nodes[field.node.index()]
                            .shape
                            .layout
                            .sized_layout()
                            .map_or(usize::MAX, |l| l.size());
                        let starts_at_end = field.offset == end && field.proxy.is_none();
                        end = end.saturating_add(field_size);
                        starts_at_end
                    });
                    contiguous
                        && end == size
                        && fields
                            .iter()
                            .all(|field| plain(nodes, field.node.index(), known))
                }
                Op::Array(op) => {
                    op.elements.stride.checked_mul(op.len) == Some(size)
                        && plain(nodes, op.elements.node.index(), known)
                }
                _ => false,
            };
        known[index] = Some(answer);
        answer
    }
    let mut known = vec![None; nodes.len()];
    (0..nodes.len())
        .map(|index| plain(nodes, index, &mut known))
        .collect()
}

/// Runs of plain records are "memory is wire" runs (one copy for the whole
/// run, both ways).
fn copy_runs_of_plain_records(nodes: &mut [Node], plain: &[bool]) {
    mark_memory_is_wire(nodes, |_, run| run.stride != 0 && plain[run.node.index()]);
}

/// Marks as "memory is wire" every run of elements (of a list, slice or
/// array) not marked yet for which `copied` holds.
fn mark_memory_is_wire(nodes: &mut [Node], mut copied: impl FnMut(&[Node], &Elements) -> bool) {
    for index in 0..nodes.len() {
        let mark = nodes[index]
            .op
            .elements()
            .is_some_and(|run| !run.memory_is_wire && copied(nodes, run));
        if let (true, Some(run)) = (mark, nodes[index].op.elements_mut()) {
            run.memory_is_wire = true;
        }
    }
}

/// Runs of zero-sized elements that write nothing (`[(); usize::MAX]`, a
/// `Vec<()>` of any length) are "memory is wire" runs of zero bytes: engines
/// skip them in O(1) instead of looping over elements that write nothing.
fn skip_wire_free_zero_sized_runs(nodes: &mut [Node]) {
    /// Whether node `index` writes no byte for any value; cycles count as
    /// writing (a zero-sized type cannot contain itself anyway).
    fn writes_nothing(nodes: &[Node], index: usize, known: &mut [Option<bool>]) -> bool {
        if let Some(answer) = known[index] {
            return answer;
        }
        known[index] = Some(false);
        // A decode plan fills skipped fields with their defaults: a value
        // with any is built even when no byte is read for it.
        if matches!(&nodes[index].build, Some(Build::Fields(skipped)) if !skipped.is_empty())
            || matches!(
                &nodes[index].build,
                Some(Build::Enum(_) | Build::Uninhabited)
            )
        {
            known[index] = Some(false);
            return false;
        }
        let answer = match &nodes[index].op {
            Op::Nothing => true,
            Op::Fields(fields) => fields
                .iter()
                .all(|f| writes_nothing(nodes, f.node.index(), known)),
            Op::Array(op) => op.len == 0 || writes_nothing(nodes, op.elements.node.index(), known),
            _ => false,
        };
        known[index] = Some(answer);
        answer
    }
    let mut known = vec![None; nodes.len()];
    mark_memory_is_wire(nodes, |nodes, run| {
        run.stride == 0 && writes_nothing(nodes, run.node.index(), &mut known)
    });
}

struct Lowerer {
    nodes: Vec<Node>,
    by_type: HashMap<TypeId, NodeId>,
    direction: Direction,
}

/// A struct's or variant's fields, or the reason it must be delegated whole.
type FieldsOrFallback = Result<Vec<FieldStep>, FallbackReason>;

impl Lowerer {
    /// The node of `shape`, lowering it first if this is its first visit
    /// (on a fresh stack segment when this one runs low: lowering recurses
    /// once per level of type nesting).
    fn node_for(&mut self, shape: &'static Shape, path: String) -> Result<NodeId, Error> {
        crate::stack::with_room(crate::stack::RED_ZONE, || self.node_for_here(shape, path))
    }

    fn node_for_here(&mut self, shape: &'static Shape, path: String) -> Result<NodeId, Error> {
        let type_id = shape.id.get();
        if let Some(&id) = self.by_type.get(&type_id) {
            return Ok(id);
        }
        let id = NodeId::from_index(self.nodes.len());
        // The op is filled in below; registering the node first is what lets
        // recursive shapes refer to it while it is being lowered.
        self.nodes.push(Node {
            shape,
            path: path.clone(),
            op: Op::Nothing,
            build: None,
        });
        self.by_type.insert(type_id, id);
        let op = self.op_for(shape, &path)?;
        if self.direction == Direction::Decode {
            let build = self.build_for(shape, &op, &path)?;
            self.nodes[id.index()].build = Some(build);
        }
        self.nodes[id.index()].op = op;
        Ok(id)
    }

    fn op_for(&mut self, shape: &'static Shape, path: &str) -> Result<Op, Error> {
        if shape.effective_proxy(Some("postcard")).is_some() || shape.opaque_adapter.is_some() {
            return Ok(Op::Fallback(FallbackReason::Proxy));
        }
        if let Some(reason) = unencodable(shape) {
            return Err(Error::Unsupported {
                path: path.to_string(),
                type_name: shape.to_string(),
                reason: reason.to_string(),
            });
        }
        if let Some(op) = scalar_op(shape) {
            return Ok(op);
        }
        match shape.def {
            Def::Option(def) => Ok(Op::Option(OptionOp {
                vtable: def.vtable,
                some: self.node_for(def.t, format!("{path}.Some"))?,
            })),
            Def::Result(def) => Ok(Op::Result(ResultOp {
                vtable: def.vtable,
                ok: self.node_for(def.t, format!("{path}.Ok"))?,
                err: self.node_for(def.e, format!("{path}.Err"))?,
            })),
            Def::List(def) => Ok(Op::List(ListOp {
                vtable: def.vtable,
                list_shape: shape,
                elements: self.elements(def.t, path)?,
            })),
            Def::Slice(def) => Ok(Op::Slice(SliceOp {
                vtable: def.vtable,
                elements: self.elements(def.t, path)?,
            })),
            Def::Array(def) => Ok(Op::Array(ArrayOp {
                len: def.n,
                elements: self.elements(def.t, path)?,
            })),
            Def::Set(def) => {
                let Some(iter) = Iteration::of(&def.vtable.iter_vtable) else {
                    return Ok(Op::Fallback(FallbackReason::NoIterator));
                };
                Ok(Op::Set(SetOp {
                    len: def.vtable.len,
                    iter,
                    element: self.node_for(def.t, format!("{path}[]"))?,
                }))
            }
            Def::Map(def) => {
                let Some(iter) = Iteration::of(&def.vtable.iter_vtable) else {
                    return Ok(Op::Fallback(FallbackReason::NoIterator));
                };
                Ok(Op::Map(MapOp {
                    len: def.vtable.len,
                    iter,
                    key: self.node_for(def.k, format!("{path}{{key}}"))?,
                    value: self.node_for(def.v, format!("{path}{{value}}"))?,
                }))
            }
            Def::Pointer(def) => {
                let (Some(borrow), Some(pointee)) = (def.vtable.borrow_fn, def.pointee) else {
                    return Ok(Op::Fallback(FallbackReason::PointerWithoutBorrow));
                };
                Ok(Op::Pointer(PointerOp {
                    borrow,
                    known: def.known,
                    pointee_sized: pointee.layout.sized_layout().is_ok(),
                    pointee: self.node_for(pointee, format!("{path}*"))?,
                }))
            }
            Def::DynamicValue(_) | Def::NdArray(_) => Ok(Op::Fallback(FallbackReason::Dynamic)),
            Def::Scalar if is_fieldless_zst(shape) => Ok(Op::Nothing),
            Def::Scalar => Ok(Op::Fallback(FallbackReason::UnknownScalar)),
            _ => self.user_type_op(shape, path),
        }
    }

    /// Shapes without a `Def`: structs, tuples and enums.
    fn user_type_op(&mut self, shape: &'static Shape, path: &str) -> Result<Op, Error> {
        match shape.ty {
            Type::User(UserType::Struct(st)) => match self.fields(st.fields, path)? {
                Ok(fields) => Ok(Op::Fields(fields)),
                Err(reason) => Ok(Op::Fallback(reason)),
            },
            Type::User(UserType::Enum(et)) => self.enum_op(shape, &et, path),
            _ => Err(Error::Unsupported {
                path: path.to_string(),
                type_name: shape.to_string(),
                reason: "facet describes no layout jitcard can encode".to_string(),
            }),
        }
    }

    fn enum_op(&mut self, shape: &'static Shape, et: &EnumType, path: &str) -> Result<Op, Error> {
        if shape.tag.is_some() || shape.content.is_some() || shape.is_untagged() {
            return Ok(Op::Fallback(FallbackReason::EnumRepresentation));
        }
        let Some(discriminant) = discriminant_read(et.enum_repr) else {
            return Ok(Op::Fallback(FallbackReason::EnumWithoutIntegerRepr));
        };
        let decoding = self.direction == Direction::Decode;
        if let Some(reason) = et
            .variants
            .iter()
            .find_map(|v| fields_needing_fallback(v.data.fields, decoding))
        {
            return Ok(Op::Fallback(reason));
        }
        let mut variants = Vec::with_capacity(et.variants.len());
        // The first variant of each discriminant, to refuse twins in
        // O(n log n) (a `u16` repr allows 65,536 variants).
        let mut first_of = std::collections::BTreeMap::new();
        for (index, variant) in et.variants.iter().enumerate() {
            let Some(value) = variant.discriminant else {
                return Ok(Op::Fallback(FallbackReason::EnumWithoutIntegerRepr));
            };
            let variant_path = format!("{path}::{}", variant.name);
            let fields = match self.fields(variant.data.fields, &variant_path)? {
                Ok(fields) => fields,
                Err(reason) => return Ok(Op::Fallback(reason)),
            };
            if !discriminant.fits(value) {
                return Err(Error::Unsupported {
                    path: path.to_string(),
                    type_name: shape.to_string(),
                    reason: format!(
                        "variant `{}` has discriminant {value}, which does not fit the \
                         {}-byte tag facet describes (facet misreports the tag of \
                         `#[repr(C)]` enums whose discriminants exceed a C `int`)",
                        variant.name,
                        discriminant.size()
                    ),
                });
            }
            let normalized = discriminant.normalize(value);
            if let Some(&twin) = first_of.get(&normalized) {
                let twin: &VariantStep = &variants[twin];
                return Err(Error::Unsupported {
                    path: path.to_string(),
                    type_name: shape.to_string(),
                    reason: format!(
                        "variants `{}` and `{}` have the same discriminant in memory",
                        twin.name, variant.name
                    ),
                });
            }
            first_of.insert(normalized, variants.len());
            variants.push(VariantStep {
                name: variant.name,
                index: index as u32,
                discriminant: normalized,
                fields,
            });
        }
        let dense = variants
            .iter()
            .all(|v| v.discriminant == i64::from(v.index));
        let (table, table_base) = discriminant_table(&variants, dense);
        Ok(Op::Enum(EnumOp {
            discriminant,
            variants,
            dense,
            table,
            table_base,
        }))
    }

    /// Lowers the fields on the wire (serialized ones when encoding, those
    /// not skipped when deserializing when decoding, like serde), or says
    /// why the owner must fall back. A decode plan reads a field with a
    /// proxy as its proxy type, converted with facet's `convert_in`.
    fn fields(&mut self, fields: &'static [Field], path: &str) -> Result<FieldsOrFallback, Error> {
        let decoding = self.direction == Direction::Decode;
        if let Some(reason) = fields_needing_fallback(fields, decoding) {
            return Ok(Err(reason));
        }
        let mut steps = Vec::with_capacity(fields.len());
        for field in fields.iter().filter(|f| {
            if decoding {
                !f.should_skip_deserializing()
            } else {
                !f.should_skip_serializing_unconditional()
            }
        }) {
            let field_path = format!("{path}.{}", field.name);
            let proxy = field.effective_proxy(Some("postcard")).filter(|_| decoding);
            let deferred = proxy.is_some() && !build::droppable(field.shape());
            if deferred
                && steps
                    .iter()
                    .any(|step: &FieldStep| step.proxy.is_some_and(|p| p.deferred))
            {
                return Err(Error::Unsupported {
                    path: field_path,
                    type_name: field.shape().to_string(),
                    reason: "a second proxied field whose type facet cannot drop (an opaque \
                             field): the decoder converts one such field last, but a failed \
                             conversion of another would leak the first"
                        .to_string(),
                });
            }
            let node = match proxy {
                Some(proxy) => self.node_for(proxy.shape, format!("{field_path}<proxy>"))?,
                None => self.node_for(field.shape(), field_path)?,
            };
            steps.push(FieldStep {
                name: field.name,
                offset: field.offset,
                node,
                proxy: proxy.map(|proxy| FieldProxy {
                    convert_in: proxy.convert_in,
                    target: field.shape(),
                    deferred,
                }),
            });
        }
        Ok(Ok(steps))
    }

    fn elements(&mut self, element: &'static Shape, path: &str) -> Result<Elements, Error> {
        let element_path = format!("{path}[]");
        let Ok(layout) = element.layout.sized_layout() else {
            return Err(Error::Unsupported {
                path: element_path,
                type_name: element.to_string(),
                reason: "unsized elements".to_string(),
            });
        };
        Ok(Elements {
            node: self.node_for(element, element_path)?,
            stride: layout.size(),
            memory_is_wire: memory_is_wire(element),
        })
    }
}

/// Why postcard has no encoding for `shape` whatever its `Def`, if it has none.
fn unencodable(shape: &'static Shape) -> Option<&'static str> {
    match shape.ty {
        Type::User(UserType::Union(_)) => Some("unions have no postcard encoding"),
        Type::User(UserType::Struct(st)) if st.repr.packed => {
            Some("packed structs are not supported: their fields may be unaligned")
        }
        Type::User(UserType::Opaque) if matches!(shape.def, Def::Undefined) => {
            Some("opaque type without a proxy: facet cannot see inside it")
        }
        Type::Pointer(PointerType::Raw(_)) => Some("raw pointers have no postcard encoding"),
        // Pointers facet can borrow through, but whose pointee safe code
        // cannot vouch for: reading through them could crash or leak
        // another value's bytes, whatever the value looks like.
        _ if matches!(shape.def, Def::Pointer(def) if def.known == Some(KnownPointer::NonNull)) => {
            Some(
                "`NonNull` is a raw pointer: it may dangle or point at freed memory, \
                 and safe code cannot tell, so jitcard never reads through it",
            )
        }
        // Borrowing a `LazyLock` runs its initializer inside facet's
        // `extern "C"` borrow function, where a panic (or a lock poisoned by
        // an earlier one) aborts the process.
        _ if matches!(shape.def, Def::Pointer(def) if def.known == Some(KnownPointer::LazyLock)) => {
            Some(
                "reading a `LazyLock` forces its initializer inside an `extern \"C\"` facet \
                 function, where a panic aborts the process",
            )
        }
        Type::Pointer(PointerType::Function(_)) => {
            Some("function pointers have no postcard encoding")
        }
        Type::Primitive(PrimitiveType::Never) => Some("`!` has no values to encode"),
        _ => None,
    }
}

/// The wire rule of a scalar facet identifies by type id, if jitcard has one.
fn scalar_op(shape: &'static Shape) -> Option<Op> {
    let pointer_wide = core::mem::size_of::<usize>() == 8;
    Some(match shape.scalar_type()? {
        ScalarType::Unit => Op::Nothing,
        ScalarType::Bool => Op::Bool,
        ScalarType::Char => Op::Char,
        ScalarType::U8 | ScalarType::I8 => Op::Byte,
        ScalarType::U16 => Op::Int(IntKind::U16),
        ScalarType::U32 => Op::Int(IntKind::U32),
        ScalarType::U64 => Op::Int(IntKind::U64),
        ScalarType::U128 => Op::Int(IntKind::U128),
        ScalarType::USize => Op::Int(if pointer_wide {
            IntKind::U64
        } else {
            IntKind::U32
        }),
        ScalarType::I16 => Op::Int(IntKind::I16),
        ScalarType::I32 => Op::Int(IntKind::I32),
        ScalarType::I64 => Op::Int(IntKind::I64),
        ScalarType::I128 => Op::Int(IntKind::I128),
        ScalarType::ISize => Op::Int(if pointer_wide {
            IntKind::I64
        } else {
            IntKind::I32
        }),
        ScalarType::F32 => Op::F32,
        ScalarType::F64 => Op::F64,
        ScalarType::String => Op::Str(StrAccess::String),
        ScalarType::Str if shape.id.get() == TypeId::of::<&str>() => Op::Str(StrAccess::StrRef),
        ScalarType::Str if shape.layout.sized_layout().is_err() => Op::Str(StrAccess::Unsized),
        // `Cow<str>` is reached through its pointer def; other scalars
        // (type ids, addresses, ...) have no jitcard wire rule.
        _ => return None,
    })
}

/// Whether an element's bytes in memory equal its postcard bytes.
fn memory_is_wire(shape: &'static Shape) -> bool {
    let little_endian = cfg!(target_endian = "little");
    matches!(
        shape.scalar_type(),
        Some(ScalarType::U8 | ScalarType::I8 | ScalarType::Bool)
    ) || (little_endian && matches!(shape.scalar_type(), Some(ScalarType::F32 | ScalarType::F64)))
}

/// `PhantomData` and friends: facet calls them scalars, serde writes nothing.
fn is_fieldless_zst(shape: &'static Shape) -> bool {
    let zero_sized = shape.layout.sized_layout().is_ok_and(|l| l.size() == 0);
    let fieldless = matches!(shape.ty, Type::User(UserType::Struct(st)) if st.fields.is_empty());
    zero_sized && fieldless
}

/// The first field attribute that makes what is written depend on facet's
/// attribute semantics rather than on the field list.
///
/// `skip_serializing_if` is not one: positional binary formats ignore it
/// (facet-postcard writes the field anyway, since a decoder could not know
/// it was skipped), so the field is encoded like any other.
fn fields_needing_fallback(fields: &'static [Field], decoding: bool) -> Option<FallbackReason> {
    fields.iter().find_map(|field| {
        let skipped = if decoding {
            field.should_skip_deserializing()
        } else {
            field.should_skip_serializing_unconditional()
        };
        let attribute = if skipped {
            return None;
        } else if field.flags.contains(FieldFlags::FLATTEN) {
            "flatten"
        } else if !decoding && field.has_any_proxy() {
            "proxy"
        } else if field.is_metadata() {
            "metadata"
        } else {
            return None;
        };
        Some(FallbackReason::FieldAttribute {
            field: field.name,
            attribute,
        })
    })
}

fn discriminant_read(repr: EnumRepr) -> Option<DiscriminantRead> {
    let pointer_wide = core::mem::size_of::<usize>() == 8;
    Some(match repr {
        EnumRepr::U8 => DiscriminantRead::U8,
        EnumRepr::U16 => DiscriminantRead::U16,
        EnumRepr::U32 => DiscriminantRead::U32,
        EnumRepr::U64 => DiscriminantRead::U64,
        EnumRepr::USize if pointer_wide => DiscriminantRead::U64,
        EnumRepr::USize => DiscriminantRead::U32,
        EnumRepr::I8 => DiscriminantRead::I8,
        EnumRepr::I16 => DiscriminantRead::I16,
        EnumRepr::I32 => DiscriminantRead::I32,
        EnumRepr::I64 => DiscriminantRead::I64,
        EnumRepr::ISize if pointer_wide => DiscriminantRead::I64,
        EnumRepr::ISize => DiscriminantRead::I32,
        EnumRepr::Rust | EnumRepr::RustNPO => return None,
    })
}
