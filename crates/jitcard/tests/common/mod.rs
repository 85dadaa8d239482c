//! Shared differential check: jitcard (every engine) against serde+postcard
//! and facet-postcard, with a report naming the type, the value and the first
//! differing byte.

#![allow(dead_code)] // each test binary uses its own subset

use std::fmt::Debug;

use facet::Facet;
use jitcard_bench::cases::{jitcard_engines_under_test, serde_postcard_append};
use jitcard_bench::diff::mismatch_report;
use serde::Serialize;

/// Every engine's bytes for `value`, with no part delegated (strict
/// encoders), and `jitcard::to_vec`'s, equal serde+postcard's; when
/// `with_facet_postcard`, facet-postcard's too.
pub fn check_against<T>(value: &T, with_facet_postcard: bool) -> Result<(), String>
where
    T: Facet<'static> + Serialize + Debug,
{
    let type_name = std::any::type_name::<T>();
    let describe = || format!("{value:?}");
    let mut expected = Vec::new();
    serde_postcard_append(value, &mut expected)?;
    let mut reports = Vec::new();
    if with_facet_postcard {
        match facet_postcard::to_vec(value) {
            Ok(bytes) => reports.extend(mismatch_report(
                type_name,
                &describe(),
                "serde+postcard",
                &expected,
                "facet-postcard",
                &bytes,
            )),
            Err(e) => reports.push(format!("facet-postcard failed on {type_name}: {e}")),
        }
    }
    for engine in jitcard_engines_under_test() {
        // Strict: every part must run on the engine itself, none delegated.
        let encoder = jitcard::Encoder::<T>::strict(engine)
            .map_err(|e| format!("{type_name}: no strict {} encoder: {e}", engine.name()))?;
        match encoder.to_vec(value) {
            Ok(bytes) => reports.extend(mismatch_report(
                type_name,
                &describe(),
                "serde+postcard",
                &expected,
                engine.name(),
                &bytes,
            )),
            Err(e) => reports.push(format!("{type_name} on {}: {e}", engine.name())),
        }
        // The size-only code (the JIT's is compiled separately) agrees.
        match encoder.serialized_size(value) {
            Ok(size) if size == expected.len() => {}
            other => reports.push(format!(
                "{type_name} on {}: serialized_size {other:?}, encoding is {} bytes",
                engine.name(),
                expected.len()
            )),
        }
    }
    match jitcard::to_vec(value) {
        Ok(bytes) => reports.extend(mismatch_report(
            type_name,
            &describe(),
            "serde+postcard",
            &expected,
            "jitcard::to_vec",
            &bytes,
        )),
        Err(e) => reports.push(format!("{type_name} via jitcard::to_vec: {e}")),
    }
    match jitcard::serialized_size(value) {
        Ok(size) if size == expected.len() => {}
        other => reports.push(format!(
            "{type_name}: jitcard::serialized_size {other:?}, encoding is {} bytes",
            expected.len()
        )),
    }
    // postcard's other entry points, byte for byte.
    let mut exact = vec![0u8; expected.len()];
    match jitcard::to_slice(value, &mut exact) {
        Ok(written) if *written == expected[..] => {}
        other => reports.push(format!("{type_name}: jitcard::to_slice gave {other:?}")),
    }
    match (
        jitcard::to_vec_cobs(value),
        postcard::to_allocvec_cobs(value),
    ) {
        (Ok(ours), Ok(theirs)) if ours == theirs => {}
        (ours, theirs) => reports.push(format!(
            "{type_name}: jitcard::to_vec_cobs {ours:?}, postcard {theirs:?}"
        )),
    }
    if reports.is_empty() {
        Ok(())
    } else {
        Err(reports.join("\n"))
    }
}

/// [`check_against`] with facet-postcard included.
pub fn check<T>(value: &T) -> Result<(), String>
where
    T: Facet<'static> + Serialize + Debug,
{
    check_against(value, true)
}
