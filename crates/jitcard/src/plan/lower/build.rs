//! Decode-plan lowering: how each shape is constructed ([`Build`]), decided
//! from what facet reflects, or why it cannot be built from bytes.
//!
//! Layout knowledge used here beyond facet's description, with its argument:
//! - `Box<T>` of a sized `T` is one pointer to an allocation of `T`'s layout
//!   (a language guarantee; facet's own `Box` constructor relies on it too).
//! - The key offset inside a `(K, V)` pair of a `HashMap`, which facet does
//!   not give (it gives the pair's size and the value's offset). A two-field
//!   tuple has one field at offset 0 and the other after it; if the value is
//!   at a nonzero offset the key is at 0, else the key follows the value at
//!   the next offset aligned for `K`. The result is checked to lie inside
//!   the pair without overlapping the value, else the map is refused.

use std::any::TypeId;
use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use facet_core::{
    Characteristic, Def, DefaultSource, Field, KnownPointer, MapDef, SetDef, Shape, Type, UserType,
};

use super::super::build::{
    Build, DefaultFrom, ListBuild, MapBuild, PointerBuild, SetBuild, SkippedField, StrPointer,
};
use super::super::{FallbackReason, Op, PointerOp, StrAccess};
use super::Lowerer;
use crate::Error;

impl Lowerer {
    /// How a value of `shape`, whose wire rule is `op`, is constructed.
    pub(super) fn build_for(
        &mut self,
        shape: &'static Shape,
        op: &Op,
        path: &str,
    ) -> Result<Build, Error> {
        let refuse = |reason: String| Error::Unsupported {
            path: path.to_string(),
            type_name: shape.to_string(),
            reason,
        };
        let build = match op {
            Op::Nothing if shape.id.get() == TypeId::of::<core::convert::Infallible>() => {
                Build::Uninhabited
            }
            Op::Nothing
            | Op::Bool
            | Op::Byte
            | Op::Int(_)
            | Op::F32
            | Op::F64
            | Op::Char
            | Op::Option(_)
            | Op::Result(_)
            | Op::Array(_) => Build::InPlace,
            Op::Str(StrAccess::String) => Build::String,
            Op::Str(StrAccess::StrRef) => Build::BorrowedStr,
            Op::Str(StrAccess::Unsized) | Op::Slice(_) => Build::Unsized,
            Op::Fields(_) => match shape.ty {
                Type::User(UserType::Struct(st)) => {
                    Build::Fields(skipped_fields(shape, st.fields, true).map_err(refuse)?)
                }
                _ => return Err(refuse("fields without a struct type".to_string())),
            },
            Op::Enum(_) => match shape.ty {
                Type::User(UserType::Enum(et)) => Build::Enum(
                    et.variants
                        .iter()
                        .map(|v| skipped_fields(shape, v.data.fields, false))
                        .collect::<Result<_, _>>()
                        .map_err(refuse)?,
                ),
                _ => return Err(refuse("variants without an enum type".to_string())),
            },
            Op::List(_) => match shape.def {
                Def::List(def) => match def.type_ops {
                    Some(ops) => match (
                        ops.init_in_place_with_capacity,
                        ops.reserve,
                        ops.as_mut_ptr_typed,
                        ops.set_len,
                    ) {
                        (Some(init), Some(reserve), Some(as_mut_ptr), Some(set_len)) => {
                            Build::List(ListBuild {
                                init,
                                reserve,
                                as_mut_ptr,
                                set_len,
                            })
                        }
                        _ => return Err(refuse("facet cannot build this list".to_string())),
                    },
                    None => return Err(refuse("facet cannot build this list".to_string())),
                },
                _ => return Err(refuse("a list without a list def".to_string())),
            },
            Op::Set(_) => match shape.def {
                Def::Set(def) => Build::Set(set_build(shape, &def).map_err(refuse)?),
                _ => return Err(refuse("a set without a set def".to_string())),
            },
            Op::Map(_) => match shape.def {
                Def::Map(def) => Build::Map(map_build(shape, &def).map_err(refuse)?),
                _ => return Err(refuse("a map without a map def".to_string())),
            },
            Op::Pointer(pointer) => {
                Build::Pointer(self.pointer_build(shape, pointer).map_err(refuse)?)
            }
            Op::Fallback(FallbackReason::Proxy) => match shape.effective_proxy(Some("postcard")) {
                Some(proxy) => Build::Proxy {
                    proxy: self.node_for(proxy.shape, format!("{path}<proxy>"))?,
                    convert_in: proxy.convert_in,
                },
                None => {
                    return Err(refuse(
                        "an opaque adapter has a facet-postcard-specific wire form".to_string(),
                    ));
                }
            },
            Op::Fallback(reason) => {
                return Err(refuse(format!(
                    "decoding it would need facet-postcard's rules ({reason}); \
                     jitcard decodes natively or not at all"
                )));
            }
        };
        // Decoders drop what they built when a later part fails; values whose
        // shape cannot be dropped through facet would leak.
        let plain = matches!(
            op,
            Op::Nothing | Op::Bool | Op::Byte | Op::Int(_) | Op::F32 | Op::F64 | Op::Char
        ) || matches!(
            build,
            Build::Unsized | Build::BorrowedStr | Build::Pointer(PointerBuild::BorrowedBytes)
        );
        if !plain && !droppable(shape) {
            return Err(refuse(NOT_DROPPABLE.to_string()));
        }
        Ok(build)
    }

    /// How the pointer `shape` (lowered as `pointer`) is constructed.
    fn pointer_build(
        &self,
        shape: &'static Shape,
        pointer: &PointerOp,
    ) -> Result<PointerBuild, String> {
        let Def::Pointer(def) = shape.def else {
            return Err("a pointer without a pointer def".to_string());
        };
        let id = shape.id.get();
        let pointee = self.nodes[pointer.pointee.index()].shape;
        let str_pointer = if id == TypeId::of::<Box<str>>() {
            Some(StrPointer::Box)
        } else if id == TypeId::of::<Arc<str>>() {
            Some(StrPointer::Arc)
        } else if id == TypeId::of::<Rc<str>>() {
            Some(StrPointer::Rc)
        } else {
            None
        };
        if let Some(kind) = str_pointer {
            return Ok(PointerBuild::Str(kind));
        }
        match def.known {
            Some(KnownPointer::Box)
                if pointer.pointee_sized
                    && shape
                        .layout
                        .sized_layout()
                        .is_ok_and(|l| l.size() == size_of::<usize>()) =>
            {
                Ok(PointerBuild::BoxInPlace)
            }
            Some(KnownPointer::Arc | KnownPointer::Rc) if pointer.pointee_sized => def
                .vtable
                .new_into_fn
                .map(PointerBuild::NewInto)
                .ok_or_else(|| {
                    "facet gives this pointer no constructor from its pointee".to_string()
                }),
            Some(KnownPointer::Box | KnownPointer::Arc | KnownPointer::Rc)
                if matches!(pointee.def, Def::Slice(_)) =>
            {
                def.vtable
                    .slice_builder_vtable
                    .map(PointerBuild::Slice)
                    .ok_or_else(|| "facet gives this slice pointer no builder".to_string())
            }
            Some(KnownPointer::Cow) if id == TypeId::of::<Cow<'static, str>>() => {
                Ok(PointerBuild::CowStr)
            }
            Some(KnownPointer::Cow) if id == TypeId::of::<Cow<'static, [u8]>>() => {
                Ok(PointerBuild::CowBytes)
            }
            Some(KnownPointer::SharedReference) if id == TypeId::of::<&'static [u8]>() => {
                Ok(PointerBuild::BorrowedBytes)
            }
            Some(KnownPointer::SharedReference | KnownPointer::ExclusiveReference) => Err(
                "only `&str` and `&[u8]` can point into the input; other references \
                 cannot be built from bytes"
                    .to_string(),
            ),
            _ => Err(format!(
                "jitcard cannot build a {} pointer from bytes",
                def.known
                    .map_or_else(|| "custom".to_string(), |k| format!("{k:?}"))
            )),
        }
    }
}

const NOT_DROPPABLE: &str = "facet cannot drop a value of it (its shape has no type \
                             operations and it is not `Copy`), so a partly decoded value could \
                             not be cleaned up";

/// Whether a value of `shape` can be dropped through facet: its shape has
/// type operations (a drop function), or it is `Copy` (nothing to drop),
/// as its shape says or as Rust guarantees for the few std types whose
/// facet shapes have neither (`Duration`, matched by type id).
pub(super) fn droppable(shape: &'static Shape) -> bool {
    /// std types that are `Copy` (so have no drop glue) while facet-core
    /// 0.46 describes them with no type operations and no `COPY` marker.
    fn copy_in_std(shape: &'static Shape) -> bool {
        shape.id == facet_core::ConstTypeId::of::<std::time::Duration>()
    }
    shape.type_ops.is_some()
        || shape.marker_traits.contains(facet_core::MarkerTraits::COPY)
        || copy_in_std(shape)
}

/// Refuses a field a decoder fills or drops without a node of its own (a
/// skipped field, or a field of a default container other than those taken
/// from it) when it could not drop it on a failure.
pub(super) fn check_droppable_field(field: &'static Field) -> Result<(), String> {
    if droppable(field.shape()) {
        Ok(())
    } else {
        Err(format!("field `{}`: {NOT_DROPPABLE}", field.name))
    }
}

/// How each field skipped when deserializing gets its value: the field's
/// own default, else (for a struct with `#[facet(default)]`) the field of
/// the container's default, else the field type's `Default`, like serde's
/// `#[serde(skip)]`.
fn skipped_fields(
    container: &'static Shape,
    fields: &'static [Field],
    is_struct: bool,
) -> Result<Vec<SkippedField>, String> {
    let container_default =
        is_struct && container.has_default_attr() && container.is(Characteristic::Default);
    let mut skipped = fields
        .iter()
        .filter(|field| field.should_skip_deserializing())
        .map(|field| {
            let default = match field.default {
                Some(DefaultSource::Custom(f)) => DefaultFrom::Custom(f),
                Some(DefaultSource::FromTrait) => DefaultFrom::FieldType,
                None if container_default => DefaultFrom::Container(container),
                None => DefaultFrom::FieldType,
            };
            if matches!(default, DefaultFrom::FieldType)
                && !field.shape().is(Characteristic::Default)
            {
                return Err(format!(
                    "skipped field `{}` has no default to fill it with",
                    field.name
                ));
            }
            check_droppable_field(field)?;
            if let DefaultFrom::Container(_) = default {
                // The container's other fields are dropped after the
                // skipped ones are moved out of its default.
                for other in fields {
                    check_droppable_field(other)?;
                }
            }
            Ok(SkippedField {
                name: field.name,
                offset: field.offset,
                shape: field.shape(),
                default,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Those moved out of the container's default go last, so that one
    // default value serves them all (a stable sort keeps field order).
    skipped.sort_by_key(|field| matches!(field.default, DefaultFrom::Container(_)));
    Ok(skipped)
}

/// Whether `shape` is std's `HashSet`/`HashMap`, whose facet `insert`
/// ignores a custom hasher (facet-core 0.46 instantiates it for
/// `RandomState` whatever `S` is).
fn is_std_hash_collection(shape: &'static Shape, name: &str) -> bool {
    shape.type_identifier == name
        && shape
            .module_path
            .is_some_and(|path| path.starts_with("std::collections"))
}

fn set_build(shape: &'static Shape, def: &SetDef) -> Result<SetBuild, String> {
    if is_std_hash_collection(shape, "HashSet") {
        return def
            .vtable
            .from_slice
            .map(SetBuild::FromSlice)
            .ok_or_else(|| {
                "facet gives this HashSet no constructor that respects its hasher".to_string()
            });
    }
    Ok(SetBuild::Insert {
        init: def.vtable.init_in_place_with_capacity,
        insert: def.vtable.insert,
    })
}

fn map_build(shape: &'static Shape, def: &MapDef) -> Result<MapBuild, String> {
    if !is_std_hash_collection(shape, "HashMap") {
        return Ok(MapBuild::Insert {
            init: def.vtable.init_in_place_with_capacity,
            insert: def.vtable.insert,
        });
    }
    let from_pairs = def
        .vtable
        .from_pair_slice
        .ok_or("facet gives this HashMap no constructor that respects its hasher")?;
    let (Ok(key), Ok(value)) = (def.k.layout.sized_layout(), def.v.layout.sized_layout()) else {
        return Err("unsized map keys or values".to_string());
    };
    let pair_stride = def.vtable.pair_stride;
    let value_offset = def.vtable.value_offset_in_pair;
    let key_offset = if value_offset != 0 {
        0
    } else {
        value.size().next_multiple_of(key.align())
    };
    let pair_align = key.align().max(value.align());
    let disjoint = key.size() == 0
        || value.size() == 0
        || key_offset + key.size() <= value_offset
        || value_offset + value.size() <= key_offset;
    let consistent = disjoint
        && key_offset.is_multiple_of(key.align())
        && value_offset.is_multiple_of(value.align())
        && key_offset + key.size() <= pair_stride
        && value_offset + value.size() <= pair_stride
        && pair_stride.is_multiple_of(pair_align);
    if !consistent {
        return Err(
            "the layout of this HashMap's (key, value) pairs is not the expected \
                    one"
            .to_string(),
        );
    }
    Ok(MapBuild::FromPairs {
        from_pairs,
        pair_stride,
        key_offset,
        value_offset,
        pair_align,
    })
}
