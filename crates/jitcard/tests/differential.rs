//! Property-based differential tests: for generated values of 30 types that
//! cover every supported shape kind (scalars, strings, sequences, sets, maps,
//! options, results, pointers, structs, tuples, newtypes, enums of every
//! repr, recursive types), every jitcard engine writes exactly the bytes of
//! serde+postcard and of facet-postcard.
//!
//! Strategies lean on edge values: empty and 127/128-byte strings, multi-byte
//! chars, `MIN`/`MAX` integers, NaN and infinite floats, nested `None`s.

// Boxed strings and boxes of boxes are exactly the pointer shapes under test.
#![allow(clippy::box_collection, clippy::redundant_allocation)]

mod common;
#[path = "common/types.rs"]
mod types;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use facet::Facet;
use proptest::prelude::*;
use serde::Serialize;
use types::*;

// ----------------------------------------------------------------- tests ---

/// 128 cases per type unless `PROPTEST_CASES` says otherwise (CI's
/// valgrind run uses fewer).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

macro_rules! differential {
    ($($test:ident: $t:ty = $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $test(value in $strategy) {
                    let value: $t = value;
                    common::check(&value).map_err(TestCaseError::fail)?;
                }
            )*
        }
    };
}

differential! {
    scalars: Scalars = any::<Scalars>();
    strings: Strings = any::<Strings>();
    sequences: Sequences = any::<Sequences>();
    slices: Slices = any::<Slices>();
    collections: Collections = any::<Collections>();
    options: Options = any::<Options>();
    results: Results = any::<Results>();
    pointers: Pointers = any::<Pointers>();
    unit_struct: Marker = any::<Marker>();
    tuple_struct: Pair = any::<Pair>();
    newtype: Meters = any::<Meters>();
    composites: Composites = any::<Composites>();
    fieldless_enum: Color = any::<Color>();
    data_enum: Figure = any::<Figure>();
    negative_discriminants: Signed = any::<Signed>();
    repr_c_enum: CLike = any::<CLike>();
    repr_c_u8_enum: CTagged = any::<CTagged>();
    huge_discriminant: Huge = any::<Huge>();
    enums_in_containers: Palette = any::<Palette>();
    recursive_vec: Node = node();
    recursive_option_box: Chain = chain();
    recursive_enum_box: Expr = expr();
    kitchen_sink: Kitchen = any::<Kitchen>();
    wide_pointers: WidePointers = any::<WidePointers>();
    root_vec_of_strings: Vec<String> = prop::collection::vec(edge_string(), 0..8);
    root_tuple: (u8, Option<String>, Vec<i128>) = any::<(u8, Option<String>, Vec<i128>)>();
    root_option_option: Option<Option<u16>> = any::<Option<Option<u16>>>();
    root_map_of_vecs: BTreeMap<u8, Vec<Option<bool>>> = any::<BTreeMap<u8, Vec<Option<bool>>>>();
    root_char: char = edge_char();
    root_string: String = edge_string();
    root_array_of_structs: [Inner; 3] = any::<[Inner; 3]>();
}

/// Unsized roots: `to_vec` takes `?Sized` values, like `postcard::to_allocvec`.
#[test]
fn unsized_roots_match_postcard() {
    let text: &str = "unsized root ß";
    assert_eq!(
        jitcard::to_vec(text).unwrap(),
        postcard::to_allocvec(text).unwrap()
    );
    let shorts: &[u16] = &[1, 300, 65535];
    assert_eq!(
        jitcard::to_vec(shorts).unwrap(),
        postcard::to_allocvec(shorts).unwrap()
    );
}

/// A struct with no fields.
#[derive(Facet, Serialize, Debug)]
struct Empty {}

/// Shapes at the edges of what the plan expresses.
#[derive(Facet, Serialize, Debug)]
struct Odd {
    ph: PhantomData<u64>,
    units: Vec<()>,
    cow_bytes: Cow<'static, [u8]>,
    strs: [String; 2],
    boxed_units: Box<[()]>,
    nested: BTreeMap<String, BTreeMap<u8, Vec<Option<char>>>>,
    empty: Empty,
    opt_str: Option<&'static str>,
    tuple: (u8,),
    big: i128,
    nan: [f32; 3],
}

/// Zero-sized elements, `Cow<[u8]>`, empty structs, 1-tuples, nested maps,
/// `Option<&str>`, `i128::MIN` and NaN arrays, on fixed values.
#[test]
fn odd_shapes_match_postcard() {
    let mut nested = BTreeMap::new();
    nested.insert(
        "a".to_string(),
        BTreeMap::from([(1u8, vec![Some('x'), None])]),
    );
    let v = Odd {
        ph: PhantomData,
        units: vec![(), ()],
        cow_bytes: Cow::Owned(vec![1, 2, 3]),
        strs: ["x".into(), "yy".into()],
        boxed_units: vec![(); 3].into_boxed_slice(),
        nested,
        empty: Empty {},
        opt_str: Some("hi"),
        tuple: (9,),
        big: i128::MIN,
        nan: [f32::NAN, 1.0, -0.0],
    };
    common::check_against(&v, true).unwrap();
}

/// Every integer width, as a field.
#[derive(Facet, Serialize, Debug)]
struct Widths {
    a: u16,
    b: i16,
    c: u32,
    d: i32,
    e: u64,
    f: i64,
    g: usize,
    h: isize,
}

/// Integers of every width around every varint length boundary (2^k - 1,
/// 2^k, 2^k + 1, and their negatives, truncated to each width): the JIT
/// writes 16- and 32-bit varints without the 2^56 test, and every length
/// comes from a table.
#[test]
fn integers_at_every_varint_length_boundary() {
    for bits in 0..64 {
        for delta in [-1i64, 0, 1] {
            for sign in [1i64, -1] {
                let v = ((1u64 << bits).wrapping_add(delta as u64) as i64).wrapping_mul(sign);
                let value = Widths {
                    a: v as u16,
                    b: v as i16,
                    c: v as u32,
                    d: v as i32,
                    e: v as u64,
                    f: v,
                    g: v as usize,
                    h: v as isize,
                };
                common::check(&value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
            }
        }
    }
}
