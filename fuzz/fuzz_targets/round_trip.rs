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
    let back: Rich<'_> = jitcard::from_bytes(&ours).expect("jitcard decodes its own encoding");
    assert_eq!(back, value);
});
