//! Descriptions of C types: scalars and aggregates with their layout.
//!
//! Only what the calling conventions need is described: each scalar's kind
//! and size, and each aggregate's fields (offsets), size and alignment.
//! Nested aggregates are allowed and [`Aggregate::flatten`] turns them into
//! the list of scalars with absolute offsets that classification works on.
//! All supported targets are 64-bit, so pointers are 8 bytes.

use cranelift_codegen::ir::{ArgumentExtension, Type, types};

use crate::AbiError;

/// A C scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    /// A data or function pointer (8 bytes).
    Ptr,
    F32,
    F64,
}

impl Scalar {
    /// Size (and alignment) in bytes.
    pub fn size(self) -> u32 {
        match self {
            Scalar::U8 | Scalar::I8 => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::F32 => 4,
            Scalar::U64 | Scalar::I64 | Scalar::Ptr | Scalar::F64 => 8,
        }
    }

    /// Whether it travels in floating-point registers.
    pub fn is_float(self) -> bool {
        matches!(self, Scalar::F32 | Scalar::F64)
    }

    /// The Cranelift type of a value of this scalar.
    pub fn clif_type(self) -> Type {
        match self {
            Scalar::U8 | Scalar::I8 => types::I8,
            Scalar::U16 | Scalar::I16 => types::I16,
            Scalar::U32 | Scalar::I32 => types::I32,
            Scalar::U64 | Scalar::I64 | Scalar::Ptr => types::I64,
            Scalar::F32 => types::F32,
            Scalar::F64 => types::F64,
        }
    }

    /// How a caller widens a narrow integer to 32 bits (where the
    /// convention asks the caller to).
    pub(crate) fn widening(self) -> ArgumentExtension {
        match self {
            Scalar::U8 | Scalar::U16 => ArgumentExtension::Uext,
            Scalar::I8 | Scalar::I16 => ArgumentExtension::Sext,
            _ => ArgumentExtension::None,
        }
    }
}

/// A C type: a scalar or an aggregate (struct).
#[derive(Clone, Debug, PartialEq)]
pub enum CType {
    Scalar(Scalar),
    Aggregate(Aggregate),
}

impl CType {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        match self {
            CType::Scalar(s) => s.size(),
            CType::Aggregate(a) => a.size,
        }
    }

    /// Alignment in bytes.
    pub fn align(&self) -> u32 {
        match self {
            CType::Scalar(s) => s.size(),
            CType::Aggregate(a) => a.align,
        }
    }
}

impl From<Scalar> for CType {
    fn from(scalar: Scalar) -> CType {
        CType::Scalar(scalar)
    }
}

impl From<Aggregate> for CType {
    fn from(aggregate: Aggregate) -> CType {
        CType::Aggregate(aggregate)
    }
}

/// One field of an aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Byte offset from the start of the aggregate.
    pub offset: u32,
    /// The field's type.
    pub ty: CType,
}

/// A scalar inside a (possibly nested) aggregate, at an absolute offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlatField {
    /// Byte offset from the start of the outermost aggregate.
    pub offset: u32,
    /// The scalar.
    pub scalar: Scalar,
}

/// A C struct: fields at offsets, a size and an alignment.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    fields: Vec<Field>,
    size: u32,
    align: u32,
}

impl Aggregate {
    /// The struct C would lay out for these members, in order: each at the
    /// next offset aligned to its alignment; size rounded up to the largest
    /// alignment.
    pub fn c_struct(members: impl IntoIterator<Item = CType>) -> Aggregate {
        let mut offset: u32 = 0;
        let mut align: u32 = 1;
        let fields = members
            .into_iter()
            .map(|ty| {
                let field_align = ty.align();
                offset = offset.next_multiple_of(field_align);
                align = align.max(field_align);
                let field = Field { offset, ty };
                offset += field.ty.size();
                field
            })
            .collect();
        Aggregate {
            fields,
            size: offset.next_multiple_of(align),
            align,
        }
    }

    /// An aggregate with an explicit layout (e.g. a packed struct, or one
    /// described by reflection). Fields must lie inside `size`, `align` must
    /// be a power of two and `size` a multiple of it.
    pub fn with_layout(fields: Vec<Field>, size: u32, align: u32) -> Result<Aggregate, AbiError> {
        if !align.is_power_of_two() || !size.is_multiple_of(align) {
            return Err(AbiError::InvalidLayout(format!(
                "size {size} / align {align}"
            )));
        }
        if let Some(field) = fields.iter().find(|f| f.offset + f.ty.size() > size) {
            return Err(AbiError::InvalidLayout(format!(
                "field at offset {} of size {} exceeds size {size}",
                field.offset,
                field.ty.size()
            )));
        }
        Ok(Aggregate {
            fields,
            size,
            align,
        })
    }

    /// Size in bytes (including trailing padding).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Alignment in bytes.
    pub fn align(&self) -> u32 {
        self.align
    }

    /// The direct fields.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Every scalar, nested aggregates flattened, in offset order.
    pub fn flatten(&self) -> Vec<FlatField> {
        fn walk(aggregate: &Aggregate, base: u32, out: &mut Vec<FlatField>) {
            for field in &aggregate.fields {
                match &field.ty {
                    CType::Scalar(scalar) => out.push(FlatField {
                        offset: base + field.offset,
                        scalar: *scalar,
                    }),
                    CType::Aggregate(inner) => walk(inner, base + field.offset, out),
                }
            }
        }
        let mut out = Vec::new();
        walk(self, 0, &mut out);
        out.sort_by_key(|f| f.offset);
        out
    }

    /// Whether some scalar is not at a multiple of its own size.
    pub(crate) fn has_unaligned_fields(&self) -> bool {
        self.flatten()
            .iter()
            .any(|f| f.offset % f.scalar.size() != 0)
    }

    /// The float kind of a homogeneous floating-point aggregate (1 to 4
    /// members, all `f32` or all `f64`), if this is one.
    pub(crate) fn homogeneous_float(&self) -> Option<(Scalar, usize)> {
        let flat = self.flatten();
        let first = flat.first()?.scalar;
        let homogeneous = first.is_float() && flat.iter().all(|f| f.scalar == first);
        let count = flat.len();
        // Members must tile the aggregate with no padding between them.
        let dense = self.size == first.size() * count as u32;
        (homogeneous && (1..=4).contains(&count) && dense).then_some((first, count))
    }
}

/// A C function prototype: parameter types and an optional return type.
#[derive(Clone, Debug, PartialEq)]
pub struct Prototype {
    pub params: Vec<CType>,
    pub ret: Option<CType>,
}
