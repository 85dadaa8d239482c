//! Shapes jitcard does not encode natively: each fallback path still writes
//! facet-postcard's bytes (and postcard's, where serde has an equivalent),
//! and each unsupported shape is refused up front with its field path.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use facet::Facet;
use jitcard::plan::FallbackReason;
use jitcard::{Encoder, Engine, Error};
use serde::Serialize;

/// The plan delegates the node of type `node_type` for `reason`, and
/// jitcard's result equals facet-postcard's: the same bytes, or, where
/// facet-postcard cannot encode the value either, an error naming the path
/// of the delegated node.
fn assert_falls_back<T: Facet<'static>>(value: &T, node_type: &str, reason: FallbackReason) {
    for engine in jitcard_bench::cases::jitcard_engines_under_test() {
        let encoder = Encoder::<T>::new(engine).expect("encoder builds");
        let plan = encoder.plan();
        let Some((node, _)) = plan
            .fallbacks()
            .find(|(node, r)| node.shape.to_string() == node_type && **r == reason)
        else {
            panic!("expected a fallback of `{node_type}` for {reason:?} in\n{plan}");
        };
        match (facet_postcard::to_vec(value), encoder.to_vec(value)) {
            (Ok(expected), Ok(actual)) => assert_eq!(actual, expected, "{}", engine.name()),
            (Err(_), Err(error)) => {
                assert!(matches!(error, Error::Fallback { .. }), "{error:?}");
                assert_eq!(error.path(), node.path, "{error}");
            }
            (expected, actual) => {
                panic!(
                    "facet-postcard gave {expected:?}, {} gave {actual:?}",
                    engine.name()
                )
            }
        }
    }
}

// ------------------------------------------------------------ proxies ---

/// Serialized through [`TenthsProxy`].
#[derive(Facet, Debug, Clone, PartialEq)]
#[facet(proxy = TenthsProxy)]
struct Celsius(f64);

#[derive(Facet, Debug)]
struct TenthsProxy {
    tenths: i64,
}

impl TryFrom<&Celsius> for TenthsProxy {
    type Error = String;
    fn try_from(c: &Celsius) -> Result<Self, String> {
        if c.0.is_finite() {
            Ok(TenthsProxy {
                tenths: (c.0 * 10.0).round() as i64,
            })
        } else {
            Err(format!("{} degrees cannot be written in tenths", c.0))
        }
    }
}

impl TryFrom<TenthsProxy> for Celsius {
    type Error = String;
    fn try_from(p: TenthsProxy) -> Result<Self, String> {
        Ok(Celsius(p.tenths as f64 / 10.0))
    }
}

#[derive(Facet, Debug)]
struct Reading {
    sensor: u32,
    temperature: Celsius,
}

#[test]
fn container_proxy_falls_back_and_writes_the_proxy() {
    let reading = Reading {
        sensor: 300,
        temperature: Celsius(-2.5),
    };
    assert_falls_back(&reading, "Celsius", FallbackReason::Proxy);
    // sensor 300 = varint [0xac, 0x02]; tenths -25 = zigzag 49.
    assert_eq!(jitcard::to_vec(&reading).unwrap(), [0xac, 0x02, 49]);
}

#[test]
fn failing_proxy_conversion_is_an_error_naming_the_path_and_keeps_the_buffer() {
    let reading = Reading {
        sensor: 1,
        temperature: Celsius(f64::NAN),
    };
    let encoder = Encoder::<Reading>::new(Engine::Interpreter).unwrap();
    let mut buffer = vec![7, 7];
    let error = encoder.encode(&reading, &mut buffer).unwrap_err();
    assert!(matches!(error, Error::Fallback { .. }), "{error:?}");
    assert_eq!(error.path(), "Reading.temperature");
    assert!(error.to_string().contains("Reading.temperature"), "{error}");
    assert_eq!(
        buffer,
        [7, 7],
        "a failed encode leaves the buffer as it was"
    );
}

#[derive(Facet, Debug)]
struct HexProxy(String);

impl TryFrom<&u32> for HexProxy {
    type Error = String;
    fn try_from(v: &u32) -> Result<Self, String> {
        Ok(HexProxy(format!("{v:x}")))
    }
}

impl TryFrom<HexProxy> for u32 {
    type Error = String;
    fn try_from(p: HexProxy) -> Result<Self, String> {
        u32::from_str_radix(&p.0, 16).map_err(|e| e.to_string())
    }
}

#[derive(Facet, Debug)]
struct Colored {
    name: String,
    #[facet(proxy = HexProxy)]
    rgb: u32,
}

#[test]
fn field_proxy_delegates_the_struct() {
    let value = Colored {
        name: "teal".into(),
        rgb: 0x008080,
    };
    assert_falls_back(
        &value,
        "Colored",
        FallbackReason::FieldAttribute {
            field: "rgb",
            attribute: "proxy",
        },
    );
}

// --------------------------------------------------- field attributes ---

#[derive(Facet, Serialize, Debug)]
struct Sparse {
    id: u32,
    #[facet(skip_serializing_if = Option::is_none)]
    note: Option<String>,
    tail: u8,
}

/// Postcard is positional: a conditionally skipped field could not be
/// decoded, so facet-postcard writes it anyway, and so does jitcard, natively.
/// (serde+postcard with the same `skip_serializing_if` writes bytes its own
/// derived `Deserialize` cannot read.)
#[test]
fn skip_serializing_if_is_ignored_like_facet_postcard_does() {
    for value in [
        Sparse {
            id: 1,
            note: None,
            tail: 9,
        },
        Sparse {
            id: 2,
            note: Some("kept".into()),
            tail: 9,
        },
    ] {
        let encoder = Encoder::<Sparse>::new(Engine::Interpreter).unwrap();
        assert_eq!(encoder.plan().fallbacks().count(), 0, "{}", encoder.plan());
        common::check(&value).unwrap();
    }
    assert_eq!(
        jitcard::to_vec(&Sparse {
            id: 1,
            note: None,
            tail: 9
        })
        .unwrap(),
        [1, 0, 9]
    );
}

#[derive(Facet, Serialize, Debug)]
struct Skipping {
    id: u32,
    #[facet(skip_serializing)]
    #[serde(skip_serializing)]
    cache: Vec<u64>,
    name: String,
}

#[test]
fn unconditionally_skipped_fields_are_omitted_natively() {
    let value = Skipping {
        id: 5,
        cache: vec![1, 2, 3],
        name: "n".into(),
    };
    let encoder = Encoder::<Skipping>::new(Engine::Interpreter).unwrap();
    assert_eq!(encoder.plan().fallbacks().count(), 0, "{}", encoder.plan());
    common::check(&value).unwrap();
}

#[derive(Facet, Debug)]
struct Flat {
    id: u32,
    #[facet(flatten)]
    inner: Sub,
}

#[derive(Facet, Debug)]
struct Sub {
    a: u16,
    b: String,
}

#[test]
fn flatten_delegates_the_struct() {
    let value = Flat {
        id: 3,
        inner: Sub {
            a: 4,
            b: "five".into(),
        },
    };
    assert_falls_back(
        &value,
        "Flat",
        FallbackReason::FieldAttribute {
            field: "inner",
            attribute: "flatten",
        },
    );
}

// ------------------------------------------------ enum representation ---

#[derive(Facet, Serialize, Debug)]
#[facet(untagged)]
#[serde(untagged)]
#[repr(u8)]
enum Loose {
    Number(u32),
    Text(String),
}

#[derive(Facet, Serialize, Debug)]
#[facet(tag = "kind")]
#[repr(u8)]
enum Tagged {
    Circle { radius: f32 },
    Square { side: f32 },
}

#[test]
fn untagged_and_tagged_enums_fall_back() {
    for value in [Loose::Number(7), Loose::Text("seven".into())] {
        assert_falls_back(&value, "Loose", FallbackReason::EnumRepresentation);
    }
    for value in [Tagged::Circle { radius: 1.0 }, Tagged::Square { side: 2.0 }] {
        assert_falls_back(&value, "Tagged", FallbackReason::EnumRepresentation);
    }
}

// ---------------------------------------------------- facet-only kinds ---

#[derive(Facet, Serialize, Debug)]
struct Timed {
    label: String,
    elapsed: Duration,
}

/// facet gives `Duration` a `(u64, u32)` proxy but facet-postcard 0.46
/// writes it as its `Display` string ("3s 500ns"), which neither serde nor
/// facet-postcard's own decoder reads back. jitcard encodes it through the
/// proxy: serde's bytes, on every engine, and they round-trip.
#[test]
fn std_scalars_with_a_facet_proxy_are_encoded_through_it() {
    let value = Timed {
        label: "t".into(),
        elapsed: Duration::new(3, 500),
    };
    let expected = postcard::to_allocvec(&value).unwrap();
    assert_eq!(expected, [1, b't', 3, 0xf4, 0x03]);
    assert_ne!(facet_postcard::to_vec(&value).unwrap(), expected);
    for engine in jitcard_bench::cases::jitcard_engines_under_test() {
        let encoder = Encoder::<Timed>::new(engine).expect("encoder builds");
        assert!(
            encoder
                .plan()
                .fallbacks()
                .any(|(node, reason)| node.shape.to_string() == "Duration"
                    && *reason == FallbackReason::Proxy)
        );
        assert_eq!(
            encoder.to_vec(&value).unwrap(),
            expected,
            "{}",
            engine.name()
        );
    }
    let back: Duration = jitcard::from_bytes(&jitcard::to_vec(&value.elapsed).unwrap()).unwrap();
    assert_eq!(back, value.elapsed);
}

#[derive(Facet, Serialize, Debug)]
struct Host {
    name: String,
    address: std::net::Ipv4Addr,
}

#[test]
fn scalars_without_a_jitcard_rule_fall_back() {
    let value = Host {
        name: "gateway".into(),
        address: std::net::Ipv4Addr::new(192, 0, 2, 1),
    };
    assert_falls_back(&value, "Ipv4Addr", FallbackReason::UnknownScalar);
}

#[derive(Facet, Debug)]
struct Guarded {
    id: u8,
    counter: Mutex<u32>,
}

#[test]
fn pointers_without_borrow_fall_back() {
    let value = Guarded {
        id: 1,
        counter: Mutex::new(41),
    };
    assert_falls_back(&value, "Mutex<u32>", FallbackReason::PointerWithoutBorrow);
}

#[derive(Facet, Debug)]
struct Document {
    title: String,
    extra: facet_value::Value,
}

#[test]
fn dynamic_values_fall_back() {
    let mut map = BTreeMap::new();
    map.insert("k".to_string(), 1u32);
    let extra = facet_value::to_value(&map).expect("value from map");
    let value = Document {
        title: "doc".into(),
        extra,
    };
    assert_falls_back(&value, "Value", FallbackReason::Dynamic);
}

// ---------------------------------------------------------- unsupported ---

fn unsupported_path<T: Facet<'static>>() -> (String, String) {
    match Encoder::<T>::new(Engine::Interpreter) {
        Err(error @ Error::Unsupported { .. }) => (error.path().to_string(), error.to_string()),
        Err(other) => panic!("expected Unsupported, got {other:?}"),
        Ok(encoder) => panic!("expected Unsupported, got a plan:\n{}", encoder.plan()),
    }
}

#[derive(Facet)]
struct WithFnPointer {
    id: u32,
    callback: Option<fn(u32) -> u32>,
}

#[derive(Facet)]
struct WithRawPointer {
    items: Vec<RawHolder>,
}

#[derive(Facet)]
struct RawHolder {
    at: *const u8,
}

struct NotFacet;

#[derive(Facet)]
struct WithOpaque {
    #[facet(opaque)]
    hidden: NotFacet,
}

#[test]
fn unsupported_shapes_are_refused_with_their_field_path() {
    let (path, message) = unsupported_path::<WithFnPointer>();
    assert_eq!(path, "WithFnPointer.callback.Some");
    assert!(message.contains("function pointer"), "{message}");

    let (path, message) = unsupported_path::<WithRawPointer>();
    assert_eq!(path, "WithRawPointer.items[].at");
    assert!(message.contains("raw pointer"), "{message}");

    let (path, message) = unsupported_path::<WithOpaque>();
    assert_eq!(path, "WithOpaque.hidden");
    assert!(message.contains("opaque"), "{message}");
}

#[test]
fn strict_encoders_refuse_delegated_parts() {
    let error = Encoder::<Reading>::strict(Engine::host_default()).unwrap_err();
    assert!(matches!(error, Error::NotCompiled { .. }), "{error:?}");
    assert_eq!(error.path(), "Reading.temperature");
    let coverage = Encoder::<Reading>::new(Engine::host_default())
        .unwrap()
        .coverage();
    let temperature = coverage
        .iter()
        .find(|c| c.path == "Reading.temperature")
        .unwrap();
    assert_eq!(
        temperature.runs_on,
        jitcard::RunsOn::FacetPostcard(FallbackReason::Proxy)
    );
    let sensor = coverage
        .iter()
        .find(|c| c.path == "Reading.sensor")
        .unwrap();
    assert_eq!(
        sensor.runs_on,
        jitcard::RunsOn::Engine(Engine::host_default())
    );
}

#[test]
fn to_vec_reports_unsupported_types_instead_of_panicking() {
    let value = WithFnPointer {
        id: 1,
        callback: None,
    };
    let error = jitcard::to_vec(&value).unwrap_err();
    assert_eq!(error.path(), "WithFnPointer.callback.Some");
}
