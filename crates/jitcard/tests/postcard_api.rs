//! postcard's entry points and their jitcard equivalents: `to_slice`,
//! `to_io`, `serialized_size`, `max_size` and the COBS forms produce
//! postcard's bytes (and sizes) on every engine, fail cleanly on short
//! buffers, and round-trip with postcard in both directions.

use std::fmt::Debug;

use facet::Facet;
use jitcard::{Decoder, Encoder, Error, InvalidKind};
use jitcard_bench::cases::jitcard_engines_under_test;
use jitcard_bench::workloads::{
    GnarlyPayload, ManyVariants, Mesh, NumericBuffer, OptionHeavy, PointerHeavy, Tree, WideStruct,
};
use postcard::experimental::max_size::MaxSize;
use serde::{Deserialize, Serialize};

/// A copy of `bytes` that lives as long as the test (decoded values may
/// borrow from it).
fn leaked(bytes: &[u8]) -> &'static mut [u8] {
    Box::leak(bytes.to_vec().into_boxed_slice())
}

/// `check_encoding`, then the COBS forms round-trip with postcard's.
fn check<T>(value: &T)
where
    T: Facet<'static> + Serialize + for<'de> Deserialize<'de> + Debug + PartialEq,
{
    check_encoding(value);
    let name = std::any::type_name::<T>();
    let expected_cobs = postcard::to_allocvec_cobs(value).unwrap();
    for engine in jitcard_engines_under_test() {
        let label = format!("{name} on {}", engine.name());
        let encoder = Encoder::<T>::new(engine).unwrap();
        let decoder = Decoder::<T>::new(engine).unwrap();
        // COBS both ways: postcard reads jitcard's frames, jitcard postcard's.
        let mut frame = encoder.to_vec_cobs(value).unwrap();
        assert_eq!(
            &postcard::from_bytes_cobs::<T>(&mut frame).unwrap(),
            value,
            "{label}"
        );
        assert_eq!(
            &decoder.decode_cobs(leaked(&expected_cobs)).unwrap(),
            value,
            "{label}"
        );
        // Two frames back to back: `take_cobs` returns the second untouched.
        let frames = leaked(&[expected_cobs.clone(), expected_cobs.clone()].concat());
        let (first, rest) = decoder.take_cobs(frames).unwrap();
        assert_eq!(&first, value, "{label}");
        assert_eq!(rest, &expected_cobs[..], "{label}");
    }
    let (first, rest) = jitcard::take_from_bytes_cobs::<T>(leaked(&expected_cobs)).unwrap();
    assert_eq!((&first, rest.len()), (value, 0), "{name}");
    assert_eq!(
        &jitcard::from_bytes_cobs::<T>(leaked(&expected_cobs)).unwrap(),
        value,
        "{name}"
    );
}

/// Every postcard-shaped encoding function of jitcard, on every engine and
/// the default one, against postcard's own on `value`.
fn check_encoding<T>(value: &T)
where
    T: Facet<'static> + Serialize + Debug,
{
    let name = std::any::type_name::<T>();
    let expected = postcard::to_allocvec(value).unwrap();
    let n = expected.len();
    let expected_cobs = postcard::to_allocvec_cobs(value).unwrap();
    assert_eq!(postcard::experimental::serialized_size(value).unwrap(), n);

    // The default engine's free functions.
    assert_eq!(jitcard::serialized_size(value).unwrap(), n, "{name}");
    let mut buf = vec![0xAAu8; n + 7];
    assert_eq!(
        jitcard::to_slice(value, &mut buf).unwrap(),
        &expected[..],
        "{name}"
    );
    assert_eq!(&buf[n..], &[0xAA; 7]);
    assert_eq!(
        jitcard::to_io(value, Vec::new()).unwrap(),
        expected,
        "{name}"
    );
    assert_eq!(
        jitcard::to_vec_cobs(value).unwrap(),
        expected_cobs,
        "{name}"
    );
    let mut buf = vec![0u8; expected_cobs.len()];
    assert_eq!(
        jitcard::to_slice_cobs(value, &mut buf).unwrap(),
        &expected_cobs[..]
    );
    short_buffers_fail(name, n, |buf| jitcard::to_slice(value, buf));
    short_buffers_fail(name, expected_cobs.len(), |buf| {
        jitcard::to_slice_cobs(value, buf)
    });

    for engine in jitcard_engines_under_test() {
        let label = format!("{name} on {}", engine.name());
        let encoder = Encoder::<T>::new(engine).unwrap();
        assert_eq!(encoder.serialized_size(value).unwrap(), n, "{label}");
        let mut buf = vec![0u8; n];
        assert_eq!(
            encoder.encode_to_slice(value, &mut buf).unwrap(),
            &expected[..],
            "{label}"
        );
        assert_eq!(
            encoder.encode_to_io(value, Vec::new()).unwrap(),
            expected,
            "{label}"
        );
        assert_eq!(
            encoder.to_vec_cobs(value).unwrap(),
            expected_cobs,
            "{label}"
        );
        let mut buf = vec![0u8; expected_cobs.len()];
        assert_eq!(
            encoder.encode_to_slice_cobs(value, &mut buf).unwrap(),
            &expected_cobs[..],
            "{label}"
        );
        short_buffers_fail(&label, n, |buf| encoder.encode_to_slice(value, buf));
    }
}

/// An encoding of `needed` bytes into every shorter buffer (up to 40
/// lengths) fails with `BufferTooSmall` and leaves the buffer, and the
/// bytes after it, as they were.
fn short_buffers_fail(
    label: &str,
    needed: usize,
    mut encode: impl FnMut(&mut [u8]) -> Result<&mut [u8], Error>,
) {
    for available in (0..needed).rev().take(40) {
        let mut backing = vec![0x5Au8; needed + 8];
        let result = encode(&mut backing[..available]).map(|b| b.len());
        assert_eq!(
            result,
            Err(Error::BufferTooSmall { needed, available }),
            "{label}: {available}-byte buffer"
        );
        assert!(
            backing.iter().all(|&b| b == 0x5A),
            "{label}: wrote into a short buffer"
        );
    }
}

#[test]
fn workloads_match_postcard_everywhere() {
    check(&GnarlyPayload::new(16, 7));
    check(&WideStruct::new(3));
    check(&ManyVariants::list(64, 5));
    check(&Tree::new(5, 9));
    check(&NumericBuffer::new(300, 2));
    check(&OptionHeavy::list(20, 4));
    check_encoding(&PointerHeavy::list(8, 6));
    check(&Mesh::new(50, 1));
}

#[derive(Facet, Serialize, Deserialize, MaxSize, Debug, PartialEq, Clone, Copy)]
struct Sensor {
    id: u16,
    reading: i32,
    calibrated: bool,
    scale: f32,
    offset: Option<i64>,
    tag: [u8; 3],
    unit: Unit,
    letter: char,
    wide: u128,
}

#[derive(Facet, Serialize, Deserialize, MaxSize, Debug, PartialEq, Clone, Copy)]
#[repr(u8)]
enum Unit {
    None,
    Celsius(i8),
    Range { low: u32, high: u32 },
}

#[derive(Facet, Serialize, Deserialize, MaxSize, Debug, PartialEq)]
struct Wrapper(Option<Sensor>, (), [Unit; 2], Result<u8, u64>);

#[test]
fn small_values_match_postcard_everywhere() {
    let sensor = Sensor {
        id: 300,
        reading: -5,
        calibrated: true,
        scale: 1.5,
        offset: None,
        tag: [0, 1, 0],
        unit: Unit::Range {
            low: 0,
            high: 1 << 31,
        },
        letter: 'λ',
        wide: u128::MAX / 3,
    };
    check(&sensor);
    check(&Wrapper(
        Some(sensor),
        (),
        [Unit::None, Unit::Celsius(-1)],
        Err(7),
    ));
    check(&Wrapper(None, (), [Unit::None, Unit::None], Ok(0)));
    check(&0u8);
    check(&String::from("zeros \0 inside \0\0"));
    check(&vec![0u8; 600]);
    check(&());
    check(&Vec::<u8>::new());
}

/// COBS blocks end at every zero and after 254 non-zero bytes: frames of
/// byte strings around those lengths, with and without zeros, are
/// postcard's byte for byte.
#[test]
fn cobs_block_boundaries_match_postcard() {
    for len in (0..8).chain(248..262).chain(500..512).chain(760..766) {
        check(&vec![0xA5u8; len]);
        let mut with_zeros = vec![0x5Au8; len];
        for at in (0..len).step_by(127) {
            with_zeros[at] = 0;
        }
        check(&with_zeros);
    }
}

/// The largest value of each bounded test type encodes to exactly
/// `max_size`, which equals postcard's `POSTCARD_MAX_SIZE`.
#[test]
fn max_size_is_exact_and_agrees_with_postcard() {
    assert_eq!(
        jitcard::max_size::<Sensor>(),
        Some(Sensor::POSTCARD_MAX_SIZE)
    );
    assert_eq!(jitcard::max_size::<Unit>(), Some(Unit::POSTCARD_MAX_SIZE));
    assert_eq!(
        jitcard::max_size::<Wrapper>(),
        Some(Wrapper::POSTCARD_MAX_SIZE)
    );
    assert_eq!(jitcard::max_size::<u64>(), Some(u64::POSTCARD_MAX_SIZE));
    assert_eq!(jitcard::max_size::<i16>(), Some(3));
    assert_eq!(jitcard::max_size::<char>(), Some(char::POSTCARD_MAX_SIZE));
    assert_eq!(jitcard::max_size::<[u32; 0]>(), Some(0));
    assert_eq!(jitcard::max_size::<[String; 0]>(), Some(0));
    assert_eq!(jitcard::max_size::<()>(), Some(0));

    let largest = Sensor {
        id: u16::MAX,
        reading: i32::MIN,
        calibrated: true,
        scale: f32::MAX,
        offset: Some(i64::MIN),
        tag: [255; 3],
        unit: Unit::Range {
            low: u32::MAX,
            high: u32::MAX,
        },
        letter: char::MAX,
        wide: u128::MAX,
    };
    assert_eq!(
        jitcard::to_vec(&largest).unwrap().len(),
        jitcard::max_size::<Sensor>().unwrap()
    );
    let encoder = Encoder::<Sensor>::new(jitcard::Engine::Interpreter).unwrap();
    assert_eq!(encoder.max_size(), jitcard::max_size::<Sensor>());
}

#[test]
fn unbounded_types_have_no_max_size() {
    assert_eq!(jitcard::max_size::<String>(), None);
    assert_eq!(jitcard::max_size::<Vec<u8>>(), None);
    assert_eq!(jitcard::max_size::<Option<Vec<u8>>>(), None);
    assert_eq!(
        jitcard::max_size::<std::collections::BTreeMap<u8, u8>>(),
        None
    );
    assert_eq!(jitcard::max_size::<Tree>(), None);
    assert_eq!(jitcard::max_size::<GnarlyPayload>(), None);
    assert_eq!(jitcard::max_size::<std::time::Duration>(), None);
    assert_eq!(jitcard::max_size::<[String; 2]>(), None);
}

/// 128 variants: indices 0..=127 fit one tag byte. postcard's derive counts
/// the varint of the variant *count* (128: two bytes); jitcard is exact.
#[derive(Facet, Serialize, Deserialize, MaxSize, Debug, PartialEq)]
#[repr(u8)]
enum Many128 {
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
    V6,
    V7,
    V8,
    V9,
    V10,
    V11,
    V12,
    V13,
    V14,
    V15,
    V16,
    V17,
    V18,
    V19,
    V20,
    V21,
    V22,
    V23,
    V24,
    V25,
    V26,
    V27,
    V28,
    V29,
    V30,
    V31,
    V32,
    V33,
    V34,
    V35,
    V36,
    V37,
    V38,
    V39,
    V40,
    V41,
    V42,
    V43,
    V44,
    V45,
    V46,
    V47,
    V48,
    V49,
    V50,
    V51,
    V52,
    V53,
    V54,
    V55,
    V56,
    V57,
    V58,
    V59,
    V60,
    V61,
    V62,
    V63,
    V64,
    V65,
    V66,
    V67,
    V68,
    V69,
    V70,
    V71,
    V72,
    V73,
    V74,
    V75,
    V76,
    V77,
    V78,
    V79,
    V80,
    V81,
    V82,
    V83,
    V84,
    V85,
    V86,
    V87,
    V88,
    V89,
    V90,
    V91,
    V92,
    V93,
    V94,
    V95,
    V96,
    V97,
    V98,
    V99,
    V100,
    V101,
    V102,
    V103,
    V104,
    V105,
    V106,
    V107,
    V108,
    V109,
    V110,
    V111,
    V112,
    V113,
    V114,
    V115,
    V116,
    V117,
    V118,
    V119,
    V120,
    V121,
    V122,
    V123,
    V124,
    V125,
    V126,
    Last(u16),
}

#[test]
fn enum_tags_are_exact_where_postcard_rounds_up() {
    assert_eq!(Many128::POSTCARD_MAX_SIZE, 2 + 3);
    assert_eq!(jitcard::max_size::<Many128>(), Some(1 + 3));
    let largest = Many128::Last(u16::MAX);
    assert_eq!(postcard::to_allocvec(&largest).unwrap().len(), 4);
    check(&largest);
    check(&Many128::V0);
}

#[test]
fn malformed_frames_are_invalid_input() {
    // A code byte (5) pointing past the frame's end.
    let mut frame = [5u8, 1, 2, 0];
    match jitcard::from_bytes_cobs::<u32>(&mut frame) {
        Err(Error::Invalid {
            kind: InvalidKind::BadCobsFrame { .. },
            ..
        }) => {}
        other => panic!("expected BadCobsFrame, got {other:?}"),
    }
    let mut empty: [u8; 0] = [];
    assert!(matches!(
        jitcard::from_bytes_cobs::<u8>(&mut empty),
        Err(Error::Invalid {
            kind: InvalidKind::BadCobsFrame { decoded: 0 },
            ..
        })
    ));
    // A valid frame of invalid postcard: the decoder's own error.
    let mut frame = postcard::to_allocvec_cobs(&2u8).unwrap();
    assert!(matches!(
        jitcard::from_bytes_cobs::<bool>(&mut frame),
        Err(Error::Invalid {
            kind: InvalidKind::BadBool(2),
            ..
        })
    ));
}

#[test]
fn io_errors_are_reported() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    match jitcard::to_io(&"hello", Full) {
        Err(Error::Io { kind, message }) => {
            assert_eq!(kind, std::io::ErrorKind::StorageFull);
            assert!(message.contains("disk full"), "{message}");
        }
        other => panic!("expected Io, got {:?}", other.map(|_| ())),
    }
}

#[derive(Facet, Debug)]
struct WithDelegatedParts {
    name: String,
    elapsed: std::time::Duration,
    later: Option<std::time::Duration>,
    counts: Vec<u32>,
}

/// Parts delegated to facet-postcard are sized by what it writes, on every
/// engine (the JIT's size-only code calls it into a scratch vector).
#[test]
fn serialized_size_counts_delegated_parts() {
    let value = WithDelegatedParts {
        name: "timer".into(),
        elapsed: std::time::Duration::new(3, 500),
        later: Some(std::time::Duration::from_millis(1500)),
        counts: vec![1, 300, 70000],
    };
    let expected = jitcard::to_vec(&value).unwrap().len();
    assert_eq!(jitcard::serialized_size(&value).unwrap(), expected);
    for engine in jitcard_engines_under_test() {
        let encoder = Encoder::<WithDelegatedParts>::new(engine).unwrap();
        assert_eq!(
            encoder.to_vec(&value).unwrap().len(),
            expected,
            "{}",
            engine.name()
        );
        assert_eq!(
            encoder.serialized_size(&value).unwrap(),
            expected,
            "{}",
            engine.name()
        );
    }
}

/// `serialized_size` fails where encoding fails, with the same error.
#[test]
fn serialized_size_fails_like_encoding() {
    let tree = Tree::new(6, 3);
    for engine in jitcard_engines_under_test() {
        let encoder = Encoder::<Tree>::new(engine).unwrap().with_max_depth(3);
        let encoded = encoder.to_vec(&tree).unwrap_err();
        assert!(matches!(encoded, Error::TooDeep { .. }), "{encoded:?}");
        assert_eq!(
            encoder.serialized_size(&tree).unwrap_err(),
            encoded,
            "{}",
            engine.name()
        );
        let mut buf = [0u8; 4096];
        assert_eq!(
            encoder.encode_to_slice(&tree, &mut buf).unwrap_err(),
            encoded
        );
        assert!(
            buf.iter().all(|&b| b == 0),
            "a failed encode wrote to the slice"
        );
    }
}
