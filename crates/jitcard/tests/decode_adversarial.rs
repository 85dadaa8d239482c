//! Adversarial cases for the decoder, from a review of the interpreter:
//! what facet describes oddly (opaque fields, `Duration`, `Infallible`,
//! container defaults, custom hashers), what a hostile input can make it do
//! (huge minimum sizes, zero-wire elements, deep partial values) and what
//! user code can do to it (panicking `Drop`s, defaults and conversions).
//!
//! Each test states the contract it checks. Tests whose body could crash
//! the process run it in a child process (`in_child`), so a crash shows as
//! a failed assertion.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use facet::Facet;
use jitcard::{DecodeLimits, Decoder, Engine, Error, InvalidKind};
use serde::{Deserialize, Serialize};

// ------------------------------------------------------------ harness ---

/// Runs the calling test's body in a child process (re-running this test
/// binary on that one test). Returns `None` in the child (run the body),
/// `Some(output)` in the parent.
fn in_child(name: &str) -> Option<std::process::Output> {
    if std::env::var("JITCARD_TEST_CHILD").as_deref() == Ok(name) {
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("JITCARD_TEST_CHILD", name)
        .output()
        .unwrap();
    Some(output)
}

fn child_report(output: &std::process::Output) -> String {
    format!(
        "child {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Per-thread heap accounting (live bytes and peak).
struct Counting;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static PEAK_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn note(bytes: isize) {
    let live = LIVE_BYTES.with(|b| {
        b.set(b.get() + bytes);
        b.get()
    });
    PEAK_BYTES.with(|p| p.set(p.get().max(live)));
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

// SAFETY: forwards to the system allocator, counting on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(layout.size() as isize);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = unsafe { System.realloc(ptr, layout, new_size) };
        if !grown.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        grown
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap growth (bytes) while running `f` on this thread.
fn peak_during<R>(f: impl FnOnce() -> R) -> (isize, R) {
    let base = live_bytes();
    PEAK_BYTES.with(|p| p.set(base));
    let result = f();
    (PEAK_BYTES.with(Cell::get) - base, result)
}

// Not tested here: facet's derive gives a struct without lifetime
// parameters `impl<'f> Facet<'f>` whatever its fields borrow, so a
// `&'static str` field satisfies `T: Facet<'de>` for a short `'de` and a
// decode could point it into a short-lived input. jitcard cannot see the
// difference (nor can facet-postcard); the README documents it.

// ============================== 2. zero-sized runs skip skipped fields ===

/// Lists and arrays of zero-sized elements that write nothing are built
/// without a loop (`skip_wire_free_zero_sized_runs`, plan/lower/mod.rs),
/// but not when an element has skipped fields: their defaults run once per
/// element, as serde runs them.
static MARKER_DEFAULTS: AtomicUsize = AtomicUsize::new(0);

fn counted_marker() -> PhantomData<u8> {
    MARKER_DEFAULTS.fetch_add(1, Ordering::SeqCst);
    PhantomData
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
struct Marked {
    #[facet(skip, default = counted_marker())]
    #[serde(skip, default = "counted_marker")]
    marker: PhantomData<u8>,
}

#[test]
fn skipped_defaults_of_zero_sized_elements_run_like_serde() {
    let before = MARKER_DEFAULTS.load(Ordering::SeqCst);
    let theirs: Vec<Marked> = postcard::from_bytes(&[3]).unwrap();
    let serde_calls = MARKER_DEFAULTS.load(Ordering::SeqCst) - before;
    let before = MARKER_DEFAULTS.load(Ordering::SeqCst);
    let ours: Vec<Marked> = jitcard::from_bytes(&[3]).unwrap();
    let our_calls = MARKER_DEFAULTS.load(Ordering::SeqCst) - before;
    assert_eq!(ours, theirs);
    assert_eq!(
        our_calls, serde_calls,
        "serde ran the skipped field's default {serde_calls} times, jitcard {our_calls}"
    );
}

/// The same shortcut must not conjure values of an uninhabited type: a
/// zero-sized struct whose only field is a skipped `Infallible` (its default
/// diverges). serde panics in the default; jitcard reports the panic.
fn no_value() -> Infallible {
    panic!("there is no Infallible value")
}

// The derive's default call diverges: its generated code is unreachable.
#[allow(unreachable_code)]
mod never {
    use super::*;

    #[derive(Facet)]
    pub struct Never {
        #[facet(skip, default = no_value())]
        never: Infallible,
    }
}
use never::Never;

#[test]
fn a_vec_of_an_uninhabited_type_must_not_decode() {
    if let Some(output) = in_child("a_vec_of_an_uninhabited_type_must_not_decode") {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    match jitcard::from_bytes::<Vec<Never>>(&[1]) {
        Ok(impossible) => {
            let len = impossible.len();
            std::mem::forget(impossible);
            panic!("Ok(Vec<Never>) of length {len}: a value of an uninhabited type");
        }
        Err(error) => assert!(matches!(error, Error::Panicked { .. }), "{error:?}"),
    }
}

#[test]
fn an_array_of_an_uninhabited_type_must_not_decode() {
    if let Some(output) = in_child("an_array_of_an_uninhabited_type_must_not_decode") {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    match jitcard::from_bytes::<Option<[Never; 1]>>(&[1]) {
        Ok(_impossible) => panic!("Ok(Some([Never; 1])): a value of an uninhabited type"),
        Err(error) => assert!(matches!(error, Error::Panicked { .. }), "{error:?}"),
    }
}

// ============== 3. fields dropped through shapes facet cannot drop ===

/// A type facet does not know; it reaches the wire through a proxy on an
/// `#[facet(opaque)]` field. The field's shape is facet's `Opaque`, which has
/// no type operations: facet cannot drop it, so the decoder converts such a
/// field last (`FieldProxy::deferred`), when nothing else can fail.
struct Counted(u32);

static COUNTED_LIVE: AtomicIsize = AtomicIsize::new(0);

impl Counted {
    fn new(v: u32) -> Counted {
        COUNTED_LIVE.fetch_add(1, Ordering::SeqCst);
        Counted(v)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        COUNTED_LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Facet)]
struct CountedProxy(u32);

impl TryFrom<CountedProxy> for Counted {
    type Error = String;
    fn try_from(p: CountedProxy) -> Result<Self, String> {
        Ok(Counted::new(p.0))
    }
}

impl TryFrom<&Counted> for CountedProxy {
    type Error = String;
    fn try_from(c: &Counted) -> Result<Self, String> {
        Ok(CountedProxy(c.0))
    }
}

#[derive(Facet)]
struct HoldsOpaque {
    #[facet(opaque, proxy = CountedProxy)]
    counted: Counted,
    after: u32,
}

fn counted_serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A later field fails: the opaque field was held as its proxy value, so
/// no `Counted` is left behind.
#[test]
fn a_proxied_opaque_field_is_dropped_when_a_later_field_fails() {
    let _serial = counted_serial();
    let before = COUNTED_LIVE.load(Ordering::SeqCst);
    // `counted` = 5, then `after` is missing.
    let error = jitcard::from_bytes::<HoldsOpaque>(&[5]).err().unwrap();
    assert!(matches!(
        error,
        Error::Invalid {
            kind: InvalidKind::UnexpectedEnd,
            ..
        }
    ));
    assert_eq!(
        COUNTED_LIVE.load(Ordering::SeqCst),
        before,
        "the `Counted` built for the opaque field was never dropped"
    );
}

/// An opaque field decodes (converted last) and drops with its struct.
#[test]
fn a_proxied_opaque_field_decodes_and_drops() {
    let _serial = counted_serial();
    let before = COUNTED_LIVE.load(Ordering::SeqCst);
    let value = jitcard::from_bytes::<HoldsOpaque>(&[7, 3]).unwrap();
    assert_eq!((value.counted.0, value.after), (7, 3));
    assert_eq!(COUNTED_LIVE.load(Ordering::SeqCst), before + 1);
    drop(value);
    assert_eq!(COUNTED_LIVE.load(Ordering::SeqCst), before);
}

/// A proxy whose conversion refuses 0.
#[derive(Facet)]
struct PickyProxy(u32);

impl TryFrom<PickyProxy> for Counted {
    type Error = String;
    fn try_from(p: PickyProxy) -> Result<Self, String> {
        if p.0 == 0 {
            Err("zero".to_string())
        } else {
            Ok(Counted::new(p.0))
        }
    }
}

impl TryFrom<&Counted> for PickyProxy {
    type Error = String;
    fn try_from(c: &Counted) -> Result<Self, String> {
        Ok(PickyProxy(c.0))
    }
}

fn filler() -> String {
    "filled by default".to_string()
}

#[derive(Facet)]
struct OpaqueAmongOwners {
    name: String,
    #[facet(opaque, proxy = PickyProxy)]
    counted: Counted,
    tags: Vec<String>,
    #[facet(skip, default = filler())]
    filled: String,
}

/// The deferred conversion fails after every other field was built: they
/// are all dropped (nothing leaks) and the error points at the field's
/// bytes.
#[test]
fn a_failed_deferred_conversion_drops_everything_else() {
    let _serial = counted_serial();
    let input = [2, b'h', b'i', 0, 1, 3, b'a', b'b', b'c'];
    let ok = [2, b'h', b'i', 9, 1, 3, b'a', b'b', b'c'];
    let value = jitcard::from_bytes::<OpaqueAmongOwners>(&ok).unwrap();
    assert_eq!(
        (
            value.name.as_str(),
            value.counted.0,
            value.tags.len(),
            value.filled.as_str()
        ),
        ("hi", 9, 1, "filled by default")
    );
    drop(value);
    drop(jitcard::from_bytes::<OpaqueAmongOwners>(&input));
    let counted = COUNTED_LIVE.load(Ordering::SeqCst);
    let before = live_bytes();
    let error = jitcard::from_bytes::<OpaqueAmongOwners>(&input)
        .err()
        .unwrap();
    match &error {
        Error::Invalid {
            path,
            offset,
            kind: InvalidKind::Conversion(message),
            ..
        } => {
            assert_eq!(
                (path.as_str(), *offset, message.as_str()),
                ("OpaqueAmongOwners.counted", 3, "zero")
            );
        }
        other => panic!("{other:?}"),
    }
    drop(error);
    assert_eq!(live_bytes(), before, "a built field leaked");
    assert_eq!(COUNTED_LIVE.load(Ordering::SeqCst), counted);
}

/// Two such fields: converting one last cannot protect the other (a failed
/// second conversion would leave the first undroppable), so the type is
/// refused with the reason, at plan time.
#[derive(Facet)]
struct TwoOpaque {
    #[facet(opaque, proxy = CountedProxy)]
    first: Counted,
    #[facet(opaque, proxy = CountedProxy)]
    second: Counted,
}

#[test]
fn two_fields_facet_cannot_drop_are_refused() {
    let error = Decoder::<TwoOpaque>::new(Engine::Interpreter).err();
    match &error {
        Some(Error::Unsupported { path, reason, .. }) => {
            assert_eq!(path, "TwoOpaque.second");
            assert!(reason.contains("second proxied field"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// The same with a std type facet describes without type operations:
/// `PathBuf` (converted last like the opaque field).
#[derive(Facet)]
struct PathProxy(String);

impl TryFrom<PathProxy> for PathBuf {
    type Error = String;
    fn try_from(p: PathProxy) -> Result<Self, String> {
        Ok(PathBuf::from(p.0))
    }
}

impl TryFrom<&PathBuf> for PathProxy {
    type Error = String;
    fn try_from(p: &PathBuf) -> Result<Self, String> {
        Ok(PathProxy(p.display().to_string()))
    }
}

#[derive(Facet)]
struct HoldsPath {
    #[facet(proxy = PathProxy)]
    path: PathBuf,
    after: u32,
}

#[test]
fn a_proxied_pathbuf_field_does_not_leak_when_a_later_field_fails() {
    let input = [5, b'/', b't', b'm', b'p', b'/'];
    drop(jitcard::from_bytes::<HoldsPath>(&input));
    let before = live_bytes();
    let error = jitcard::from_bytes::<HoldsPath>(&input).err().unwrap();
    drop(error);
    assert_eq!(live_bytes(), before, "the PathBuf's buffer leaked");
}

/// `DefaultFrom::Container` builds the container's `Default`, moves the
/// skipped field out, and drops every other field through its shape: an
/// opaque field could not be dropped, so such a type is refused.
#[derive(Facet)]
#[facet(default)]
struct DefaultWithOpaque {
    n: u32,
    #[facet(skip)]
    skipped: u32,
    #[facet(opaque, proxy = CountedProxy)]
    counted: Counted,
}

impl Default for DefaultWithOpaque {
    fn default() -> Self {
        DefaultWithOpaque {
            n: 0,
            skipped: 9,
            counted: Counted::new(0),
        }
    }
}

#[test]
fn a_container_default_with_a_field_facet_cannot_drop_is_refused() {
    // Taking `skipped` out of the default would leave its `counted` to
    // drop, through a shape that cannot drop it: refused, not leaked.
    match Decoder::<DefaultWithOpaque>::new(Engine::Interpreter).err() {
        Some(Error::Unsupported { reason, .. }) => {
            assert!(reason.contains("field `counted`"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// serde takes every skipped field from ONE `Default::default()` of the
/// container; jitcard default-constructs the container once per skipped
/// field, so fields from a non-deterministic `Default` disagree.
static DEFAULTS_MADE: AtomicUsize = AtomicUsize::new(0);

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[facet(default)]
#[serde(default)]
struct Stamped {
    n: u8,
    #[facet(skip)]
    #[serde(skip)]
    first: usize,
    #[facet(skip)]
    #[serde(skip)]
    second: usize,
}

impl Default for Stamped {
    fn default() -> Self {
        let stamp = DEFAULTS_MADE.fetch_add(1, Ordering::SeqCst);
        Stamped {
            n: 0,
            first: stamp,
            second: stamp,
        }
    }
}

#[test]
fn skipped_fields_come_from_one_container_default() {
    let theirs: Stamped = postcard::from_bytes(&[4]).unwrap();
    assert_eq!(theirs.first, theirs.second);
    let ours: Stamped = jitcard::from_bytes(&[4]).unwrap();
    assert_eq!(
        ours.first, ours.second,
        "two skipped fields from two different `Default::default()` calls"
    );
}

// ============================== 4. zero-wire-size element budgets ===

/// A non-zero-sized element that takes no wire bytes (all its fields are
/// skipped) draws on the *element* budget (2^24), but each element costs
/// `size_of` bytes of memory: a 3-byte input allocates 64 MiB here, a
/// 4-byte one 2^24 × size_of (16 GiB for these 1 KiB elements; an abort).
#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Default)]
struct Padded {
    #[facet(skip)]
    #[serde(skip)]
    pad: [[u64; 32]; 4],
}

#[test]
fn zero_wire_elements_cannot_allocate_megabytes_per_input_byte() {
    let input = [0x80, 0x80, 0x04]; // 2^16 elements
    drop(jitcard::from_bytes::<Vec<Padded>>(&[0]));
    let (peak, decoded) =
        peak_during(|| jitcard::from_bytes::<Vec<Padded>>(&input).map(|v| v.len()));
    assert!(
        peak < 16 << 20,
        "a {}-byte input made the decoder allocate {peak} bytes ({decoded:?})",
        input.len()
    );
}

/// Elements of a zero-sized *proxied* type are not "wire-free" (the proxy is
/// converted per element), so arrays of them loop; the zero-size budget is
/// only charged for the list's elements, not for the array elements inside
/// each one, so one decode converts far more zero-sized values than
/// `max_zero_sized_elements` (time not linear in the input).
#[derive(Facet)]
struct UnitProxy;

static ZST_CONVERSIONS: AtomicUsize = AtomicUsize::new(0);

#[derive(Facet, Debug)]
#[facet(proxy = UnitProxy)]
struct ProxiedZst;

impl TryFrom<UnitProxy> for ProxiedZst {
    type Error = String;
    fn try_from(_: UnitProxy) -> Result<Self, String> {
        ZST_CONVERSIONS.fetch_add(1, Ordering::Relaxed);
        Ok(ProxiedZst)
    }
}

impl TryFrom<&ProxiedZst> for UnitProxy {
    type Error = String;
    fn try_from(_: &ProxiedZst) -> Result<Self, String> {
        Ok(UnitProxy)
    }
}

#[test]
fn the_zero_size_budget_covers_array_elements() {
    let limit = 1000;
    let decoder = Decoder::<Vec<[[ProxiedZst; 32]; 32]>>::new(Engine::Interpreter)
        .unwrap()
        .with_limits(DecodeLimits {
            max_zero_sized_elements: limit,
            ..DecodeLimits::default()
        });
    let before = ZST_CONVERSIONS.load(Ordering::Relaxed);
    let mut input = Vec::new();
    jitcard::wire::write_varint_u64(&mut input, limit as u64); // within the budget
    let result = decoder.decode(&input).map(|v| v.len());
    let made = ZST_CONVERSIONS.load(Ordering::Relaxed) - before;
    assert!(
        made <= limit,
        "{} input bytes produced {made} zero-sized values with max_zero_sized_elements = \
         {limit} ({result:?}); with the default limit and [[[_; 32]; 32]; 32] elements a \
         4-byte input makes 2^39",
        input.len()
    );
}

// ================================ 5. maps and sets: layout and dups ===

fn agree_with_postcard<'de, T>(bytes: &'de [u8])
where
    T: Facet<'de> + Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let theirs = postcard::take_from_bytes::<T>(bytes);
    let ours = jitcard::take_from_bytes::<T>(bytes);
    match (&theirs, &ours) {
        (Ok((a, ra)), Ok((b, rb))) => {
            assert_eq!(a, b, "{bytes:02x?} as {}", std::any::type_name::<T>());
            assert_eq!(ra, rb);
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "{bytes:02x?} as {}: postcard {:?}, jitcard {:?}",
            std::any::type_name::<T>(),
            theirs.as_ref().map(|(v, _)| v),
            ours.as_ref().map(|(v, _)| v)
        ),
    }
}

fn map_round_trip<K, V>(entries: Vec<(K, V)>)
where
    K: for<'de> Facet<'de>
        + Serialize
        + for<'de> Deserialize<'de>
        + Eq
        + Hash
        + Clone
        + std::fmt::Debug,
    V: for<'de> Facet<'de>
        + Serialize
        + for<'de> Deserialize<'de>
        + PartialEq
        + Clone
        + std::fmt::Debug,
{
    let map: HashMap<K, V> = entries.into_iter().collect();
    let bytes = postcard::to_allocvec(&map).unwrap();
    let ours: HashMap<K, V> = jitcard::from_bytes(&bytes).unwrap();
    assert_eq!(ours, map, "{}", std::any::type_name::<HashMap<K, V>>());
    for (k, v) in &map {
        assert_eq!(ours.get(k), Some(v));
    }
}

#[test]
fn hash_map_pair_layouts() {
    map_round_trip::<u8, u64>(vec![(1, 10), (2, u64::MAX)]);
    map_round_trip::<u64, u8>(vec![(1, 10), (u64::MAX, 3)]);
    map_round_trip::<u16, [u8; 3]>(vec![(1, [1, 2, 3]), (9, [4, 5, 6])]);
    map_round_trip::<[u8; 3], u16>(vec![([1, 2, 3], 1), ([4, 5, 6], 9)]);
    map_round_trip::<(), u32>(vec![((), 7)]);
    map_round_trip::<u32, ()>(vec![(7, ()), (8, ())]);
    map_round_trip::<bool, char>(vec![(true, 'x'), (false, '\u{10ffff}')]);
    map_round_trip::<char, bool>(vec![('x', true), ('\u{10ffff}', false)]);
    map_round_trip::<u8, String>(vec![(1, "a".into()), (2, "bb".into())]);
    map_round_trip::<String, u8>(vec![("a".into(), 1), ("bb".into(), 2)]);
    map_round_trip::<(u8, u16), u8>(vec![((1, 2), 3)]);
    map_round_trip::<u128, u8>(vec![(u128::MAX, 3), (0, 4)]);
    map_round_trip::<u8, u128>(vec![(3, u128::MAX), (4, 0)]);
    map_round_trip::<Option<u8>, i16>(vec![(None, -1), (Some(3), 4)]);
    map_round_trip::<i16, Option<u8>>(vec![(-1, None), (4, Some(3))]);
}

/// A hasher larger than `RandomState`, and one of the same size, and a
/// zero-sized one.
#[derive(Clone)]
struct WideHasher([u64; 5]);
impl Default for WideHasher {
    fn default() -> Self {
        WideHasher([1, 2, 3, 4, 5])
    }
}
impl BuildHasher for WideHasher {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        let mut h = DefaultHasher::new();
        self.0.hash(&mut h);
        h
    }
}

#[test]
fn hash_maps_with_custom_hashers() {
    fn check<S: BuildHasher + Default + Clone + 'static>()
    where
        HashMap<u32, String, S>: for<'de> Facet<'de>,
    {
        let map: HashMap<u32, String, S> = (0..50).map(|i| (i, i.to_string())).collect();
        let bytes = postcard::to_allocvec(&map).unwrap();
        let ours: HashMap<u32, String, S> = jitcard::from_bytes(&bytes).unwrap();
        assert_eq!(ours.len(), 50);
        for i in 0..50 {
            assert_eq!(
                ours.get(&i).map(String::as_str),
                Some(i.to_string().as_str())
            );
        }
    }
    check::<BuildHasherDefault<DefaultHasher>>();
    check::<WideHasher>();
    check::<std::hash::RandomState>();
}

/// A key whose equality ignores part of it: which key and which value are
/// kept for duplicates must match serde's `insert` loops.
#[derive(Facet, Serialize, Deserialize, Debug, Clone)]
struct Loose {
    id: u8,
    tag: u8,
}
impl PartialEq for Loose {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Loose {}
impl Hash for Loose {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state)
    }
}
impl PartialOrd for Loose {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Loose {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

#[test]
fn duplicate_keys_keep_what_serde_keeps() {
    // [(id 1, tag 1) -> 10, (id 1, tag 2) -> 20]
    let map_bytes = [2, 1, 1, 10, 1, 2, 20];
    let set_bytes = [2, 1, 1, 1, 2];
    let tags_of = |pairs: Vec<(Loose, u8)>| -> Vec<(u8, u8, u8)> {
        pairs.into_iter().map(|(k, v)| (k.id, k.tag, v)).collect()
    };
    let theirs: BTreeMap<Loose, u8> = postcard::from_bytes(&map_bytes).unwrap();
    let ours: BTreeMap<Loose, u8> = jitcard::from_bytes(&map_bytes).unwrap();
    assert_eq!(
        tags_of(ours.into_iter().collect()),
        tags_of(theirs.into_iter().collect())
    );
    let theirs: HashMap<Loose, u8> = postcard::from_bytes(&map_bytes).unwrap();
    let ours: HashMap<Loose, u8> = jitcard::from_bytes(&map_bytes).unwrap();
    assert_eq!(
        tags_of(ours.into_iter().collect()),
        tags_of(theirs.into_iter().collect())
    );
    let theirs: BTreeSet<Loose> = postcard::from_bytes(&set_bytes).unwrap();
    let ours: BTreeSet<Loose> = jitcard::from_bytes(&set_bytes).unwrap();
    assert_eq!(
        ours.iter().map(|k| k.tag).collect::<Vec<_>>(),
        theirs.iter().map(|k| k.tag).collect::<Vec<_>>()
    );
    let theirs: HashSet<Loose> = postcard::from_bytes(&set_bytes).unwrap();
    let ours: HashSet<Loose> = jitcard::from_bytes(&set_bytes).unwrap();
    assert_eq!(
        ours.iter().map(|k| k.tag).collect::<Vec<_>>(),
        theirs.iter().map(|k| k.tag).collect::<Vec<_>>()
    );
}

// =========================================== 6. odd shapes vs postcard ===

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[repr(C)]
enum ReprC {
    A(u8),
    B { x: u64, y: String },
    C,
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[repr(i64)]
enum Negative {
    Low = i64::MIN,
    Minus = -1,
    High = i64::MAX,
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
#[repr(u64)]
enum Huge {
    A = u64::MAX,
    B = 0,
}

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct UnitS;

#[derive(Facet, Serialize, Deserialize, Debug, PartialEq)]
struct Odd {
    unit: (),
    unit_s: UnitS,
    phantom: PhantomData<String>,
    tuple: (u8, u64, (), i128),
    nested: [[u16; 2]; 3],
    empty: [String; 0],
    zst_box: Box<()>,
    zst_vec: Vec<((), UnitS)>,
    c: char,
    flag: Option<bool>,
    ch: Option<char>,
    res: Result<u8, String>,
    size: (usize, isize),
    big: (u128, i128),
    floats: Vec<f32>,
    rc: std::rc::Rc<[u16]>,
    arc: std::sync::Arc<str>,
    bx: Box<[()]>,
    enums: (ReprC, Negative, Huge),
}

fn odd() -> Odd {
    Odd {
        unit: (),
        unit_s: UnitS,
        phantom: PhantomData,
        tuple: (1, u64::MAX, (), i128::MIN),
        nested: [[1, 2], [3, 4], [5, u16::MAX]],
        empty: [],
        zst_box: Box::new(()),
        zst_vec: vec![((), UnitS); 3],
        c: '\u{10ffff}',
        flag: Some(false),
        ch: Some('é'),
        res: Err("e".into()),
        size: (usize::MAX, isize::MIN),
        big: (u128::MAX, i128::MIN),
        floats: vec![f32::NAN.copysign(-1.0), 1.5],
        rc: vec![1u16, 300].into(),
        arc: "arc".into(),
        bx: vec![(); 4].into(),
        enums: (
            ReprC::B {
                x: 7,
                y: "y".into(),
            },
            Negative::Low,
            Huge::A,
        ),
    }
}

#[test]
fn odd_shapes_round_trip_like_postcard() {
    let value = odd();
    let bytes = postcard::to_allocvec(&value).unwrap();
    let theirs: Odd = postcard::from_bytes(&bytes).unwrap();
    let ours: Odd = jitcard::from_bytes(&bytes).unwrap();
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    // Every truncation and single-byte substitution agrees with postcard.
    for len in 0..bytes.len() {
        agree_with_postcard::<Odd>(&bytes[..len]);
    }
    for at in 0..bytes.len() {
        for b in [0u8, 1, 2, 0x7f, 0x80, 0xc0, 0xff] {
            let mut m = bytes.clone();
            m[at] = b;
            let theirs = postcard::from_bytes::<Odd>(&m);
            let ours = jitcard::from_bytes::<Odd>(&m);
            assert_eq!(
                theirs.is_ok(),
                ours.is_ok(),
                "byte {at} = {b:#x}: postcard {theirs:?} jitcard {:?}",
                ours.as_ref().map(|_| ())
            );
            if let (Ok(a), Ok(b)) = (theirs, ours) {
                assert_eq!(format!("{a:?}"), format!("{b:?}"));
            }
        }
    }
}

/// Every input of up to 3 bytes (and a sample of longer ones) for small
/// types agrees with postcard.
#[test]
fn short_inputs_agree_with_postcard() {
    fn all<T>(bytes: &[u8])
    where
        T: for<'de> Facet<'de> + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        agree_with_postcard::<T>(bytes);
    }
    let mut inputs: Vec<Vec<u8>> = vec![vec![]];
    for a in 0..=255u8 {
        inputs.push(vec![a]);
        for b in 0..=255u8 {
            inputs.push(vec![a, b]);
        }
    }
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..200_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = 3 + (state % 18) as usize;
        let mut v = Vec::with_capacity(len);
        let mut s = state;
        for i in 0..len {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let byte = (s >> 56) as u8;
            // Bias toward varint continuation bytes and small lengths.
            v.push(match i % 3 {
                0 => byte | 0x80,
                1 => byte & 0x07,
                _ => byte,
            });
        }
        inputs.push(v);
    }
    for input in &inputs {
        all::<char>(input);
        all::<Option<char>>(input);
        all::<bool>(input);
        all::<Option<bool>>(input);
        all::<u16>(input);
        all::<i16>(input);
        all::<u32>(input);
        all::<i64>(input);
        all::<u128>(input);
        all::<i128>(input);
        all::<usize>(input);
        all::<isize>(input);
        all::<String>(input);
        all::<Vec<bool>>(input);
        all::<Vec<char>>(input);
        all::<Result<u8, bool>>(input);
        all::<(u8, Option<u16>)>(input);
        all::<Vec<()>>(input);
        all::<Box<str>>(input);
        all::<ReprC>(input);
        all::<Negative>(input);
        all::<BTreeMap<u8, bool>>(input);
        all::<HashSet<u16>>(input);
    }
}

// ========================================== 7. proxies: errors/kinds ===

#[derive(Facet, Debug)]
#[facet(proxy = PanicProxy)]
struct Panicky(u8);

#[derive(Facet)]
struct PanicProxy(u8);

impl TryFrom<PanicProxy> for Panicky {
    type Error = String;
    fn try_from(p: PanicProxy) -> Result<Self, String> {
        if p.0 == 13 {
            panic!("unlucky");
        }
        if p.0 == 14 {
            return Err("refused".into());
        }
        Ok(Panicky(p.0))
    }
}

impl TryFrom<&Panicky> for PanicProxy {
    type Error = String;
    fn try_from(p: &Panicky) -> Result<Self, String> {
        Ok(PanicProxy(p.0))
    }
}

#[derive(Facet, Debug)]
struct WithPanicky {
    head: String,
    p: Panicky,
}

#[test]
fn proxy_conversion_errors_and_panics() {
    let error = jitcard::from_bytes::<WithPanicky>(&[1, b'a', 13]).unwrap_err();
    // README: "a panic in a Rust-ABI facet function (a proxy conversion, a
    // default) is an `Error::Panicked`"; README "Errors": "A panic inside a
    // proxy conversion becomes `Error::Fallback`".
    assert!(matches!(error, Error::Panicked { .. }), "{error:?}");
    assert_eq!(error.path(), "WithPanicky.p");
}

/// A refused conversion is reported at the position *after* the proxy
/// value (interp/decode.rs `via_proxy`: `self.invalid(..)` uses the current
/// position), not where the refused value starts. A design question more
/// than a bug: every other error points at the start of the failing part.
#[test]
fn conversion_errors_point_at_the_value_s_start() {
    let error = jitcard::from_bytes::<WithPanicky>(&[1, b'a', 14]).unwrap_err();
    // The refused value starts at byte 2.
    match &error {
        Error::Invalid {
            offset,
            kind: InvalidKind::Conversion(_),
            ..
        } => assert_eq!(*offset, 2, "{error}"),
        other => panic!("{other:?}"),
    }
}

/// facet's own `Duration` (a proxy to `(u64, u32)`): serde decodes it.
#[test]
fn duration_decodes_like_serde() {
    let d = std::time::Duration::new(5, 7);
    let bytes = postcard::to_allocvec(&d).unwrap();
    let ours = jitcard::from_bytes::<std::time::Duration>(&bytes);
    assert_eq!(ours.ok(), Some(d), "serde decodes {bytes:02x?} as {d:?}");
}

// ============================ 8. deep values dropped on the error path ===

/// README: "recursion is limited by `DecodeLimits::max_depth` ... and the
/// stack grows on demand, so a 2 MiB thread is safe at any limit". Decoding
/// does grow the stack, but when a later field fails, the deep value built
/// so far is dropped through facet's drop (Rust drop glue, recursive) on the
/// *current* stack segment, which overflows.
#[derive(Facet)]
struct Link {
    next: Option<Box<Link>>,
}

#[derive(Facet)]
struct Chain {
    head: Option<Box<Link>>,
    tail: u8,
}

#[test]
fn a_deep_partial_value_is_dropped_without_overflowing_a_2_mib_thread() {
    if let Some(output) =
        in_child("a_deep_partial_value_is_dropped_without_overflowing_a_2_mib_thread")
    {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    let depth = 100_000;
    let mut input = vec![1u8; depth];
    input.push(0); // the innermost `next` is None; `tail` is missing
    let decoder = Decoder::<Chain>::new(Engine::Interpreter)
        .unwrap()
        .with_limits(DecodeLimits {
            max_depth: 1 << 20,
            ..DecodeLimits::default()
        });
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || decoder.decode(&input).err().map(|e| e.to_string()))
        .unwrap()
        .join()
        .unwrap();
    assert!(result.is_some());
}

/// Control for the test above: the same depth decodes fine when nothing
/// fails (the value is forgotten, not dropped), so the overflow is the
/// error path's drop.
#[test]
fn control_the_same_depth_decodes_when_nothing_fails() {
    if let Some(output) = in_child("control_the_same_depth_decodes_when_nothing_fails") {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    let depth = 100_000;
    let mut input = vec![1u8; depth];
    input.extend_from_slice(&[0, 7]);
    let decoder = Decoder::<Chain>::new(Engine::Interpreter)
        .unwrap()
        .with_limits(DecodeLimits {
            max_depth: 1 << 20,
            ..DecodeLimits::default()
        });
    let tail = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let value = decoder.decode(&input).unwrap();
            let tail = value.tail;
            std::mem::forget(value);
            tail
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(tail, 7);
}

// ================================ 9. recursion through a container proxy ===

/// plan/graph.rs `children` gives `Op::Fallback` nodes no children, but a
/// decode plan's proxy node (`Build::Proxy { proxy }`) decodes `proxy`: a
/// cycle through a container proxy has no cycle breaker, so
/// `DecodeLimits::max_depth` is never checked for it.
#[derive(Facet, Debug)]
#[facet(proxy = PNodeProxy)]
struct PNode {
    next: Option<Box<PNode>>,
}

#[derive(Facet)]
struct PNodeProxy {
    next: Option<Box<PNode>>,
}

impl TryFrom<PNodeProxy> for PNode {
    type Error = String;
    fn try_from(p: PNodeProxy) -> Result<Self, String> {
        Ok(PNode { next: p.next })
    }
}

impl TryFrom<&PNode> for PNodeProxy {
    type Error = String;
    fn try_from(_: &PNode) -> Result<Self, String> {
        Err("encoding is not needed here".into())
    }
}

#[derive(Facet, Debug)]
struct PChain {
    head: PNode,
    tail: u8,
}

#[test]
fn max_depth_applies_to_recursion_through_a_container_proxy() {
    let mut input = vec![1u8; 5000];
    input.extend_from_slice(&[0, 7]);
    let decoder = Decoder::<PChain>::new(Engine::Interpreter).unwrap();
    assert_eq!(decoder.limits().max_depth, 1024);
    let result = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            match decoder.decode(&input) {
                Ok(value) => {
                    std::mem::forget(value); // dropping 5000 levels is not the point here
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        matches!(&result, Err(e) if e.contains("deep")),
        "5000 levels of a proxied recursive type decoded with max_depth 1024: {result:?}"
    );
}

/// With the default limits, a ~100 KB hostile input then crashes the
/// process: the depth is unbounded, and when a later field fails the deep
/// value is dropped recursively on the caller's stack.
#[test]
fn default_limits_keep_a_proxied_recursive_type_from_crashing_the_process() {
    if let Some(output) =
        in_child("default_limits_keep_a_proxied_recursive_type_from_crashing_the_process")
    {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    let mut input = vec![1u8; 100_000];
    input.push(0); // innermost `next` is None; `tail` is missing
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            jitcard::from_bytes::<PChain>(&input)
                .err()
                .map(|e| e.to_string())
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(result.is_some());
}

// ===================================================== 10. exploratory ===

fn bomb_panics() -> bool {
    std::env::var("JITCARD_TEST_CHILD").is_ok()
}

/// A value whose `Drop` panics.
#[derive(Facet, Debug)]
struct Bomb(u8);

impl Drop for Bomb {
    fn drop(&mut self) {
        if bomb_panics() {
            panic!("bomb {}", self.0);
        }
    }
}

#[derive(Facet, Debug)]
struct HoldsBomb {
    bomb: Option<Bomb>,
    after: u32,
}

/// A panicking `Drop` of a partly decoded value: it must not abort (facet
/// drops an `Option` through an `extern "C"` function, where a panic would);
/// the decode reports the error that made it drop the value.
#[test]
fn a_panicking_drop_on_the_error_path_does_not_abort() {
    if let Some(output) = in_child("a_panicking_drop_on_the_error_path_does_not_abort") {
        assert!(output.status.success(), "{}", child_report(&output));
        return;
    }
    let result = std::panic::catch_unwind(|| {
        jitcard::from_bytes::<HoldsBomb>(&[1, 5])
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(Err(message)) => assert!(message.contains("unexpected end"), "{message}"),
        other => panic!("expected the decode error, got {other:?}"),
    }
}

#[derive(Facet, Default, Clone)]
struct TinyState;

impl BuildHasher for TinyState {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        DefaultHasher::new()
    }
}

#[derive(Facet, Clone)]
struct BigState {
    seeds: [u64; 6],
}

impl Default for BigState {
    fn default() -> Self {
        BigState { seeds: [9; 6] }
    }
}

impl BuildHasher for BigState {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        let mut h = DefaultHasher::new();
        self.seeds.hash(&mut h);
        h
    }
}

#[test]
fn hash_sets_with_custom_hashers() {
    let input = {
        let set: HashSet<u32> = (0..40).collect();
        postcard::to_allocvec(&set).unwrap()
    };
    let tiny: HashSet<u32, TinyState> = jitcard::from_bytes(&input).unwrap();
    let big: HashSet<u32, BigState> = jitcard::from_bytes(&input).unwrap();
    for i in 0..40 {
        assert!(tiny.contains(&i) && big.contains(&i));
    }
    assert_eq!((tiny.len(), big.len()), (40, 40));
}

#[derive(Facet, Debug)]
struct PathsInside {
    map: BTreeMap<u8, Vec<u16>>,
    hashed: HashMap<u8, (bool, char)>,
    boxed: Option<Box<[Option<u16>]>>,
}

#[test]
fn error_paths_and_offsets() {
    let cases: Vec<(Vec<u8>, &str, usize)> = vec![
        // map {1: [2, bad varint]}
        (
            vec![1, 1, 2, 2, 0xff, 0xff, 0xff],
            "PathsInside.map[0]{value}[1]",
            4,
        ),
        // map {}, hashed {1: (bool 7, ..)}
        (
            vec![0, 1, 1, 7, 1, b'a'],
            "PathsInside.hashed[0]{value}.0",
            3,
        ),
        // map {}, hashed {}, boxed Some([Some(1), tag 9])
        (vec![0, 0, 1, 2, 1, 1, 9], "PathsInside.boxed.Some[1]", 6),
    ];
    for (input, path, offset) in cases {
        let error = jitcard::from_bytes::<PathsInside>(&input).unwrap_err();
        let got = match &error {
            Error::Invalid { offset, .. } => *offset,
            _ => usize::MAX,
        };
        assert_eq!((error.path(), got), (path, offset), "{input:02x?}: {error}");
    }
}

/// A zero-sized type whose wire form (through a proxy) is one byte: arrays
/// of it are zero-sized in memory but huge on the wire, so their minimum
/// wire size saturates at `usize::MAX`. `Run::map` adds the key's and the
/// value's minimum sizes without saturating (interp/decode.rs, `min =
/// key + value`): an arithmetic-overflow panic in debug builds.
#[derive(Facet, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[facet(proxy = u8)]
struct ByteZst;

impl TryFrom<u8> for ByteZst {
    type Error = String;
    fn try_from(_: u8) -> Result<Self, String> {
        Ok(ByteZst)
    }
}

impl TryFrom<&ByteZst> for u8 {
    type Error = String;
    fn try_from(_: &ByteZst) -> Result<Self, String> {
        Ok(0)
    }
}

#[test]
fn huge_minimum_sizes_do_not_overflow() {
    type Huge = [ByteZst; usize::MAX];
    let outcome = std::panic::catch_unwind(|| {
        jitcard::from_bytes::<BTreeMap<Huge, Huge>>(&[1, 0, 0])
            .err()
            .map(|e| e.to_string())
    });
    assert!(
        matches!(outcome, Ok(Some(_))),
        "decoding panicked instead of failing: {:?}",
        outcome.err().map(|p| jitcard_panic_text(&*p))
    );
}

fn jitcard_panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// `Infallible` has no values: a type holding it decodes wherever the
/// wire does not reach it (as serde's `Infallible` refuses only when asked
/// for a value), and refuses with `Uninhabited` where it does.
#[test]
fn uninhabited_parts_decode_where_the_wire_does_not_reach_them() {
    // (serde has no `Deserialize` for `Infallible`, so nothing to compare.)
    type R = Result<u8, Infallible>;
    assert_eq!(jitcard::from_bytes::<R>(&[0, 5]).ok(), Some(Ok(5)));
    for input in [&[1u8, 5][..], &[1], &[2]] {
        let ours = jitcard::from_bytes::<R>(input);
        assert!(ours.is_err(), "{input:?}: {ours:?}");
    }
    assert!(matches!(
        jitcard::from_bytes::<R>(&[1]),
        Err(Error::Invalid {
            kind: InvalidKind::Uninhabited,
            offset: 1,
            ..
        })
    ));
    assert_eq!(jitcard::from_bytes::<[Infallible; 0]>(&[]).ok(), Some([]));
    assert_eq!(
        jitcard::from_bytes::<Vec<Infallible>>(&[0]).ok(),
        Some(vec![])
    );
    let error = jitcard::from_bytes::<Vec<Infallible>>(&[2]).map(|v| v.len());
    assert!(
        matches!(
            error,
            Err(Error::Invalid {
                kind: InvalidKind::Uninhabited,
                ..
            })
        ),
        "{error:?}"
    );
}

/// `PathBuf` has no wire rule of jitcard's own: refused with a reason, at
/// plan time.
#[test]
fn path_buf_is_refused_at_plan_time() {
    let error = Decoder::<PathBuf>::new(Engine::Interpreter).err();
    assert!(
        matches!(error, Some(Error::Unsupported { .. })),
        "{error:?}"
    );
}

/// An empty collection needs no element storage, but `boxed_slice` (and
/// `set`'s `Insert`) allocate one element's scratch before the loop: for an
/// element type too large to allocate, the valid empty input fails with
/// `Error::Allocation` (and `boxed_slice` leaks the slice builder it made
/// first).
#[test]
fn empty_collections_of_huge_elements_decode() {
    type Huge = [u8; 1 << 46];
    let boxed = jitcard::from_bytes::<std::sync::Arc<[Huge]>>(&[0]).map(|v| v.len());
    let set = jitcard::from_bytes::<BTreeSet<Huge>>(&[0]).map(|v| v.len());
    let vec = jitcard::from_bytes::<Vec<Huge>>(&[0]).map(|v| v.len());
    assert_eq!(
        (boxed.ok(), set.ok(), vec.ok()),
        (Some(0), Some(0), Some(0)),
        "the empty input is valid for every one of them"
    );
}
