//! The postcard 1.x wire core: how each primitive of the serde data model is
//! written as bytes.
//!
//! Everything else in jitcard (the plan, the interpreter, later the JIT) is a
//! way of deciding *which* of these writers to call on *which* bytes of a value;
//! this module is the only place that knows the byte encodings themselves.
//!
//! - `bool`, `u8`, `i8`: one raw byte.
//! - `u16..u128`, `usize`: unsigned LEB128 varint.
//! - `i16..i128`, `isize`: zigzag, then varint.
//! - `f32`, `f64`: little-endian IEEE bytes.
//! - `char`, strings, byte strings: varint length, then the (UTF-8) bytes.

/// Longest varint of a `u64` (ceil(64 / 7)).
pub const MAX_VARINT_U64_LEN: usize = 10;
/// Longest varint of a `u128` (ceil(128 / 7)).
pub const MAX_VARINT_U128_LEN: usize = 19;

/// Zigzag-maps a signed 64-bit integer so small magnitudes get small codes.
#[inline]
pub const fn zigzag_i64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Zigzag-maps a signed 128-bit integer so small magnitudes get small codes.
#[inline]
pub const fn zigzag_i128(value: i128) -> u128 {
    ((value << 1) ^ (value >> 127)) as u128
}

/// Writes `value` as an unsigned LEB128 varint into `bytes` and returns how
/// many bytes it took.
#[inline]
pub fn encode_varint_u64(mut value: u64, bytes: &mut [u8; MAX_VARINT_U64_LEN]) -> usize {
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    len + 1
}

/// Writes `value` as an unsigned LEB128 varint into `bytes` and returns how
/// many bytes it took.
#[inline]
pub fn encode_varint_u128(mut value: u128, bytes: &mut [u8; MAX_VARINT_U128_LEN]) -> usize {
    let mut len = 0;
    while value >= 0x80 {
        bytes[len] = (value as u8) | 0x80;
        value >>= 7;
        len += 1;
    }
    bytes[len] = value as u8;
    len + 1
}

/// Appends `value` as an unsigned LEB128 varint (what postcard writes for
/// `u16`, `u32`, `u64`, `usize`, lengths and enum variant indices).
#[inline]
pub fn write_varint_u64(out: &mut Vec<u8>, value: u64) {
    let mut bytes = [0u8; MAX_VARINT_U64_LEN];
    let len = encode_varint_u64(value, &mut bytes);
    out.extend_from_slice(&bytes[..len]);
}

/// Appends `value` as an unsigned LEB128 varint (postcard's `u128`).
#[inline]
pub fn write_varint_u128(out: &mut Vec<u8>, value: u128) {
    let mut bytes = [0u8; MAX_VARINT_U128_LEN];
    let len = encode_varint_u128(value, &mut bytes);
    out.extend_from_slice(&bytes[..len]);
}

/// Appends a signed integer of up to 64 bits (postcard's `i16`, `i32`, `i64`, `isize`).
#[inline]
pub fn write_varint_i64(out: &mut Vec<u8>, value: i64) {
    write_varint_u64(out, zigzag_i64(value));
}

/// Appends a signed 128-bit integer (postcard's `i128`).
#[inline]
pub fn write_varint_i128(out: &mut Vec<u8>, value: i128) {
    write_varint_u128(out, zigzag_i128(value));
}

/// Appends a `bool` as one byte, 0 or 1.
#[inline]
pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(value as u8);
}

/// Appends an `f32` as its four little-endian bytes.
#[inline]
pub fn write_f32(out: &mut Vec<u8>, value: f32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends an `f64` as its eight little-endian bytes.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a length-prefixed byte string (postcard's `str` and `bytes`).
#[inline]
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a `char` the way serde serializes it: as a UTF-8 string.
#[inline]
pub fn write_char(out: &mut Vec<u8>, value: char) {
    let mut utf8 = [0u8; 4];
    write_bytes(out, value.encode_utf8(&mut utf8).as_bytes());
}
