//! Compiled functions call each other with 32-bit relative calls (x86-64
//! `call rel32`), so all the functions of one compiled plan must lie
//! within 2 GiB of each other, wherever the host's memory map puts free
//! space. This test makes the kernel's free space a row of one-page holes
//! 3 GiB apart, so that any two separately mapped pieces of code land too
//! far apart for a relative call, then compiles encoders and decoders with
//! many functions on every JIT engine.
//!
//! Fuzzing in CI found the failure this guards against (cranelift-jit
//! panicking in `perform_relocations` with `TryFromIntError(NegOverflow)`)
//! after a long run had left the address space fragmented; without
//! jitcard's contiguous code arena this test fails the same way.
//!
//! One test in its own binary: no other test may map memory while the
//! address space is arranged. Linux x86-64 only: the layout relies on
//! Linux's top-down `mmap` placement and 4 KiB pages (AArch64 hosts may
//! have larger ones); the arena's argument is the same on AArch64.
#![cfg(all(feature = "jit", target_os = "linux", target_arch = "x86_64"))]

use facet::Facet;
use jitcard::{Decoder, Encoder, Engine, VtableCalls};
use serde::{Deserialize, Serialize};

macro_rules! records {
    ($($name:ident),*) => {$(
        #[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
        struct $name {
            id: u64,
            name: String,
            tags: Vec<String>,
            score: Option<f64>,
            flag: bool,
            counts: Vec<u32>,
            note: Option<String>,
            pair: (i16, u8),
        }
    )*};
}

records!(R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11);

/// Twelve lists of records: the decoder compiles a function per list
/// element type, the encoder (at least) the root.
#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Many {
    r0: Vec<R0>,
    r1: Vec<R1>,
    r2: Vec<R2>,
    r3: Vec<R3>,
    r4: Vec<R4>,
    r5: Vec<R5>,
    r6: Vec<R6>,
    r7: Vec<R7>,
    r8: Vec<R8>,
    r9: Vec<R9>,
    r10: Vec<R10>,
    r11: Vec<R11>,
}

/// A recursive type: its encoder calls itself.
#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Tree {
    label: String,
    weight: Option<u32>,
    children: Vec<Tree>,
}

macro_rules! record {
    ($name:ident, $i:expr) => {
        $name {
            id: $i,
            name: format!("record {}", $i),
            tags: vec!["a".into(), "bc".into()],
            score: Some($i as f64 / 2.0),
            flag: ($i as u64).is_multiple_of(2),
            counts: vec![1, 2, 300_000],
            note: None,
            pair: (-($i as i16), $i as u8),
        }
    };
}

fn many() -> Many {
    Many {
        r0: vec![record!(R0, 0)],
        r1: vec![record!(R1, 1), record!(R1, 11)],
        r2: vec![record!(R2, 2)],
        r3: vec![],
        r4: vec![record!(R4, 4)],
        r5: vec![record!(R5, 5)],
        r6: vec![record!(R6, 6)],
        r7: vec![record!(R7, 7)],
        r8: vec![record!(R8, 8)],
        r9: vec![record!(R9, 9)],
        r10: vec![record!(R10, 10)],
        r11: vec![record!(R11, 11)],
    }
}

fn tree(depth: u32) -> Tree {
    Tree {
        label: format!("depth {depth}"),
        weight: depth.is_multiple_of(2).then_some(depth),
        children: if depth == 0 {
            vec![]
        } else {
            vec![tree(depth - 1), tree(depth - 1)]
        },
    }
}

const PAGE: usize = 4096;
/// Not a multiple of 2 MiB: Linux aligns such anonymous mappings to huge
/// pages, which would leave gaps between them and the holes.
const FAR: usize = (3 << 30) + PAGE;

/// Anonymous `PROT_NONE` mappings made by the test, unmapped at the end.
struct Mappings(Vec<(usize, usize)>);

impl Mappings {
    /// Maps `len` bytes wherever the kernel chooses.
    fn map(len: usize) -> Option<usize> {
        // SAFETY: a fresh anonymous mapping with no address hint: touches
        // no existing memory.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        (at != libc::MAP_FAILED).then_some(at as usize)
    }

    fn unmap(at: usize, len: usize) {
        // SAFETY: `at..at + len` is a mapping this test made and nothing
        // else refers to.
        let status = unsafe { libc::munmap(at as *mut libc::c_void, len) };
        assert_eq!(status, 0, "munmap failed");
    }

    /// Fills every free gap of the mapped area (above everything mapped
    /// so far), then leaves `holes` one-page holes below it, each `FAR`
    /// below the last: the kernel places new small mappings top-down, in
    /// the highest gap that fits, so consecutive ones land `FAR` apart.
    fn arrange(holes: usize) -> Self {
        let mut kept = Vec::new();
        // Too large for any gap: lands below everything mapped.
        let probe = Self::map(64 << 30).expect("cannot reserve 64 GiB of address space");
        let floor = probe + (64 << 30);
        Self::unmap(probe, 64 << 30);
        let mut size = 1 << 30;
        while size >= PAGE {
            match Self::map(size) {
                Some(at) if at >= floor => kept.push((at, size)),
                Some(at) => {
                    Self::unmap(at, size);
                    size /= 2;
                }
                None => size /= 2,
            }
        }
        let mut hole_list = Vec::new();
        for _ in 0..holes {
            let hole = Self::map(PAGE).expect("cannot map a page");
            let far = Self::map(FAR).expect("cannot reserve 3 GiB");
            hole_list.push(hole);
            kept.push((far, FAR));
        }
        // The precondition of the test: the holes really are far apart.
        let far_apart = hole_list.windows(2).filter(|w| w[0] - w[1] >= FAR).count();
        assert!(
            far_apart >= holes / 2,
            "the kernel did not place the holes top-down, {FAR} bytes apart: {hole_list:x?}"
        );
        for hole in hole_list {
            Self::unmap(hole, PAGE);
        }
        Mappings(kept)
    }
}

impl Drop for Mappings {
    fn drop(&mut self) {
        for &(at, len) in &self.0 {
            Self::unmap(at, len);
        }
    }
}

#[test]
fn compiled_functions_reach_each_other_however_fragmented_the_address_space() {
    let engines = [
        Engine::Jit {
            vtable_calls: VtableCalls::Direct,
        },
        Engine::Jit {
            vtable_calls: VtableCalls::Trampoline,
        },
    ];
    // Both tiers compiled up front, while the address space is arranged.
    // SAFETY: the only test of this binary, and no other thread runs yet.
    unsafe { std::env::set_var("JITCARD_TIER_UP_WORK", "0") };
    // Set up every process-wide JIT state (host probe, ISA) first, on an
    // unrelated type, so only the compiles under test map code below.
    let warm = Encoder::<(u8, String)>::new(engines[0]).unwrap();
    assert_eq!(warm.to_vec(&(1, "x".into())).unwrap(), [1, 1, b'x']);

    let many = many();
    let many_bytes = postcard::to_allocvec(&many).unwrap();
    let tree = tree(4);
    let tree_bytes = postcard::to_allocvec(&tree).unwrap();

    for engine in engines {
        let arranged = Mappings::arrange(48);
        let encoder = Encoder::<Many>::new(engine);
        let decoder = Decoder::<Many>::new(engine);
        let tree_encoder = Encoder::<Tree>::new(engine);
        let tree_decoder = Decoder::<Tree>::new(engine);
        drop(arranged);

        let encoder = encoder.unwrap_or_else(|e| panic!("{engine:?} Many encoder: {e}"));
        assert_eq!(encoder.to_vec(&many).unwrap(), many_bytes, "{engine:?}");
        let decoder = decoder.unwrap_or_else(|e| panic!("{engine:?} Many decoder: {e}"));
        assert_eq!(decoder.decode(&many_bytes).unwrap(), many, "{engine:?}");
        let tree_encoder = tree_encoder.unwrap_or_else(|e| panic!("{engine:?} Tree encoder: {e}"));
        assert_eq!(
            tree_encoder.to_vec(&tree).unwrap(),
            tree_bytes,
            "{engine:?}"
        );
        let tree_decoder = tree_decoder.unwrap_or_else(|e| panic!("{engine:?} Tree decoder: {e}"));
        assert_eq!(
            tree_decoder.decode(&tree_bytes).unwrap(),
            tree,
            "{engine:?}"
        );
    }
}
