//! COBS framing, as postcard's `to_allocvec_cobs` / `to_slice_cobs` /
//! `from_bytes_cobs` do it: the postcard bytes COBS-encoded (by the `cobs`
//! crate, postcard's own choice) so they contain no zero byte, then one
//! `0x00` terminator. A stream of frames can then be split at the zeros.

use facet::Facet;

use crate::encoder::{copy_to_slice, with_scratch};
use crate::{Decoder, Encoder, Error, InvalidKind, cache, from_bytes, take_from_bytes};

/// The COBS frame (with its `0x00` terminator) of the postcard bytes
/// `plain`, as postcard's `Cobs` flavor writes it: the `cobs` crate's
/// streaming state machine, fed byte by byte. (Its one-shot `encode`
/// differs at the edges: it writes nothing for empty input, where postcard
/// writes the code byte `0x01`, and no empty last block after a run of 254
/// non-zero bytes.)
fn frame(plain: &[u8]) -> Vec<u8> {
    use cobs::PushResult;
    let mut out = Vec::with_capacity(cobs::max_encoding_length(plain.len()) + 2);
    // The first block's code byte, filled in when the block ends.
    out.push(0);
    let mut state = cobs::EncoderState::default();
    for &byte in plain {
        match state.push(byte) {
            PushResult::AddSingle(byte) => out.push(byte),
            PushResult::ModifyFromStartAndSkip((at, code)) => {
                out[at] = code;
                out.push(0);
            }
            PushResult::ModifyFromStartAndPushAndSkip((at, code, byte)) => {
                out[at] = code;
                out.push(byte);
                out.push(0);
            }
        }
    }
    let (at, code) = state.finalize();
    out[at] = code;
    out.push(0);
    out
}

/// The COBS-framed encoding of `value` with the host's default engine:
/// byte for byte what `postcard::to_allocvec_cobs` writes.
#[doc(alias = "to_allocvec_cobs")]
#[doc(alias = "to_stdvec_cobs")]
pub fn to_vec_cobs<'a, T: Facet<'a> + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    with_scratch(|scratch| {
        crate::encoder::encode_default(value, scratch)?;
        Ok(frame(scratch))
    })
}

/// Writes the COBS-framed encoding of `value` at the start of `buf` and
/// returns the written prefix (`postcard::to_slice_cobs`). Fails with
/// [`Error::BufferTooSmall`], without writing to `buf`, when the frame
/// does not fit.
pub fn to_slice_cobs<'a, 'b, T: Facet<'a> + ?Sized>(
    value: &T,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], Error> {
    with_scratch(|scratch| {
        crate::encoder::encode_default(value, scratch)?;
        copy_to_slice(&frame(scratch), buf)
    })
}

/// Decodes a `T` from a COBS frame, in place (`postcard::from_bytes_cobs`):
/// the frame ends at the first `0x00` or at the end of `bytes`, is decoded
/// over itself (so `bytes` is modified, even on error), and the value is
/// decoded from the result with the default engine and limits. A malformed
/// frame is [`InvalidKind::BadCobsFrame`].
pub fn from_bytes_cobs<'de, T: Facet<'de>>(bytes: &'de mut [u8]) -> Result<T, Error> {
    let len = unframe::<T>(bytes)?.dst_used;
    let bytes: &'de [u8] = bytes;
    from_bytes(&bytes[..len])
}

/// Decodes a `T` from the COBS frame at the start of `bytes`, in place,
/// and returns it with the bytes after the frame and its terminator
/// (`postcard::take_from_bytes_cobs`).
pub fn take_from_bytes_cobs<'de, T: Facet<'de>>(
    bytes: &'de mut [u8],
) -> Result<(T, &'de mut [u8]), Error> {
    let report = unframe::<T>(bytes)?;
    let (decoded, rest) = split_frame(bytes, report);
    let (value, _) = take_from_bytes(decoded)?;
    Ok((value, rest))
}

/// The decoded frame (as shared bytes) and the bytes after it.
fn split_frame(bytes: &mut [u8], report: cobs::DecodeReport) -> (&[u8], &mut [u8]) {
    // The report counts the frame's bytes without the terminator.
    let mut used = report.src_used;
    if bytes.get(used) == Some(&0) {
        used += 1;
    }
    let (frame, rest) = bytes.split_at_mut(used);
    (&frame[..report.dst_used], rest)
}

/// Decodes the frame at the start of `bytes` over itself.
fn unframe<'de, T: Facet<'de>>(bytes: &mut [u8]) -> Result<cobs::DecodeReport, Error> {
    cobs::decode_in_place_report(bytes).map_err(|error| {
        let decoded = match error {
            cobs::DecodeError::InvalidFrame { decoded_bytes } => decoded_bytes,
            _ => 0,
        };
        bad_frame::<T>(decoded)
    })
}

/// [`InvalidKind::BadCobsFrame`] at the root of `T`.
fn bad_frame<'de, T: Facet<'de>>(decoded: usize) -> Error {
    let kind = InvalidKind::BadCobsFrame { decoded };
    match cache::entry(T::SHAPE).decode_plan() {
        Ok(plan) => plan.node(plan.root()).invalid_at(0, kind),
        Err(error) => error,
    }
}

impl<'a, T: Facet<'a> + ?Sized> Encoder<T> {
    /// The COBS-framed encoding of `value` (see [`to_vec_cobs`]).
    pub fn to_vec_cobs(&self, value: &T) -> Result<Vec<u8>, Error> {
        with_scratch(|scratch| {
            self.encode(value, scratch)?;
            Ok(frame(scratch))
        })
    }

    /// Writes the COBS-framed encoding of `value` at the start of `buf`
    /// (see [`to_slice_cobs`]).
    pub fn encode_to_slice_cobs<'b>(
        &self,
        value: &T,
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        with_scratch(|scratch| {
            self.encode(value, scratch)?;
            copy_to_slice(&frame(scratch), buf)
        })
    }
}

impl<'de, T: Facet<'de>> Decoder<T> {
    /// Decodes a `T` from a COBS frame, in place (see [`from_bytes_cobs`]).
    pub fn decode_cobs(&self, bytes: &'de mut [u8]) -> Result<T, Error> {
        let len = unframe::<T>(bytes)?.dst_used;
        let bytes: &'de [u8] = bytes;
        self.decode(&bytes[..len])
    }

    /// Decodes a `T` from the COBS frame at the start of `bytes`, in place,
    /// and returns it with the bytes after the frame (see
    /// [`take_from_bytes_cobs`]).
    pub fn take_cobs(&self, bytes: &'de mut [u8]) -> Result<(T, &'de mut [u8]), Error> {
        let report = unframe::<T>(bytes)?;
        let (decoded, rest) = split_frame(bytes, report);
        let (value, _) = self.take(decoded)?;
        Ok((value, rest))
    }
}
