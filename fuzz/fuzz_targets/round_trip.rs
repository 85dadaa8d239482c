//! Whatever postcard accepts as `Rich`, jitcard encodes to the same bytes
//! postcard writes, and decodes back to an equal value.
#![no_main]

use jitcard_fuzz::Rich;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = postcard::from_bytes::<Rich>(data) else {
        return;
    };
    // Hash maps and sets iterate in an order of their own: compare values,
    // not bytes, across two instances; bytes of the same instance must match.
    let ours = jitcard::to_vec(&value).expect("jitcard encodes what postcard decoded");
    let theirs = postcard::to_allocvec(&value).expect("postcard encodes");
    assert_eq!(ours, theirs, "encodings of one value differ");
    // postcard's other entry points: exact size, slices, COBS frames.
    assert_eq!(jitcard::serialized_size(&value).ok(), Some(ours.len()));
    let mut exact = vec![0u8; ours.len()];
    assert_eq!(jitcard::to_slice(&value, &mut exact).ok().as_deref(), Some(&ours[..]));
    if let Some(short) = exact.get_mut(..ours.len().saturating_sub(1)) {
        if !ours.is_empty() {
            assert!(jitcard::to_slice(&value, short).is_err());
        }
    }
    let frame = jitcard::to_vec_cobs(&value).expect("jitcard frames what it encodes");
    assert_eq!(Some(frame), postcard::to_allocvec_cobs(&value).ok());
    let back: Rich<'_> = match jitcard::from_bytes(&ours) {
        Ok(back) => back,
        // Postcard has no nesting limit; jitcard's decoder has a documented
        // one (1024 by default). Deeper values must round-trip once the
        // limits are raised to what the encoder allows.
        Err(error) if jitcard_fuzz::documented_limit(&error) => {
            jitcard::Decoder::<Rich<'_>>::new(jitcard::Engine::host_default())
                .expect("a decoder")
                .with_limits(jitcard::DecodeLimits {
                    max_depth: jitcard::DEFAULT_MAX_DEPTH,
                    ..jitcard::DecodeLimits::default()
                })
                .decode(&ours)
                .expect("jitcard decodes its own encoding within the encoder's limits")
        }
        Err(error) => panic!("jitcard decodes its own encoding: {error:?}"),
    };
    assert_eq!(back, value);
});
