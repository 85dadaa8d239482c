//! How decoders construct a value of a node's shape: the construction half
//! of a decode plan, beside each node's wire rule ([`Op`](super::Op)).
//!
//! Every fact here is decided once, when a shape is lowered for decoding
//! (see [`super::lower_for_decode`]): which facet constructor builds the
//! value, what a skipped field is filled with, whether a map must be built
//! from a slice of pairs. Engines follow it without inspecting shapes.
//!
//! Construction contract, for every engine: decoding into an uninitialized
//! destination either initializes it completely, or fails having dropped
//! everything it built (leaving the destination uninitialized).

use facet_core::{
    DefaultInPlaceFn, ListAsMutPtrTypedFn, ListInitInPlaceWithCapacityFn, ListReserveFn,
    ListSetLenFn, MapFromPairSliceFn, MapInitInPlaceWithCapacityFn, MapInsertFn, NewIntoFn,
    ProxyConvertInFn, SetFromSliceFn, SetInitInPlaceWithCapacityFn, SetInsertFn, Shape,
    SliceBuilderVTable,
};

use super::NodeId;

/// How a value of a node's shape is built from its wire form.
pub enum Build {
    /// The node's [`Op`](super::Op) writes the value into its destination
    /// itself: scalars (validated first), `()`, fixed arrays, structs and
    /// enums (field by field, see [`Build::Fields`] for skipped fields),
    /// options and results (through their vtables' `init_*` functions).
    InPlace,
    /// A struct whose serialized fields are written in place and whose
    /// skipped fields are filled as listed: those taken from the
    /// container's default ([`DefaultFrom::Container`]) come last and are
    /// all moved out of one default value, as serde does.
    Fields(Vec<SkippedField>),
    /// An enum: the tag written at the repr's width, then the active
    /// variant's serialized fields in place, its skipped fields filled as
    /// listed (one list per variant, in declaration order).
    Enum(Vec<Vec<SkippedField>>),
    /// `Infallible`: the type has no values, so decoding one always fails
    /// (with [`InvalidKind::Uninhabited`](crate::InvalidKind::Uninhabited)).
    /// A part of such a type that the wire never reaches (the `Err` of a
    /// `Result<T, Infallible>`, the elements of an empty list) costs
    /// nothing.
    Uninhabited,
    /// `String`, from validated UTF-8.
    String,
    /// `&'de str` pointing into the input (validated UTF-8).
    BorrowedStr,
    /// `str` and `[T]`: only ever built by the pointer that owns them
    /// ([`PointerBuild::Str`], [`PointerBuild::Slice`], ...), never on
    /// their own.
    Unsized,
    /// A smart pointer, a `Cow`, or `&'de [u8]`.
    Pointer(PointerBuild),
    /// A list built through facet's list operations.
    List(ListBuild),
    /// A set.
    Set(SetBuild),
    /// A map.
    Map(MapBuild),
    /// Decoded as the proxy type (node `proxy`), then converted with the
    /// proxy's `convert_in` (which consumes the proxy in every outcome).
    Proxy {
        /// The node of the proxy type.
        proxy: NodeId,
        /// Proxy to target conversion (Rust ABI; may fail or panic).
        convert_in: ProxyConvertInFn,
    },
}

/// How a field that is not on the wire (`#[facet(skip)]`) is filled.
#[derive(Clone, Copy)]
pub struct SkippedField {
    /// The field's name, for errors.
    pub name: &'static str,
    /// Its offset in the containing value.
    pub offset: usize,
    /// Its shape.
    pub shape: &'static Shape,
    /// Where the value comes from.
    pub default: DefaultFrom,
}

/// Where a skipped field's value comes from (serde's `#[serde(skip)]`
/// semantics: the container's `Default` when the container has
/// `#[facet(default)]`, else the field's own default).
#[derive(Clone, Copy)]
pub enum DefaultFrom {
    /// `#[facet(default = expr)]`: the field's default function (Rust ABI).
    Custom(DefaultInPlaceFn),
    /// The field type's `Default` (through its shape).
    FieldType,
    /// The field of a default-constructed container (of shape
    /// `container`), moved out; the rest of that container is dropped.
    /// One default value serves every such field of the struct.
    Container(&'static Shape),
}

/// How a pointer-like value is built.
#[derive(Clone, Copy)]
pub enum PointerBuild {
    /// `Box<T>` of a sized `T`: the pointee is decoded straight into a
    /// fresh allocation of `T`'s layout, whose address is the box (a `Box`
    /// of a sized type is one pointer: a language guarantee).
    BoxInPlace,
    /// `Arc<T>`, `Rc<T>` of a sized `T`: the pointee is decoded into scratch
    /// and moved in by facet's `new_into_fn` (`extern "C"`).
    NewInto(NewIntoFn),
    /// `Box<str>`, `Arc<str>`, `Rc<str>`: built from a `String`.
    Str(StrPointer),
    /// `Box<[T]>`, `Arc<[T]>`, `Rc<[T]>`: elements pushed into facet's slice
    /// builder (Rust ABI), converted at the end.
    Slice(&'static SliceBuilderVTable),
    /// `Cow<'_, str>`: always `Cow::Owned`, as serde builds it.
    CowStr,
    /// `Cow<'_, [u8]>`: always `Cow::Owned`.
    CowBytes,
    /// `&'de [u8]` pointing into the input.
    BorrowedBytes,
}

/// Which std pointer to `str` a [`PointerBuild::Str`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrPointer {
    Box,
    Arc,
    Rc,
}

/// facet's list operations a decoder uses (`Vec<T>` and similar lists).
#[derive(Clone, Copy)]
pub struct ListBuild {
    /// Writes an empty list with room for the given number of elements.
    pub init: ListInitInPlaceWithCapacityFn,
    /// Makes room for at least the given number of further elements.
    pub reserve: ListReserveFn,
    /// The address of the first element slot.
    pub as_mut_ptr: ListAsMutPtrTypedFn,
    /// Sets the number of initialized elements.
    pub set_len: ListSetLenFn,
}

/// How a set is built.
#[derive(Clone, Copy)]
pub enum SetBuild {
    /// An empty set, then one `insert` per element (first of equal
    /// elements wins, as serde's `insert` loop does).
    Insert {
        init: SetInitInPlaceWithCapacityFn,
        insert: SetInsertFn,
    },
    /// All elements decoded into a buffer, then moved in at once. Used for
    /// `HashSet`, whose facet `insert` ignores a custom hasher.
    FromSlice(SetFromSliceFn),
}

/// How a map is built.
#[derive(Clone, Copy)]
pub enum MapBuild {
    /// An empty map, then one `insert` per entry (a later value replaces an
    /// earlier one of an equal key, as serde's `insert` loop does).
    Insert {
        init: MapInitInPlaceWithCapacityFn,
        insert: MapInsertFn,
    },
    /// All `(key, value)` pairs decoded into a buffer, then moved in at
    /// once. Used for `HashMap`, whose facet `insert` ignores a custom
    /// hasher.
    FromPairs {
        from_pairs: MapFromPairSliceFn,
        /// Size of one `(K, V)` pair.
        pair_stride: usize,
        /// Offset of the key in a pair.
        key_offset: usize,
        /// Offset of the value in a pair.
        value_offset: usize,
        /// Alignment of a pair.
        pair_align: usize,
    },
}
