//! The engines an [`Encoder`](crate::Encoder) can run on, and how the JIT
//! engine reaches facet's vtable functions.

use crate::Error;

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
    /// A testing mode, not for production: see
    /// [`diagnostics::WIN64_ADAPTERS`](crate::diagnostics::WIN64_ADAPTERS).
    #[doc(hidden)]
    DirectViaWin64Adapters,
}

impl VtableCalls {
    /// How many modes there are (one compiled encoder each per type).
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) const COUNT: usize = 3;

    /// This mode's position among the [`COUNT`](Self::COUNT) modes.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    pub(crate) fn index(self) -> usize {
        match self {
            VtableCalls::Trampoline => 0,
            VtableCalls::Direct => 1,
            VtableCalls::DirectViaWin64Adapters => 2,
        }
    }

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
    /// use: the JIT with direct vtable calls where it can run here, else the
    /// interpreter.
    #[inline]
    pub fn host_default() -> Engine {
        if Engine::jit_available() {
            Engine::Jit {
                vtable_calls: VtableCalls::default(),
            }
        } else {
            Engine::Interpreter
        }
    }

    /// Whether [`Engine::Jit`] can run here: the `jit` feature, a host
    /// Cranelift supports, and an OS that lets the process run code it
    /// generated (some hardened hosts forbid making memory executable:
    /// systemd's `MemoryDenyWriteExecute=yes`, SELinux `deny_execmem`,
    /// `PR_SET_MDWE`). Found out once per process, by compiling and running
    /// a tiny function; [`jit_unavailable_reason`](Self::jit_unavailable_reason)
    /// says why not.
    #[inline]
    pub fn jit_available() -> bool {
        Engine::jit_unavailable_reason().is_none()
    }

    /// Why [`Engine::Jit`] cannot run here (`None` when it can).
    pub fn jit_unavailable_reason() -> Option<&'static str> {
        #[cfg(feature = "jit")]
        {
            crate::jit::availability().err()
        }
        #[cfg(not(feature = "jit"))]
        {
            Some("jitcard was built without its `jit` cargo feature")
        }
    }

    /// Whether this engine can run here.
    pub fn is_available(self) -> bool {
        self.check_available().is_ok()
    }

    /// `Ok` if this engine can run here, else [`Error::EngineUnavailable`]
    /// with the reason.
    pub(crate) fn check_available(self) -> Result<(), Error> {
        let reason = match self {
            Engine::Interpreter => None,
            Engine::Jit {
                vtable_calls: VtableCalls::DirectViaWin64Adapters,
            } if !cfg!(target_arch = "x86_64") => {
                Some("the Win64-adapter testing mode needs an x86-64 host")
            }
            Engine::Jit { .. } => Engine::jit_unavailable_reason(),
        };
        match reason {
            None => Ok(()),
            Some(reason) => Err(Error::EngineUnavailable {
                engine: self.name(),
                reason: reason.to_string(),
            }),
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
