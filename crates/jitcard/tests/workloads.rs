//! Every built-in workload, encoded by every jitcard engine, must equal
//! serde+postcard's bytes and facet-postcard's bytes.

use jitcard_bench::cases::{self, Competitor};
use jitcard_bench::diff::mismatch_report;

#[test]
fn every_workload_matches_postcard_and_facet_postcard_on_every_engine() {
    let mut failures = Vec::new();
    for case in cases::all_cases() {
        let mut reference = Vec::new();
        case.encode(Competitor::SerdePostcard, &mut reference)
            .expect("serde+postcard encodes");
        assert!(
            !reference.is_empty(),
            "{}: reference encoding is empty",
            case.name()
        );
        let engines = cases::jitcard_engines_under_test()
            .into_iter()
            .map(Competitor::Jitcard);
        for competitor in std::iter::once(Competitor::FacetPostcard).chain(engines) {
            let mut actual = Vec::new();
            match case.encode(competitor, &mut actual) {
                Ok(()) => {
                    if let Some(report) = mismatch_report(
                        case.name(),
                        &case.describe(),
                        "serde+postcard",
                        &reference,
                        competitor.name(),
                        &actual,
                    ) {
                        failures.push(report);
                    }
                }
                Err(error) => {
                    failures.push(format!("{} on {}: {error}", case.name(), competitor.name()))
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn encoding_appends_to_existing_bytes() {
    for case in cases::all_cases() {
        for engine in cases::jitcard_engines_under_test() {
            let mut alone = Vec::new();
            case.encode(Competitor::Jitcard(engine), &mut alone)
                .unwrap();
            let mut appended = vec![0xAA, 0xBB];
            case.encode(Competitor::Jitcard(engine), &mut appended)
                .unwrap();
            assert_eq!(
                &appended[..2],
                &[0xAA, 0xBB],
                "{}: prefix kept",
                case.name()
            );
            assert_eq!(
                &appended[2..],
                &alone[..],
                "{}: appended bytes",
                case.name()
            );
        }
    }
}
