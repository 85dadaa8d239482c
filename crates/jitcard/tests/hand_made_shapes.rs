//! Shapes facet's derive never produces (unions, packed structs, enums
//! without an integer repr) but a hand-written `Facet` impl can: jitcard
//! refuses or delegates them instead of misreading memory.

use facet::Facet;
use facet_core::{
    Def, EnumRepr, EnumType, Repr, Shape, ShapeBuilder, StructKind, StructType, Type, UnionType,
    UserType,
};
use jitcard::plan::FallbackReason;
use jitcard::{Encoder, Engine, Error};

#[allow(dead_code)] // only its shape is used
#[repr(C)]
union Bits {
    int: u32,
    float: f32,
}

// SAFETY: the shape describes `Bits` (a C union of two 4-byte fields) and
// claims no vtable operations.
unsafe impl Facet<'static> for Bits {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<Bits>("Bits")
            .ty(Type::User(UserType::Union(UnionType {
                repr: Repr::C,
                fields: &[],
            })))
            .def(Def::Undefined)
            .build()
    };
}

#[allow(dead_code)] // only its shape is used
#[repr(C, packed)]
struct Packed {
    a: u8,
    b: u32,
}

// SAFETY: the shape describes `Packed` (field list omitted, which only
// hides data) and claims no vtable operations.
unsafe impl Facet<'static> for Packed {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<Packed>("Packed")
            .ty(Type::User(UserType::Struct(StructType {
                repr: Repr {
                    base: facet_core::BaseRepr::C,
                    packed: true,
                },
                kind: StructKind::Struct,
                fields: &[],
            })))
            .def(Def::Undefined)
            .build()
    };
}

#[allow(dead_code)] // only its shape is used
enum NoRepr {
    Only,
}

// SAFETY: the shape describes a field-less Rust-repr enum and claims no
// vtable operations.
unsafe impl Facet<'static> for NoRepr {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<NoRepr>("NoRepr")
            .ty(Type::User(UserType::Enum(EnumType {
                repr: Repr::RUST,
                enum_repr: EnumRepr::Rust,
                variants: &[],
                is_cow: false,
            })))
            .def(Def::Undefined)
            .build()
    };
}

#[allow(dead_code)] // only its shape is used
#[repr(u8)]
enum Twins {
    First = 1,
    Second = 2,
    Third = 3,
}

/// A field-less variant of the given discriminant.
const fn unit_variant(name: &'static str, discriminant: i64) -> facet_core::Variant {
    facet_core::Variant {
        name,
        rename: None,
        discriminant: Some(discriminant),
        attributes: &[],
        data: StructType {
            repr: Repr::RUST,
            kind: StructKind::Unit,
            fields: &[],
        },
        doc: &[],
    }
}

const TWIN_VARIANTS: &[facet_core::Variant] = &[
    unit_variant("First", 1),
    unit_variant("Second", 2),
    unit_variant("Third", 1),
];

// SAFETY: the shape describes a field-less `repr(u8)` enum, except that it
// claims discriminant 1 for two variants (which jitcard must refuse before
// reading any value); it claims no vtable operations.
unsafe impl Facet<'static> for Twins {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<Twins>("Twins")
            .ty(Type::User(UserType::Enum(EnumType {
                repr: Repr::RUST,
                enum_repr: EnumRepr::U8,
                variants: TWIN_VARIANTS,
                is_cow: false,
            })))
            .def(Def::Undefined)
            .build()
    };
}

#[test]
fn variants_sharing_a_discriminant_are_refused_naming_both() {
    for engine in [
        Engine::Interpreter,
        Engine::Jit {
            vtable_calls: jitcard::VtableCalls::Direct,
        },
    ] {
        let error = Encoder::<Twins>::new(engine).unwrap_err();
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("`First` and `Third` have the same discriminant"),
            "{message}"
        );
    }
}

#[test]
fn unions_are_refused() {
    let error = Encoder::<Vec<Bits>>::new(Engine::Interpreter).unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    assert_eq!(error.path(), "Vec<Bits>[]");
    assert!(error.to_string().contains("union"), "{error}");
}

#[test]
fn packed_structs_are_refused() {
    let error = Encoder::<Option<Packed>>::new(Engine::Interpreter).unwrap_err();
    assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
    assert_eq!(error.path(), "Option<Packed>.Some");
    assert!(error.to_string().contains("packed"), "{error}");
}

#[test]
fn enums_without_an_integer_repr_are_delegated() {
    let encoder = Encoder::<NoRepr>::new(Engine::Interpreter).unwrap();
    let reasons: Vec<_> = encoder.plan().fallbacks().map(|(_, r)| r.clone()).collect();
    assert_eq!(reasons, [FallbackReason::EnumWithoutIntegerRepr]);
}

/// A `repr(u8)` enum whose hand-made shape declares only some of its
/// variants: a value of an undeclared one has a discriminant no declared
/// variant has.
#[allow(dead_code)] // built, never matched
#[derive(Clone, Copy)]
#[repr(u8)]
enum Holey {
    A = 0,
    B = 1,
    C = 2,
    D = 3,
}

/// `A` and `C`: a table with a hole at 1, and nothing past 2.
const HOLEY_VARIANTS: &[facet_core::Variant] = &[unit_variant("A", 0), unit_variant("C", 2)];

// SAFETY: the shape describes a field-less `repr(u8)` enum, leaving out two
// of its variants (which only hides data); it claims no vtable operations.
unsafe impl Facet<'static> for Holey {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<Holey>("Holey")
            .ty(Type::User(UserType::Enum(EnumType {
                repr: Repr::RUST,
                enum_repr: EnumRepr::U8,
                variants: HOLEY_VARIANTS,
                is_cow: false,
            })))
            .def(Def::Undefined)
            .build()
    };
}

/// Like [`Holey`], with discriminants too far apart for a table.
#[allow(dead_code)] // built, never matched
#[derive(Clone, Copy)]
#[repr(u16)]
enum Far {
    A = 0,
    B = 1,
    C = 60000,
}

const FAR_VARIANTS: &[facet_core::Variant] = &[unit_variant("A", 0), unit_variant("C", 60000)];

// SAFETY: as for `Holey`, leaving out `B`.
unsafe impl Facet<'static> for Far {
    const SHAPE: &'static Shape = &const {
        ShapeBuilder::for_sized::<Far>("Far")
            .ty(Type::User(UserType::Enum(EnumType {
                repr: Repr::RUST,
                enum_repr: EnumRepr::U16,
                variants: FAR_VARIANTS,
                is_cow: false,
            })))
            .def(Def::Undefined)
            .build()
    };
}

#[test]
fn a_discriminant_no_declared_variant_has_is_an_error_naming_it() {
    fn check<T: Facet<'static>>(declared: &[(T, u8)], undeclared: &[(T, i64)]) {
        for engine in Engine::available() {
            let encoder = Encoder::<T>::new(engine).unwrap();
            for (value, tag) in declared {
                assert_eq!(encoder.to_vec(value).unwrap(), [*tag], "{engine:?}");
            }
            for (value, discriminant) in undeclared {
                match encoder.to_vec(value) {
                    Err(Error::InvalidDiscriminant {
                        discriminant: found,
                        type_name,
                        ..
                    }) => {
                        assert_eq!(found, *discriminant, "{engine:?}");
                        assert_eq!(type_name, T::SHAPE.to_string());
                    }
                    other => panic!("{engine:?}, discriminant {discriminant}: {other:?}"),
                }
                assert!(encoder.serialized_size(value).is_err(), "{engine:?}");
            }
        }
    }
    check(
        &[(Holey::A, 0), (Holey::C, 1)],
        &[(Holey::B, 1), (Holey::D, 3)],
    );
    check(&[(Far::A, 0), (Far::C, 1)], &[(Far::B, 1)]);
}
