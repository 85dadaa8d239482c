//! Hostile-input accounting for the decoder, with a counting global
//! allocator and drop-counting values:
//! - after every failed (or successful, then dropped) decode of every
//!   truncation and single-byte mutation of every workload's encoding and of
//!   a value full of drop-counted parts, the heap holds exactly what it held
//!   before, and every counted value built was dropped exactly once;
//! - short inputs declaring 2^32 or 2^60 elements fail at once without
//!   allocating in proportion to the declared count.
//!
//! Heap counters are per thread; the counted values' counters are
//! process-wide, so tests here run one at a time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use facet::Facet;
use jitcard::{Decoder, Error, InvalidKind};
use jitcard_bench::workloads::{
    GnarlyPayload, ManyVariants, Message, NumericBuffer, OptionHeavy, PointerHeavy, Tree,
    WideStruct,
};

/// Counts live allocations and bytes, and the peak of live bytes, per
/// thread (so the test harness's own allocations on other threads do not
/// count).
struct Counting;

thread_local! {
    static LIVE_BLOCKS: Cell<isize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn live_blocks() -> isize {
    LIVE_BLOCKS.with(Cell::get)
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

fn note(blocks: isize, bytes: isize) {
    LIVE_BLOCKS.with(|b| b.set(b.get() + blocks));
    let live = LIVE_BYTES.with(|b| {
        b.set(b.get() + bytes);
        b.get()
    });
    PEAK_BYTES.with(|p| p.set(p.get().max(live)));
}

// SAFETY: forwards to the system allocator, only counting on the side (in
// thread-locals with constant initializers, which never allocate).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(1, layout.size() as isize);
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(1, layout.size() as isize);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-1, -(layout.size() as isize));
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded.
        let grown = unsafe { System.realloc(ptr, layout, new_size) };
        if !grown.is_null() {
            note(0, new_size as isize - layout.size() as isize);
        }
        grown
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ------------------------------------------------------ counted values ---

/// Counted values alive: built by the proxy conversion, gone on drop.
static TRACKED_ALIVE: AtomicIsize = AtomicIsize::new(0);
/// Counted values built so far.
static TRACKED_BUILT: AtomicUsize = AtomicUsize::new(0);

/// A value whose construction (through its proxy) and drop are counted.
#[derive(Facet, Debug, PartialEq)]
#[facet(proxy = TrackedProxy)]
struct Tracked(u32);

#[derive(Facet)]
struct TrackedProxy(u32);

impl TryFrom<TrackedProxy> for Tracked {
    type Error = String;
    fn try_from(proxy: TrackedProxy) -> Result<Self, String> {
        if proxy.0 == 0xdead {
            return Err("0xdead is refused".to_string());
        }
        TRACKED_ALIVE.fetch_add(1, Ordering::SeqCst);
        TRACKED_BUILT.fetch_add(1, Ordering::SeqCst);
        Ok(Tracked(proxy.0))
    }
}

impl TryFrom<&Tracked> for TrackedProxy {
    type Error = String;
    fn try_from(value: &Tracked) -> Result<Self, String> {
        Ok(TrackedProxy(value.0))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        TRACKED_ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn tracked(v: u32) -> Tracked {
    TRACKED_ALIVE.fetch_add(1, Ordering::SeqCst);
    Tracked(v)
}

#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
enum Either {
    Left(Tracked),
    Right { name: String, items: Vec<Tracked> },
}

/// Every way a decoder holds a partly built value: fields, list elements,
/// map entries (ordered and hashed), options, boxes, slice builders, enums.
#[derive(Facet, Debug, PartialEq)]
struct Ledger {
    first: Tracked,
    items: Vec<Tracked>,
    ordered: BTreeMap<u8, Tracked>,
    hashed: HashMap<u16, Vec<Tracked>>,
    maybe: Option<Box<Tracked>>,
    shared: Arc<[Tracked]>,
    pairs: Vec<Option<(Tracked, String)>>,
    either: Vec<Either>,
    last: Tracked,
}

fn ledger() -> Ledger {
    Ledger {
        first: tracked(1),
        items: vec![tracked(2), tracked(300), tracked(4)],
        ordered: BTreeMap::from([(1, tracked(5)), (2, tracked(6))]),
        hashed: HashMap::from([(7, vec![tracked(7), tracked(8)]), (9, vec![])]),
        maybe: Some(Box::new(tracked(10))),
        shared: Arc::from(vec![tracked(11), tracked(12)]),
        pairs: vec![Some((tracked(13), "thirteen".into())), None],
        either: vec![
            Either::Left(tracked(14)),
            Either::Right {
                name: "r".into(),
                items: vec![tracked(15)],
            },
        ],
        last: tracked(16),
    }
}

/// Truncations at every length and each byte set to a few values.
fn mutations(bytes: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let truncations = (0..bytes.len()).map(|len| bytes[..len].to_vec());
    let substitutions = (0..bytes.len()).flat_map(move |at| {
        [0x00u8, 0x01, 0x7f, 0x80, 0xff]
            .into_iter()
            .filter(move |&v| bytes[at] != v)
            .map(move |v| {
                let mut mutated = bytes.to_vec();
                mutated[at] = v;
                mutated
            })
    });
    truncations.chain(substitutions)
}

/// Decodes every mutation of `bytes` as `T`, checking the heap and the
/// counted values after each; returns how many inputs were tried.
fn account<T: for<'de> Facet<'de>>(bytes: &[u8]) -> usize {
    // Warm up: the plans, compiled decoders and cache entries stay for the
    // process.
    drop(jitcard::from_bytes::<T>(bytes));
    let decoders: Vec<_> = jitcard::diagnostics::engines_under_test()
        .into_iter()
        .map(|engine| Decoder::<T>::new(engine).unwrap())
        .collect();
    let mut tried = 0;
    for input in mutations(bytes) {
        let blocks = live_blocks();
        let bytes_before = live_bytes();
        let alive = TRACKED_ALIVE.load(Ordering::SeqCst);
        drop(jitcard::from_bytes::<T>(&input));
        drop(jitcard::take_from_bytes::<T>(&input));
        for decoder in &decoders {
            drop(decoder.take(&input));
        }
        assert_eq!(
            live_blocks(),
            blocks,
            "{}: allocations leaked decoding {input:02x?}",
            std::any::type_name::<T>()
        );
        assert_eq!(live_bytes(), bytes_before);
        assert_eq!(
            TRACKED_ALIVE.load(Ordering::SeqCst),
            alive,
            "counted values leaked or dropped twice decoding {input:02x?}"
        );
        tried += 1;
    }
    tried
}

#[test]
fn no_mutation_of_a_counted_value_leaks_or_drops_twice() {
    let _serial = serial();
    let value = ledger();
    let bytes = jitcard::to_vec(&value).unwrap();
    let decoded: Ledger = jitcard::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, value);
    drop(decoded);
    let built = TRACKED_BUILT.load(Ordering::SeqCst);
    let tried = account::<Ledger>(&bytes);
    assert!(tried >= 5 * bytes.len(), "{tried} inputs");
    assert!(
        TRACKED_BUILT.load(Ordering::SeqCst) > built + 100,
        "the mutated inputs built (and dropped) counted values"
    );
    // A conversion refusing a value midway drops what was built before it.
    let mut refused = value;
    refused.last = tracked(0xdead);
    let bytes = jitcard::to_vec(&refused).unwrap();
    let alive = TRACKED_ALIVE.load(Ordering::SeqCst);
    let error = jitcard::from_bytes::<Ledger>(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::Conversion(_),
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.path(), "Ledger.last");
    assert_eq!(TRACKED_ALIVE.load(Ordering::SeqCst), alive);
}

#[test]
fn no_mutation_of_a_workload_leaks() {
    let _serial = serial();
    let mut tried = 0;
    tried += account::<GnarlyPayload>(&postcard::to_allocvec(&GnarlyPayload::new(2, 3)).unwrap());
    tried += account::<WideStruct>(&postcard::to_allocvec(&WideStruct::new(3)).unwrap());
    tried +=
        account::<Vec<ManyVariants>>(&postcard::to_allocvec(&ManyVariants::list(8, 3)).unwrap());
    tried += account::<Tree>(&postcard::to_allocvec(&Tree::new(4, 3)).unwrap());
    tried += account::<NumericBuffer>(&postcard::to_allocvec(&NumericBuffer::new(16, 3)).unwrap());
    tried += account::<Vec<OptionHeavy>>(&postcard::to_allocvec(&OptionHeavy::list(2, 3)).unwrap());
    tried +=
        account::<Vec<PointerHeavy>>(&postcard::to_allocvec(&PointerHeavy::list(2, 3)).unwrap());
    tried += account::<Message>(&postcard::to_allocvec(&Message::new(3)).unwrap());
    println!("{tried} mutated workload inputs decoded without a leak");
    assert!(tried > 10_000, "{tried}");
}

/// Peak heap growth while decoding `input` as `T`, which must fail.
fn peak_while_failing<T: for<'de> Facet<'de>>(input: &[u8]) -> (isize, Error) {
    drop(jitcard::from_bytes::<T>(&[]));
    let base = live_bytes();
    PEAK_BYTES.with(|p| p.set(base));
    let error = match jitcard::from_bytes::<T>(input) {
        Ok(_) => panic!("{input:02x?} decoded as {}", std::any::type_name::<T>()),
        Err(error) => error,
    };
    (PEAK_BYTES.with(Cell::get) - base, error)
}

#[test]
fn huge_declared_lengths_fail_at_once_without_allocating() {
    let _serial = serial();
    let mut inputs = Vec::new();
    for count in [1u64 << 32, 1u64 << 60, u64::MAX] {
        let mut input = Vec::new();
        jitcard::wire::write_varint_u64(&mut input, count);
        input.extend_from_slice(&[1, 2]);
        assert!(input.len() <= 12);
        inputs.push(input);
    }
    for input in &inputs {
        let checks: [(isize, Error); 5] = [
            peak_while_failing::<Vec<u64>>(input),
            peak_while_failing::<String>(input),
            peak_while_failing::<HashMap<u32, String>>(input),
            peak_while_failing::<Vec<Vec<u8>>>(input),
            peak_while_failing::<BTreeMap<u64, Vec<u64>>>(input),
        ];
        for (peak, error) in checks {
            assert!(
                peak < 16 * 1024,
                "{input:02x?}: {peak} bytes at peak ({error})"
            );
            assert!(
                matches!(
                    error,
                    Error::Invalid {
                        kind: InvalidKind::LengthExceedsInput { .. }
                            | InvalidKind::IntegerTooLarge
                            | InvalidKind::BadVarint,
                        offset: 0,
                        ..
                    }
                ),
                "{input:02x?}: {error}"
            );
        }
    }
}

#[test]
fn zero_sized_elements_draw_on_a_budget() {
    let _serial = serial();
    let mut input = Vec::new();
    jitcard::wire::write_varint_u64(&mut input, 1 << 60);
    let (peak, error) = peak_while_failing::<Vec<()>>(&input);
    assert!(peak < 16 * 1024, "{peak}");
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::TooManyZeroSized { .. },
                ..
            }
        ),
        "{error}"
    );
    // Nested: many collections each declaring many zero-sized elements still
    // share one budget, so time stays linear in the input.
    let mut nested = Vec::new();
    jitcard::wire::write_varint_u64(&mut nested, 100_000);
    for _ in 0..100_000 {
        jitcard::wire::write_varint_u64(&mut nested, 1 << 20);
    }
    let error = jitcard::from_bytes::<Vec<Vec<()>>>(&nested).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Invalid {
                kind: InvalidKind::TooManyZeroSized { .. },
                ..
            }
        ),
        "{error}"
    );
    // Within the budget it decodes.
    let small: Vec<()> = jitcard::from_bytes(&[5]).unwrap();
    assert_eq!(small.len(), 5);
}
