//! The decoding API: trailing bytes, engines, limits, errors with offset
//! and path, zero-copy borrows, skipped fields, proxies, refusals, and
//! postcard's own acceptance rules byte by byte.

use std::borrow::Cow;
use std::collections::BTreeMap;

use facet::Facet;
use jitcard::{DecodeLimits, Decoder, Engine, Error, InvalidKind, VtableCalls};
use serde::{Deserialize, Serialize};

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Config {
    name: String,
    ports: Vec<u16>,
    mode: Mode,
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
#[repr(u8)]
enum Mode {
    Off,
    On { level: u8 },
}

fn config() -> Config {
    Config {
        name: "edge".into(),
        ports: vec![80, 443, 8080],
        mode: Mode::On { level: 3 },
    }
}

#[test]
fn from_bytes_ignores_trailing_bytes_and_take_returns_them() {
    let mut bytes = postcard::to_allocvec(&config()).unwrap();
    bytes.extend_from_slice(&[9, 9, 9]);
    assert_eq!(jitcard::from_bytes::<Config>(&bytes).unwrap(), config());
    let (value, rest) = jitcard::take_from_bytes::<Config>(&bytes).unwrap();
    assert_eq!(value, config());
    assert_eq!(rest, [9, 9, 9]);
    let decoder = Decoder::<Config>::new(Engine::Interpreter).unwrap();
    assert_eq!(decoder.take(&bytes).unwrap().1, [9, 9, 9]);
    assert_eq!(decoder.decode(&bytes).unwrap(), config());
}

#[test]
fn decoders_are_copy_send_sync_and_every_engine_decodes() {
    fn assert_traits<T: Clone + Copy + Send + Sync + 'static>() {}
    assert_traits::<Decoder<Config>>();
    let decoder = Decoder::<Config>::new(Engine::Interpreter).unwrap();
    let copy = decoder;
    assert!(std::ptr::eq(copy.plan(), decoder.plan()));
    assert_eq!(decoder.limits(), DecodeLimits::default());
    assert!(decoder.compile_report().is_none());
    let bytes = postcard::to_allocvec(&config()).unwrap();
    for vtable_calls in [
        VtableCalls::Trampoline,
        VtableCalls::Direct,
        VtableCalls::DirectViaWin64Adapters,
    ] {
        let engine = Engine::Jit { vtable_calls };
        if !engine.is_available() {
            assert!(matches!(
                Decoder::<Config>::new(engine),
                Err(Error::EngineUnavailable { .. })
            ));
            continue;
        }
        let decoder = Decoder::<Config>::strict(engine).unwrap();
        assert!(decoder.compile_report().unwrap().code_size > 0);
        assert_eq!(decoder.decode(&bytes).unwrap(), config());
        assert!(
            decoder
                .coverage()
                .iter()
                .all(|part| part.built_by == engine)
        );
    }
}

#[test]
fn errors_name_the_offset_and_the_path() {
    let mut bytes = postcard::to_allocvec(&config()).unwrap();
    // name: [4, e, d, g, e]; ports: [3, 80, 0xbb 0x03, 0x90 0x3f]
    let third_port = 1 + 4 + 1 + 1 + 2;
    bytes[third_port] = 0xff;
    bytes[third_port + 1] = 0xff;
    bytes.insert(third_port + 2, 0xff);
    let error = jitcard::from_bytes::<Config>(&bytes).unwrap_err();
    match &error {
        Error::Invalid { offset, kind, .. } => {
            assert_eq!(*offset, third_port);
            assert_eq!(*kind, InvalidKind::BadVarint);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(error.path(), "Config.ports[2]");
    assert!(error.to_string().contains("byte 9"), "{error}");

    let mut bytes = postcard::to_allocvec(&config()).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = 7; // variant index 7 of Mode
    let error = jitcard::from_bytes::<Config>(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::BadVariantIndex {
                    index: 7,
                    variants: 2
                },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.path(), "Config.mode");

    let truncated = &postcard::to_allocvec(&config()).unwrap()[..3];
    let error = jitcard::from_bytes::<Config>(truncated).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::LengthExceedsInput {
                    declared: 4,
                    remaining: 2
                },
                offset: 0,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.path(), "Config.name");
}

#[derive(Facet, Deserialize, Debug, PartialEq)]
struct Borrowing<'a> {
    text: &'a str,
    bytes: &'a [u8],
    cow: Cow<'a, str>,
}

#[test]
fn borrowed_strings_and_bytes_point_into_the_input() {
    let input = postcard::to_allocvec(&("zero copy", &[1u8, 2, 3][..], "cow")).unwrap();
    let value: Borrowing<'_> = jitcard::from_bytes(&input).unwrap();
    assert_eq!(value.text, "zero copy");
    assert_eq!(value.bytes, [1, 2, 3]);
    assert_eq!(value.cow, "cow");
    let range = input.as_ptr_range();
    assert!(
        range.contains(&value.text.as_ptr()),
        "the &str borrows the input"
    );
    assert!(
        range.contains(&value.bytes.as_ptr()),
        "the &[u8] borrows the input"
    );
    assert!(
        matches!(value.cow, Cow::Owned(_)),
        "owned types never borrow"
    );
    let bad_utf8 = [2, 0xc3, 0x28, 0, 0];
    let error = jitcard::from_bytes::<Borrowing<'_>>(&bad_utf8).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::BadUtf8,
                offset: 0,
                ..
            }
        ),
        "{error:?}"
    );
}

fn seven() -> u32 {
    7
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
struct Skipping {
    kept: u8,
    #[facet(skip)]
    #[serde(skip)]
    cache: Vec<u32>,
    #[facet(skip, default = 7)]
    #[serde(skip, default = "seven")]
    seven: u32,
    tail: String,
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[facet(default)]
#[serde(default)]
struct WithContainerDefault {
    a: u8,
    #[facet(skip)]
    #[serde(skip)]
    b: String,
}

impl Default for WithContainerDefault {
    fn default() -> Self {
        WithContainerDefault {
            a: 1,
            b: "from the container".into(),
        }
    }
}

#[test]
fn skipped_fields_get_serde_s_defaults() {
    let value = Skipping {
        kept: 1,
        cache: vec![1, 2],
        seven: 99,
        tail: "t".into(),
    };
    let bytes = postcard::to_allocvec(&value).unwrap();
    assert_eq!(bytes, jitcard::to_vec(&value).unwrap());
    let ours: Skipping = jitcard::from_bytes(&bytes).unwrap();
    let theirs: Skipping = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours.seven, 7);
    assert!(ours.cache.is_empty());

    let value = WithContainerDefault {
        a: 5,
        b: "x".into(),
    };
    let bytes = postcard::to_allocvec(&value).unwrap();
    let ours: WithContainerDefault = jitcard::from_bytes(&bytes).unwrap();
    let theirs: WithContainerDefault = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours.b, "from the container");
}

/// Serialized through a proxy (decoded as the proxy, then converted).
#[derive(Facet, Debug, PartialEq)]
#[facet(proxy = TenthsProxy)]
struct Celsius(f64);

#[derive(Facet)]
struct TenthsProxy {
    tenths: i64,
}

impl TryFrom<&Celsius> for TenthsProxy {
    type Error = String;
    fn try_from(c: &Celsius) -> Result<Self, String> {
        Ok(TenthsProxy {
            tenths: (c.0 * 10.0).round() as i64,
        })
    }
}

impl TryFrom<TenthsProxy> for Celsius {
    type Error = String;
    fn try_from(p: TenthsProxy) -> Result<Self, String> {
        if p.tenths > 100_000 {
            return Err(format!("{} tenths is hotter than the sun", p.tenths));
        }
        Ok(Celsius(p.tenths as f64 / 10.0))
    }
}

#[derive(Facet, Debug, PartialEq)]
struct Hex(String);

impl TryFrom<&u32> for Hex {
    type Error = String;
    fn try_from(v: &u32) -> Result<Self, String> {
        Ok(Hex(format!("{v:x}")))
    }
}

impl TryFrom<Hex> for u32 {
    type Error = String;
    fn try_from(h: Hex) -> Result<Self, String> {
        u32::from_str_radix(&h.0, 16).map_err(|e| e.to_string())
    }
}

#[derive(Facet, Debug, PartialEq)]
struct Reading {
    sensor: u16,
    temperature: Celsius,
    #[facet(proxy = Hex)]
    color: u32,
}

#[test]
fn proxies_decode_as_the_proxy_type_then_convert() {
    let reading = Reading {
        sensor: 300,
        temperature: Celsius(-2.5),
        color: 0x00ff80,
    };
    let bytes = jitcard::to_vec(&reading).unwrap();
    assert_eq!(bytes, facet_postcard::to_vec(&reading).unwrap());
    assert_eq!(jitcard::from_bytes::<Reading>(&bytes).unwrap(), reading);

    let hot = Reading {
        temperature: Celsius(20_000.0),
        ..reading
    };
    let error = jitcard::from_bytes::<Reading>(&jitcard::to_vec(&hot).unwrap()).unwrap_err();
    assert!(
        matches!(&error, Error::Invalid { kind: InvalidKind::Conversion(m), .. } if m.contains("sun")),
        "{error:?}"
    );
    assert_eq!(error.path(), "Reading.temperature");
}

#[derive(Facet, Debug)]
struct Refers<'a> {
    number: &'a u32,
}

#[derive(Facet)]
struct Flattened {
    id: u8,
    #[facet(flatten)]
    inner: Config,
}

#[derive(Facet)]
#[facet(tag = "type")]
#[repr(u8)]
#[allow(dead_code)]
enum Tagged {
    A { x: u8 },
}

#[derive(Facet, Debug)]
struct Never {
    impossible: Result<u8, std::convert::Infallible>,
}

#[test]
fn what_cannot_be_built_from_bytes_is_refused_with_its_path() {
    let check = |error: Error, path: &str| {
        assert!(matches!(error, Error::Unsupported { .. }), "{error:?}");
        assert_eq!(error.path(), path, "{error}");
    };
    check(
        Decoder::<Refers<'_>>::new(Engine::Interpreter).unwrap_err(),
        "Refers.number",
    );
    check(
        Decoder::<Flattened>::new(Engine::Interpreter).unwrap_err(),
        "Flattened",
    );
    check(
        Decoder::<Tagged>::new(Engine::Interpreter).unwrap_err(),
        "Tagged",
    );
    // An uninhabited part is not refused: it fails only where the wire
    // reaches it.
    let never = Decoder::<Never>::new(Engine::Interpreter).unwrap();
    assert_eq!(never.decode(&[0, 7]).unwrap().impossible, Ok(7));
    let error = never.decode(&[1]).unwrap_err();
    assert_eq!(error.path(), "Never.impossible.Err", "{error}");
    assert!(error.to_string().contains("has no values"), "{error}");
    check(
        jitcard::from_bytes::<Refers<'_>>(&[1]).unwrap_err(),
        "Refers.number",
    );
    // Encoding those types still works where it did.
    assert_eq!(jitcard::to_vec(&Refers { number: &5 }).unwrap(), [5]);
}

/// Postcard's acceptance rules, byte by byte, against postcard itself.
#[test]
fn postcard_s_rules_byte_by_byte() {
    fn same<'de, T>(input: &'de [u8])
    where
        T: Facet<'de> + Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let ours = jitcard::from_bytes::<T>(input);
        let theirs = postcard::from_bytes::<T>(input);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:02x?}"),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "{} on {input:02x?}: jitcard {ours:?}, postcard {theirs:?}",
                std::any::type_name::<T>()
            ),
        }
    }
    // Varints: overlong with zero groups is fine, the last byte is bounded.
    for input in [
        &[0x80, 0x00][..],
        &[0xff, 0xff, 0x03],
        &[0xff, 0xff, 0x04],
        &[0xff, 0xff, 0x7f],
        &[0x80, 0x80, 0x80],
        &[0xff, 0xff],
    ] {
        same::<u16>(input);
        same::<i16>(input);
    }
    for input in [
        &[0xff, 0xff, 0xff, 0xff, 0x0f][..],
        &[0xff, 0xff, 0xff, 0xff, 0x10],
        &[0x80, 0x80, 0x80, 0x80, 0x00],
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
    ] {
        same::<u32>(input);
        same::<i32>(input);
    }
    let mut max_u64 = vec![0xff; 9];
    max_u64.push(0x01);
    same::<u64>(&max_u64);
    max_u64[9] = 0x02;
    same::<u64>(&max_u64);
    same::<u128>(&[0x80; 19]);
    let mut max_u128 = vec![0xff; 18];
    max_u128.push(0x03);
    same::<u128>(&max_u128);
    max_u128[18] = 0x04;
    same::<u128>(&max_u128);
    // bool, Option tags: exactly 0 or 1.
    for byte in [0u8, 1, 2, 0xff] {
        same::<bool>(&[byte]);
        same::<Option<u8>>(&[byte, 7]);
    }
    // Result and enum variant indexes are u32 varints.
    same::<Result<u8, u8>>(&[0x80, 0x00, 5]);
    same::<Result<u8, u8>>(&[2, 5]);
    same::<Mode>(&[0x81, 0x00, 9]);
    // chars: at most 4 bytes, exactly one char.
    for input in [
        &[1, b'a'][..],
        &[2, 0xc3, 0xa9],
        &[4, 0xf0, 0x9f, 0x98, 0x80],
        &[5, 0xf0, 0x9f, 0x98, 0x80, 0],
        &[2, b'a', b'b'],
        &[0],
        &[1, 0xff],
    ] {
        same::<char>(input);
    }
    // Strings: valid UTF-8 of the declared length.
    same::<String>(&[3, b'a', b'b', b'c']);
    same::<String>(&[3, b'a', b'b']);
    same::<String>(&[2, 0xc3, 0x28]);
    same::<BTreeMap<u8, String>>(&[2, 1, 1, b'a', 1, 1, b'b']);
    same::<Vec<bool>>(&[3, 0, 1, 2]);
    same::<[u8; 3]>(&[1, 2]);
    same::<(u8, u16)>(&[1, 0x80, 0x01]);
    same::<f32>(&[0, 0, 0x80]);
    same::<f64>(&1.5f64.to_le_bytes());
}

/// A linked list whose drop is iterative, so deep ones can be dropped.
#[derive(Facet, Serialize, Deserialize, Debug)]
struct List {
    v: u8,
    next: Option<Box<List>>,
}

impl Drop for List {
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

fn list_bytes(depth: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(depth * 2);
    for index in 0..depth {
        bytes.push(7);
        bytes.push(u8::from(index + 1 < depth));
    }
    bytes
}

#[test]
fn depth_is_limited_and_deep_input_never_overflows_the_stack() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let limits = DecodeLimits::default();
            let at_limit = list_bytes(limits.max_depth);
            assert!(jitcard::from_bytes::<List>(&at_limit).is_ok());
            let deeper = list_bytes(limits.max_depth + 1);
            let error = jitcard::from_bytes::<List>(&deeper).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Invalid {
                        kind: InvalidKind::TooDeep { max_depth: 1024 },
                        ..
                    }
                ),
                "{error:?}"
            );
            // Any depth decodes on a small thread when the limit allows it.
            let deep = list_bytes(100_000);
            let decoder = Decoder::<List>::new(Engine::Interpreter)
                .unwrap()
                .with_limits(DecodeLimits {
                    max_depth: 200_000,
                    ..limits
                });
            let list = decoder.decode(&deep).unwrap();
            assert_eq!(jitcard::to_vec(&list).unwrap(), deep);
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Runs of padding-free records of bytes and floats are one copy both ways
/// (the plan says "bulk copy"); a record with padding is not.
#[test]
fn runs_of_plain_records_are_copied_whole() {
    #[derive(Facet, Debug, PartialEq, Clone, Copy, serde::Serialize)]
    struct Vec3 {
        x: f32,
        y: f32,
        z: f32,
    }
    #[derive(Facet, Debug, PartialEq, Clone, Copy, serde::Serialize)]
    struct Triangle {
        corners: [Vec3; 3],
        normal: Vec3,
        tag: [u8; 4],
    }
    #[derive(Facet, Debug, PartialEq, Clone, Copy, serde::Serialize)]
    struct Gappy {
        tag: u8,
        value: f32,
    }
    let plan = Decoder::<Vec<Triangle>>::new(Engine::Interpreter)
        .unwrap()
        .plan()
        .to_string();
    assert!(plan.lines().next().is_some());
    assert!(
        plan.lines()
            .any(|l| l.contains("list") && l.contains("bulk copy")),
        "{plan}"
    );
    let gappy = Decoder::<Vec<Gappy>>::new(Engine::Interpreter)
        .unwrap()
        .plan()
        .to_string();
    assert!(!gappy.contains("bulk copy"), "{gappy}");
    let v = |i: f32| Vec3 {
        x: i,
        y: -i,
        z: i * 0.5,
    };
    let mesh: Vec<Triangle> = (0..50)
        .map(|i| Triangle {
            corners: [v(i as f32), v(1.0), v(f32::NAN.copysign(-1.0))],
            normal: v(2.0),
            tag: [i as u8, 1, 2, 255],
        })
        .collect();
    let bytes = postcard::to_allocvec(&mesh).unwrap();
    assert_eq!(jitcard::to_vec(&mesh).unwrap(), bytes);
    for engine in Engine::available() {
        let decoded = Decoder::<Vec<Triangle>>::new(engine)
            .unwrap()
            .decode(&bytes)
            .unwrap();
        assert_eq!(
            postcard::to_allocvec(&decoded).unwrap(),
            bytes,
            "{}",
            engine.name()
        );
        let short = &bytes[..bytes.len() - 1];
        let error = Decoder::<Vec<Triangle>>::new(engine)
            .unwrap()
            .decode(short)
            .unwrap_err();
        assert!(matches!(error, Error::Invalid { .. }), "{error}");
    }
}
