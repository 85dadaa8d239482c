//! Byte-level comparison of encodings, with reports a person can act on:
//! which type, which value, and the first offset where the bytes part.

/// The first offset where `expected` and `actual` differ (a length
/// difference counts as differing at the shorter length), or `None`.
pub fn first_difference(expected: &[u8], actual: &[u8]) -> Option<usize> {
    expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .or_else(|| (expected.len() != actual.len()).then(|| expected.len().min(actual.len())))
}

/// `None` when the encodings are equal, else a report naming the type, the
/// value, the first differing offset and the bytes around it.
pub fn mismatch_report(
    type_name: &str,
    value: &str,
    expected_by: &str,
    expected: &[u8],
    actual_by: &str,
    actual: &[u8],
) -> Option<String> {
    let offset = first_difference(expected, actual)?;
    let window = |bytes: &[u8]| {
        let start = offset.saturating_sub(8);
        let end = (offset + 8).min(bytes.len());
        format!("{:02x?}", &bytes[start.min(end)..end])
    };
    Some(format!(
        "encodings of `{type_name}` differ at byte {offset} \
         ({expected_by}: {} bytes, {actual_by}: {} bytes)\n  value: {value}\n  \
         {expected_by} around it: {}\n  {actual_by} around it: {}",
        expected.len(),
        actual.len(),
        window(expected),
        window(actual),
    ))
}

/// `text`, cut to at most `max` bytes (on a char boundary) with an ellipsis.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() > max {
        format!("{}…", &text[..text.floor_char_boundary(max)])
    } else {
        text.to_string()
    }
}
