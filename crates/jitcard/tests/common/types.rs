//! The property-tested types and their edge-biased strategies, shared by
//! the encode differential (`differential.rs`) and the decode tests
//! (`decode_differential.rs`): 30 types covering every supported shape kind.
//!
//! Strategies lean on edge values: empty and 127/128-byte strings,
//! multi-byte chars, `MIN`/`MAX` integers, NaN and infinite floats, nested
//! `None`s.

#![allow(dead_code)] // each test binary uses its own subset

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;
use proptest::prelude::*;
use proptest_derive::Arbitrary;
use serde::{Deserialize, Serialize};

// ------------------------------------------------------------ strategies ---

pub fn edge_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("a".repeat(127)),
        Just("b".repeat(128)),
        Just("é".repeat(64)),
        Just("ß€𝄞\u{0}".to_string()),
        "\\PC{0,40}",
        any::<String>(),
    ]
}

pub fn edge_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\0'),
        Just('\u{7f}'),
        Just('\u{80}'),
        Just('\u{7ff}'),
        Just('\u{800}'),
        Just('\u{ffff}'),
        Just('\u{10000}'),
        Just(char::MAX),
        any::<char>(),
    ]
}

macro_rules! edge_int {
    ($name:ident, $t:ty) => {
        pub fn $name() -> impl Strategy<Value = $t> {
            prop_oneof![
                Just(<$t>::MIN),
                Just(<$t>::MAX),
                Just(0 as $t),
                Just(127 as $t),
                Just(128 as $t),
                Just(16383 as $t),
                Just(16384 as $t),
                any::<$t>(),
            ]
        }
    };
}
edge_int!(edge_u16, u16);
edge_int!(edge_u32, u32);
edge_int!(edge_u64, u64);
edge_int!(edge_u128, u128);
edge_int!(edge_usize, usize);
edge_int!(edge_i16, i16);
edge_int!(edge_i32, i32);
edge_int!(edge_i64, i64);
edge_int!(edge_i128, i128);
edge_int!(edge_isize, isize);

pub fn edge_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(f32::NAN),
        Just(-f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(-0.0f32),
        Just(f32::MIN_POSITIVE),
        any::<f32>(),
    ]
}

pub fn edge_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0f64),
        Just(f64::MAX),
        any::<f64>(),
    ]
}

pub fn leaked_str() -> impl Strategy<Value = &'static str> {
    edge_string().prop_map(|s| &*Box::leak(s.into_boxed_str()))
}

pub fn leaked_bytes() -> impl Strategy<Value = &'static [u8]> {
    prop::collection::vec(any::<u8>(), 0..200).prop_map(|v| &*Box::leak(v.into_boxed_slice()))
}

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

// ----------------------------------------------------------------- types ---

/// Every scalar kind.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Scalars {
    flag: bool,
    byte: u8,
    #[proptest(strategy = "edge_u16()")]
    short: u16,
    #[proptest(strategy = "edge_u32()")]
    word: u32,
    #[proptest(strategy = "edge_u64()")]
    long: u64,
    #[proptest(strategy = "edge_u128()")]
    wide: u128,
    #[proptest(strategy = "edge_usize()")]
    size: usize,
    signed_byte: i8,
    #[proptest(strategy = "edge_i16()")]
    signed_short: i16,
    #[proptest(strategy = "edge_i32()")]
    signed_word: i32,
    #[proptest(strategy = "edge_i64()")]
    signed_long: i64,
    #[proptest(strategy = "edge_i128()")]
    signed_wide: i128,
    #[proptest(strategy = "edge_isize()")]
    signed_size: isize,
    #[proptest(strategy = "edge_f32()")]
    single: f32,
    #[proptest(strategy = "edge_f64()")]
    double: f64,
    #[proptest(strategy = "edge_char()")]
    letter: char,
    nothing: (),
}

/// Every string kind.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Strings {
    #[proptest(strategy = "edge_string()")]
    owned: String,
    #[proptest(strategy = "leaked_str()")]
    borrowed: &'static str,
    #[proptest(strategy = "edge_string().prop_map(String::into_boxed_str)")]
    boxed: Box<str>,
    #[proptest(strategy = "edge_string().prop_map(Arc::from)")]
    shared: Arc<str>,
    #[proptest(strategy = "edge_string().prop_map(Rc::from)")]
    counted: Rc<str>,
    #[proptest(strategy = "edge_string().prop_map(Cow::Owned)")]
    cow_owned: Cow<'static, str>,
    #[proptest(strategy = "leaked_str().prop_map(Cow::Borrowed)")]
    cow_borrowed: Cow<'static, str>,
}

/// Owned and fixed-size sequences, including the bulk-copied element kinds.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Sequences {
    shorts: Vec<u16>,
    #[proptest(strategy = "bytes(300)")]
    bytes: Vec<u8>,
    signed_bytes: Vec<i8>,
    flags: Vec<bool>,
    singles: Vec<f32>,
    doubles: Vec<f64>,
    nested: Vec<Vec<i32>>,
    array: [u32; 4],
    byte_array: [u8; 16],
    empty_array: [u64; 0],
    strings: Vec<String>,
    /// Plain records (memory = wire form): copied as one run.
    points: Vec<Point3>,
    texels: [Texel; 3],
    quads: Vec<[[f32; 2]; 2]>,
    /// Not plain: padding, a `bool`.
    padded: Vec<Padded>,
    /// Boxed runs copied whole (bools checked).
    boxed_flags: Box<[bool]>,
    boxed_points: Box<[Point3]>,
    boxed_singles: Box<[f32]>,
}

/// A padding-free record of floats.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary, Clone, Copy)]
pub struct Point3 {
    x: f32,
    y: f32,
    z: f32,
}

/// Bytes and an `f64`: padding (wherever rustc puts the fields), so not a
/// plain record.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary, Clone, Copy)]
pub struct Texel {
    r: u8,
    g: i8,
    rest: (u8, u8),
    weight: f64,
}

/// Padding after `tag`, and a `bool`: not a plain record.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Padded {
    tag: u8,
    value: f32,
    on: bool,
}

/// Slices behind every pointer kind.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Slices {
    #[proptest(strategy = "leaked_bytes()")]
    borrowed: &'static [u8],
    #[proptest(strategy = "any::<Vec<i64>>().prop_map(Vec::into_boxed_slice)")]
    boxed: Box<[i64]>,
    #[proptest(strategy = "any::<Vec<u16>>().prop_map(Arc::from)")]
    shared: Arc<[u16]>,
    #[proptest(strategy = "prop::collection::vec(edge_string(), 0..4).prop_map(Rc::from)")]
    counted_strings: Rc<[String]>,
    #[proptest(strategy = "any::<Vec<u64>>().prop_map(Arc::from)")]
    shared_u64: Arc<[u64]>,
    #[proptest(
        strategy = "prop::collection::vec(bytes(40).prop_map(Vec::into_boxed_slice), 0..5)"
    )]
    boxed_byte_slices: Vec<Box<[u8]>>,
}

/// Sets and maps (iteration order of the instance).
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Collections {
    ordered_set: BTreeSet<u32>,
    hashed_set: HashSet<String>,
    ordered_map: BTreeMap<String, u64>,
    hashed_map: HashMap<u16, Vec<u8>>,
    tuple_keys: BTreeMap<(u8, String), Option<i32>>,
}

/// Options of every flavor, nested.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Options {
    plain: Option<u32>,
    nested: Option<Option<Option<bool>>>,
    boxed: Option<Box<String>>,
    #[proptest(strategy = "proptest::option::of(edge_string().prop_map(Arc::from))")]
    unsized_shared: Option<Arc<str>>,
    #[proptest(strategy = "proptest::option::of(bytes(30).prop_map(Vec::into_boxed_slice))")]
    unsized_bytes: Option<Box<[u8]>>,
    #[proptest(
        strategy = "proptest::option::of(any::<Vec<u16>>().prop_map(Vec::into_boxed_slice))"
    )]
    unsized_shorts: Option<Box<[u16]>>,
    #[proptest(strategy = "proptest::option::of(edge_string().prop_map(Rc::from))")]
    counted_text: Option<Rc<str>>,
    list: Vec<Option<i64>>,
}

/// Results, nested in each other and in options.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Results {
    simple: Result<u32, String>,
    nested: Result<Option<i8>, Vec<u8>>,
    optional: Option<Result<(), bool>>,
}

/// Decodable pointees behind every owning pointer kind.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct OwnedPointers {
    boxed: Box<u64>,
    shared: Arc<Inner>,
    counted: Rc<Vec<u8>>,
    boxed_box: Box<Box<i16>>,
    boxed_zst: Box<()>,
    shared_option: Arc<Option<Inner>>,
}

/// A small struct used behind pointers and inside containers.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Clone, Arbitrary)]
pub struct Inner {
    id: u32,
    #[proptest(strategy = "edge_string()")]
    label: String,
}

/// Sized pointees behind every pointer kind. (Not decodable: a `&Inner`
/// cannot be built from bytes, by serde or by jitcard.)
#[derive(Facet, Serialize, PartialEq, Debug, Arbitrary)]
pub struct Pointers {
    boxed: Box<u64>,
    shared: Arc<Inner>,
    counted: Rc<Vec<u8>>,
    #[proptest(strategy = "any::<Inner>().prop_map(|i| &*Box::leak(Box::new(i)))")]
    reference: &'static Inner,
    boxed_box: Box<Box<i16>>,
}

/// A unit struct: encodes to nothing.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Marker;

/// A tuple struct.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Pair(u32, #[proptest(strategy = "edge_string()")] String);

/// A transparent newtype.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[facet(transparent)]
pub struct Meters(#[proptest(strategy = "edge_f64()")] f64);

/// Tuples, unit structs, tuple structs and newtypes as fields.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Composites {
    tuple: (u8, String, (i64, bool)),
    marker: Marker,
    pair: Pair,
    meters: Meters,
    pairs: [Pair; 2],
    unit: (),
}

/// A field-less enum with gaps in its discriminants.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Clone, Copy, Arbitrary)]
#[repr(u8)]
pub enum Color {
    Red,
    Green = 10,
    Blue = 200,
}

/// Unit, tuple and struct variants.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(u32)]
pub enum Figure {
    Empty,
    Dot(u8, i32),
    Polygon {
        name: String,
        points: Vec<(f32, f32)>,
    },
    Colored(Color),
}

/// Negative discriminants.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(i16)]
pub enum Signed {
    Negative = -5,
    Zero = 0,
    Positive(u8) = 7,
    Far { value: i64 } = 300,
}

/// A `repr(C)` enum with data.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(C)]
pub enum CLike {
    First(u64),
    Second { text: String, flag: bool },
    Third,
}

/// A `repr(C, u8)` enum with data.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(C, u8)]
pub enum CTagged {
    A(u16),
    B(Option<String>),
}

/// A 64-bit repr with a discriminant beyond 32 bits (facet's derive cannot
/// express discriminants above `i64::MAX`).
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(u64)]
pub enum Huge {
    Small = 1,
    Big(u8) = 0x4000_0000_0000_0000,
}

/// Field-less enums inside containers.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Palette {
    colors: Vec<Color>,
    favorite: Option<Color>,
    by_name: BTreeMap<String, Color>,
}

/// Recursive through `Vec<Self>`.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct Node {
    value: u32,
    children: Vec<Node>,
}

/// Recursive through `Option<Box<Self>>`.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Clone)]
pub struct Chain {
    head: i32,
    tail: Option<Box<Chain>>,
}

/// Recursive through `Box<Self>` in enum variants.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Clone)]
#[repr(u8)]
pub enum Expr {
    Literal(i64),
    Negate(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Call { name: String, args: Vec<Expr> },
}

pub fn node() -> impl Strategy<Value = Node> {
    any::<u32>()
        .prop_map(|value| Node {
            value,
            children: vec![],
        })
        .prop_recursive(4, 32, 4, |inner| {
            (any::<u32>(), prop::collection::vec(inner, 0..4))
                .prop_map(|(value, children)| Node { value, children })
        })
}

pub fn chain() -> impl Strategy<Value = Chain> {
    any::<i32>()
        .prop_map(|head| Chain { head, tail: None })
        .prop_recursive(8, 16, 1, |inner| {
            (any::<i32>(), proptest::option::of(inner.prop_map(Box::new)))
                .prop_map(|(head, tail)| Chain { head, tail })
        })
}

pub fn expr() -> impl Strategy<Value = Expr> {
    edge_i64()
        .prop_map(Expr::Literal)
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Negate(Box::new(e))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::Add(Box::new(a), Box::new(b))),
                ("[a-z]{0,8}", prop::collection::vec(inner, 0..3))
                    .prop_map(|(name, args)| Expr::Call { name, args }),
            ]
        })
}

/// Everything at once, nested deeply.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct Kitchen {
    figures: Vec<Figure>,
    #[proptest(
        strategy = "prop::collection::vec(proptest::option::of(any::<Vec<u16>>().prop_map(Vec::into_boxed_slice)), 0..4)"
    )]
    optional_slices: Vec<Option<Box<[u16]>>>,
    lookup: HashMap<String, Result<Inner, Color>>,
    #[proptest(
        strategy = "proptest::option::of(proptest::option::of(any::<Inner>().prop_map(Arc::new)))"
    )]
    deep: Option<Option<Arc<Inner>>>,
    grid: [[i8; 3]; 2],
}

/// Unsized pointees inside an enum: their `PtrConst`s are wide (tag bit set,
/// length in the metadata word) wherever they sit.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
#[repr(u8)]
pub enum WideInEnum {
    Text(#[proptest(strategy = "edge_string().prop_map(Arc::from)")] Arc<str>),
    Bytes(#[proptest(strategy = "bytes(40).prop_map(Vec::into_boxed_slice)")] Box<[u8]>),
    Both {
        #[proptest(strategy = "edge_string().prop_map(Rc::from)")]
        counted: Rc<str>,
        #[proptest(
            strategy = "proptest::option::of(any::<Vec<u16>>().prop_map(Vec::into_boxed_slice))"
        )]
        shorts: Option<Box<[u16]>>,
    },
    Nested(
        #[proptest(
            strategy = "proptest::option::of(proptest::option::of(any::<Vec<u64>>().prop_map(Arc::from)))"
        )]
        Option<Option<Arc<[u64]>>>,
    ),
}

/// Every wide-pointer case the direct lowering must get right: unsized
/// pointees behind `Arc`/`Rc`/`Box`/`&`, in options, vectors and enums.
#[derive(Facet, Serialize, Deserialize, PartialEq, Debug, Arbitrary)]
pub struct WidePointers {
    #[proptest(strategy = "edge_string().prop_map(Arc::from)")]
    arc_str: Arc<str>,
    #[proptest(strategy = "edge_string().prop_map(Rc::from)")]
    rc_str: Rc<str>,
    #[proptest(strategy = "edge_string().prop_map(String::into_boxed_str)")]
    box_str: Box<str>,
    #[proptest(strategy = "bytes(200).prop_map(Vec::into_boxed_slice)")]
    box_bytes: Box<[u8]>,
    #[proptest(strategy = "any::<Vec<u64>>().prop_map(Arc::from)")]
    arc_u64s: Arc<[u64]>,
    #[proptest(strategy = "prop::collection::vec(edge_string(), 0..4).prop_map(Rc::from)")]
    rc_strings: Rc<[String]>,
    #[proptest(strategy = "proptest::option::of(edge_string().prop_map(Arc::from))")]
    option_arc_str: Option<Arc<str>>,
    #[proptest(
        strategy = "prop::collection::vec(bytes(20).prop_map(Vec::into_boxed_slice), 0..4)"
    )]
    vec_box_bytes: Vec<Box<[u8]>>,
    #[proptest(strategy = "leaked_bytes()")]
    bytes_ref: &'static [u8],
    #[proptest(strategy = "leaked_str()")]
    str_ref: &'static str,
    #[proptest(
        strategy = "proptest::option::of(any::<Vec<u16>>().prop_map(Vec::into_boxed_slice))"
    )]
    option_box_u16s: Option<Box<[u16]>>,
    #[proptest(
        strategy = "proptest::option::of(proptest::option::of(edge_string().prop_map(String::into_boxed_str)))"
    )]
    nested: Option<Option<Box<str>>>,
    in_enums: Vec<WideInEnum>,
}

// ------------------------------------------------------------- equality ---

/// Equality of two decoded values in the decode tests: `==`, or equal
/// postcard bytes (NaN is not `==` to itself, but its bytes are equal).
pub trait Same {
    fn same(&self, other: &Self) -> bool;
}

macro_rules! same_by_eq_or_bytes {
    ($($t:ty),* $(,)?) => {
        $(impl Same for $t {
            fn same(&self, other: &Self) -> bool {
                self == other
                    || postcard::to_allocvec(self).ok() == postcard::to_allocvec(other).ok()
            }
        })*
    };
}

same_by_eq_or_bytes!(
    Scalars,
    Strings,
    Sequences,
    Slices,
    Collections,
    Options,
    Results,
    OwnedPointers,
    Marker,
    Pair,
    Meters,
    Composites,
    Color,
    Figure,
    Signed,
    CLike,
    CTagged,
    Huge,
    Palette,
    Node,
    Chain,
    Expr,
    WidePointers,
    Vec<String>,
    (u8, Option<String>, Vec<i128>),
    Option<Option<u16>>,
    BTreeMap<u8, Vec<Option<bool>>>,
    char,
    String,
    [Inner; 3],
);

/// Floats (NaN) sit in `figures`, a hash map in `lookup`: neither `==` nor
/// the bytes of the whole value compare two decodings, so fields do.
impl Same for Kitchen {
    fn same(&self, other: &Self) -> bool {
        let bytes = |v: &Vec<Figure>| postcard::to_allocvec(v).ok();
        (self.figures == other.figures || bytes(&self.figures) == bytes(&other.figures))
            && self.optional_slices == other.optional_slices
            && self.lookup == other.lookup
            && self.deep == other.deep
            && self.grid == other.grid
    }
}
