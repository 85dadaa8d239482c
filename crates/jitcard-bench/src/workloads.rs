//! The built-in workloads: types deriving both `Facet` and serde `Serialize`,
//! with deterministic constructors taking a size and a seed.
//!
//! They are what the comparison binary and the divan benches time, and what
//! the differential tests check byte for byte against postcard.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;
use serde::{Deserialize, Serialize};

/// A cheap deterministic mixer (splitmix64 finalizer) so constructors need no
/// RNG dependency and produce the same values on every run.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed.wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| mix(seed, i as u64) as u8).collect()
}

// ---------------------------------------------------------------- gnarly ---

/// The "gnarly" RPC payload: a directory listing with nested vectors,
/// options, strings, byte chunks and a data-carrying enum.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GnarlyPayload {
    pub revision: u64,
    pub mount: String,
    pub entries: Vec<GnarlyEntry>,
    pub footer: Option<String>,
    pub digest: Vec<u8>,
}

/// One entry of a [`GnarlyPayload`].
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GnarlyEntry {
    pub id: u64,
    pub parent: Option<u64>,
    pub name: String,
    pub path: String,
    pub attrs: Vec<GnarlyAttr>,
    pub chunks: Vec<Vec<u8>>,
    pub kind: GnarlyKind,
}

/// A key/value attribute of a [`GnarlyEntry`].
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GnarlyAttr {
    pub key: String,
    pub value: String,
}

/// What a [`GnarlyEntry`] is.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[repr(u8)]
pub enum GnarlyKind {
    File {
        mime: String,
        tags: Vec<String>,
    },
    Directory {
        child_count: u32,
        children: Vec<String>,
    },
    Symlink {
        target: String,
        hops: Vec<u32>,
    },
}

impl GnarlyPayload {
    /// A payload of `entries` entries: entry i has 3 attrs, 3 chunks of
    /// 32/64/96 bytes, kind cycling File/Directory/Symlink, parent `None` for
    /// the first entry and the previous id after.
    pub fn new(entries: usize, seed: u64) -> Self {
        let base_id = mix(seed, 0) % 1_000_000;
        let entries = (0..entries)
            .map(|i| {
                let id = base_id + i as u64;
                let name = format!("entry-{i:05}.dat");
                let kind = match i % 3 {
                    0 => GnarlyKind::File {
                        mime: "application/octet-stream".to_string(),
                        tags: vec!["hot".to_string(), format!("shard-{}", i % 7)],
                    },
                    1 => GnarlyKind::Directory {
                        child_count: (mix(seed, i as u64) % 64) as u32,
                        children: (0..3).map(|c| format!("child-{i}-{c}")).collect(),
                    },
                    _ => GnarlyKind::Symlink {
                        target: format!("/mnt/data/target/{i}"),
                        hops: vec![1, 300, 70_000, (mix(seed, i as u64) % 5_000_000) as u32],
                    },
                };
                GnarlyEntry {
                    id,
                    parent: if i == 0 { None } else { Some(id - 1) },
                    path: format!("/mnt/data/{}/{name}", i % 10),
                    name,
                    attrs: vec![
                        GnarlyAttr {
                            key: "owner".into(),
                            value: format!("user{}", i % 13),
                        },
                        GnarlyAttr {
                            key: "class".into(),
                            value: "standard".into(),
                        },
                        GnarlyAttr {
                            key: "etag".into(),
                            value: format!("{:016x}", mix(seed, i as u64)),
                        },
                    ],
                    chunks: [32, 64, 96]
                        .iter()
                        .map(|&n| bytes(seed ^ i as u64, n))
                        .collect(),
                    kind,
                }
            })
            .collect();
        GnarlyPayload {
            revision: mix(seed, 1),
            mount: "/mnt/data".to_string(),
            entries,
            footer: Some(format!("end of listing, seed {seed}")),
            digest: bytes(seed, 64),
        }
    }
}

// ------------------------------------------------------------------ wide ---

/// A flat struct of 64 scalar fields: 16 × u32, 16 × i64, 16 × bool, 16 × u8.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WideStruct {
    pub u0: u32,
    pub u1: u32,
    pub u2: u32,
    pub u3: u32,
    pub u4: u32,
    pub u5: u32,
    pub u6: u32,
    pub u7: u32,
    pub u8: u32,
    pub u9: u32,
    pub u10: u32,
    pub u11: u32,
    pub u12: u32,
    pub u13: u32,
    pub u14: u32,
    pub u15: u32,
    pub i0: i64,
    pub i1: i64,
    pub i2: i64,
    pub i3: i64,
    pub i4: i64,
    pub i5: i64,
    pub i6: i64,
    pub i7: i64,
    pub i8: i64,
    pub i9: i64,
    pub i10: i64,
    pub i11: i64,
    pub i12: i64,
    pub i13: i64,
    pub i14: i64,
    pub i15: i64,
    pub b0: bool,
    pub b1: bool,
    pub b2: bool,
    pub b3: bool,
    pub b4: bool,
    pub b5: bool,
    pub b6: bool,
    pub b7: bool,
    pub b8: bool,
    pub b9: bool,
    pub b10: bool,
    pub b11: bool,
    pub b12: bool,
    pub b13: bool,
    pub b14: bool,
    pub b15: bool,
    pub y0: u8,
    pub y1: u8,
    pub y2: u8,
    pub y3: u8,
    pub y4: u8,
    pub y5: u8,
    pub y6: u8,
    pub y7: u8,
    pub y8: u8,
    pub y9: u8,
    pub y10: u8,
    pub y11: u8,
    pub y12: u8,
    pub y13: u8,
    pub y14: u8,
    pub y15: u8,
}

impl WideStruct {
    /// A struct whose integers span small and large varint lengths.
    pub fn new(seed: u64) -> Self {
        WideStruct {
            u0: mix(seed, 0) as u32,
            u1: mix(seed, 1) as u32 >> 8,
            u2: mix(seed, 2) as u32 >> 16,
            u3: mix(seed, 3) as u32 >> 24,
            u4: mix(seed, 4) as u32,
            u5: mix(seed, 5) as u32 >> 8,
            u6: mix(seed, 6) as u32 >> 16,
            u7: mix(seed, 7) as u32 >> 24,
            u8: mix(seed, 8) as u32,
            u9: mix(seed, 9) as u32 >> 8,
            u10: mix(seed, 10) as u32 >> 16,
            u11: mix(seed, 11) as u32 >> 24,
            u12: mix(seed, 12) as u32,
            u13: mix(seed, 13) as u32 >> 8,
            u14: mix(seed, 14) as u32 >> 16,
            u15: mix(seed, 15) as u32 >> 24,
            i0: mix(seed, 16) as i64,
            i1: (mix(seed, 17) as i64) >> 4,
            i2: (mix(seed, 18) as i64) >> 8,
            i3: (mix(seed, 19) as i64) >> 12,
            i4: (mix(seed, 20) as i64) >> 16,
            i5: (mix(seed, 21) as i64) >> 20,
            i6: (mix(seed, 22) as i64) >> 24,
            i7: (mix(seed, 23) as i64) >> 28,
            i8: (mix(seed, 24) as i64) >> 32,
            i9: (mix(seed, 25) as i64) >> 36,
            i10: (mix(seed, 26) as i64) >> 40,
            i11: (mix(seed, 27) as i64) >> 44,
            i12: (mix(seed, 28) as i64) >> 48,
            i13: (mix(seed, 29) as i64) >> 52,
            i14: (mix(seed, 30) as i64) >> 56,
            i15: (mix(seed, 31) as i64) >> 60,
            b0: mix(seed, 32) & 1 == 1,
            b1: mix(seed, 33) & 1 == 1,
            b2: mix(seed, 34) & 1 == 1,
            b3: mix(seed, 35) & 1 == 1,
            b4: mix(seed, 36) & 1 == 1,
            b5: mix(seed, 37) & 1 == 1,
            b6: mix(seed, 38) & 1 == 1,
            b7: mix(seed, 39) & 1 == 1,
            b8: mix(seed, 40) & 1 == 1,
            b9: mix(seed, 41) & 1 == 1,
            b10: mix(seed, 42) & 1 == 1,
            b11: mix(seed, 43) & 1 == 1,
            b12: mix(seed, 44) & 1 == 1,
            b13: mix(seed, 45) & 1 == 1,
            b14: mix(seed, 46) & 1 == 1,
            b15: mix(seed, 47) & 1 == 1,
            y0: mix(seed, 48) as u8,
            y1: mix(seed, 49) as u8,
            y2: mix(seed, 50) as u8,
            y3: mix(seed, 51) as u8,
            y4: mix(seed, 52) as u8,
            y5: mix(seed, 53) as u8,
            y6: mix(seed, 54) as u8,
            y7: mix(seed, 55) as u8,
            y8: mix(seed, 56) as u8,
            y9: mix(seed, 57) as u8,
            y10: mix(seed, 58) as u8,
            y11: mix(seed, 59) as u8,
            y12: mix(seed, 60) as u8,
            y13: mix(seed, 61) as u8,
            y14: mix(seed, 62) as u8,
            y15: mix(seed, 63) as u8,
        }
    }
}

// --------------------------------------------------------- many variants ---

/// An enum of 16 variants with diverse payloads, and non-default discriminants
/// on a few of them (the wire tag is still the declaration index).
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[repr(u16)]
pub enum ManyVariants {
    Empty,
    Byte(u8),
    Word(u32) = 10,
    Signed(i64),
    Text(String),
    Blob(Vec<u8>),
    Pair(u16, bool),
    Point { x: f32, y: f64 },
    Maybe(Option<u32>),
    Words(Vec<String>),
    Letter(char) = 300,
    Huge(i128),
    Quad([u8; 4]),
    Inner(GnarlyAttr),
    MaybeText(Option<String>),
    Unit2,
}

impl ManyVariants {
    /// `len` values cycling through all 16 variants.
    pub fn list(len: usize, seed: u64) -> Vec<ManyVariants> {
        (0..len)
            .map(|i| {
                let r = mix(seed, i as u64);
                match i % 16 {
                    0 => ManyVariants::Empty,
                    1 => ManyVariants::Byte(r as u8),
                    2 => ManyVariants::Word(r as u32),
                    3 => ManyVariants::Signed(r as i64 >> (i % 64)),
                    4 => ManyVariants::Text(format!("text value {r:x}")),
                    5 => ManyVariants::Blob(bytes(r, 24)),
                    6 => ManyVariants::Pair(r as u16, r & 1 == 0),
                    7 => ManyVariants::Point {
                        x: r as f32 / 3.0,
                        y: r as f64 / 7.0,
                    },
                    8 => ManyVariants::Maybe(if r & 1 == 0 { Some(r as u32) } else { None }),
                    9 => ManyVariants::Words(vec!["alpha".into(), "beta".into(), format!("{r}")]),
                    10 => ManyVariants::Letter(
                        char::from_u32(0x41 + (r % 0x3000) as u32).unwrap_or('λ'),
                    ),
                    11 => ManyVariants::Huge((r as i128) << 64 | r as i128),
                    12 => ManyVariants::Quad((r as u32).to_le_bytes()),
                    13 => ManyVariants::Inner(GnarlyAttr {
                        key: "k".into(),
                        value: format!("{r}"),
                    }),
                    14 => ManyVariants::MaybeText(Some(format!("{r:o}"))),
                    _ => ManyVariants::Unit2,
                }
            })
            .collect()
    }
}

// ------------------------------------------------------------------ tree ---

/// A binary tree of boxed nodes.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Tree {
    pub value: i64,
    pub left: Option<Box<Tree>>,
    pub right: Option<Box<Tree>>,
}

impl Tree {
    /// A complete tree of the given depth (`2^depth - 1` nodes).
    pub fn new(depth: u32, seed: u64) -> Self {
        fn build(depth: u32, seed: u64, index: u64) -> Tree {
            let child = |i| (depth > 1).then(|| Box::new(build(depth - 1, seed, i)));
            Tree {
                value: mix(seed, index) as i64 >> (index % 60),
                left: child(index * 2 + 1),
                right: child(index * 2 + 2),
            }
        }
        build(depth.max(1), seed, 0)
    }
}

// --------------------------------------------------------------- numeric ---

/// Sample buffers: long runs of floats and bools.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NumericBuffer {
    pub sample_rate: u32,
    pub channels: u16,
    pub mono_f32: Vec<f32>,
    pub mono_f64: Vec<f64>,
    pub flags: Vec<bool>,
}

impl NumericBuffer {
    /// Buffers of `len` samples each.
    pub fn new(len: usize, seed: u64) -> Self {
        NumericBuffer {
            sample_rate: 48_000,
            channels: 2,
            mono_f32: (0..len)
                .map(|i| (mix(seed, i as u64) % 65_536) as f32 / 32_768.0 - 1.0)
                .collect(),
            mono_f64: (0..len)
                .map(|i| (mix(seed, i as u64) as f64).sin())
                .collect(),
            flags: (0..len).map(|i| mix(seed, i as u64) & 4 == 0).collect(),
        }
    }
}

// ---------------------------------------------------------- option heavy ---

/// A struct of 20 optional fields over integers, strings and boxes.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct OptionHeavy {
    pub a: Option<u8>,
    pub b: Option<u16>,
    pub c: Option<u32>,
    pub d: Option<u64>,
    pub e: Option<i32>,
    pub f: Option<i64>,
    pub g: Option<bool>,
    pub h: Option<f64>,
    pub i: Option<String>,
    pub j: Option<String>,
    pub k: Option<Box<u64>>,
    pub l: Option<Box<String>>,
    pub m: Option<Vec<u8>>,
    pub n: Option<Option<u32>>,
    pub o: Option<char>,
    pub p: Option<u128>,
    pub q: Option<Box<GnarlyAttr>>,
    pub r: Option<Vec<u32>>,
    pub s: Option<i16>,
    pub t: Option<String>,
}

impl OptionHeavy {
    /// One value whose fields are `Some` when their position and the seed
    /// agree, half of them on average.
    pub fn new(seed: u64) -> Self {
        let some = |field: u64| mix(seed, field) & 1 == 0;
        let r = mix(seed, 99);
        OptionHeavy {
            a: some(0).then_some(r as u8),
            b: some(1).then_some(r as u16),
            c: some(2).then_some(r as u32),
            d: some(3).then_some(r),
            e: some(4).then_some(r as i32),
            f: some(5).then_some(-(r as i64 >> 3)),
            g: some(6).then_some(r & 2 == 0),
            h: some(7).then_some(r as f64 / 1e9),
            i: some(8).then(|| format!("option {r}")),
            j: some(9).then(|| "fixed".to_string()),
            k: some(10).then(|| Box::new(r >> 7)),
            l: some(11).then(|| Box::new(format!("{r:x}"))),
            m: some(12).then(|| bytes(r, 20)),
            n: some(13).then_some(if r & 8 == 0 { Some(r as u32) } else { None }),
            o: some(14).then_some('ß'),
            p: some(15).then_some(u128::from(r) << 70),
            q: some(16).then(|| {
                Box::new(GnarlyAttr {
                    key: "q".into(),
                    value: "v".into(),
                })
            }),
            r: some(17).then(|| vec![1, 2, 3, r as u32]),
            s: some(18).then_some(r as i16),
            t: some(19).then(String::new),
        }
    }

    /// `len` values with different seeds.
    pub fn list(len: usize, seed: u64) -> Vec<OptionHeavy> {
        (0..len)
            .map(|i| OptionHeavy::new(mix(seed, i as u64)))
            .collect()
    }
}

// --------------------------------------------------------- pointer heavy ---

/// Smart pointers of every kind, sized and unsized pointees.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PointerHeavy {
    pub boxed: Box<u64>,
    pub boxed_attr: Box<GnarlyAttr>,
    pub shared_name: Arc<str>,
    pub counted_words: Rc<[u32]>,
    pub blob: Box<[u8]>,
    pub maybe_name: Option<Arc<str>>,
    pub boxed_text: Box<str>,
    pub shared_values: Arc<[u64]>,
    pub counted_text: Rc<str>,
    pub shared_attr: Arc<GnarlyAttr>,
    pub label: &'static str,
    pub maybe_blob: Option<Box<[u8]>>,
    pub index: BTreeMap<u32, Arc<str>>,
}

impl PointerHeavy {
    /// One value.
    pub fn new(seed: u64) -> Self {
        let r = mix(seed, 7);
        PointerHeavy {
            boxed: Box::new(r),
            boxed_attr: Box::new(GnarlyAttr {
                key: "boxed".into(),
                value: format!("{r:x}"),
            }),
            shared_name: Arc::from(format!("shared-{r}").as_str()),
            counted_words: Rc::from(vec![1u32, 128, 16_384, r as u32]),
            blob: bytes(r, 48).into_boxed_slice(),
            maybe_name: (r & 1 == 0).then(|| Arc::from("present")),
            boxed_text: Box::from("boxed text"),
            shared_values: Arc::from(vec![r, r >> 9, r >> 33]),
            counted_text: Rc::from("counted"),
            shared_attr: Arc::new(GnarlyAttr {
                key: "arc".into(),
                value: "attr".into(),
            }),
            label: "static label",
            maybe_blob: (r & 2 == 0).then(|| bytes(r, 8).into_boxed_slice()),
            index: (0..3)
                .map(|i| (i * 1000, Arc::from(format!("idx{i}").as_str())))
                .collect(),
        }
    }

    /// `len` values with different seeds.
    pub fn list(len: usize, seed: u64) -> Vec<PointerHeavy> {
        (0..len)
            .map(|i| PointerHeavy::new(mix(seed, i as u64)))
            .collect()
    }
}

// ----------------------------------------------------------- nested pair ---

/// Two fields of the same type: nested, the shape of the compile-cost
/// stress test (`NestedPair` is 16 levels deep, one 64 KiB struct of `u8`).
#[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
pub struct Pair<T> {
    pub a: T,
    pub b: T,
}

type Pair4 = Pair<Pair<Pair<Pair<u8>>>>;
type Pair8 = Pair<Pair<Pair<Pair<Pair4>>>>;
type Pair12 = Pair<Pair<Pair<Pair<Pair8>>>>;

/// `Pair` nested 16 levels deep over `u8`: 65,536 leaf paths through 17
/// distinct shapes. Inlining every field at every use would compile 2^16
/// copies of the leaf; code size must grow with the shapes instead.
pub type NestedPair = Pair<Pair<Pair<Pair<Pair12>>>>;

/// A [`NestedPair`] with deterministic bytes, built on the heap.
pub fn nested_pair(seed: u64) -> Box<NestedPair> {
    let mut value: Box<NestedPair> = Box::default();
    // SAFETY: `NestedPair` is 65,536 `u8`s (a struct of two equal fields
    // has no padding), and every byte pattern is a valid `u8`.
    let bytes = unsafe {
        std::slice::from_raw_parts_mut(
            (&mut *value as *mut NestedPair).cast::<u8>(),
            size_of::<NestedPair>(),
        )
    };
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = mix(seed, index as u64) as u8;
    }
    value
}

// ------------------------------------------------------------- message ---

/// A small RPC message, the one-shot `to_vec` of the thread-scaling table.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Message {
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub score: Option<f64>,
    pub flag: bool,
}

impl Message {
    /// A message with three short tags.
    pub fn new(seed: u64) -> Self {
        Message {
            id: mix(seed, 1) >> 20,
            name: "sensor-frontdoor".to_string(),
            tags: vec!["home".into(), "door".into(), "battery-low".into()],
            score: Some(0.75),
            flag: true,
        }
    }
}

// ------------------------------------------------------------------ mesh ---

/// A point or direction in space.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Vec3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

/// One triangle of a mesh: padding-free plain data (48 bytes of `f32`, in
/// memory exactly its postcard bytes on little-endian hosts).
#[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Triangle {
    pub v: [Vec3; 3],
    pub normal: Vec3,
}

/// A triangle mesh: where bulk copies of plain records matter.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Mesh {
    pub triangles: Vec<Triangle>,
}

impl Mesh {
    /// A mesh of `len` triangles with deterministic coordinates.
    pub fn new(len: usize, seed: u64) -> Self {
        let coordinate = |i: u64| (mix(seed, i) % 20_000) as f32 / 100.0 - 100.0;
        let point = |i: u64| Vec3 {
            x: coordinate(3 * i),
            y: coordinate(3 * i + 1),
            z: coordinate(3 * i + 2),
        };
        Mesh {
            triangles: (0..len as u64)
                .map(|t| Triangle {
                    v: [point(4 * t), point(4 * t + 1), point(4 * t + 2)],
                    normal: point(4 * t + 3),
                })
                .collect(),
        }
    }
}
