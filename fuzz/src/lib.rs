//! What the fuzz targets share: a rich type covering every decodable shape
//! kind, and the comparison of jitcard's decoders (every engine) with
//! postcard's.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;
use jitcard::{Error, InvalidKind};
use serde::{Deserialize, Serialize};

/// A float compared by its bits, so NaN equals itself.
#[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy)]
pub struct Bits(pub f64);

impl PartialEq for Bits {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

fn seven() -> u32 {
    7
}

/// Every decodable shape kind in one type, recursive through
/// `Option<Box<Self>>` and `Vec<Rich>` in an enum.
#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
pub struct Rich<'a> {
    pub flag: bool,
    pub byte: u8,
    pub small: i16,
    pub word: u32,
    pub long: i64,
    pub wide: u128,
    pub signed_wide: i128,
    pub size: usize,
    pub letter: char,
    pub float: Bits,
    pub single: f32bits::F32,
    pub text: String,
    pub boxed_text: Box<str>,
    pub shared_text: Arc<str>,
    pub cow: Cow<'a, str>,
    pub borrowed: &'a str,
    pub borrowed_bytes: &'a [u8],
    pub bytes: Vec<u8>,
    pub flags: Vec<bool>,
    pub shorts: Box<[u16]>,
    pub counted: Rc<[String]>,
    pub array: [u8; 4],
    pub pair: (u8, Option<String>),
    pub unit: (),
    pub maybe: Option<Option<u16>>,
    pub result: Result<u8, String>,
    pub ordered: BTreeMap<u16, Vec<u8>>,
    pub hashed: HashMap<u8, String>,
    pub set: BTreeSet<i32>,
    pub hashed_set: HashSet<u16>,
    pub shape: Shape,
    pub tagged: Vec<CTagged>,
    #[facet(skip, default = 7)]
    #[serde(skip, default = "seven")]
    pub skipped: u32,
    pub next: Option<Box<Rich<'a>>>,
}

/// An `f32` compared by its bits.
pub mod f32bits {
    use facet::Facet;
    use serde::{Deserialize, Serialize};

    #[derive(Facet, Serialize, Deserialize, Debug, Clone, Copy)]
    pub struct F32(pub f32);

    impl PartialEq for F32 {
        fn eq(&self, other: &Self) -> bool {
            self.0.to_bits() == other.0.to_bits()
        }
    }
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[repr(u16)]
pub enum Shape {
    Empty,
    Point(i32, i32),
    Named { name: String, sides: Vec<u8> },
    Nested(Vec<Shape>),
    Boxed(Box<Shape>),
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[repr(C, i32)]
pub enum CTagged {
    A(u16) = -3,
    B { text: Option<String> } = 9,
}

/// A disagreement that is one of jitcard's documented limits.
pub fn documented_limit(error: &Error) -> bool {
    matches!(
        error,
        Error::Invalid {
            kind: InvalidKind::TooDeep { .. } | InvalidKind::TooManyZeroSized { .. },
            ..
        }
    )
}

/// Decodes `input` as `T` with jitcard and with postcard and panics (the
/// fuzzer's finding) if they disagree on acceptance, value or rest.
pub fn compare<'de, T>(input: &'de [u8])
where
    T: Facet<'de> + Deserialize<'de> + Serialize + PartialEq + Debug,
{
    let ours = jitcard::take_from_bytes::<T>(input);
    // Every other engine decodes exactly as the default one (the JIT where
    // it runs): the same value and rest, or the same error.
    for engine in jitcard::diagnostics::engines_under_test() {
        let other = jitcard::Decoder::<T>::new(engine)
            .expect("every engine builds a decoder of the fuzzed types")
            .take(input);
        let agree = match (&ours, &other) {
            (Ok((a, rest_a)), Ok((b, rest_b))) => {
                rest_a.len() == rest_b.len()
                    && (a == b || postcard::to_allocvec(a).ok() == postcard::to_allocvec(b).ok())
            }
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        assert!(
            agree,
            "{} disagrees with the default engine on {input:02x?}: {other:?} vs {ours:?}",
            engine.name()
        );
    }
    let theirs = postcard::take_from_bytes::<T>(input);
    match (ours, theirs) {
        (Ok((a, rest_a)), Ok((b, rest_b))) => {
            // NaN is not `==` to itself; its bytes are equal (the types
            // compared by bytes hold no hash maps, whose order differs).
            let same = a == b || postcard::to_allocvec(&a).ok() == postcard::to_allocvec(&b).ok();
            assert!(same, "values differ on {input:02x?}: {a:?} vs {b:?}");
            assert_eq!(rest_a.len(), rest_b.len(), "rests differ on {input:02x?}");
        }
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) if documented_limit(&e) => {}
        (ours, theirs) => panic!(
            "{}: jitcard {:?}, postcard {:?} on {input:02x?}",
            std::any::type_name::<T>(),
            ours.map(|(v, _)| v),
            theirs.map(|(v, _)| v)
        ),
    }
}
