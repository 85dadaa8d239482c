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
    /// call per operation. The baseline.
    Trampoline,
    /// Directly, with `PtrConst` (a 16-byte struct) lowered to the host's C
    /// calling convention by `jitcard-abi`: one call per operation. Calls
    /// the lowering does not cover fall back to the trampoline.
    #[default]
    Direct,
    /// Testing aid (x86-64 only): direct calls, but every vtable function is
    /// reached through a Rust `extern "win64"` adapter, so the generated call
    /// sites use the Windows x64 convention (`PtrConst` by reference, hidden
    /// return slot first) on any x86-64 host.
    DirectViaWin64Adapters,
}

impl VtableCalls {
    /// A short stable name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            VtableCalls::Trampoline => "trampoline",
            VtableCalls::Direct => "direct",
            VtableCalls::DirectViaWin64Adapters => "direct-win64",
        }
    }
}

impl Engine {
    /// The engine [`to_vec`](crate::to_vec) and [`to_extend`](crate::to_extend)
    /// use: the JIT with direct vtable calls where this build and host
    /// support it, else the interpreter.
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

    /// Whether this engine can run here.
    pub fn is_available(self) -> bool {
        match self {
            Engine::Interpreter => true,
            Engine::Jit {
                vtable_calls: VtableCalls::DirectViaWin64Adapters,
            } => Engine::jit_available() && cfg!(target_arch = "x86_64"),
            Engine::Jit { .. } => Engine::jit_available(),
        }
    }

    /// Every production engine that can run here, the reference first
    /// (testing modes such as [`VtableCalls::DirectViaWin64Adapters`] are
    /// not included).
    pub fn available() -> Vec<Engine> {
        [
            Engine::Interpreter,
            Engine::Jit {
                vtable_calls: VtableCalls::Trampoline,
            },
            Engine::Jit {
                vtable_calls: VtableCalls::Direct,
            },
        ]
        .into_iter()
        .filter(|engine| engine.is_available())
        .collect()
    }

    /// A short stable name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interpreter => "jitcard-interp",
            Engine::Jit {
                vtable_calls: VtableCalls::Trampoline,
            } => "jit-trampoline",
            Engine::Jit {
                vtable_calls: VtableCalls::Direct,
            } => "jit-direct",
            Engine::Jit {
                vtable_calls: VtableCalls::DirectViaWin64Adapters,
            } => "jit-direct-win64",
        }
    }
}
