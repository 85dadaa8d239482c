//! The encode plan: a small, explicit IR that says how to turn a value of one
//! facet `Shape` into postcard bytes.
//!
//! A [`Plan`] owns one [`Node`] per distinct shape reachable from its root.
//! Nodes refer to each other by [`NodeId`], so nested shapes are shared and
//! recursive shapes (`Vec<Self>`, `Option<Box<Self>>`) are ordinary cycles.
//! Each node's [`Op`] names the wire rule (varint, length-prefixed bytes,
//! fields in order, variant index then fields, ...) together with the facet
//! reflection it needs to reach the data: field offsets, element strides and
//! the container vtable functions. Nothing in a plan is guessed about std
//! layouts; everything comes from the shape.
//!
//! The plan is the single description of wire semantics: the interpreter runs
//! it directly and code generators compile it, so both agree by construction.
//! It is built by [`lower()`] and printed by its `Display` impl.

pub mod build;
pub(crate) mod delegated;
mod graph;
mod lower;
mod sizes;

use core::fmt;

use facet_core::{
    BorrowFn, IterDeallocFn, IterInitWithValueFn, IterItem, IterNextFn, IterVTable, KnownPointer,
    ListVTable, MapLenFn, OptionVTable, PtrConst, ResultVTable, SetLenFn, Shape, SliceVTable,
};

pub use build::Build;
pub use delegated::MAX_DYNAMIC_DEPTH;
#[cfg_attr(not(feature = "jit"), allow(unused_imports))]
pub(crate) use graph::{NodeMap, children};
pub use lower::{lower, lower_for_decode};

/// Index of a [`Node`] inside its [`Plan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// Position of the node in [`Plan::nodes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the node at `index` (which must come from a plan).
    pub(crate) fn from_index(index: usize) -> NodeId {
        NodeId(index as u32)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How to encode every shape reachable from one root shape.
pub struct Plan {
    nodes: Vec<Node>,
    root: NodeId,
    /// Per node: whether it closes a cycle of the plan (see [`Plan::is_recursive`]).
    recursive: Vec<bool>,
    /// Per fallback node: what facet-postcard will walk (see [`delegated`]).
    delegations: Vec<Option<delegated::Delegation>>,
    /// Per node: the fewest bytes any encoding of it takes.
    min_wire_sizes: Vec<usize>,
    /// Per node: the most bytes any encoding of it takes, if bounded.
    max_wire_sizes: Vec<Option<usize>>,
    /// Per node: its size, when it is a plain record (see [`Plan::plain_size`]).
    plain_sizes: Vec<Option<usize>>,
    /// The calibrated layouts of its nodes, found when it is lowered (see
    /// [`Plan::layouts`]).
    layouts: std::sync::OnceLock<crate::calibration::Layouts>,
    /// The encoding interpreter's flat form of this plan, built when an
    /// encode plan is lowered (see [`Plan::interp_program`]).
    interp_program: std::sync::OnceLock<crate::interp::program::Program>,
}

impl Plan {
    /// What run-time calibration knows about this plan's nodes' layouts
    /// (see [`crate::calibration`]), found when the plan is lowered.
    pub(crate) fn layouts(&self) -> &crate::calibration::Layouts {
        self.layouts
            .get_or_init(|| crate::calibration::Layouts::of(self))
    }

    /// The encoding interpreter's flat form of this plan (see
    /// [`crate::interp::program`]), built when an encode plan is lowered
    /// (like [`Plan::layouts`], so no encode builds it on a short stack;
    /// decode plans never need it).
    pub(crate) fn interp_program(&self) -> &crate::interp::program::Program {
        self.interp_program
            .get_or_init(|| crate::interp::program::Program::of(self, self.layouts()))
    }

    /// The node of the root shape.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The node with this id.
    ///
    /// Ids come from this plan, so the lookup cannot miss.
    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// Every node, in lowering order (the root is first).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The id of every node, in lowering order.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len()).map(NodeId::from_index)
    }

    /// Whether `id` closes a cycle of the plan: every recursion of a value
    /// re-enters one of these nodes, so engines count nesting depth (and
    /// the JIT checks its stack) there and nowhere else.
    #[inline]
    pub fn is_recursive(&self, id: NodeId) -> bool {
        self.recursive[id.index()]
    }

    /// The fewest bytes any encoding of node `id` takes (a lower bound for
    /// recursive nodes): a declared count of `n` elements needs at least
    /// `n` times this much input.
    #[inline]
    pub fn min_wire_size(&self, id: NodeId) -> usize {
        self.min_wire_sizes[id.index()]
    }

    /// The most bytes any encoding of node `id` takes: exact (some value
    /// encodes to exactly this many bytes, unless the type has no values),
    /// `None` when unbounded (strings, sequences, maps, recursion) or not
    /// known to jitcard (parts delegated to facet-postcard).
    #[inline]
    pub fn max_wire_size(&self, id: NodeId) -> Option<usize> {
        self.max_wire_sizes[id.index()]
    }

    /// The size of node `id`'s values when it is a *plain record*, a struct
    /// or array whose memory is its wire form byte for byte (only `u8`,
    /// `i8`, little-endian `f32`/`f64`, no padding): every engine copies its
    /// bytes both ways instead of walking its fields. `None` otherwise.
    #[inline]
    pub fn plain_size(&self, id: NodeId) -> Option<usize> {
        self.plain_sizes[id.index()]
    }

    /// What facet-postcard walks in fallback node `id` (`None` for nodes
    /// jitcard encodes itself).
    pub(crate) fn delegation(&self, id: NodeId) -> Option<delegated::Delegation> {
        self.delegations[id.index()]
    }

    /// The nodes encoded by the `facet-postcard` fallback instead of by a
    /// jitcard engine, with the reason for each.
    pub fn fallbacks(&self) -> impl Iterator<Item = (&Node, &FallbackReason)> {
        self.nodes.iter().filter_map(|node| match &node.op {
            Op::Fallback(reason) => Some((node, reason)),
            _ => None,
        })
    }
}

/// One shape's encoding step.
pub struct Node {
    /// The shape this node encodes.
    pub shape: &'static Shape,
    /// Where the shape was first reached from the root, e.g.
    /// `GnarlyPayload.entries[].kind::File.mime`. Errors report it.
    pub path: String,
    /// What to do with a value of the shape.
    pub op: Op,
    /// How a decoder constructs a value of the shape (`None` in encode
    /// plans, which never construct values).
    pub build: Option<Build>,
}

impl Node {
    /// The error for a value of this enum node whose discriminant matches
    /// no variant.
    pub(crate) fn invalid_discriminant(&self, discriminant: i64) -> crate::Error {
        crate::Error::InvalidDiscriminant {
            path: self.path.clone(),
            type_name: self.shape.to_string(),
            discriminant,
        }
    }

    /// The decode error `kind` at byte `offset` of the input, in a value of
    /// this node.
    pub(crate) fn invalid_at(&self, offset: usize, kind: crate::InvalidKind) -> crate::Error {
        crate::Error::Invalid {
            path: self.path.clone(),
            type_name: self.shape.to_string(),
            offset,
            kind,
        }
    }

    /// The error for a value nested deeper than `max_depth` recursions.
    pub(crate) fn too_deep(&self, max_depth: usize) -> crate::Error {
        crate::Error::TooDeep {
            path: self.path.clone(),
            type_name: self.shape.to_string(),
            max_depth,
        }
    }

    /// The error for a panic caught while running one of this node's
    /// facet functions.
    pub(crate) fn panicked(&self, message: String) -> crate::Error {
        crate::Error::Panicked {
            path: self.path.clone(),
            type_name: self.shape.to_string(),
            message,
        }
    }

    /// The error for a collection of this node whose length and element
    /// count disagree.
    pub(crate) fn length_mismatch(&self, reported: usize, yielded: usize) -> crate::Error {
        crate::Error::LengthMismatch {
            path: self.path.clone(),
            type_name: self.shape.to_string(),
            reported,
            yielded,
        }
    }
}

/// The wire rule of a node, plus the reflection needed to reach its data.
///
/// Every pointer an op receives points at a value of the node's shape.
pub enum Op {
    /// Writes nothing: `()`, unit structs, `PhantomData` and other zero-sized
    /// field-less types.
    Nothing,
    /// `bool`: one byte, 0 or 1.
    Bool,
    /// `u8` or `i8`: the raw byte.
    Byte,
    /// A 16..128-bit integer: varint, zigzagged when signed.
    Int(IntKind),
    /// `f32`: four little-endian bytes.
    F32,
    /// `f64`: eight little-endian bytes.
    F64,
    /// `char`: its UTF-8 bytes, length-prefixed.
    Char,
    /// A string: varint length, then its UTF-8 bytes.
    Str(StrAccess),
    /// Struct, tuple struct, tuple: the fields in declaration order, no
    /// length or names.
    Fields(Vec<FieldStep>),
    /// Enum: the active variant's declaration index as a varint, then its fields.
    Enum(EnumOp),
    /// `Option<T>`: `0`, or `1` then the value.
    Option(OptionOp),
    /// `Result<T, E>`: like the enum `{ Ok(T), Err(E) }`.
    Result(ResultOp),
    /// A smart pointer or reference: the pointee's encoding.
    Pointer(PointerOp),
    /// `Vec<T>` and other lists: varint length, then the elements.
    List(ListOp),
    /// An unsized `[T]` reached through a wide pointer: varint length, then
    /// the elements.
    Slice(SliceOp),
    /// `[T; N]`: the N elements, no length.
    Array(ArrayOp),
    /// Sets: varint length, then the elements in the instance's iteration order.
    Set(SetOp),
    /// Maps: varint length, then key, value pairs in the instance's iteration order.
    Map(MapOp),
    /// Encoded by `facet-postcard` into the same buffer (still postcard bytes,
    /// by facet's own semantics for the shape).
    Fallback(FallbackReason),
}

/// Which integer a [`Op::Int`] reads, i.e. its in-memory width and sign.
/// `usize`/`isize` map to the integer of the target's pointer width, which
/// is what serde does on the wire too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    U16,
    U32,
    U64,
    U128,
    I16,
    I32,
    I64,
    I128,
}

impl IntKind {
    /// The width its varint is written and read at (signed kinds zigzag
    /// to the unsigned kind of their size).
    pub fn varint_width(self) -> crate::wire::VarintWidth {
        use crate::wire::VarintWidth;
        match self {
            IntKind::U16 | IntKind::I16 => VarintWidth::U16,
            IntKind::U32 | IntKind::I32 => VarintWidth::U32,
            IntKind::U64 | IntKind::I64 => VarintWidth::U64,
            IntKind::U128 | IntKind::I128 => VarintWidth::U128,
        }
    }

    /// Size in bytes of the integer in memory.
    pub fn size(self) -> usize {
        match self {
            IntKind::U16 | IntKind::I16 => 2,
            IntKind::U32 | IntKind::I32 => 4,
            IntKind::U64 | IntKind::I64 => 8,
            IntKind::U128 | IntKind::I128 => 16,
        }
    }

    /// Whether the wire value is zigzag-encoded.
    pub fn is_signed(self) -> bool {
        matches!(
            self,
            IntKind::I16 | IntKind::I32 | IntKind::I64 | IntKind::I128
        )
    }
}

/// How a [`Op::Str`] node reaches the string's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrAccess {
    /// The value is a `String` (identified by its type id).
    String,
    /// The value is a `&str` (identified by its type id).
    StrRef,
    /// The value is an unsized `str`; the pointer handed to the node is wide
    /// and carries the length (the pointee of `Box<str>`, `Arc<str>`, ...).
    Unsized,
}

/// One field of a struct, tuple or enum variant.
pub struct FieldStep {
    /// The field's name (`0`, `1`, ... for tuple fields).
    pub name: &'static str,
    /// Byte offset of the field from the start of the containing value.
    pub offset: usize,
    /// How to encode the field (in a decode plan, for a field with a facet
    /// proxy: the proxy type).
    pub node: NodeId,
    /// Decode plans only: the field is read as its proxy type (`node`) and
    /// converted into the field's own type.
    pub proxy: Option<FieldProxy>,
}

/// A field a decode plan reads as its facet proxy type.
#[derive(Clone, Copy)]
pub struct FieldProxy {
    /// Proxy to field conversion (Rust ABI; consumes the proxy whatever it
    /// returns).
    pub convert_in: facet_core::ProxyConvertInFn,
    /// The field's own shape (what the conversion produces).
    pub target: &'static Shape,
    /// facet cannot drop the target (an `#[facet(opaque)]` field: facet's
    /// `Opaque` shape has no type operations): a decoder holds the proxy
    /// value and converts it only after every other part of the struct or
    /// variant is built, so no failure has to drop the target. At most one
    /// field of a struct or variant is deferred (the lowering refuses more).
    pub deferred: bool,
}

/// Encoding of an enum with an explicit `#[repr]`.
pub struct EnumOp {
    /// How to read the discriminant stored at offset 0.
    pub discriminant: DiscriminantRead,
    /// The variants in declaration order (`variants[i].index == i`).
    pub variants: Vec<VariantStep>,
    /// True when every variant's discriminant equals its index, so the
    /// discriminant can index `variants` directly.
    pub dense: bool,
    /// For an enum that is not dense but whose discriminants span at most
    /// [`EnumOp::MAX_TABLE`] values: the variant index of each discriminant
    /// from [`table_base`](Self::table_base) on (`u32::MAX` where no variant
    /// has it), so the interpreter finds a variant with one load instead of
    /// a search. Empty otherwise.
    pub table: Vec<u32>,
    /// The discriminant of `table[0]`.
    pub table_base: i64,
}

impl EnumOp {
    /// Most entries of a discriminant [`table`](Self::table).
    pub const MAX_TABLE: usize = 4096;
}

/// How to read an enum's discriminant: the repr's integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscriminantRead {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
}

impl DiscriminantRead {
    /// `value` as this read yields it from memory: truncated to the tag's
    /// width, then zero- or sign-extended to `i64` by the read's sign.
    ///
    /// facet reports a variant's discriminant as the source wrote it
    /// (`-1` in `#[repr(C)] enum E { A = -1 }`), while it describes the tag
    /// by its storage type (`U32` for `repr(C)`); comparing at the tag's
    /// width makes both agree.
    pub fn normalize(self, value: i64) -> i64 {
        match self {
            DiscriminantRead::U8 => i64::from(value as u8),
            DiscriminantRead::U16 => i64::from(value as u16),
            DiscriminantRead::U32 => i64::from(value as u32),
            DiscriminantRead::U64 | DiscriminantRead::I64 => value,
            DiscriminantRead::I8 => i64::from(value as i8),
            DiscriminantRead::I16 => i64::from(value as i16),
            DiscriminantRead::I32 => i64::from(value as i32),
        }
    }

    /// Whether `value` can be stored in this tag at all, read as signed or
    /// as unsigned (a `#[repr(C)]` tag holds -1 and 0xffff_ffff alike).
    pub fn fits(self, value: i64) -> bool {
        let bits = 8 * self.size() as u32;
        bits >= 64 || (-(1i64 << (bits - 1))..(1i64 << bits)).contains(&value)
    }

    /// Size in bytes of the discriminant in memory.
    pub fn size(self) -> usize {
        match self {
            DiscriminantRead::U8 | DiscriminantRead::I8 => 1,
            DiscriminantRead::U16 | DiscriminantRead::I16 => 2,
            DiscriminantRead::U32 | DiscriminantRead::I32 => 4,
            DiscriminantRead::U64 | DiscriminantRead::I64 => 8,
        }
    }
}

/// One enum variant.
pub struct VariantStep {
    /// The variant's name, for plans and errors.
    pub name: &'static str,
    /// The declaration index: what postcard writes as the tag.
    pub index: u32,
    /// The discriminant value stored in memory for this variant, as the
    /// tag's read yields it (see [`DiscriminantRead::normalize`]).
    pub discriminant: i64,
    /// The variant's fields, offsets from the start of the enum.
    pub fields: Vec<FieldStep>,
}

/// Encoding of `Option<T>` through its vtable.
pub struct OptionOp {
    /// `is_some` / `get_value` of the option's shape.
    pub vtable: &'static OptionVTable,
    /// How to encode the `Some` value.
    pub some: NodeId,
}

/// Encoding of `Result<T, E>` through its vtable.
pub struct ResultOp {
    /// `is_ok` / `get_ok` / `get_err` of the result's shape.
    pub vtable: &'static ResultVTable,
    /// How to encode the `Ok` value (variant index 0).
    pub ok: NodeId,
    /// How to encode the `Err` value (variant index 1).
    pub err: NodeId,
}

/// Encoding of a smart pointer or reference through `borrow`.
pub struct PointerOp {
    /// Returns a pointer to the pointee; wide when the pointee is unsized.
    pub borrow: BorrowFn,
    /// Which std pointer this is, when facet knows (code generators may
    /// specialize `Box`/`&` of sized pointees, whose layout is guaranteed).
    pub known: Option<KnownPointer>,
    /// Whether the pointee is sized (so `borrow` returns a thin pointer).
    pub pointee_sized: bool,
    /// How to encode the pointee.
    pub pointee: NodeId,
}

/// A run of equally sized elements in memory.
pub struct Elements {
    /// How to encode one element.
    pub node: NodeId,
    /// Distance in bytes between consecutive elements (the element's size).
    pub stride: usize,
    /// True when the elements' memory already is their postcard bytes
    /// (`u8`, `i8`, `bool`, and `f32`/`f64` on little-endian targets), so a
    /// whole run can be copied at once.
    pub memory_is_wire: bool,
}

/// Encoding of a list (`Vec<T>`, ...) through its vtable.
pub struct ListOp {
    /// `len`, `as_ptr` (contiguous lists) and `get` of the list's shape.
    pub vtable: &'static ListVTable,
    /// The list's own shape (`ListVTable::get` takes it).
    pub list_shape: &'static Shape,
    /// The elements.
    pub elements: Elements,
}

/// Encoding of an unsized slice `[T]` through its vtable.
pub struct SliceOp {
    /// `len` / `as_ptr` of the slice shape; both take the wide pointer.
    pub vtable: &'static SliceVTable,
    /// The elements.
    pub elements: Elements,
}

/// Encoding of a fixed-size array `[T; N]`, whose elements start at the
/// array's own address (a language guarantee).
pub struct ArrayOp {
    /// `N`.
    pub len: usize,
    /// The elements.
    pub elements: Elements,
}

/// Encoding of a set through its length and iterator.
pub struct SetOp {
    /// Number of elements.
    pub len: SetLenFn,
    /// Iterator over the elements in the instance's order.
    pub iter: Iteration<PtrConst>,
    /// How to encode one element.
    pub element: NodeId,
}

/// The three iterator functions of a facet collection that can be iterated
/// from a value (`init_with_value` is present).
pub struct Iteration<T: IterItem> {
    /// Creates an iterator over the collection (`extern "C"`).
    pub init: IterInitWithValueFn,
    /// Yields the next item (Rust ABI).
    pub next: IterNextFn<T>,
    /// Frees the iterator (`extern "C"`).
    pub dealloc: IterDeallocFn,
}

impl<T: IterItem> Iteration<T> {
    /// The iteration functions of `vtable`, if it can start from a value.
    pub fn of(vtable: &IterVTable<T>) -> Option<Self> {
        Some(Iteration {
            init: vtable.init_with_value?,
            next: vtable.next,
            dealloc: vtable.dealloc,
        })
    }
}

/// Encoding of a map through its length and iterator.
pub struct MapOp {
    /// Number of entries.
    pub len: MapLenFn,
    /// Iterator over `(key, value)` pairs in the instance's order.
    pub iter: Iteration<(PtrConst, PtrConst)>,
    /// How to encode one key.
    pub key: NodeId,
    /// How to encode one value.
    pub value: NodeId,
}

/// Why a node is encoded by the `facet-postcard` fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FallbackReason {
    /// The shape carries a (postcard or generic) proxy or an opaque adapter:
    /// its wire form is defined by facet, not by its own layout.
    Proxy,
    /// A field attribute changes what is written (`flatten`, a field proxy,
    /// metadata fields): the containing struct or enum is delegated whole.
    FieldAttribute {
        /// The field carrying the attribute.
        field: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// The enum is declared untagged, internally or adjacently tagged.
    EnumRepresentation,
    /// The enum has no explicit integer repr jitcard can read the
    /// discriminant from.
    EnumWithoutIntegerRepr,
    /// A scalar facet knows but jitcard has no wire rule for (e.g.
    /// network addresses, third-party scalars).
    UnknownScalar,
    /// A pointer facet cannot borrow through (locks, weak pointers, ...).
    PointerWithoutBorrow,
    /// A set or map whose iterator cannot be created from a value.
    NoIterator,
    /// A dynamic value (`facet_value::Value`) or n-dimensional array.
    Dynamic,
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackReason::Proxy => f.write_str("the shape has a proxy or opaque adapter"),
            FallbackReason::FieldAttribute { field, attribute } => {
                write!(f, "field `{field}` has `{attribute}`")
            }
            FallbackReason::EnumRepresentation => {
                f.write_str("the enum is untagged or internally/adjacently tagged")
            }
            FallbackReason::EnumWithoutIntegerRepr => {
                f.write_str("the enum has no integer discriminant repr")
            }
            FallbackReason::UnknownScalar => f.write_str("scalar without a jitcard wire rule"),
            FallbackReason::PointerWithoutBorrow => {
                f.write_str("the pointer has no borrow function")
            }
            FallbackReason::NoIterator => {
                f.write_str("the collection cannot be iterated from a value")
            }
            FallbackReason::Dynamic => f.write_str("dynamic value or n-dimensional array"),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan, root {}", self.root)?;
        for (index, node) in self.nodes.iter().enumerate() {
            write!(f, "#{index} {}: ", node.shape)?;
            if let Some(size) = self.plain_sizes[index] {
                write!(f, "plain record, {size} bytes copied; ")?;
            }
            node.op.fmt_with(f)?;
            writeln!(f, "    (first at {})", node.path)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Op {
    /// The run of elements of a list, slice or array.
    pub fn elements(&self) -> Option<&Elements> {
        match self {
            Op::List(op) => Some(&op.elements),
            Op::Slice(op) => Some(&op.elements),
            Op::Array(op) => Some(&op.elements),
            _ => None,
        }
    }

    /// As [`elements`](Self::elements), to change it (while lowering).
    pub(crate) fn elements_mut(&mut self) -> Option<&mut Elements> {
        match self {
            Op::List(op) => Some(&mut op.elements),
            Op::Slice(op) => Some(&mut op.elements),
            Op::Array(op) => Some(&mut op.elements),
            _ => None,
        }
    }

    fn fmt_with(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn fields(f: &mut fmt::Formatter<'_>, fields: &[FieldStep], indent: &str) -> fmt::Result {
            for field in fields {
                let proxy = match field.proxy {
                    Some(FieldProxy { deferred: true, .. }) => " (proxy, converted last)",
                    Some(_) => " (proxy)",
                    None => "",
                };
                writeln!(
                    f,
                    "{indent}.{} @{} -> {}{proxy}",
                    field.name, field.offset, field.node
                )?;
            }
            Ok(())
        }
        fn elements(e: &Elements) -> String {
            let bulk = if e.memory_is_wire { ", bulk copy" } else { "" };
            format!("{} stride {}{bulk}", e.node, e.stride)
        }
        match self {
            Op::Nothing => writeln!(f, "nothing"),
            Op::Bool => writeln!(f, "bool byte"),
            Op::Byte => writeln!(f, "raw byte"),
            Op::Int(kind) => {
                let zigzag = if kind.is_signed() { "zigzag " } else { "" };
                writeln!(f, "{zigzag}varint of {kind:?}")
            }
            Op::F32 => writeln!(f, "f32 le"),
            Op::F64 => writeln!(f, "f64 le"),
            Op::Char => writeln!(f, "char as utf-8 string"),
            Op::Str(access) => writeln!(f, "string ({access:?})"),
            Op::Fields(list) => {
                writeln!(f, "fields ({})", list.len())?;
                fields(f, list, "    ")
            }
            Op::Enum(e) => {
                writeln!(
                    f,
                    "enum, discriminant {:?}{}",
                    e.discriminant,
                    if e.dense { " (dense)" } else { "" }
                )?;
                for v in &e.variants {
                    writeln!(
                        f,
                        "    {} = tag {} (discriminant {})",
                        v.name, v.index, v.discriminant
                    )?;
                    fields(f, &v.fields, "        ")?;
                }
                Ok(())
            }
            Op::Option(o) => writeln!(f, "option, some -> {}", o.some),
            Op::Result(r) => writeln!(f, "result, ok -> {}, err -> {}", r.ok, r.err),
            Op::Pointer(p) => writeln!(
                f,
                "pointer {:?} ({}) -> {}",
                p.known,
                if p.pointee_sized { "thin" } else { "wide" },
                p.pointee
            ),
            Op::List(l) => writeln!(
                f,
                "list ({}), elements {}",
                if l.vtable.as_ptr.is_some() {
                    "contiguous"
                } else {
                    "indexed"
                },
                elements(&l.elements)
            ),
            Op::Slice(s) => writeln!(f, "slice, elements {}", elements(&s.elements)),
            Op::Array(a) => writeln!(f, "array of {}, elements {}", a.len, elements(&a.elements)),
            Op::Set(s) => writeln!(f, "set, elements {}", s.element),
            Op::Map(m) => writeln!(f, "map, key {} value {}", m.key, m.value),
            Op::Fallback(reason) => writeln!(f, "facet-postcard fallback: {reason}"),
        }
    }
}
