//! The engines an [`Encoder`](crate::Encoder) can run on, and how the JIT
//! engine reaches facet's vtable functions.

/// Which engine runs an encoder's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Walks the plan for every value: no code generation, available on
    /// every target. The reference semantics for every other engine.
    Interpreter,
    /// Machine code compiled from the plan with Cranelift (cargo feature
    /// `jit`, 64-bit little-endian hosts Cranelift supports).
    Jit {
        /// How generated code calls facet's `extern "C"` vtable functions.
        vtable_calls: VtableCalls,
    },
}

/// How generated code reaches facet's `extern "C"` vtable functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VtableCalls {
    /// Through a Rust `extern "C"` trampoline per vtable function kind, which
    /// builds the `PtrConst` in Rust: correct on every target, one extra
    /// call per operation.
    #[default]
    Trampoline,
}

impl Engine {
    /// The engine [`to_vec`](crate::to_vec) and [`to_extend`](crate::to_extend)
    /// use: the JIT where this build and host support it, else the interpreter.
    pub fn host_default() -> Engine {
        if Engine::jit_available() {
            Engine::Jit {
                vtable_calls: VtableCalls::default(),
            }
        } else {
            Engine::Interpreter
        }
    }

    /// Whether [`Engine::Jit`] can run here (feature `jit`, supported host).
    pub fn jit_available() -> bool {
        #[cfg(feature = "jit")]
        {
            crate::jit::host_supported()
        }
        #[cfg(not(feature = "jit"))]
        {
            false
        }
    }

    /// Every engine that can run here, the reference first.
    pub fn available() -> Vec<Engine> {
        let mut engines = vec![Engine::Interpreter];
        if Engine::jit_available() {
            engines.push(Engine::Jit {
                vtable_calls: VtableCalls::Trampoline,
            });
        }
        engines
    }

    /// A short stable name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interpreter => "jitcard-interp",
            Engine::Jit {
                vtable_calls: VtableCalls::Trampoline,
            } => "jit-trampoline",
        }
    }
}
