//! What encoders read inline instead of calling facet: option presence
//! (every kind of niche and tag), pointees of `Box`/`Arc`/`Rc`/references
//! thin and wide, slices, `char`s at every UTF-8 length and copies of every
//! short length. Each value is encoded by every engine and compared with
//! serde+postcard, for `None` and for `Some` of payloads at the edges of
//! their niches.

mod common;

use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;
use serde::Serialize;

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(u8)]
enum Small {
    A = 3,
    B = 7,
}

#[derive(Facet, Serialize, Debug, Clone)]
struct Record {
    count: u32,
    name: String,
}

#[derive(Facet, Serialize, Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Aligned16 {
    value: u8,
}

#[derive(Facet, Serialize, Debug, Clone)]
struct Options {
    flag: Option<bool>,
    letter: Option<char>,
    small: Option<Small>,
    nested: Option<Option<u32>>,
    nested_flag: Option<Option<Option<bool>>>,
    boxed: Option<Box<u64>>,
    shared: Option<Arc<u16>>,
    counted: Option<Rc<Aligned16>>,
    shared_text: Option<Arc<str>>,
    bytes: Option<Box<[u8]>>,
    text: Option<String>,
    list: Option<Vec<u32>>,
    record: Option<Record>,
    reference: Option<&'static str>,
    byte: Option<u8>,
    short: Option<i16>,
    word: Option<u64>,
    float: Option<f64>,
    wide: Option<u128>,
    signed_wide: Option<i128>,
}

fn none() -> Options {
    Options {
        flag: None,
        letter: None,
        small: None,
        nested: None,
        nested_flag: None,
        boxed: None,
        shared: None,
        counted: None,
        shared_text: None,
        bytes: None,
        text: None,
        list: None,
        record: None,
        reference: None,
        byte: None,
        short: None,
        word: None,
        float: None,
        wide: None,
        signed_wide: None,
    }
}

fn some(seed: u32) -> Options {
    let x = u64::from(seed);
    Options {
        flag: Some(seed & 1 == 1),
        letter: Some(char::from_u32(0x10FFFF - seed).unwrap_or('\u{D7FF}')),
        small: Some(if seed & 1 == 0 { Small::A } else { Small::B }),
        nested: Some((seed & 2 == 0).then_some(u32::MAX - seed)),
        nested_flag: Some((seed & 2 == 0).then_some((seed & 4 == 0).then_some(true))),
        boxed: Some(Box::new(x)),
        shared: Some(Arc::new(seed as u16)),
        counted: Some(Rc::new(Aligned16 { value: seed as u8 })),
        shared_text: Some(Arc::from("shared".repeat(seed as usize % 4))),
        bytes: Some(vec![seed as u8; seed as usize % 20].into_boxed_slice()),
        text: Some("t".repeat(seed as usize % 20)),
        list: Some(vec![seed; seed as usize % 5]),
        record: Some(Record {
            count: seed,
            name: "r".repeat(seed as usize % 3),
        }),
        reference: Some(if seed & 1 == 0 { "" } else { "reference" }),
        byte: Some(seed as u8),
        short: Some(-(seed as i16)),
        word: Some(u64::MAX - x),
        float: Some(-(x as f64)),
        wide: Some(u128::MAX - u128::from(x)),
        signed_wide: Some(i128::MIN + i128::from(x)),
    }
}

#[test]
fn every_kind_of_option_encodes_as_postcard_on_every_engine() {
    common::check_against(&none(), false).unwrap();
    for seed in [0, 1, 2, 3, 4, 5, 6, 7, 127, 128, 255, 256, 65_535, 0x10FFFF] {
        common::check_against(&some(seed), false).unwrap();
    }
}

#[test]
fn options_mixed_some_and_none_encode_as_postcard() {
    // Each field alone: a rule that misreads one option would show here.
    let mut value = none();
    let full = some(9);
    macro_rules! one_by_one {
        ($($field:ident),*) => {$(
            value.$field = full.$field.clone();
            common::check_against(&value, false).unwrap();
            value.$field = None;
        )*};
    }
    one_by_one!(
        flag,
        letter,
        small,
        nested,
        nested_flag,
        boxed,
        shared,
        counted,
        shared_text,
        bytes,
        text,
        list,
        record,
        reference,
        byte,
        short,
        word,
        float,
        wide,
        signed_wide
    );
}

#[derive(Facet, Serialize, Debug)]
struct Pointers {
    boxed: Box<Record>,
    shared: Arc<Record>,
    counted: Rc<u64>,
    aligned: Arc<Aligned16>,
    shared_text: Arc<str>,
    counted_text: Rc<str>,
    boxed_text: Box<str>,
    shared_words: Arc<[u32]>,
    counted_aligned: Rc<[Aligned16]>,
    boxed_bytes: Box<[u8]>,
    slice: &'static [u16],
    text: &'static str,
}

#[test]
fn pointees_and_slices_encode_as_postcard_on_every_engine() {
    for n in [0usize, 1, 3, 17] {
        let value = Pointers {
            boxed: Box::new(Record {
                count: n as u32,
                name: "b".repeat(n),
            }),
            shared: Arc::new(Record {
                count: 7,
                name: "s".repeat(n),
            }),
            counted: Rc::new(n as u64 * 1000),
            aligned: Arc::new(Aligned16 { value: n as u8 }),
            shared_text: Arc::from("x".repeat(n)),
            counted_text: Rc::from("ü".repeat(n)),
            boxed_text: "y".repeat(n).into_boxed_str(),
            shared_words: (0..n as u32).collect(),
            counted_aligned: (0..n).map(|i| Aligned16 { value: i as u8 }).collect(),
            boxed_bytes: vec![0xA5; n].into_boxed_slice(),
            slice: Box::leak((0..n as u16).collect::<Vec<_>>().into_boxed_slice()),
            text: Box::leak("z".repeat(n).into_boxed_str()),
        };
        common::check_against(&value, false).unwrap();
    }
}

#[derive(Facet, Serialize, Debug)]
struct Text {
    letter: char,
    text: String,
    bytes: Vec<u8>,
}

#[test]
fn chars_at_every_utf8_length_and_copies_of_every_short_length() {
    let letters = [
        '\0',
        'a',
        '\u{7F}',
        '\u{80}',
        'ß',
        '\u{7FF}',
        '\u{800}',
        '€',
        '\u{D7FF}',
        '\u{E000}',
        '\u{FFFF}',
        '\u{10000}',
        '😀',
        '\u{10FFFF}',
    ];
    for (i, letter) in letters.into_iter().enumerate() {
        // Every inline copy width (1-3, 4-7, 8-16, 17-32 and 33-64 bytes)
        // and past it (memcpy).
        for len in 0..=80usize {
            let value = Text {
                letter,
                text: (0..len)
                    .map(|at| char::from(b'a' + ((at * 7 + i) % 26) as u8))
                    .collect(),
                bytes: (0..len as u8)
                    .map(|b| b.wrapping_mul(31).wrapping_add(i as u8))
                    .collect(),
            };
            common::check_against(&value, false).unwrap();
        }
    }
}

#[derive(Facet, Serialize, Debug)]
struct Varints {
    wide: u64,
    signed: i64,
    word: u32,
    signed_word: i32,
    short: u16,
    signed_short: i16,
    list: Vec<u64>,
    optional: Option<u64>,
}

#[test]
fn varints_of_every_length_encode_as_postcard_on_every_engine() {
    // Both sides of every length boundary (7 * k bits), for the one-byte,
    // the branch-free (2 to 8 bytes) and the looping (9 and 10 bytes) paths.
    let mut values = vec![0u64, 1, u64::MAX, u64::MAX - 1];
    for k in 1..=9u32 {
        let edge = 1u64 << (7 * k);
        values.extend([edge - 1, edge, edge + 1]);
    }
    values.push(1 << 63);
    for &v in &values {
        let value = Varints {
            wide: v,
            signed: v as i64,
            word: v as u32,
            signed_word: v as i32,
            short: v as u16,
            signed_short: v as i16,
            list: values.iter().map(|w| w ^ v).collect(),
            optional: Some(v.rotate_left(13)),
        };
        common::check_against(&value, false).unwrap();
    }
}

#[derive(Facet, Serialize, Debug)]
struct Strings {
    tag: u8,
    first: String,
    second: &'static str,
    count: u32,
    third: String,
    nested: Record,
    last: String,
}

#[test]
fn runs_of_strings_share_one_capacity_check_at_every_size() {
    // Short, long and buffer-growing lengths, so the shared check must
    // cover every string of the run whatever the buffer already holds.
    for (i, len) in [0usize, 1, 7, 16, 17, 300, 70_000, 1 << 20]
        .into_iter()
        .enumerate()
    {
        let value = Strings {
            tag: i as u8,
            first: "a".repeat(len),
            second: Box::leak("b".repeat(len / 2 + 1).into_boxed_str()),
            count: len as u32,
            third: "c".repeat(len.saturating_sub(1)),
            nested: Record {
                count: 3,
                name: "d".repeat(len / 3),
            },
            last: "e".repeat(len % 5),
        };
        common::check_against(&value, false).unwrap();
    }
}

#[derive(Facet, Serialize, Debug)]
struct Wide128 {
    unsigned: u128,
    signed: i128,
    list: Vec<i128>,
    optional: Option<u128>,
}

#[test]
fn varints_of_128_bit_integers_encode_as_postcard_on_every_engine() {
    // Both sides of every length boundary (7 * k bits, up to 19 bytes), of
    // 2^64 (the high word becomes non-zero) and of 2^120 (the inline split
    // ends, the helper takes over), and the extremes.
    let mut values = vec![0u128, 1, u128::MAX, u128::MAX - 1, 1 << 127];
    for k in 1..=18u32 {
        let edge = 1u128 << (7 * k);
        values.extend([edge - 1, edge, edge + 1]);
    }
    for bits in [56u32, 63, 64, 65, 119, 120, 121, 126] {
        let edge = 1u128 << bits;
        values.extend([edge - 1, edge, edge + 1]);
    }
    for &v in &values {
        let value = Wide128 {
            unsigned: v,
            signed: v as i128,
            list: vec![
                v as i128,
                (v as i128).wrapping_neg(),
                (v >> 1) as i128,
                !(v as i128),
            ],
            optional: Some(v.rotate_left(61)),
        };
        common::check_against(&value, false).unwrap();
    }
}
