//! The one walker over collections whose items only Rust-ABI facet
//! functions can reach: sets and maps (their iterator's `next`) and lists
//! without contiguous storage (`ListVTable::get`). Both engines use it: the
//! interpreter with a closure that encodes an item, the JIT's runtime with
//! one that calls the compiled item function.
//!
//! Contract, the same for every caller:
//! - the caller has written the length prefix `len`; the walker calls `each`
//!   once per item (a reference to it, where facet's `next` returned it)
//!   and fails with [`Error::LengthMismatch`] when the
//!   collection yields more or fewer items than `len`;
//! - the iterator is freed exactly once however the walk ends (an error from
//!   `each`, a length mismatch, or a panic), by a drop guard;
//! - a panic inside facet's functions (or inside `each`) is caught here and
//!   becomes [`Error::Panicked`] naming the collection: it never unwinds
//!   into the caller (generated frames cannot be unwound through).

use std::panic::{AssertUnwindSafe, catch_unwind};

use facet_core::{IterDeallocFn, IterItem, PtrConst, PtrMut};

use crate::Error;
use crate::error::panic_message;
use crate::plan::{Iteration, ListOp, Node};

/// Calls `each` on every item the iterator of the collection at `src`
/// yields, checking the count against `len`.
///
/// # Safety
/// `src` points at a live collection of `node`'s shape, whose vtable
/// `iteration` comes from.
pub(crate) unsafe fn for_each_iterated<T: IterItem>(
    node: &Node,
    len: usize,
    iteration: &Iteration<T>,
    src: PtrConst,
    mut each: impl FnMut(&T::Item) -> Result<(), Error>,
) -> Result<(), Error> {
    let walk = AssertUnwindSafe(|| {
        let iter = IterGuard {
            // SAFETY: `init` belongs to the collection's vtable and `src`
            // points at the collection (the caller's contract).
            iter: unsafe { (iteration.init)(src) },
            dealloc: iteration.dealloc,
        };
        let mut yielded = 0;
        loop {
            // SAFETY: `iter.iter` is a live iterator of this vtable until the
            // guard drops.
            let next = unsafe { (iteration.next)(iter.iter) };
            // `each` sees the item where `next` stored it: moving it out
            // compiles to loads wider than `next`'s stores, which cannot be
            // forwarded from them and wait for them to reach the cache.
            let Some(item) = &next else { break };
            if yielded == len {
                return Err(node.length_mismatch(len, yielded + 1));
            }
            each(item)?;
            yielded += 1;
        }
        if yielded != len {
            return Err(node.length_mismatch(len, yielded));
        }
        Ok(())
    });
    catch_unwind(walk).unwrap_or_else(|panic| Err(node.panicked(panic_message(&*panic))))
}

/// Calls `each` on the `len` items of the list at `src`, fetched one by one
/// with the list's `get`.
///
/// # Safety
/// `src` points at a live list of `node`'s shape, whose op is `op`.
pub(crate) unsafe fn for_each_indexed(
    node: &Node,
    op: &ListOp,
    len: usize,
    src: PtrConst,
    mut each: impl FnMut(PtrConst) -> Result<(), Error>,
) -> Result<(), Error> {
    let walk = AssertUnwindSafe(|| {
        for index in 0..len {
            // SAFETY: `get` belongs to the list's vtable and `src` points at
            // the list; an index past its end returns `None`.
            let item = unsafe { (op.vtable.get)(src, index, op.list_shape) }
                .ok_or_else(|| node.length_mismatch(len, index))?;
            each(item)?;
        }
        Ok(())
    });
    catch_unwind(walk).unwrap_or_else(|panic| Err(node.panicked(panic_message(&*panic))))
}

/// Frees a facet collection iterator however the walk over it ends,
/// unwinding included.
struct IterGuard {
    iter: PtrMut,
    dealloc: IterDeallocFn,
}

impl Drop for IterGuard {
    fn drop(&mut self) {
        // SAFETY: `iter` came from the same vtable's `init_with_value` and is
        // freed exactly once, here.
        unsafe { (self.dealloc)(self.iter) }
    }
}
