//! `JITCARD_DUMP_CLIF` and `JITCARD_PERF_MAP`: the CLIF and machine code of
//! every compiled function are written out, and perf can name JIT frames.
//! (Its only test, in its own binary: it sets process environment variables.)
#![cfg(feature = "jit")]

use facet::Facet;
use jitcard::{Decoder, Encoder, Engine, VtableCalls};

#[derive(Facet, Debug, PartialEq)]
struct Probe {
    id: u32,
    children: Vec<Probe>,
}

#[test]
fn clif_dump_and_perf_map_name_every_compiled_function() {
    let dir = std::env::temp_dir().join(format!("jitcard-clif-{}", std::process::id()));
    // SAFETY: this binary's only test sets the variables before anything
    // else (no other thread reads the environment yet).
    unsafe {
        std::env::set_var("JITCARD_DUMP_CLIF", &dir);
        std::env::set_var("JITCARD_PERF_MAP", "1");
    }
    let encoder = Encoder::<Probe>::new(Engine::Jit {
        vtable_calls: VtableCalls::Trampoline,
    })
    .unwrap();
    let value = Probe {
        id: 1,
        children: vec![Probe {
            id: 2,
            children: vec![],
        }],
    };
    assert_eq!(encoder.to_vec(&value).unwrap(), [1, 1, 2, 0]);
    let decoder = Decoder::<Probe>::new(Engine::Jit {
        vtable_calls: VtableCalls::Direct,
    })
    .unwrap();
    assert_eq!(decoder.decode(&[1, 1, 2, 0]).unwrap(), value);

    let dumps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!dumps.is_empty(), "no CLIF written to {}", dir.display());
    for dump in &dumps {
        if dump.extension().is_some_and(|e| e == "bin") {
            // Raw machine code: as long as the text listing says.
            let bytes = std::fs::read(dump).unwrap();
            assert!(bytes.len() > 4, "{}", dump.display());
            continue;
        }
        let text = std::fs::read_to_string(dump).unwrap();
        assert!(text.contains("Probe"), "{}: {text}", dump.display());
        match dump.extension().and_then(|e| e.to_str()) {
            Some("clif") => assert!(text.contains("function"), "{}: {text}", dump.display()),
            Some("s") => assert!(text.contains("ret"), "{}: {text}", dump.display()),
            _ => panic!("unexpected dump {}", dump.display()),
        }
    }
    let count = |ext: &str| {
        dumps
            .iter()
            .filter(|d| d.extension().is_some_and(|e| e == ext))
            .count()
    };
    assert_eq!(
        count("clif"),
        count("s"),
        "CLIF and machine code for every function"
    );
    assert_eq!(
        count("s"),
        count("bin"),
        "machine code bytes for every function"
    );
    let map = std::fs::read_to_string(format!("/tmp/perf-{}.map", std::process::id())).unwrap();
    assert!(
        map.lines().any(|l| l.contains("jitcard::decode::Probe")),
        "a perf map line for Probe's decoder"
    );
    let line = map
        .lines()
        .find(|l| l.contains("jitcard::encode::Probe"))
        .expect("a perf map line for Probe's encoder");
    let mut fields = line.split(' ');
    let address = usize::from_str_radix(fields.next().unwrap(), 16).unwrap();
    let size = usize::from_str_radix(fields.next().unwrap(), 16).unwrap();
    assert!(address != 0 && size > 0, "{line}");
    let code_size = encoder.compile_report().unwrap().code_size;
    assert!(size <= code_size, "{line} vs total code size {code_size}");
    let _ = std::fs::remove_dir_all(&dir);
}
