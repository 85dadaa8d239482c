//! Arbitrary bytes decoded as `Rich` (every decodable shape kind, recursive)
//! by jitcard and by postcard: they must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jitcard_fuzz::compare::<jitcard_fuzz::Rich<'_>>(data);
    jitcard_fuzz::compare::<Vec<jitcard_fuzz::Shape>>(data);
    // COBS frames: decoded in place the same way, accepted alike.
    let (mut ours, mut theirs) = (data.to_vec(), data.to_vec());
    let decoded = jitcard::from_bytes_cobs::<Vec<jitcard_fuzz::Shape>>(&mut ours);
    let expected = postcard::from_bytes_cobs::<Vec<jitcard_fuzz::Shape>>(&mut theirs);
    assert_eq!(ours, theirs, "frames decoded in place differ on {data:02x?}");
    match (decoded, expected) {
        (Ok(a), Ok(b)) => assert!(
            a == b || postcard::to_allocvec(&a).ok() == postcard::to_allocvec(&b).ok(),
            "COBS values differ on {data:02x?}"
        ),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(_)) if jitcard_fuzz::documented_limit(&e) => {}
        (a, b) => panic!("COBS: jitcard {a:?}, postcard {b:?} on {data:02x?}"),
    }
});
