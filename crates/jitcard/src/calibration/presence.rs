//! Option presence without a call: which bytes of an `Option<T>` tell
//! `None` from `Some`, and where `Some`'s payload is, so an encoder tests one
//! load against a constant instead of calling facet's `get_value`.
//!
//! Rust promises the layout of only a few options (`Option<&T>`,
//! `Option<Box<T>>`, `Option<NonZero*>`: `None` is all zeros). For the rest
//! this module calibrates a rule on facet's own `init_none`/`init_some` and
//! keeps it only where an argument below makes it sound; otherwise the
//! option keeps the vtable call ([`presences`] answers `None`).
//!
//! **What the probes show.** `init_none` runs on two buffers of the
//! option's layout, one filled with `0x00` and one with `0xFF`. The bytes
//! equal in both are the bytes `None` *writes* (W); the others it leaves
//! alone. rustc represents the fieldless `None` by its tag or niche field F
//! alone: F ⊆ W, and F holds the same value in every `None`, whoever wrote
//! it. (An unoptimized build may write more: a whole constant, padding and
//! payload included. Such bytes are not F, may differ in a `None` written
//! elsewhere, and the rules below never rely on them.)
//!
//! **Niche layout** (`size_of::<Option<T>>() == size_of::<T>()`): `Some(v)`
//! is `v` itself (the payload fills the option, so it starts at offset 0).
//! [`Niche`]s list bytes of `T` together with values no valid `T` has there
//! (a `bool` byte other than 0/1, a `char` above `0x10FFFF`, a null `Box`,
//! `Arc` or reference address, a `String`/`Vec` capacity above `isize::MAX`,
//! a discriminant no variant has, or another option's tag). A niche C whose
//! bytes are exactly W and whose `None` value is such an invalid value
//! decides presence: W = C holds F, and F and C are both whole scalar
//! fields of `T`, so F = C; every `None` has C's value, no `Some` can (its
//! payload is a valid `T`). Where W is more than a niche (the unoptimized
//! whole-constant write), the option keeps the call.
//!
//! **Tagged layout** (the option is larger): used only when every bit
//! pattern of `T` is a value (integers, floats, bytes: no niche exists, so
//! rustc must tag). Then `T`'s all-zeros and all-ones values are stored with
//! `init_some` over both fillings too: `get_value` gives the payload offset,
//! and the bytes of W outside the payload that are equal in all four `Some`
//! probes and differ from `None`'s must be exactly one byte: the tags of
//! `None` and `Some` differ (0 and 1: in one byte), and padding is never
//! written differently by both consistently; more than one such byte means
//! the probes do not show a tag, and the call stays. That byte decides
//! presence for every value. For an enclosing option, the tag's niche is
//! the aligned unit W has outside the payload (the tag field itself in an
//! optimized build: rustc widens the tag of an option of a scalar to the
//! scalar's alignment, so no padding lies beside it), valid values `None`'s
//! and `Some`'s.
//!
//! Any probe that does not fit (probes that disagree, no single tag byte, a
//! `None` that writes more than a niche, a layout larger than
//! [`MAX_PROBE_BYTES`]) leaves the option on the call path.

use std::alloc::Layout;

use facet_core::{OptionVTable, PtrConst, PtrMut, PtrUninit};

use super::layout::{PointerLayout, PtrLenLayout};
use crate::plan::{DiscriminantRead, NodeId, NodeMap, Op, Plan, StrAccess};

/// Largest option layout this module probes.
const MAX_PROBE_BYTES: usize = 64 * 1024;

/// Most niches remembered per node (structs offer one per field).
const MAX_NICHES: usize = 8;

/// The values a valid value may hold in some bytes (a superset is fine:
/// only values outside it are used, as "no valid value has this").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Valid {
    OneOf(Vec<u64>),
    AtMost(u64),
    NonZero,
}

impl Valid {
    fn admits(&self, value: u64) -> bool {
        match self {
            Valid::OneOf(values) => values.contains(&value),
            Valid::AtMost(max) => value <= *max,
            Valid::NonZero => value != 0,
        }
    }

    /// The set with `value` added, when still a useful set.
    fn with(&self, value: u64) -> Option<Valid> {
        match self {
            Valid::OneOf(values) => {
                let mut values = values.clone();
                values.push(value);
                Some(Valid::OneOf(values))
            }
            Valid::AtMost(max) if value <= *max => Some(self.clone()),
            Valid::AtMost(max) if Some(value) == max.checked_add(1) => Some(Valid::AtMost(value)),
            _ => None,
        }
    }
}

/// `width` bytes at `offset` of a value, read as a native-endian unsigned
/// integer, and the values a valid value may have there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Niche {
    pub offset: usize,
    pub width: usize,
    pub valid: Valid,
}

/// How generated code tells an option's `None` from `Some`: the
/// native-endian integer of `width` bytes at `offset` equals `none` exactly
/// for `None`; `Some`'s payload is at `payload_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Presence {
    pub offset: i32,
    pub width: u8,
    pub none: u64,
    pub payload_offset: i32,
}

impl Presence {
    /// The rule of an option whose `None` is a null address word at
    /// `offset`, the payload being the whole option (`Option<Box<T>>` and
    /// the like): what [`Analysis::guaranteed`] gives, and what the
    /// interpreter's program fuses with the pointer's own layout.
    pub fn null_word(offset: i32) -> Presence {
        Presence {
            offset,
            width: core::mem::size_of::<*const u8>() as u8,
            none: 0,
            payload_offset: 0,
        }
    }

    /// The payload of the option at `at`, or `None` for `None`: what
    /// facet's `get_value` returns, read as generated code reads it.
    ///
    /// # Safety
    /// `at` points at a live option of the shape this rule was found for.
    #[inline(always)]
    pub unsafe fn payload(self, at: *const u8) -> Option<*const u8> {
        // SAFETY: the rule's bytes and the payload lie inside the option
        // (the caller's contract and the calibration).
        unsafe {
            let field = at.add(self.offset as usize);
            let word = match self.width {
                1 => u64::from(*field),
                2 => u64::from(field.cast::<u16>().read_unaligned()),
                4 => u64::from(field.cast::<u32>().read_unaligned()),
                _ => field.cast::<u64>().read_unaligned(),
            };
            (word != self.none).then(|| at.add(self.payload_offset as usize))
        }
    }
}

/// The layouts calibrated elsewhere that niches come from.
pub(crate) struct KnownLayouts<'a> {
    pub string: Option<PtrLenLayout>,
    pub str_ref: Option<PtrLenLayout>,
    pub vecs: &'a NodeMap<Option<PtrLenLayout>>,
    pub pointers: &'a NodeMap<Option<PointerLayout>>,
}

/// The inline presence rule of every option node of `plan` (`None` for
/// other nodes and for options that keep the call).
pub(crate) fn presences(plan: &Plan, known: &KnownLayouts<'_>) -> NodeMap<Option<Presence>> {
    let mut analysis = Analysis {
        plan,
        known,
        niches: NodeMap::filled(plan, None),
        options: NodeMap::filled(plan, None),
    };
    NodeMap::of(plan, |id| match plan.node(id).op {
        Op::Option(_) => analysis.option(id).map(|(presence, _)| presence),
        _ => None,
    })
}

struct Analysis<'p, 'k> {
    plan: &'p Plan,
    known: &'k KnownLayouts<'k>,
    /// Memo of [`Analysis::niches`] (`Some(vec![])` while in progress, so a
    /// cycle, which only passes through pointers or lists, yields nothing).
    niches: NodeMap<Option<Vec<Niche>>>,
    /// Memo of [`Analysis::option`].
    #[allow(clippy::type_complexity)]
    options: NodeMap<Option<Option<(Presence, Option<Niche>)>>>,
}

impl Analysis<'_, '_> {
    /// The niches of node `id`'s values.
    fn niches(&mut self, id: NodeId) -> Vec<Niche> {
        if let Some(known) = &self.niches[id] {
            return known.clone();
        }
        self.niches[id] = Some(Vec::new());
        let found = crate::stack::with_room(crate::stack::RED_ZONE, || self.niches_here(id));
        let found: Vec<Niche> = found.into_iter().take(MAX_NICHES).collect();
        self.niches[id] = Some(found.clone());
        found
    }

    fn niches_here(&mut self, id: NodeId) -> Vec<Niche> {
        const WORD: usize = size_of::<usize>();
        let capacity = |layout: PtrLenLayout| Niche {
            offset: layout.capacity_offset() as usize,
            width: WORD,
            valid: Valid::AtMost(isize::MAX as u64),
        };
        match &self.plan.node(id).op {
            Op::Bool => vec![Niche {
                offset: 0,
                width: 1,
                valid: Valid::OneOf(vec![0, 1]),
            }],
            Op::Char => vec![Niche {
                offset: 0,
                width: 4,
                valid: Valid::AtMost(char::MAX as u64),
            }],
            Op::Str(StrAccess::String) => self.known.string.map(capacity).into_iter().collect(),
            Op::Str(StrAccess::StrRef) => self
                .known
                .str_ref
                .map(|layout| Niche {
                    offset: layout.ptr_offset as usize,
                    width: WORD,
                    valid: Valid::NonZero,
                })
                .into_iter()
                .collect(),
            Op::List(_) => self.known.vecs[id].map(capacity).into_iter().collect(),
            Op::Pointer(_) => self.known.pointers[id]
                .map(|pointer| Niche {
                    offset: pointer.data_word as usize,
                    width: WORD,
                    valid: Valid::NonZero,
                })
                .into_iter()
                .collect(),
            Op::Enum(op) => {
                let width = discriminant_width(op.discriminant);
                let mask = width_mask(width);
                let values = op
                    .variants
                    .iter()
                    .map(|v| v.discriminant as u64 & mask)
                    .collect();
                vec![Niche {
                    offset: 0,
                    width,
                    valid: Valid::OneOf(values),
                }]
            }
            Op::Option(_) => self
                .option(id)
                .and_then(|(_, niche)| niche)
                .into_iter()
                .collect(),
            Op::Fields(fields) => {
                let mut all = Vec::new();
                for field in fields.iter().filter(|f| f.proxy.is_none()) {
                    for niche in self.niches(field.node) {
                        all.push(Niche {
                            offset: niche.offset + field.offset,
                            ..niche
                        });
                    }
                }
                all
            }
            Op::Array(op) if op.len > 0 => self.niches(op.elements.node),
            _ => Vec::new(),
        }
    }

    /// The presence rule of option node `id` and the niche its own values
    /// offer to an enclosing option.
    fn option(&mut self, id: NodeId) -> Option<(Presence, Option<Niche>)> {
        if let Some(known) = &self.options[id] {
            return known.clone();
        }
        let found = self.calibrate(id);
        self.options[id] = Some(found.clone());
        found
    }

    fn calibrate(&mut self, id: NodeId) -> Option<(Presence, Option<Niche>)> {
        let node = self.plan.node(id);
        let Op::Option(op) = &node.op else {
            return None;
        };
        let layout = node.shape.layout.sized_layout().ok()?;
        let payload = self.plan.node(op.some).shape.layout.sized_layout().ok()?;
        if let Some(guaranteed) = self.guaranteed(op.some, layout.size(), payload.size()) {
            return Some(guaranteed);
        }
        if !PROBES || layout.size() == 0 || layout.size() > MAX_PROBE_BYTES {
            return None;
        }
        let none = [0x00, 0xFF].map(|fill| probe_none(op.vtable, layout, fill));
        let written: Vec<bool> = (0..layout.size())
            .map(|i| none[0][i] == none[1][i])
            .collect();
        // Whether `None` writes exactly the bytes `[offset, offset + width)`.
        let writes_exactly = |offset: usize, width: usize| {
            written
                .iter()
                .enumerate()
                .all(|(i, &w)| w == (offset..offset + width).contains(&i))
        };
        if layout.size() == payload.size() {
            // Niche layout: `Some(v)` is `v`, at offset 0.
            for niche in self.niches(op.some) {
                if !writes_exactly(niche.offset, niche.width) {
                    continue;
                }
                let value = read(&none[0], niche.offset, niche.width);
                if niche.valid.admits(value) {
                    continue;
                }
                let presence = Presence {
                    offset: niche.offset as i32,
                    width: niche.width as u8,
                    none: value,
                    payload_offset: 0,
                };
                let own = niche
                    .valid
                    .with(value)
                    .map(|valid| Niche { valid, ..niche });
                return Some((presence, own));
            }
            return None;
        }
        // Tagged layout, for payloads whose every bit pattern is a value.
        let plain = matches!(
            self.plan.node(op.some).op,
            Op::Int(_) | Op::F32 | Op::F64 | Op::Byte
        );
        if !plain || payload.size() > 16 {
            return None;
        }
        let mut somes = Vec::new();
        for fill in [0x00, 0xFF] {
            for payload_fill in [0x00, 0xFF] {
                somes.push(probe_some(op.vtable, layout, payload, fill, payload_fill)?);
            }
        }
        let payload_offset = somes[0].1;
        if somes.iter().any(|(_, offset)| *offset != payload_offset)
            || payload_offset + payload.size() > layout.size()
        {
            return None;
        }
        let in_payload = |i: usize| (payload_offset..payload_offset + payload.size()).contains(&i);
        let some_agrees = |i: usize| somes.iter().all(|(bytes, _)| bytes[i] == somes[0].0[i]);
        // The one byte where `None` and every `Some` differ: a tag byte.
        let differing: Vec<usize> = (0..layout.size())
            .filter(|&i| {
                written[i] && !in_payload(i) && some_agrees(i) && somes[0].0[i] != none[0][i]
            })
            .collect();
        let [tag_byte] = differing[..] else {
            return None;
        };
        let presence = Presence {
            offset: tag_byte as i32,
            width: 1,
            none: u64::from(none[0][tag_byte]),
            payload_offset: payload_offset as i32,
        };
        // The niche these options offer an enclosing option: the whole tag
        // (the bytes `None` writes outside the payload, one aligned unit
        // holding the tag byte, written alike by every `Some`), whose
        // valid values are `None`'s and `Some`'s.
        let outside: Vec<usize> = (0..layout.size())
            .filter(|&i| written[i] && !in_payload(i))
            .collect();
        let own = match (outside.first(), outside.last()) {
            (Some(&first), Some(&last)) => {
                let width = last + 1 - first;
                let unit = [1, 2, 4, 8].contains(&width)
                    && first % width == 0
                    && outside.len() == width
                    && (first..=last).all(|i| some_agrees(i) && !in_payload(i));
                unit.then(|| Niche {
                    offset: first,
                    width,
                    valid: Valid::OneOf(vec![
                        read(&none[0], first, width),
                        read(&somes[0].0, first, width),
                    ]),
                })
            }
            _ => None,
        };
        Some((presence, own))
    }
}

impl Analysis<'_, '_> {
    /// The rule Rust guarantees without a probe: `Option<Box<T>>`,
    /// `Option<&T>` and `Option<&mut T>` of a sized `T` are one pointer
    /// word, `None` the null one (std's `option` docs, "Representation").
    fn guaranteed(
        &mut self,
        payload: NodeId,
        size: usize,
        payload_size: usize,
    ) -> Option<(Presence, Option<Niche>)> {
        const WORD: usize = size_of::<usize>();
        let plain = Some(PointerLayout {
            data_word: 0,
            len_word: None,
            data_offset: 0,
        });
        let thin_plain_pointer = matches!(self.plan.node(payload).op, Op::Pointer(_))
            && self.known.pointers[payload] == plain
            && size == WORD
            && payload_size == WORD;
        thin_plain_pointer.then_some((Presence::null_word(0), None))
    }
}

fn discriminant_width(read: DiscriminantRead) -> usize {
    match read {
        DiscriminantRead::U8 | DiscriminantRead::I8 => 1,
        DiscriminantRead::U16 | DiscriminantRead::I16 => 2,
        DiscriminantRead::U32 | DiscriminantRead::I32 => 4,
        DiscriminantRead::U64 | DiscriminantRead::I64 => 8,
    }
}

fn width_mask(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    }
}

/// The native-endian unsigned integer of `width` (1, 2, 4 or 8) bytes at
/// `offset`.
fn read(bytes: &[u8], offset: usize, width: usize) -> u64 {
    let mut word = [0u8; 8];
    let field = &bytes[offset..offset + width];
    if cfg!(target_endian = "little") {
        word[..width].copy_from_slice(field);
        u64::from_le_bytes(word)
    } else {
        word[8 - width..].copy_from_slice(field);
        u64::from_be_bytes(word)
    }
}

/// The one-byte load [`load_byte`] runs, per architecture (`byte` is a
/// 32-bit register, `at` the address).
#[cfg(target_arch = "x86_64")]
macro_rules! load_byte_asm {
    () => {
        "movzx {byte:e}, byte ptr [{at}]"
    };
}
#[cfg(target_arch = "aarch64")]
macro_rules! load_byte_asm {
    () => {
        "ldrb {byte:w}, [{at}]"
    };
}

/// The byte at `at`, loaded by the machine (see [`Buffer::bytes`]).
///
/// # Safety
/// `at` is inside a live allocation.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
unsafe fn load_byte(at: *const u8) -> u8 {
    let byte: u32;
    // SAFETY: a one-byte load from `at` (the caller's contract); no other
    // effect.
    unsafe {
        std::arch::asm!(
            load_byte_asm!(),
            byte = out(reg) byte,
            at = in(reg) at,
            options(nostack, readonly, preserves_flags),
        )
    };
    byte as u8
}

/// The byte at `at`, where no machine load is written for this target:
/// probes are not run there (see [`PROBES`]).
///
/// # Safety
/// Never called.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn load_byte(_at: *const u8) -> u8 {
    unreachable!("no option probes on this target")
}

/// Whether options are probed at all: in optimized builds, on targets with
/// a machine load for [`Buffer::bytes`]. An unoptimized facet writes `None`
/// as a whole copy of a stack temporary, undefined bytes included: its
/// options would be refused anyway (W is more than a niche), and comparing
/// those bytes is what memory checkers report, so they are not probed.
const PROBES: bool =
    !cfg!(debug_assertions) && cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// A heap buffer of `layout` filled with `fill`, freed on drop.
struct Buffer {
    ptr: *mut u8,
    layout: Layout,
}

impl Buffer {
    fn new(layout: Layout, fill: u8) -> Buffer {
        let layout = Layout::from_size_align(layout.size().max(1), layout.align())
            .expect("a shape's layout with its size rounded up to 1 is valid");
        // SAFETY: `layout` has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: `ptr` is `layout.size()` writable bytes.
        unsafe { ptr.write_bytes(fill, layout.size()) };
        Buffer { ptr, layout }
    }

    /// The buffer's bytes, each read by one machine load in `asm!`: facet's
    /// `init_*` may have copied a value's undefined bytes (padding, an
    /// unwritten payload) over the fill, which Rust code may not read as
    /// integers; a load the compiler cannot see into yields the byte the
    /// memory holds, a plain value.
    fn bytes(&self) -> Vec<u8> {
        (0..self.layout.size())
            // SAFETY: `i` is inside the buffer, which is allocated.
            .map(|i| unsafe { load_byte(self.ptr.add(i)) })
            .collect()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout. What the probes wrote
        // there is `None` or `Some` of a plain payload: nothing to drop.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

/// The bytes of `None` written by `init_none` over `layout` bytes of `fill`.
fn probe_none(vtable: &OptionVTable, layout: Layout, fill: u8) -> Vec<u8> {
    let buffer = Buffer::new(layout, fill);
    // SAFETY: the buffer has the option's layout; `init_none` writes `None`
    // there (nothing is read or dropped).
    unsafe { (vtable.init_none)(PtrUninit::new(buffer.ptr)) };
    buffer.bytes()
}

/// The bytes of `Some(payload)` written by `init_some` over `layout` bytes
/// of `fill`, where the payload's bytes are all `payload_fill` (a value:
/// callers only probe payloads whose every bit pattern is one), and the
/// payload's offset as `get_value` reports it.
fn probe_some(
    vtable: &OptionVTable,
    layout: Layout,
    payload: Layout,
    fill: u8,
    payload_fill: u8,
) -> Option<(Vec<u8>, usize)> {
    let buffer = Buffer::new(layout, fill);
    let value = Buffer::new(payload, payload_fill);
    // SAFETY: the buffer has the option's layout and `value` holds a valid
    // payload (every bit pattern is one), which `init_some` moves in; the
    // payload needs no drop, so its buffer is simply freed.
    let at = unsafe {
        (vtable.init_some)(PtrUninit::new(buffer.ptr), PtrMut::new(value.ptr));
        (vtable.get_value)(PtrConst::new(buffer.ptr))
    };
    let offset = (at as usize).checked_sub(buffer.ptr as usize)?;
    Some((buffer.bytes(), offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use facet::Facet;

    #[test]
    fn reads_native_endian_integers_of_each_width() {
        let bytes = 0x0807_0605_0403_0201u64.to_ne_bytes();
        assert_eq!(read(&bytes, 0, 8), 0x0807_0605_0403_0201);
        assert_eq!(
            read(&bytes, 0, 4) as u32,
            u32::from_ne_bytes(bytes[..4].try_into().unwrap())
        );
        assert_eq!(
            read(&bytes, 2, 2) as u16,
            u16::from_ne_bytes(bytes[2..4].try_into().unwrap())
        );
        assert_eq!(read(&bytes, 7, 1), u64::from(bytes[7]));
    }

    #[test]
    fn extending_a_valid_set_keeps_it_a_superset() {
        assert_eq!(Valid::AtMost(5).with(6), Some(Valid::AtMost(6)));
        assert_eq!(Valid::AtMost(5).with(7), None);
        assert_eq!(Valid::NonZero.with(0), None);
        assert_eq!(
            Valid::OneOf(vec![0, 1]).with(2),
            Some(Valid::OneOf(vec![0, 1, 2]))
        );
        assert!(!Valid::OneOf(vec![0, 1]).admits(2));
        assert!(!Valid::AtMost(char::MAX as u64).admits(0x11_0000));
        assert!(!Valid::NonZero.admits(0));
    }

    #[derive(Facet, Clone, Copy)]
    #[repr(u8)]
    enum Small {
        A = 3,
        B = 7,
    }

    #[derive(Facet, Clone)]
    struct Record {
        count: u32,
        name: String,
    }

    /// Every kind of option: niches in a bool, a char, an enum, an option,
    /// pointers thin and wide, strings and vectors, a struct; plain tags.
    #[derive(Facet, Clone)]
    struct Kinds {
        flag: Option<bool>,
        letter: Option<char>,
        small: Option<Small>,
        nested: Option<Option<u32>>,
        nested_flag: Option<Option<bool>>,
        boxed: Option<Box<u64>>,
        shared: Option<std::sync::Arc<u16>>,
        counted: Option<std::rc::Rc<u64>>,
        shared_text: Option<std::sync::Arc<str>>,
        bytes: Option<Box<[u8]>>,
        text: Option<String>,
        list: Option<Vec<u32>>,
        record: Option<Record>,
        reference: Option<&'static str>,
        byte: Option<u8>,
        short: Option<i16>,
        word: Option<u64>,
        float: Option<f64>,
        wide: Option<u128>,
    }

    fn all_none() -> Kinds {
        Kinds {
            flag: None,
            letter: None,
            small: None,
            nested: None,
            nested_flag: None,
            boxed: None,
            shared: None,
            counted: None,
            shared_text: None,
            bytes: None,
            text: None,
            list: None,
            record: None,
            reference: None,
            byte: None,
            short: None,
            word: None,
            float: None,
            wide: None,
        }
    }

    fn some(seed: u8) -> Kinds {
        let x = u64::from(seed);
        Kinds {
            flag: Some(seed & 1 == 1),
            letter: Some(char::from_u32(0x10FFFF - u32::from(seed)).unwrap_or('x')),
            small: Some(if seed & 1 == 0 { Small::A } else { Small::B }),
            nested: Some((seed & 2 == 0).then_some(u32::MAX - u32::from(seed))),
            nested_flag: Some((seed & 2 == 0).then_some(true)),
            boxed: Some(Box::new(x)),
            shared: Some(std::sync::Arc::new(u16::from(seed))),
            counted: Some(std::rc::Rc::new(x)),
            shared_text: Some(std::sync::Arc::from("text")),
            bytes: Some(vec![seed; usize::from(seed)].into_boxed_slice()),
            text: Some(String::with_capacity(usize::from(seed))),
            list: Some(vec![u32::from(seed); 3]),
            record: Some(Record {
                count: u32::from(seed),
                name: "r".repeat(usize::from(seed)),
            }),
            reference: Some(""),
            byte: Some(seed.wrapping_mul(0x9D)),
            short: Some(-i16::from(seed)),
            word: Some(u64::MAX - x),
            float: Some(-(x as f64)),
            wide: Some(u128::MAX - u128::from(x)),
        }
    }

    /// Checks every option field's rule against facet's `get_value` on
    /// `value` (the truth), returning how many fields had a rule.
    fn check(plan: &Plan, facts: &crate::calibration::Layouts, value: &Kinds) -> usize {
        let Op::Fields(fields) = &plan.node(plan.root()).op else {
            panic!("a struct")
        };
        let base = (value as *const Kinds).cast::<u8>();
        let mut with_rule = 0;
        for field in fields {
            let Op::Option(op) = &plan.node(field.node).op else {
                panic!("every field is an option")
            };
            // SAFETY: the field of a live `Kinds`, an option of `op`'s shape.
            let (truth, at) = unsafe {
                let at = base.add(field.offset);
                ((op.vtable.get_value)(PtrConst::new(at)), at)
            };
            let Some(rule) = facts.presence[field.node] else {
                continue;
            };
            with_rule += 1;
            let mut word = [0u8; 8];
            // SAFETY: the rule's bytes lie inside the option (calibrated on
            // its layout).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    at.add(rule.offset as usize),
                    word.as_mut_ptr(),
                    usize::from(rule.width),
                )
            };
            let is_none = read(&word, 0, usize::from(rule.width)) == rule.none;
            assert_eq!(is_none, truth.is_null(), "field {}", field.name);
            if !is_none {
                // SAFETY: within the option.
                let payload = unsafe { at.add(rule.payload_offset as usize) };
                assert_eq!(payload, truth, "payload of field {}", field.name);
            }
        }
        with_rule
    }

    #[test]
    fn every_kind_of_option_gets_a_rule_that_matches_get_value() {
        let plan = crate::plan::lower(Kinds::SHAPE).expect("encodable");
        let facts = crate::calibration::Layouts::of(&plan);
        // Optimized builds probe, and every kind gets a rule (CI runs this
        // test in release too); unoptimized ones only use the guaranteed
        // rule of `Option<Box<T>>` (see `PROBES`).
        let least = if PROBES { 19 } else { 1 };
        let with_rule = check(&plan, &facts, &all_none());
        assert!(
            with_rule >= least,
            "{with_rule} rules: {:?}",
            facts.presence
        );
        for seed in [0u8, 1, 2, 3, 200, 255] {
            assert_eq!(check(&plan, &facts, &some(seed)), with_rule);
        }
    }

    #[test]
    #[cfg_attr(
        debug_assertions,
        ignore = "options are probed in optimized builds only; CI runs this test with --release"
    )]
    fn nested_options_use_an_invalid_inner_tag() {
        let plan = crate::plan::lower(<Option<Option<Option<bool>>>>::SHAPE).expect("encodable");
        let facts = crate::calibration::Layouts::of(&plan);
        let rules: Vec<Presence> = facts.presence.iter().filter_map(|(_, p)| *p).collect();
        assert_eq!(rules.len(), 3, "{rules:?}");
        let mut nones: Vec<u64> = rules.iter().map(|r| r.none).collect();
        nones.sort_unstable();
        nones.dedup();
        assert_eq!(nones.len(), 3, "three distinct None values: {rules:?}");
        assert!(
            nones.iter().all(|&n| n >= 2),
            "none is a valid bool: {rules:?}"
        );
    }

    #[test]
    fn options_without_a_provable_rule_keep_the_call() {
        // A payload with padding and no niche: not plain, no niche.
        #[derive(Facet)]
        struct Padded {
            a: u8,
            b: u32,
        }
        let plan = crate::plan::lower(<Option<Padded>>::SHAPE).expect("encodable");
        let facts = crate::calibration::Layouts::of(&plan);
        assert_eq!(facts.presence[plan.root()], None);
    }
}
