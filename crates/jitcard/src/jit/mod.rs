//! The Cranelift JIT engine: compiles a [`Plan`] to machine code, an
//! encoder ([`compile`], emitted by [`codegen`]) or a decoder
//! ([`compile_decoder`], emitted by [`decode_codegen`]).
//!
//! One `JITModule` per compiled root type and direction, kept for the life
//! of the process (compiled encoders and decoders are cached, see
//! [`crate::cache`]). Every function node of the plan (see [`facts`])
//! becomes one Cranelift function of the signature [`runtime::CompiledFn`]
//! (for decoders [`decode_runtime::DecodeFn`], the same words); the root's
//! is the entry point. Both directions share the module setup ([`build`]),
//! the entry protocol and vocabulary ([`emit`]) and the vtable-call seam
//! ([`vtable_calls`]).
//!
//! Encoders are tiered ([`tiers`]): compiled quick first, optimized once
//! they have done enough work to pay for it.
//!
//! Debugging aids: `JITCARD_DUMP_CLIF=<dir>` writes the CLIF (`.clif`), the
//! machine code as text (`.s`) and as bytes (`.bin`, e.g. for `objdump -D
//! -b binary -m i386:x86-64`, offsets as in `perf report --sort symoff`)
//! of every compiled function to `<dir>`;
//! `JITCARD_PERF_MAP=1` appends each function's address range to
//! `/tmp/perf-<pid>.map` so `perf report` names JIT frames
//! (`jitcard::encode::<Type>#<node>`, `jitcard::decode::...`,
//! `jitcard::size::...`; quick encoder code ends in `~quick`).

mod code_memory;
mod codegen;
mod decode_codegen;
mod decode_emit;
pub(crate) mod decode_runtime;
pub(crate) mod diagnostics;
mod emit;
mod facet_ptr;
mod facts;
pub(crate) mod runtime;
mod tiers;
pub(crate) mod trampolines;
mod vtable_calls;
mod vtable_ops;

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cranelift_codegen::ir;
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::{AbiParam, Signature, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};
use facet_core::PtrConst;

use crate::plan::{NodeId, Plan};
use crate::{DecodeLimits, Error, VtableCalls};
use code_memory::{Reservation, new_module};
use codegen::NodeEmitter;
use decode_codegen::DecodeEmitter;
use decode_runtime::{DecodeCtx, DecodeFn};
use emit::{EntryHelpers, FunctionEmitter};
use facts::PlanFacts;
use runtime::{CompiledFn, EncodeCtx, STATUS_OK};
use vtable_calls::VtableCallEmitter;

pub(crate) use decode_codegen::builds_inline as decode_builds_inline;

/// Machine code compiled from one plan: its entry point and the module
/// that owns it.
struct Machine {
    entry: *const u8,
    code_size: usize,
    /// The module that owns the machine code (and its bookkeeping): never
    /// touched after compiling, its code freed when this is dropped.
    /// Cached encoders and decoders live as long as the process, so theirs
    /// never is.
    module: std::mem::ManuallyDrop<JITModule>,
}

// SAFETY: the entry is a pointer to immutable machine code; calling it from
// any thread is as safe as calling it from one. The module is only touched
// by `Drop`, which has exclusive access.
unsafe impl Send for Machine {}
// SAFETY: as above; nothing is mutated through a shared reference.
unsafe impl Sync for Machine {}

impl Drop for Machine {
    fn drop(&mut self) {
        // SAFETY: dropped exactly once, here.
        let module = unsafe { std::mem::ManuallyDrop::take(&mut self.module) };
        // SAFETY: `entry` dies with `self`, and no call into the code can be
        // running (it would borrow `self`): nothing uses the code any more.
        unsafe { module.free_memory() };
    }
}

/// A plan compiled to machine code, entered through `F`.
pub(crate) struct Compiled<F> {
    entry: F,
    /// Machine-code bytes of all its functions.
    pub code_size: usize,
    /// Wall time spent compiling (lowering excluded).
    pub compile_time: Duration,
    _machine: Machine,
}

/// A plan compiled to encoder functions (one tier of a [`CompiledEncoder`]).
pub(crate) type EncoderCode = Compiled<CompiledFn>;

pub(crate) use tiers::CompiledEncoder;

/// A decode plan compiled to a decoder.
pub(crate) type CompiledDecoder = Compiled<DecodeFn>;

impl<F> Compiled<F> {
    /// The machine code of `machine`, entered through its root function.
    ///
    /// # Safety
    /// The root function was compiled with the signature `F` (a function
    /// pointer type) in the host's C calling convention.
    unsafe fn new(machine: Machine, started: Instant) -> Self {
        // SAFETY: forwarded from the caller's contract; `F` is a function
        // pointer, the size of the address.
        let entry = unsafe { std::mem::transmute_copy::<*const u8, F>(&machine.entry) };
        Compiled {
            entry,
            code_size: machine.code_size,
            compile_time: started.elapsed(),
            _machine: machine,
        }
    }
}

impl CompiledDecoder {
    /// Decodes the plan root's value from the start of `input` into `dst`;
    /// returns how many bytes it took. `Err(None)`: the input is not a
    /// valid encoding, and the interpreter describes why (see
    /// [`decode_runtime::STATUS_INVALID`]); `Err(Some(_))`: anything else
    /// (allocation, panics, the interpreter's parts).
    ///
    /// # Safety
    /// As [`crate::interp::decode::decode`], and `plan` is the plan this
    /// decoder was compiled from.
    pub(crate) unsafe fn decode(
        &self,
        plan: &Plan,
        input: &[u8],
        dst: *mut u8,
        limits: DecodeLimits,
    ) -> Result<usize, Option<Error>> {
        let mut ctx = DecodeCtx::new(input, plan, limits);
        // SAFETY: the entry was compiled from `plan` for values of its root
        // shape, which the caller guarantees `dst` is valid for.
        let status = run_root(&mut ctx, |ctx| unsafe { (self.entry)(ctx, dst, 0) });
        match status {
            STATUS_OK => Ok(ctx.position()),
            decode_runtime::STATUS_INVALID => Err(None),
            _ => Err(Some(ctx.take_error())),
        }
    }
}

/// A plan compiled to *size-only* functions: the encoder's code with every
/// store and capacity check left out, so it returns the encoding's exact
/// length (`serialized_size`) for the cost of reading the value.
pub(crate) struct CompiledSizer(EncoderCode);

impl CompiledSizer {
    /// The exact length of the encoding of the value at `src`.
    ///
    /// # Safety
    /// As [`CompiledEncoder::encode`](tiers::CompiledEncoder::encode).
    pub(crate) unsafe fn measure(
        &self,
        plan: &Plan,
        src: PtrConst,
        max_depth: usize,
    ) -> Result<usize, Error> {
        let (data, meta) = facet_ptr::words(src);
        let mut ctx = EncodeCtx::measuring(plan, max_depth);
        // SAFETY: the entry was compiled from `plan`, in size-only mode, for
        // values of its root shape, which the caller guarantees `src` is;
        // the context is a size-only one.
        let status = run_root(&mut ctx, |ctx| unsafe {
            runtime::call_compiled(ctx, self.0.entry, data, meta)
        });
        if status == STATUS_OK {
            Ok(ctx.finish_measuring())
        } else {
            Err(ctx.take_error())
        }
    }
}

/// Runs a compiled root function (`run`) on `ctx`: on this stack, or on a
/// fresh segment when less than the red zone is left (the root's frame is
/// allocated before its entry check runs).
#[inline]
fn run_root<C: runtime::RunContext>(ctx: &mut C, run: impl FnOnce(&mut C) -> u32) -> u32 {
    if crate::stack::stack_pointer() < *ctx.stack_limit_mut() {
        crate::stack::on_new_segment(|limit| {
            *ctx.stack_limit_mut() = limit;
            run(ctx)
        })
    } else {
        run(ctx)
    }
}

/// Appends the encoding of the value at `src` to `out` by running `entry`.
///
/// # Safety
/// `entry` is the root function of encoder code compiled from `plan`, and
/// `src` points at a live value of the plan root's shape.
#[inline]
unsafe fn run_encoder(
    entry: CompiledFn,
    plan: &Plan,
    src: PtrConst,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), Error> {
    {
        let (data, meta) = facet_ptr::words(src);
        let mut ctx = EncodeCtx::new(out, plan, max_depth);
        // SAFETY: the entry was compiled from `plan` for values of its root
        // shape, which the caller guarantees `src` is.
        let status = run_root(&mut ctx, |ctx| unsafe {
            runtime::call_compiled(ctx, entry, data, meta)
        });
        if status == STATUS_OK {
            ctx.finish();
            Ok(())
        } else {
            Err(ctx.take_error())
        }
    }
}

/// `Ok` when the JIT can run in this process, else why not. Found out once:
/// a host Cranelift supports, and a tiny function compiled, made executable
/// and run exactly as encoders are (some hardened hosts refuse to make
/// memory executable: `PR_SET_MDWE`, systemd's `MemoryDenyWriteExecute`,
/// SELinux `deny_execmem`).
pub(crate) fn availability() -> Result<(), &'static str> {
    static AVAILABILITY: OnceLock<Result<(), String>> = OnceLock::new();
    let probed =
        AVAILABILITY.get_or_init(|| crate::stack::with_room(crate::stack::BUILD_ROOM, probe));
    match probed {
        Ok(()) => Ok(()),
        Err(reason) => Err(reason.as_str()),
    }
}

fn probe() -> Result<(), String> {
    let isa = host_isa(Tier::Optimized)
        .ok_or("Cranelift does not support this host (a 64-bit little-endian host is needed)")?
        .clone();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<i32, String> {
            let mut module = new_module(isa, Reservation::probe())?;
            let mut signature = module.make_signature();
            signature.returns.push(AbiParam::new(ir::types::I32));
            let id = module
                .declare_function("jitcard_probe", Linkage::Local, &signature)
                .map_err(|e| describe(&e))?;
            let frontend = module.isa().frontend_config();
            let mut ctx = module.make_context();
            ctx.func.signature = signature;
            let mut builder_ctx = FunctionBuilderContext::new();
            {
                let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
                let entry = b.create_block();
                b.switch_to_block(entry);
                let answer = b.ins().iconst(ir::types::I32, 42);
                b.ins().return_(&[answer]);
                b.seal_all_blocks();
                b.finalize(frontend);
            }
            module
                .define_function(id, &mut ctx)
                .map_err(|e| describe(&e))?;
            module.finalize_definitions().map_err(|e| describe(&e))?;
            // SAFETY: the function was just compiled with this signature in the
            // host's C convention and finalized (made executable).
            let answer = unsafe {
                let f = std::mem::transmute::<*const u8, extern "C" fn() -> i32>(
                    module.get_finalized_function(id),
                );
                f()
            };
            // SAFETY: nothing refers to the probe's code any more.
            unsafe { module.free_memory() };
            Ok(answer)
        }));
    match outcome {
        Ok(Ok(42)) => Ok(()),
        Ok(Ok(other)) => Err(format!("the JIT probe returned {other} instead of 42")),
        Ok(Err(reason)) => Err(format!("cannot run generated code here: {reason}")),
        Err(panic) => Err(format!(
            "the JIT probe panicked: {}",
            crate::error::panic_message(&*panic)
        )),
    }
}

/// An error and its chain of sources, e.g. `unable to make memory
/// readable+executable: Permission denied (os error 13)`.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// How much work code generation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    /// No e-graph optimization, single-pass register allocation: about 40%
    /// of the compile work, code about 1.5× slower (see [`tiers`]).
    Quick,
    /// Cranelift's `opt_level = "speed"`, backtracking register allocation.
    Optimized,
}

fn host_isa(tier: Tier) -> Option<&'static OwnedTargetIsa> {
    static QUICK: OnceLock<Option<OwnedTargetIsa>> = OnceLock::new();
    static OPTIMIZED: OnceLock<Option<OwnedTargetIsa>> = OnceLock::new();
    let slot = match tier {
        Tier::Quick => &QUICK,
        Tier::Optimized => &OPTIMIZED,
    };
    slot.get_or_init(|| {
        if !(cfg!(target_pointer_width = "64") && cfg!(target_endian = "little")) {
            return None;
        }
        let mut flags = settings::builder();
        match tier {
            Tier::Quick => {
                flags.set("opt_level", "none").ok()?;
                flags.set("regalloc_algorithm", "single_pass").ok()?;
            }
            Tier::Optimized => flags.set("opt_level", "speed").ok()?,
        }
        flags.set("is_pic", "false").ok()?;
        // Libcalls through absolute addresses: only the module's own
        // functions are within reach of a relative call (`code_memory`).
        flags.set("use_colocated_libcalls", "false").ok()?;
        // Frames larger than a page touch each page as they are allocated,
        // so a frame can never jump over the guard page (defence in depth:
        // the entry checks keep `stack::RED_ZONE` free below every frame).
        flags.set("enable_probestack", "true").ok()?;
        flags.set("probestack_strategy", "inline").ok()?;
        // The IR verifier costs a large share of compile time; debug builds
        // (and so the tests) keep it on to catch malformed IR.
        flags
            .set(
                "enable_verifier",
                if cfg!(debug_assertions) {
                    "true"
                } else {
                    "false"
                },
            )
            .ok()?;
        let isa = cranelift_native::builder().ok()?;
        isa.finish(settings::Flags::new(flags)).ok()
    })
    .as_ref()
}

fn internal(message: impl std::fmt::Display) -> Error {
    Error::Internal {
        message: message.to_string(),
    }
}

/// Compiles `plan` with vtable calls in `mode`. Never panics: a panic
/// inside Cranelift becomes [`Error::Internal`].
pub(crate) fn compile(plan: &Plan, mode: VtableCalls) -> Result<CompiledEncoder, Error> {
    CompiledEncoder::compile(plan, mode)
}

/// Compiles the encoder functions of `plan` at `tier`. Never panics, as
/// [`compile`].
pub(crate) fn compile_encoder_code(
    plan: &Plan,
    mode: VtableCalls,
    tier: Tier,
) -> Result<EncoderCode, Error> {
    guarded(|| compile_encoder_unguarded(plan, mode, false, tier))
}

/// Compiles the plan `plan` to a size-only encoder (see
/// [`CompiledSizer`]). Never panics, as [`compile`].
pub(crate) fn compile_sizer(plan: &Plan, mode: VtableCalls) -> Result<CompiledSizer, Error> {
    guarded(|| compile_encoder_unguarded(plan, mode, true, Tier::Optimized)).map(CompiledSizer)
}

/// The encoder's code generation; `measure`: size-only functions.
fn compile_encoder_unguarded(
    plan: &Plan,
    mode: VtableCalls,
    measure: bool,
    tier: Tier,
) -> Result<EncoderCode, Error> {
    let started = Instant::now();
    let facts = PlanFacts::of(plan);
    let entry = EntryHelpers {
        cursor_in_registers: true,
        grow_stack: runtime::grow_stack_encoding as *const u8,
        too_deep: runtime::too_deep as *const u8,
        lowest_depth_left: None,
        depth_in_registers: true,
    };
    let label = if measure { "size" } else { "encode" };
    let machine = build(
        plan,
        mode,
        tier,
        label,
        &facts.functions(plan),
        entry,
        &|e, function, callees, calls, data, meta| {
            if measure {
                e.measure_only();
            }
            if tier == Tier::Quick {
                e.compact();
            }
            let nodes = NodeEmitter {
                plan,
                facts: &facts,
                calls,
                function_node: function.node(),
                callees,
                // A map entry's function never inlines its map (see
                // `NodeEmitter::node_here`).
                unrolled: std::cell::Cell::new(matches!(function, Function::MapEntry(_))),
                loaded_word: std::cell::Cell::new(None),
                tagged: std::cell::RefCell::new(Vec::new()),
            };
            match function {
                Function::Node(_) => nodes.function_body(e, data, meta),
                Function::MapEntry(_) => nodes.map_entry_body(e, data, meta),
            }
        },
    )?;
    // SAFETY: every function, the root's included, has the `CompiledFn`
    // signature in the host's C calling convention.
    Ok(unsafe { Compiled::new(machine, started) })
}

/// Compiles the decode plan `plan` with vtable calls in `mode`. Never
/// panics: a panic inside Cranelift becomes [`Error::Internal`].
pub(crate) fn compile_decoder(plan: &Plan, mode: VtableCalls) -> Result<CompiledDecoder, Error> {
    guarded(|| compile_decoder_unguarded(plan, mode))
}

fn compile_decoder_unguarded(plan: &Plan, mode: VtableCalls) -> Result<CompiledDecoder, Error> {
    let started = Instant::now();
    let own_function = facts::decode_functions(plan);
    let entry = EntryHelpers {
        cursor_in_registers: false,
        grow_stack: runtime::grow_stack::<DecodeCtx> as *const u8,
        too_deep: decode_runtime::too_deep as *const u8,
        lowest_depth_left: Some(decode_runtime::CTX_LOWEST_DEPTH_LEFT),
        depth_in_registers: false,
    };
    let functions: Vec<Function> = Function::of_nodes(&own_function).collect();
    let machine = build(
        plan,
        mode,
        Tier::Optimized,
        "decode",
        &functions,
        entry,
        &|e, function, callees, calls, data, meta| {
            // Decoders build sets and maps in the interpreter: they have
            // node functions only.
            let nodes = DecodeEmitter {
                plan,
                own_function: &own_function,
                calls,
                function_node: function.node(),
                functions: callees.nodes,
                stack_scratch: std::cell::Cell::new(0),
                vec_layouts: &plan.layouts().vec_layout,
            };
            nodes.function_body(e, data, meta);
        },
    )?;
    // SAFETY: every function, the root's included, has the `DecodeFn`
    // signature (the `CompiledFn` words) in the host's C calling convention.
    Ok(unsafe { Compiled::new(machine, started) })
}

/// Runs a compilation (analysis included) with stack room, turning a
/// panic inside it into [`Error::Internal`].
fn guarded<R>(compile: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    let compiled = crate::stack::with_room(crate::stack::BUILD_ROOM, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(compile))
    });
    compiled.unwrap_or_else(|panic| {
        Err(internal(format!(
            "code generation panicked: {}",
            crate::error::panic_message(&*panic)
        )))
    })
}

/// One function of compiled code; all have the signature `fn(ctx, data,
/// meta) -> status`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Function {
    /// Encodes (or decodes) a value of the node at (`data`, `meta`).
    Node(NodeId),
    /// Encodes one entry of the map node: `data` points at four words, the
    /// key's facet pointer then the value's (see
    /// [`runtime::encode_iterated`]); `meta` is unused.
    MapEntry(NodeId),
}

impl Function {
    /// A node function for each node marked in `own_function`.
    fn of_nodes(own_function: &crate::plan::NodeMap<bool>) -> impl Iterator<Item = Function> + '_ {
        own_function
            .iter()
            .filter(|&(_, &own)| own)
            .map(|(id, _)| Function::Node(id))
    }

    /// The node the function encodes or decodes (a map entry's: its map).
    fn node(self) -> NodeId {
        match self {
            Function::Node(node) | Function::MapEntry(node) => node,
        }
    }
}

/// The callee references of every function, in the function being emitted.
pub(crate) struct Callees {
    /// The function of each node that has one, by node index.
    pub nodes: Vec<Option<ir::FuncRef>>,
    /// The entry function of each map node that has one, by node index.
    pub map_entries: Vec<Option<ir::FuncRef>>,
}

/// Emits the body of one function: `(emitter, function, callee references
/// of every function, vtable calls, data, meta)`.
type EmitBody<'a> =
    dyn Fn(&mut FunctionEmitter, Function, Callees, VtableCallEmitter, ir::Value, ir::Value) + 'a;

/// What [`build`] compiles, passed as is to each attempt ([`build_in`]).
#[derive(Clone, Copy)]
struct BuildRequest<'a> {
    plan: &'a Plan,
    mode: VtableCalls,
    tier: Tier,
    label: &'a str,
    functions: &'a [Function],
    entry_helpers: EntryHelpers,
    emit_body: &'a EmitBody<'a>,
}

/// Compiles `functions` (all of the signature [`EntryHelpers`] selects),
/// each body emitted by `emit_body`; the root node's function is the
/// entry.
fn build(
    plan: &Plan,
    mode: VtableCalls,
    tier: Tier,
    label: &str,
    functions: &[Function],
    entry_helpers: EntryHelpers,
    emit_body: &EmitBody,
) -> Result<Machine, Error> {
    availability().map_err(|reason| unavailable(mode, reason.to_string()))?;
    let isa = host_isa(tier).ok_or_else(|| internal("the JIT does not support this host"))?;
    let request = BuildRequest {
        plan,
        mode,
        tier,
        label,
        functions,
        entry_helpers,
        emit_body,
    };
    let mut reservation = Reservation::first(plan.nodes().len());
    loop {
        match build_in(request, isa.clone(), reservation)? {
            Some(machine) => return Ok(machine),
            None => {
                reservation = reservation.grown().ok_or_else(|| {
                    unavailable(
                        mode,
                        format!(
                            "the machine code of {label} `{}` would take more than {} MiB",
                            plan.nodes()[plan.root().index()].shape,
                            code_memory::MAX_RESERVATION >> 20
                        ),
                    )
                })?;
            }
        }
    }
}

/// [`build`] in a module whose code lives in `reservation`: `None` when
/// the code does not fit (see [`code_memory`]).
fn build_in(
    request: BuildRequest,
    isa: OwnedTargetIsa,
    reservation: Reservation,
) -> Result<Option<Machine>, Error> {
    let BuildRequest {
        plan,
        mode,
        tier,
        label,
        functions,
        entry_helpers,
        emit_body,
    } = request;
    let call_conv = isa.default_call_conv();
    let frontend = isa.frontend_config();
    let mut module = new_module(isa, reservation).map_err(|reason| unavailable(mode, reason))?;

    let mut signature = Signature::new(call_conv);
    let ptr = frontend.pointer_type();
    signature
        .params
        .extend([AbiParam::new(ptr), AbiParam::new(ptr), AbiParam::new(ptr)]);
    if entry_helpers.cursor_in_registers {
        // (ctx, data, meta, cur) -> cur or FAILED: see `runtime`.
        signature.params.push(AbiParam::new(ptr));
        signature.returns.push(AbiParam::new(ptr));
    } else {
        signature.returns.push(AbiParam::new(ir::types::I32));
    }

    let mut ids: Vec<FuncId> = Vec::with_capacity(functions.len());
    let mut names = Vec::with_capacity(functions.len());
    for function in functions {
        let kind = match function {
            Function::Node(_) => "",
            Function::MapEntry(_) => ":entry",
        };
        let index = function.node().index();
        // Quick code is told apart in perf maps and dumps by a suffix.
        let name = format!(
            "jitcard::{label}::{}#{index}{kind}{}",
            sanitize(&plan.nodes()[index].shape.to_string()),
            if tier == Tier::Quick { "~quick" } else { "" }
        );
        ids.push(
            module
                .declare_function(&name, Linkage::Local, &signature)
                .map_err(internal)?,
        );
        names.push(name);
    }

    let dump_dir = std::env::var_os("JITCARD_DUMP_CLIF");
    let mut ctx = module.make_context();
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut code_size = 0;
    let mut sizes = Vec::new();
    for (index, (&id, &function)) in ids.iter().zip(functions).enumerate() {
        ctx.clear();
        ctx.func.signature = signature.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut builder = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
            let mut callees = Callees {
                nodes: vec![None; plan.nodes().len()],
                map_entries: vec![None; plan.nodes().len()],
            };
            for (&callee, &of) in ids.iter().zip(functions) {
                let callee = Some(module.declare_func_in_func(callee, builder.func));
                match of {
                    Function::Node(node) => callees.nodes[node.index()] = callee,
                    Function::MapEntry(node) => callees.map_entries[node.index()] = callee,
                }
            }
            let (mut emitter, data, meta) =
                FunctionEmitter::begin(&mut builder, frontend, call_conv, entry_helpers);
            emit_body(
                &mut emitter,
                function,
                callees,
                VtableCallEmitter::new(mode, call_conv),
                data,
                meta,
            );
            emitter.finish();
            builder.finalize(frontend);
        }
        if let Some(dir) = &dump_dir {
            dump(dir, &names[index], "clif", &ctx.func.display().to_string());
            ctx.set_disasm(true);
        }
        match module.define_function(id, &mut ctx) {
            Ok(()) => {}
            Err(e) if code_memory::is_out_of_room(&e) => return Ok(None),
            Err(e) if code_memory::is_host_refusal(&e) => {
                return Err(unavailable(mode, describe(&e)));
            }
            Err(e) => return Err(internal(format!("{e:?}"))),
        }
        if let (Some(dir), Some(code)) = (&dump_dir, ctx.compiled_code()) {
            dump(
                dir,
                &names[index],
                "s",
                code.vcode.as_deref().unwrap_or_default(),
            );
            dump_file(dir, &names[index], "bin", code.code_buffer());
        }
        let size = ctx
            .compiled_code()
            .map_or(0, |code| code.code_info().total_size as usize);
        code_size += size;
        sizes.push((id, index, size));
    }
    module
        .finalize_definitions()
        // The code arena's refusals (nothing else fails there).
        .map_err(|e| unavailable(mode, describe(&e)))?;

    let root_id = functions
        .iter()
        .position(|&function| function == Function::Node(plan.root()))
        .map(|at| ids[at])
        .ok_or_else(|| internal("root function missing"))?;
    let entry = module.get_finalized_function(root_id);
    if std::env::var_os("JITCARD_PERF_MAP").is_some_and(|v| v != "0") {
        let symbols: Vec<_> = sizes
            .iter()
            .map(|&(id, index, size)| {
                (
                    module.get_finalized_function(id),
                    size,
                    names[index].clone(),
                )
            })
            .collect();
        append_perf_map(&symbols);
    }
    Ok(Some(Machine {
        entry,
        code_size,
        module: std::mem::ManuallyDrop::new(module),
    }))
}

/// The JIT engine cannot run here (or not for this plan), for `reason`.
fn unavailable(mode: VtableCalls, reason: String) -> Error {
    Error::EngineUnavailable {
        engine: crate::Engine::Jit { vtable_calls: mode }.name(),
        reason,
    }
}

/// A type name usable in symbol and file names.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `<dir>/<name>.<extension>` (best effort: a debugging aid must not
/// make encoding fail).
fn dump(dir: &std::ffi::OsStr, name: &str, extension: &str, text: &str) {
    dump_file(dir, name, extension, format!("; {name}\n{text}").as_bytes());
}

/// Writes `bytes` to `<dir>/<name>.<extension>` (best effort, as [`dump`]).
fn dump_file(dir: &std::ffi::OsStr, name: &str, extension: &str, bytes: &[u8]) {
    let dir = std::path::Path::new(dir);
    // File systems limit names to 255 bytes; deeply generic type names are
    // longer. Keep both ends (the end carries the node index).
    let mut file = sanitize(name);
    if file.len() > 160 {
        file = format!("{}__{}", &file[..100], &file[file.len() - 50..]);
    }
    let path = dir.join(format!("{file}.{extension}"));
    let _ = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, bytes));
}

fn append_perf_map(symbols: &[(*const u8, usize, String)]) {
    let path = format!("/tmp/perf-{}.map", std::process::id());
    // Best effort: a debugging aid must not make encoding fail.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        for (address, size, name) in symbols {
            let _ = writeln!(file, "{:x} {size:x} {name}", *address as usize);
        }
    }
}
