//! Process-wide cache of lowered plans, one per root shape, so building an
//! [`Encoder`](crate::Encoder) for a type seen before costs one lookup.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use facet_core::Shape;

use crate::Error;
use crate::plan::{self, Plan};

type PlanMap = HashMap<TypeId, Arc<Plan>>;

static PLANS: OnceLock<RwLock<PlanMap>> = OnceLock::new();

/// The plan of `shape`, lowered on first request and shared afterwards.
/// Lowering errors are not cached: they are returned to every caller.
pub(crate) fn plan_for(shape: &'static Shape) -> Result<Arc<Plan>, Error> {
    let plans = PLANS.get_or_init(Default::default);
    let key = shape.id.get();
    // A poisoned lock only means another thread panicked while holding it;
    // the map itself is only ever extended with complete plans.
    if let Some(plan) = plans.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(Arc::clone(plan));
    }
    let plan = Arc::new(plan::lower(shape)?);
    let mut map = plans.write().unwrap_or_else(|p| p.into_inner());
    Ok(Arc::clone(map.entry(key).or_insert(plan)))
}

/// Process-wide cache of compiled encoders, one per (root type, vtable-call
/// mode). Concurrent requests for the same key compile once; requests for
/// different keys compile in parallel.
#[cfg(feature = "jit")]
pub(crate) mod compiled {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};

    use crate::jit::{self, CompiledEncoder};
    use crate::plan::Plan;
    use crate::{Error, VtableCalls};

    type Slot = Arc<OnceLock<Result<Arc<CompiledEncoder>, Error>>>;

    static COMPILED: OnceLock<Mutex<HashMap<(TypeId, VtableCalls), Slot>>> = OnceLock::new();
    static COMPILATIONS: AtomicUsize = AtomicUsize::new(0);

    /// The compiled encoder of `plan` (whose root type is `root`).
    pub(crate) fn encoder_for(
        root: TypeId,
        plan: &Plan,
        mode: VtableCalls,
    ) -> Result<Arc<CompiledEncoder>, Error> {
        let slot = {
            let map = COMPILED.get_or_init(Default::default);
            // A poisoned lock only means another thread panicked while
            // holding it; the map only ever gains complete slots.
            let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry((root, mode)).or_default())
        };
        slot.get_or_init(|| {
            COMPILATIONS.fetch_add(1, Ordering::Relaxed);
            jit::compile(plan, mode).map(Arc::new)
        })
        .clone()
    }

    /// How many plans this process has compiled to machine code.
    pub(crate) fn compilations() -> usize {
        COMPILATIONS.load(Ordering::Relaxed)
    }
}
