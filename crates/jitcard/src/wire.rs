//! The postcard 1.x wire core: how each primitive of the serde data model is
//! written as bytes, and which bytes are accepted back.
//!
//! Everything else in jitcard (the plan, the interpreter, later the JIT) is a
//! way of deciding *which* of these writers and readers to call on *which*
//! bytes of a value; this module is the only place that knows the byte
//! encodings and postcard's validation rules themselves.
//!
//! - `bool`, `u8`, `i8`: one raw byte.
//! - `u16..u128`, `usize`: unsigned LEB128 varint.
//! - `i16..i128`, `isize`: zigzag, then varint.
//! - `f32`, `f64`: little-endian IEEE bytes.
//! - `char`, strings, byte strings: varint length, then the (UTF-8) bytes.
//!
//! Reading follows `postcard::de::Deserializer` exactly: a varint of an
//! `N`-bit integer has at most [`VarintWidth::max_len`] bytes, and its last
//! possible byte carries only the bits left ([`VarintWidth::last_byte_max`]);
//! continuation groups of zero within that budget are accepted (overlong
//! encodings). `bool` and the `Option` tag are exactly 0 or 1; an enum's
//! variant index (and a `Result`'s) is a `u32` varint; a `char` is a string
//! of at most 4 bytes holding exactly one char; lengths are `usize` varints.

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

/// The low 56 bits of `value` as eight 7-bit groups, one per byte, least
/// significant first (continuation bits clear): three mask-and-shift steps
/// instead of a loop over bytes.
#[inline]
const fn spread_7bit_groups(value: u64) -> u64 {
    let v = (value & 0x0000_0000_0FFF_FFFF) | ((value & 0x00FF_FFFF_F000_0000) << 4);
    let v = (v & 0x0000_3FFF_0000_3FFF) | ((v & 0x0FFF_C000_0FFF_C000) << 2);
    (v & 0x007F_007F_007F_007F) | ((v & 0x3F80_3F80_3F80_3F80) << 1)
}

/// The continuation bit of every byte of a word.
const ALL_CONTINUE: u64 = 0x8080_8080_8080_8080;

/// Every varint's length and continuation bits by the leading zeros of its
/// value (`value.leading_zeros()`, `0..=64`), for writers that look them up
/// instead of computing them (generated encoders: two loads replace a chain
/// of multiplies and shifts).
#[repr(C)]
pub(crate) struct VarintShapes {
    /// The continuation bits of the first eight bytes: every byte but the
    /// last for lengths up to 8 (none for 1), all eight from 9 bytes on.
    pub(crate) continued: [u64; 65],
    /// The length in bytes ([`varint_len`]).
    pub(crate) len: [u64; 65],
}

/// [`VarintShapes`] of every count of leading zeros.
pub(crate) static VARINT_SHAPES: VarintShapes = {
    let mut shapes = VarintShapes {
        continued: [0; 65],
        len: [0; 65],
    };
    let mut leading = 0;
    while leading <= 64 {
        let value = if leading == 64 {
            0
        } else {
            u64::MAX >> leading
        };
        let len = varint_len(value);
        shapes.len[leading] = len as u64;
        shapes.continued[leading] = if len >= 9 {
            ALL_CONTINUE
        } else {
            ALL_CONTINUE >> (8 * (9 - len) - 8) >> 8
        };
        leading += 1;
    }
    shapes
};

/// `value` as an unsigned LEB128 varint: its first eight bytes as a
/// little-endian word, the next two (zero when unused) and the length.
///
/// No loop: below 2^56 the bytes are [`spread_7bit_groups`] with the
/// continuation bit on all but the last; from 2^56 all eight continue and
/// the top 8 bits follow in one or two bytes.
#[inline(always)]
fn varint_u64_words(value: u64) -> (u64, u16, usize) {
    if value < 0x80 {
        return (value, 0, 1);
    }
    let groups = spread_7bit_groups(value);
    if value < 1 << 56 {
        // 2..=8 bytes here, looked up rather than divided out.
        let shape = value.leading_zeros() as usize;
        let len = VARINT_SHAPES.len[shape] as usize;
        return (groups | VARINT_SHAPES.continued[shape], 0, len);
    }
    // The top 8 bits are the ninth byte, whose own top bit is its
    // continuation bit; that bit again is the tenth byte.
    let top = value >> 56;
    let tenth = top >> 7;
    (
        groups | ALL_CONTINUE,
        (top | tenth << 8) as u16,
        9 + tenth as usize,
    )
}

/// Writes `value` as an unsigned LEB128 varint into `bytes` and returns how
/// many bytes it took (bytes past that may be overwritten too).
#[inline]
pub fn encode_varint_u64(value: u64, bytes: &mut [u8; MAX_VARINT_U64_LEN]) -> usize {
    let (low, high, len) = varint_u64_words(value);
    bytes[..8].copy_from_slice(&low.to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    len
}

/// Writes `value` as an unsigned LEB128 varint into `bytes` and returns how
/// many bytes it took: 56 bits (eight continued bytes) at a time while more
/// than 56 remain, then the rest as a `u64` varint.
#[inline]
pub fn encode_varint_u128(value: u128, bytes: &mut [u8; MAX_VARINT_U128_LEN]) -> usize {
    let mut len = 0;
    let mut rest = value;
    while rest >> 56 != 0 && rest >> 64 != 0 {
        let word = spread_7bit_groups(rest as u64) | ALL_CONTINUE;
        bytes[len..len + 8].copy_from_slice(&word.to_le_bytes());
        len += 8;
        rest >>= 56;
    }
    let mut tail = [0u8; MAX_VARINT_U64_LEN];
    let tail_len = encode_varint_u64(rest as u64, &mut tail);
    bytes[len..len + tail_len].copy_from_slice(&tail[..tail_len]);
    len + tail_len
}

/// Appends `value` as an unsigned LEB128 varint (what postcard writes for
/// `u16`, `u32`, `u64`, `usize`, lengths and enum variant indices).
///
/// The words are stored straight into the vector's spare room (not through
/// a buffer on the stack, whose byte stores a wider reload would wait for).
///
/// Forced inline in optimized builds: the interpreter writes most of its
/// integers here, from a walk whose size alone would make the compiler
/// call it. Debug builds keep the call, so a deep value's interpreter
/// frames do not each carry its locals.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub fn write_varint_u64(out: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let (low, high, len) = varint_u64_words(value);
    out.reserve(MAX_VARINT_U64_LEN);
    let at = out.len();
    // SAFETY: `reserve` made room for `MAX_VARINT_U64_LEN` (10) bytes past
    // the length; the two stores initialize all ten, and the new length
    // covers `len <= 10` of them.
    unsafe {
        let end = out.as_mut_ptr().add(at);
        end.cast::<[u8; 8]>().write_unaligned(low.to_le_bytes());
        end.add(8)
            .cast::<[u8; 2]>()
            .write_unaligned(high.to_le_bytes());
        out.set_len(at + len);
    }
}

/// Appends the first `len` of `bytes` (a small fixed-size buffer): all of
/// `bytes` is copied past the end, a constant-size copy, and the length
/// then covers the first `len`.
#[inline]
fn append_prefix<const N: usize>(out: &mut Vec<u8>, bytes: &[u8; N], len: usize) {
    assert!(len <= N);
    out.reserve(N);
    let at = out.len();
    // SAFETY: `reserve` made room for `N` bytes past the length; the copy
    // initializes them, and the new length covers `len <= N` of them.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr().add(at), N);
        out.set_len(at + len);
    }
}

/// Appends `value` as an unsigned LEB128 varint (postcard's `u128`).
#[inline]
pub fn write_varint_u128(out: &mut Vec<u8>, value: u128) {
    let mut bytes = [0u8; MAX_VARINT_U128_LEN];
    let len = encode_varint_u128(value, &mut bytes);
    append_prefix(out, &bytes, len);
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

/// Bytes of the LEB128 varint of `value` (what [`encode_varint_u64`]
/// writes).
#[inline]
pub const fn varint_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes [`write_bytes`] writes for a byte string of `len` bytes.
#[inline]
pub const fn bytes_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

/// Bytes [`write_char`] writes for `value`.
#[inline]
pub const fn char_len(value: char) -> usize {
    bytes_len(value.len_utf8())
}

/// Appends a `char` the way serde serializes it: as a UTF-8 string.
#[inline]
pub fn write_char(out: &mut Vec<u8>, value: char) {
    let mut utf8 = [0u8; 4];
    write_bytes(out, value.encode_utf8(&mut utf8).as_bytes());
}

// ------------------------------------------------------------- reading ---

/// Why bytes are not a valid encoding of a primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The input ended inside the primitive.
    UnexpectedEnd,
    /// A varint longer than its integer allows, or whose last byte carries
    /// more bits than are left.
    BadVarint,
}

/// The integer width a varint is read at: postcard's `varint_max` and
/// `max_of_last_byte` follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintWidth {
    U16,
    U32,
    U64,
    U128,
}

impl VarintWidth {
    /// Most bytes a varint of this width may take.
    pub const fn max_len(self) -> usize {
        match self {
            VarintWidth::U16 => 3,
            VarintWidth::U32 => 5,
            VarintWidth::U64 => MAX_VARINT_U64_LEN,
            VarintWidth::U128 => MAX_VARINT_U128_LEN,
        }
    }

    /// Bits of the integers of this width.
    pub const fn bits(self) -> u32 {
        match self {
            VarintWidth::U16 => 16,
            VarintWidth::U32 => 32,
            VarintWidth::U64 => 64,
            VarintWidth::U128 => 128,
        }
    }

    /// The largest value the last possible byte may hold (the bits left
    /// after `7 * (max_len - 1)`).
    pub const fn last_byte_max(self) -> u8 {
        let left = self.bits() - 7 * (self.max_len() as u32 - 1);
        ((1u32 << left) - 1) as u8
    }
}

/// Reads a varint of at most 64 bits (`width` is not `U128`) from the start
/// of `input`: the value and the number of bytes it took.
#[inline]
pub fn read_varint_u64(input: &[u8], width: VarintWidth) -> Result<(u64, usize), ReadError> {
    debug_assert!(width != VarintWidth::U128);
    let mut value = 0u64;
    for index in 0..width.max_len() {
        let byte = *input.get(index).ok_or(ReadError::UnexpectedEnd)?;
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            if index == width.max_len() - 1 && byte > width.last_byte_max() {
                return Err(ReadError::BadVarint);
            }
            return Ok((value, index + 1));
        }
    }
    Err(ReadError::BadVarint)
}

/// Reads a `u128` varint from the start of `input`.
pub fn read_varint_u128(input: &[u8]) -> Result<(u128, usize), ReadError> {
    let width = VarintWidth::U128;
    let mut value = 0u128;
    for index in 0..width.max_len() {
        let byte = *input.get(index).ok_or(ReadError::UnexpectedEnd)?;
        value |= u128::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            if index == width.max_len() - 1 && byte > width.last_byte_max() {
                return Err(ReadError::BadVarint);
            }
            return Ok((value, index + 1));
        }
    }
    Err(ReadError::BadVarint)
}

/// Undoes [`zigzag_i64`].
#[inline]
pub const fn unzigzag_i64(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// Undoes [`zigzag_i128`].
#[inline]
pub const fn unzigzag_i128(value: u128) -> i128 {
    ((value >> 1) as i128) ^ -((value & 1) as i128)
}

/// The `char` whose (length-prefixed) bytes these are; `None` when they are
/// more than 4 bytes, not UTF-8, or not exactly one char.
pub fn char_from_utf8(bytes: &[u8]) -> Option<char> {
    if bytes.len() > 4 {
        return None;
    }
    let mut chars = core::str::from_utf8(bytes).ok()?.chars();
    let first = chars.next()?;
    chars.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The varint of `value`, a byte at a time.
    fn reference(mut value: u64) -> Vec<u8> {
        let mut bytes = vec![];
        while value >= 0x80 {
            bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        bytes.push(value as u8);
        bytes
    }

    /// The table's lengths are `varint_len`'s and the words built with it
    /// are the byte-at-a-time encoding, on every length boundary.
    #[test]
    fn varint_shapes_match_the_writer() {
        let mut values = vec![0u64, 1, u64::MAX];
        for bits in 1..64 {
            values.extend([(1u64 << bits) - 1, 1 << bits, (1 << bits) + 1]);
        }
        for value in values {
            let leading = value.leading_zeros() as usize;
            let (low, high, len) = varint_u64_words(value);
            assert_eq!(VARINT_SHAPES.len[leading], varint_len(value) as u64);
            let mut words = low.to_le_bytes().to_vec();
            words.extend(high.to_le_bytes());
            assert_eq!(words[..len], reference(value), "{value:#x}");
            if (0x80..1 << 56).contains(&value) {
                let word = spread_7bit_groups(value) | VARINT_SHAPES.continued[leading];
                assert_eq!(word, low, "{value:#x}");
            }
            if value < 0x80 {
                assert_eq!(VARINT_SHAPES.continued[leading], 0, "{value:#x}");
            }
        }
    }
}
