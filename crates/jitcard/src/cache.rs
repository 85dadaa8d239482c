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
