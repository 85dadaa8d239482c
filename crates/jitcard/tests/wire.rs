//! The wire core against postcard itself, on the boundary values where
//! varint lengths change and zigzag wraps.

use jitcard::wire;

fn encoded(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![];
    write(&mut out);
    out
}

const U64_BOUNDARIES: &[u64] = &[
    0,
    1,
    127,
    128,
    255,
    256,
    16_383,
    16_384,
    2_097_151,
    2_097_152,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    (1 << 56) - 1,
    1 << 56,
    (1 << 63) - 1,
    1 << 63,
    u64::MAX,
];

#[test]
fn unsigned_varints_match_postcard() {
    for &v in U64_BOUNDARIES {
        let ours = encoded(|o| wire::write_varint_u64(o, v));
        assert_eq!(ours, postcard::to_allocvec(&v).unwrap(), "u64 {v}");
        assert!(ours.len() <= wire::MAX_VARINT_U64_LEN);
        if let Ok(v32) = u32::try_from(v) {
            assert_eq!(ours, postcard::to_allocvec(&v32).unwrap(), "u32 {v32}");
        }
        if let Ok(v16) = u16::try_from(v) {
            assert_eq!(ours, postcard::to_allocvec(&v16).unwrap(), "u16 {v16}");
        }
        assert_eq!(
            ours,
            postcard::to_allocvec(&(v as usize)).unwrap(),
            "usize {v}"
        );
        let wide = encoded(|o| wire::write_varint_u128(o, u128::from(v)));
        assert_eq!(wide, ours, "u128 agrees with u64 on {v}");
    }
    for v in [u128::from(u64::MAX) + 1, 1 << 126, u128::MAX - 1, u128::MAX] {
        let ours = encoded(|o| wire::write_varint_u128(o, v));
        assert_eq!(ours, postcard::to_allocvec(&v).unwrap(), "u128 {v}");
        assert!(ours.len() <= wire::MAX_VARINT_U128_LEN);
    }
}

#[test]
fn signed_varints_match_postcard() {
    let mut values: Vec<i64> = vec![
        i64::MIN,
        i64::MIN + 1,
        i64::MAX,
        -1,
        0,
        1,
        -64,
        63,
        -65,
        64,
        -8192,
        8191,
        -8193,
        8192,
    ];
    values.extend([i32::MIN, i32::MAX].map(i64::from));
    values.extend([i16::MIN, i16::MAX].map(i64::from));
    for v in values {
        let ours = encoded(|o| wire::write_varint_i64(o, v));
        assert_eq!(ours, postcard::to_allocvec(&v).unwrap(), "i64 {v}");
        if let Ok(v32) = i32::try_from(v) {
            assert_eq!(ours, postcard::to_allocvec(&v32).unwrap(), "i32 {v32}");
        }
        if let Ok(v16) = i16::try_from(v) {
            assert_eq!(ours, postcard::to_allocvec(&v16).unwrap(), "i16 {v16}");
        }
        assert_eq!(
            ours,
            postcard::to_allocvec(&(v as isize)).unwrap(),
            "isize {v}"
        );
        assert_eq!(
            encoded(|o| wire::write_varint_i128(o, i128::from(v))),
            ours,
            "i128 agrees on {v}"
        );
    }
    for v in [
        i128::MIN,
        i128::MIN + 1,
        i128::MAX,
        i128::from(i64::MIN) - 1,
        i128::from(i64::MAX) + 1,
    ] {
        assert_eq!(
            encoded(|o| wire::write_varint_i128(o, v)),
            postcard::to_allocvec(&v).unwrap(),
            "i128 {v}"
        );
    }
}

#[test]
fn zigzag_is_postcards_mapping() {
    assert_eq!(wire::zigzag_i64(0), 0);
    assert_eq!(wire::zigzag_i64(-1), 1);
    assert_eq!(wire::zigzag_i64(1), 2);
    assert_eq!(wire::zigzag_i64(i64::MIN), u64::MAX);
    assert_eq!(wire::zigzag_i64(i64::MAX), u64::MAX - 1);
    assert_eq!(wire::zigzag_i128(i128::MIN), u128::MAX);
}

#[test]
fn floats_bools_chars_and_bytes_match_postcard() {
    for v in [
        0.0f32,
        -0.0,
        1.5,
        f32::MIN,
        f32::MAX,
        f32::NAN,
        f32::INFINITY,
        f32::MIN_POSITIVE,
    ] {
        assert_eq!(
            encoded(|o| wire::write_f32(o, v)),
            postcard::to_allocvec(&v).unwrap(),
            "f32 {v}"
        );
    }
    for v in [
        0.0f64,
        -0.0,
        1.5,
        f64::MIN,
        f64::MAX,
        f64::NAN,
        f64::NEG_INFINITY,
    ] {
        assert_eq!(
            encoded(|o| wire::write_f64(o, v)),
            postcard::to_allocvec(&v).unwrap(),
            "f64 {v}"
        );
    }
    for v in [false, true] {
        assert_eq!(
            encoded(|o| wire::write_bool(o, v)),
            postcard::to_allocvec(&v).unwrap()
        );
    }
    for v in [
        '\0',
        'a',
        '\u{7f}',
        '\u{80}',
        'ß',
        '\u{7ff}',
        '\u{800}',
        '€',
        '\u{ffff}',
        '\u{10000}',
        '𝄞',
        char::MAX,
    ] {
        assert_eq!(
            encoded(|o| wire::write_char(o, v)),
            postcard::to_allocvec(&v).unwrap(),
            "char {v:?}"
        );
    }
    for len in [0usize, 1, 127, 128, 300, 16_384] {
        let text = "x".repeat(len);
        assert_eq!(
            encoded(|o| wire::write_bytes(o, text.as_bytes())),
            postcard::to_allocvec(&text).unwrap(),
            "str of {len}"
        );
    }
}

#[test]
fn varints_of_random_widths_match_postcard() {
    // Every bit width, many values each (xorshift, deterministic).
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for bits in 0..=128u32 {
        for _ in 0..64 {
            let wide = (u128::from(next()) << 64 | u128::from(next())) >> (128 - bits.max(1));
            let wide = if bits == 0 {
                0
            } else {
                wide | 1u128 << (bits - 1)
            };
            let expected = postcard::to_allocvec(&wide).unwrap();
            assert_eq!(
                encoded(|out| wire::write_varint_u128(out, wide)),
                expected,
                "{wide}"
            );
            if bits <= 64 {
                let narrow = wide as u64;
                let expected = postcard::to_allocvec(&narrow).unwrap();
                assert_eq!(
                    encoded(|out| wire::write_varint_u64(out, narrow)),
                    expected,
                    "{narrow}"
                );
            }
        }
    }
}

/// The length functions (`serialized_size`'s arithmetic) agree with what
/// the writers write.
#[test]
fn lengths_match_the_writers() {
    for &value in U64_BOUNDARIES {
        for v in [value, value.wrapping_sub(1), value.wrapping_add(1)] {
            assert_eq!(
                wire::varint_len(v),
                encoded(|out| wire::write_varint_u64(out, v)).len(),
                "{v}"
            );
        }
    }
    for len in [0usize, 1, 127, 128, 16_383, 16_384, 70_000] {
        let bytes = vec![7u8; len];
        assert_eq!(
            wire::bytes_len(len),
            encoded(|out| wire::write_bytes(out, &bytes)).len()
        );
    }
    for c in [
        '\0',
        'a',
        '\u{7f}',
        '\u{80}',
        'λ',
        '\u{7ff}',
        '\u{800}',
        '\u{ffff}',
        '\u{10000}',
        char::MAX,
    ] {
        assert_eq!(
            wire::char_len(c),
            encoded(|out| wire::write_char(out, c)).len(),
            "{c:?}"
        );
    }
}
