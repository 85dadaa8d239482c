//! Where in a value an engine is: the steps from the root to the part being
//! encoded or decoded, tracked only when a failure is being located (the
//! ordinary runs use [`NoPath`], which compiles to nothing).

/// One step from a value to a part of it.
#[derive(Clone, Copy)]
pub(crate) enum Step {
    Field(&'static str),
    Variant(&'static str),
    Some,
    Ok,
    Err,
    Pointee,
    Index(usize),
    Key(usize),
    Value(usize),
}

/// How a run keeps track of where in the value it is.
pub(crate) trait PathTracking {
    fn enter(&mut self, step: Step);
    fn leave(&mut self);
}

/// No tracking: the ordinary run.
pub(crate) struct NoPath;

impl PathTracking for NoPath {
    #[inline(always)]
    fn enter(&mut self, _: Step) {}
    #[inline(always)]
    fn leave(&mut self) {}
}

/// The steps from the root to the part being encoded.
#[derive(Default)]
pub(crate) struct InstancePath(Vec<Step>);

impl PathTracking for InstancePath {
    fn enter(&mut self, step: Step) {
        self.0.push(step);
    }
    fn leave(&mut self) {
        self.0.pop();
    }
}

impl InstancePath {
    /// Steps shown at each end of a path too long to print whole.
    const SHOWN: usize = 24;

    /// The path as text, e.g. `Mid.set[3]{value}`: `.field`, `::Variant`,
    /// `.Some`/`.Ok`/`.Err`, `*` for a pointee, `[i]` for element `i`,
    /// `[i]{key}`/`[i]{value}` for map entry `i`. Very deep paths keep their
    /// two ends.
    pub(crate) fn render(&self, root: &str) -> String {
        let mut text = root.to_string();
        let steps = &self.0;
        for (index, step) in steps.iter().enumerate() {
            if steps.len() > 2 * Self::SHOWN && index == Self::SHOWN {
                text.push_str(&format!("…({} steps)…", steps.len() - 2 * Self::SHOWN));
            }
            if steps.len() > 2 * Self::SHOWN
                && (Self::SHOWN..steps.len() - Self::SHOWN).contains(&index)
            {
                continue;
            }
            match step {
                Step::Field(name) => text.push_str(&format!(".{name}")),
                Step::Variant(name) => text.push_str(&format!("::{name}")),
                Step::Some => text.push_str(".Some"),
                Step::Ok => text.push_str(".Ok"),
                Step::Err => text.push_str(".Err"),
                Step::Pointee => text.push('*'),
                Step::Index(i) => text.push_str(&format!("[{i}]")),
                Step::Key(i) => text.push_str(&format!("[{i}]{{key}}")),
                Step::Value(i) => text.push_str(&format!("[{i}]{{value}}")),
            }
        }
        text
    }
}
