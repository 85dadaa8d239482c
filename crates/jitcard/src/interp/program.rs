//! The encoding interpreter's program: a plan flattened to one small, `Copy`
//! [`Code`] per node, with what calibration knows already applied, so each
//! hop of a walk is one table read and one dispatch.
//!
//! It decides nothing of its own. Each code is read off the node's op,
//! [`Plan::is_recursive`], [`Plan::plain_size`] and the plan's calibrated
//! [`Layouts`] (an option's [`Code::NullablePointer`] also off its payload
//! pointer's); [`Code::Op`] sends the interpreter back to the node's op in
//! the plan for every kind the program does not flatten (lists, maps,
//! results, uncalibrated options and pointers, options and pointers that
//! close a cycle, enums without a direct lookup, ...). A code is only a faster way to reach what that op would do:
//! the interpreter writes the same bytes with or without it.
//!
//! The walk reads codes without bounds checks: [`Program::of`] checks that
//! every id [`crate::plan::children`] lists, and the root, has an entry, and
//! that every part range lies inside the parts. The interpreter only
//! follows ids a node's op holds, which `children` lists.
//!
//! A program is built once per encode plan, when it is lowered (see
//! [`Plan::interp_program`]): one pass over the nodes, no recursion, no
//! call into facet.

use crate::calibration::Layouts;
use crate::calibration::layout::PointerLayout;
use crate::calibration::presence::Presence;
use crate::plan::{DiscriminantRead, EnumOp, IntKind, NodeId, Op, Plan, StrAccess};

/// One node's code, and whether entering it counts a level of depth.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub code: Code,
    /// [`Plan::is_recursive`] of the node.
    pub recursive: bool,
}

/// What the interpreter does with a value of one node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Code {
    /// A leaf: written in place, no parts, cannot fail.
    Scalar(Scalar),
    /// A plain record of this many bytes (see [`Plan::plain_size`]): its
    /// memory is its wire form.
    Plain(usize),
    /// A sized struct, tuple or tuple struct (reached through a thin
    /// pointer): its fields are [`Program::parts`]`[start..end]`.
    Fields { start: u32, end: u32 },
    /// An option whose presence calibration knows; its payload is a value
    /// of node `some`.
    Option { presence: Presence, some: NodeId },
    /// A pointer whose layout calibration knows; its pointee is a value of
    /// node `pointee`.
    Pointer {
        layout: PointerLayout,
        pointee: NodeId,
    },
    /// An option of a thin pointer whose `None` is the null address
    /// (`Option<Box<T>>`, `Option<Arc<T>>`, `Option<&T>`, as calibration
    /// found it): the word at `word` is null for `None`, else the pointer's
    /// address, `data_offset` bytes before the pointee, a value of node
    /// `pointee`. One load and one hop for what the [`Code::Option`] and
    /// [`Code::Pointer`] it stands for do in two: recursive values are
    /// mostly made of these.
    ///
    /// Wide pointers (`Option<Arc<str>>`) keep the two codes: carrying
    /// their length word here cost `tree` 3% more instructions than it
    /// saved on `pointer_heavy`.
    NullablePointer {
        word: i32,
        data_offset: i32,
        pointee: NodeId,
    },
    /// A sized enum whose discriminants are dense or fit a table (see
    /// [`EnumOp::table`]): the discriminant read as `read`, less `base`, is
    /// below `len` for every variant, and indexes
    /// [`Program::variants`]`[first..first + len]`.
    Enum {
        read: DiscriminantRead,
        base: i64,
        first: u32,
        len: u32,
    },
    /// Everything else: the node's op in the plan.
    Op,
}

/// A discriminant's entry in a [`Code::Enum`]'s table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Variant {
    /// The declaration index, postcard's tag; [`Variant::NONE`] where no
    /// variant has the discriminant.
    pub index: u32,
    /// The variant's fields: [`Program::parts`]`(start, end)`.
    pub start: u32,
    pub end: u32,
    pub name: &'static str,
}

impl Variant {
    /// The index of a discriminant no variant has.
    pub const NONE: u32 = u32::MAX;
}

/// The leaves [`Code::Scalar`] writes: the scalar ops of a plan, in one
/// flat enum so that writing one is a single dispatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scalar {
    Nothing,
    /// `bool`, `u8`, `i8`: the byte itself.
    Byte,
    U16,
    U32,
    U64,
    U128,
    I16,
    I32,
    I64,
    I128,
    F32,
    F64,
    Char,
    String,
    StrRef,
    /// A `str` reached through a wide pointer.
    Str,
}

impl Scalar {
    /// The scalar `op` is, if it is one.
    pub fn of(op: &Op) -> Option<Scalar> {
        Some(match op {
            Op::Nothing => Scalar::Nothing,
            Op::Bool | Op::Byte => Scalar::Byte,
            Op::Int(kind) => match kind {
                IntKind::U16 => Scalar::U16,
                IntKind::U32 => Scalar::U32,
                IntKind::U64 => Scalar::U64,
                IntKind::U128 => Scalar::U128,
                IntKind::I16 => Scalar::I16,
                IntKind::I32 => Scalar::I32,
                IntKind::I64 => Scalar::I64,
                IntKind::I128 => Scalar::I128,
            },
            Op::F32 => Scalar::F32,
            Op::F64 => Scalar::F64,
            Op::Char => Scalar::Char,
            Op::Str(StrAccess::String) => Scalar::String,
            Op::Str(StrAccess::StrRef) => Scalar::StrRef,
            Op::Str(StrAccess::Unsized) => Scalar::Str,
            _ => return None,
        })
    }
}

/// A field of a [`Code::Fields`] struct or a [`Variant`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    /// Byte offset of the field inside the struct.
    pub offset: usize,
    pub node: NodeId,
    /// The field's name, for error paths.
    pub name: &'static str,
    /// `node`'s code, copied here so a field costs no second lookup.
    pub code: Code,
}

/// A plan's codes, indexed by [`NodeId`], and the fields they refer to.
#[derive(Debug)]
pub(crate) struct Program {
    entries: Vec<Entry>,
    parts: Vec<Part>,
    variants: Vec<Variant>,
}

impl Program {
    /// The program of `plan`, whose calibrated layouts are `layouts`.
    pub fn of(plan: &Plan, layouts: &Layouts) -> Program {
        let mut parts = Vec::new();
        let mut variants = Vec::new();
        let entries = plan
            .ids()
            .map(|id| {
                let recursive = plan.is_recursive(id);
                let node = plan.node(id);
                let op = &node.op;
                let sized = node.shape.layout.sized_layout().is_ok();
                let code = match op {
                    Op::Fields(_) | Op::Array(_) if let Some(size) = plan.plain_size(id) => {
                        Code::Plain(size)
                    }
                    // Only sized values: the walk reaches their fields
                    // through a thin pointer.
                    Op::Fields(_) | Op::Enum(_) if !sized => Code::Op,
                    Op::Fields(fields) => match push_parts(&mut parts, fields) {
                        Some((start, end)) => Code::Fields { start, end },
                        None => Code::Op,
                    },
                    Op::Enum(op) => enum_code(op, &mut parts, &mut variants).unwrap_or(Code::Op),
                    // A recursive option or pointer goes through the
                    // interpreter's `node`, which counts its depth.
                    Op::Option(op) if !recursive => match layouts.presence[id] {
                        Some(presence) => match pointer_code(plan, layouts, op.some) {
                            Some(Code::Pointer {
                                layout:
                                    PointerLayout {
                                        data_word,
                                        len_word: None,
                                        data_offset,
                                    },
                                pointee,
                            }) if presence == Presence::null_word(data_word) => {
                                Code::NullablePointer {
                                    word: data_word,
                                    data_offset,
                                    pointee,
                                }
                            }
                            _ => Code::Option {
                                presence,
                                some: op.some,
                            },
                        },
                        None => Code::Op,
                    },
                    Op::Pointer(_) => pointer_code(plan, layouts, id).unwrap_or(Code::Op),
                    op => Scalar::of(op).map_or(Code::Op, Code::Scalar),
                };
                Entry { code, recursive }
            })
            .collect::<Vec<Entry>>();
        for part in &mut parts {
            part.code = entries
                .get(part.node.index())
                .map_or(Code::Op, |entry| entry.code);
        }
        let program = Program {
            entries,
            parts,
            variants,
        };
        // What makes the unchecked reads below sound: every id a walk of
        // this plan can meet (the root, each node's children) has an entry,
        // and every part range a code or variant names lies inside `parts`.
        // Lowering numbers nodes as it pushes them, so this only fails on a
        // bug there; it fails here, before any encode.
        let len = program.entries.len();
        assert!(
            plan.root().index() < len
                && plan.ids().all(|id| crate::plan::children(plan, id)
                    .iter()
                    .all(|c| c.index() < len)),
            "a plan refers to a node it does not have"
        );
        let ranges = program.entries.iter().filter_map(|entry| match entry.code {
            Code::Fields { start, end } => Some((start, end)),
            _ => None,
        });
        let variant_ranges = program.variants.iter().map(|v| (v.start, v.end));
        assert!(
            ranges
                .chain(variant_ranges)
                .all(|(start, end)| start <= end && end as usize <= program.parts.len()),
            "a program's part range lies outside its parts"
        );
        program
    }

    /// The code of node `id`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn entry(&self, id: NodeId) -> &Entry {
        &self.entries[id.index()]
    }

    /// [`entry`](Self::entry), without a bounds check (a walk makes a few
    /// of these per value).
    ///
    /// # Safety
    /// `id` is the root of the plan this program was built from, or a child
    /// ([`crate::plan::children`]) of one of its nodes.
    #[inline(always)]
    pub unsafe fn entry_unchecked(&self, id: NodeId) -> &Entry {
        debug_assert!(id.index() < self.entries.len());
        // SAFETY: `Program::of` checked that every such id has an entry.
        unsafe { self.entries.get_unchecked(id.index()) }
    }

    /// The fields of a [`Code::Fields`] or a [`Variant`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn parts(&self, start: u32, end: u32) -> &[Part] {
        &self.parts[start as usize..end as usize]
    }

    /// [`parts`](Self::parts), without a bounds check.
    ///
    /// # Safety
    /// `start` and `end` are the range of a [`Code::Fields`] or a
    /// [`Variant`] of this program.
    #[inline(always)]
    pub unsafe fn parts_unchecked(&self, start: u32, end: u32) -> &[Part] {
        debug_assert!(start <= end && end as usize <= self.parts.len());
        // SAFETY: `Program::of` checked every such range.
        unsafe { self.parts.get_unchecked(start as usize..end as usize) }
    }

    /// Entry `offset` of the table of a [`Code::Enum`] whose table starts
    /// at `first` and has `len` entries; `None` past its end.
    #[inline(always)]
    pub fn variant(&self, first: u32, len: u32, offset: u64) -> Option<&Variant> {
        if offset >= u64::from(len) {
            return None;
        }
        let variant = self.variants.get(first as usize + offset as usize)?;
        (variant.index != Variant::NONE).then_some(variant)
    }
}

/// The [`Code::Pointer`] of node `id`, if it is a pointer that does not
/// close a cycle (that one goes through the interpreter's `node`, which
/// counts its depth) and whose layout calibration knows.
fn pointer_code(plan: &Plan, layouts: &Layouts, id: NodeId) -> Option<Code> {
    let Op::Pointer(op) = &plan.node(id).op else {
        return None;
    };
    if plan.is_recursive(id) {
        return None;
    }
    Some(Code::Pointer {
        layout: layouts.pointer_layout[id]?,
        pointee: op.pointee,
    })
}

/// Appends `fields` to `parts`; their range, if it fits in `u32`s.
fn push_parts(parts: &mut Vec<Part>, fields: &[crate::plan::FieldStep]) -> Option<(u32, u32)> {
    let start = parts.len();
    parts.extend(fields.iter().map(|field| Part {
        offset: field.offset,
        node: field.node,
        name: field.name,
        // Filled in once every node has its code.
        code: Code::Op,
    }));
    Some((u32::try_from(start).ok()?, u32::try_from(parts.len()).ok()?))
}

/// The code of an enum the plan gives a direct lookup (dense, or a
/// discriminant table): its table of variants, in the plan's order.
/// `None` for the rest (the plan's op searches their variants).
fn enum_code(op: &EnumOp, parts: &mut Vec<Part>, variants: &mut Vec<Variant>) -> Option<Code> {
    let first = u32::try_from(variants.len()).ok()?;
    let (base, table): (i64, Vec<u32>) = if op.dense {
        (0, op.variants.iter().map(|v| v.index).collect())
    } else if !op.table.is_empty() {
        (op.table_base, op.table.clone())
    } else {
        return None;
    };
    let len = u32::try_from(table.len()).ok()?;
    for index in table {
        let entry = match op.variants.get(index as usize) {
            Some(variant) => {
                let (start, end) = push_parts(parts, &variant.fields)?;
                Variant {
                    index: variant.index,
                    start,
                    end,
                    name: variant.name,
                }
            }
            None => Variant {
                index: Variant::NONE,
                start: 0,
                end: 0,
                name: "",
            },
        };
        variants.push(entry);
    }
    Some(Code::Enum {
        read: op.discriminant,
        base,
        first,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use facet::Facet;

    #[derive(Facet)]
    struct Leaf {
        a: u32,
        b: Option<Box<Leaf>>,
        c: String,
        d: [u8; 3],
        e: Vec<u16>,
    }

    #[derive(Facet)]
    struct Pointers {
        counted: Option<std::sync::Arc<u32>>,
        nested: Option<Option<Box<u8>>>,
        wide: Option<std::sync::Arc<str>>,
    }

    /// The parts of the struct at the root of `plan`, or of the struct
    /// the root points at.
    fn root_fields<'p>(plan: &Plan, program: &'p Program) -> &'p [Part] {
        let mut id = plan.root();
        loop {
            match program.entry(id).code {
                Code::Fields { start, end } => return program.parts(start, end),
                _ => match &plan.node(id).op {
                    Op::Pointer(op) => id = op.pointee,
                    Op::Option(op) => id = op.some,
                    _ => panic!("no struct under the root"),
                },
            }
        }
    }

    /// An option of a thin pointer whose `None` is the pointer's null
    /// address becomes one [`Code::NullablePointer`], with the pointer's
    /// own data offset; an option of a wide pointer, or of anything else,
    /// keeps its code.
    /// (Unoptimized builds do not probe options, so there only
    /// `Option<Box<T>>` and `Option<&T>` have a rule, which Rust
    /// guarantees.)
    #[test]
    fn options_of_nullable_pointers_are_one_code() {
        let plan = crate::plan::lower(Pointers::SHAPE).expect("lowers");
        let program = Program::of(&plan, plan.layouts());
        let parts = root_fields(&plan, &program);
        // The fused code of option `id` if calibration found its rule,
        // which is then the null address word of its pointer.
        let fused = |id: NodeId, code: Code| {
            let presence = plan.layouts().presence[id]?;
            let Code::NullablePointer {
                word,
                data_offset,
                pointee,
            } = code
            else {
                panic!("an option of a thin pointer is one code: {code:?}");
            };
            assert_eq!(presence, Presence::null_word(word));
            Some((data_offset, pointee))
        };
        match fused(parts[0].node, parts[0].code) {
            Some((data_offset, pointee)) => {
                assert!(data_offset > 0, "the pointee follows the counts");
                assert!(matches!(plan.node(pointee).op, Op::Int(IntKind::U32)));
            }
            None => assert_eq!(parts[0].code, Code::Op),
        }
        let Op::Option(outer) = &plan.node(parts[1].node).op else {
            panic!("`nested` is an option");
        };
        let inner = outer.some;
        let (data_offset, _) =
            fused(inner, program.entry(inner).code).expect("Rust guarantees the rule");
        assert_eq!(data_offset, 0);
        if plan.layouts().presence[parts[1].node].is_some() {
            assert_eq!(
                parts[1].code,
                Code::Option {
                    presence: plan.layouts().presence[parts[1].node].unwrap(),
                    some: inner
                },
                "the outer option's payload is no pointer"
            );
        }
        // Probing finds `Option<Arc<str>>`'s rule (optimized builds): the
        // null address word, as for a thin pointer, but the pointer is
        // wide, so the option keeps its own code.
        match plan.layouts().presence[parts[2].node] {
            Some(presence) => {
                let Op::Option(op) = &plan.node(parts[2].node).op else {
                    panic!("`wide` is an option");
                };
                let layout = plan.layouts().pointer_layout[op.some].expect("calibrated");
                assert!(layout.len_word.is_some(), "Arc<str> is wide");
                assert_eq!(presence, Presence::null_word(layout.data_word));
                assert_eq!(
                    parts[2].code,
                    Code::Option {
                        presence,
                        some: op.some
                    }
                );
            }
            None => assert_eq!(parts[2].code, Code::Op),
        }
    }

    /// Where the option or its pointer closes the cycle, nothing is fused:
    /// that node goes through the interpreter's `node`, which counts depth.
    #[test]
    fn options_closing_a_cycle_are_not_fused() {
        // A `Box<Leaf>` root: the box closes the cycle.
        let plan = crate::plan::lower(<Box<Leaf>>::SHAPE).expect("lowers");
        let program = Program::of(&plan, plan.layouts());
        assert!(plan.is_recursive(plan.root()));
        let parts = root_fields(&plan, &program);
        assert!(
            matches!(parts[1].code, Code::Option { .. }),
            "the option of the recursive box keeps its own code: {:?}",
            parts[1].code
        );
        // An `Option<Box<Leaf>>` root: the option closes it.
        let plan = crate::plan::lower(<Option<Box<Leaf>>>::SHAPE).expect("lowers");
        let program = Program::of(&plan, plan.layouts());
        assert!(plan.is_recursive(plan.root()));
        assert_eq!(program.entry(plan.root()).code, Code::Op);
    }

    /// Every code fits in 32 bytes: a larger code costs the whole walk
    /// more than [`Code::NullablePointer`] saves.
    #[test]
    fn codes_stay_small() {
        assert!(core::mem::size_of::<Code>() <= 32);
    }

    #[test]
    fn codes_follow_the_plan_and_its_calibration() {
        let plan = crate::plan::lower(Leaf::SHAPE).expect("lowers");
        let program = Program::of(&plan, plan.layouts());
        let root = program.entry(plan.root());
        let Code::Fields { start, end } = root.code else {
            panic!("a struct is flattened: {root:?}");
        };
        assert!(root.recursive, "Leaf closes a cycle through `b`");
        let parts = program.parts(start, end);
        let names: Vec<_> = parts.iter().map(|p| p.name).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        let code = |i: usize| program.entry(parts[i].node).code;
        assert_eq!(code(0), Code::Scalar(Scalar::U32));
        assert_eq!(code(2), Code::Scalar(Scalar::String));
        assert_eq!(code(3), Code::Plain(3));
        assert_eq!(code(4), Code::Op, "lists keep their op");
        // The cycle is broken at the struct, so the option and the box are
        // flattened with their calibrated rules (`None` is the null `Box`,
        // which calibration always finds), into one code.
        let option = parts[1].node;
        let Op::Option(op) = &plan.node(option).op else {
            panic!("`b` is an option");
        };
        let some = op.some;
        let Code::NullablePointer {
            word,
            data_offset,
            pointee,
        } = code(1)
        else {
            panic!("Option<Box<Leaf>> is flattened: {:?}", code(1));
        };
        assert_eq!(
            plan.layouts().presence[option],
            Some(Presence::null_word(word))
        );
        let layout = PointerLayout {
            data_word: word,
            len_word: None,
            data_offset,
        };
        assert_eq!(Some(layout), plan.layouts().pointer_layout[some]);
        assert_eq!(pointee, plan.root());
        // The box keeps its own code, for wherever it is reached alone.
        assert_eq!(
            program.entry(some).code,
            Code::Pointer { layout, pointee },
            "Box<Leaf> is flattened"
        );
        assert!(parts.iter().all(|p| p.code == program.entry(p.node).code));
        for (id, node) in plan.ids().zip(plan.nodes()) {
            assert_eq!(program.entry(id).recursive, plan.is_recursive(id));
            if let Some(scalar) = Scalar::of(&node.op) {
                assert_eq!(program.entry(id).code, Code::Scalar(scalar));
            }
        }
    }
}
