//! Executed AAPCS64 tests: Cranelift generates the call sites for
//! `aarch64-unknown-linux-gnu` into an object file (`cranelift-object`);
//! `aarch64-linux-gnu-gcc` compiles C callees and a C driver and links them
//! with it; `qemu-aarch64-static` runs the result. The driver calls every
//! callee itself too, so GCC's own call lowering is the reference.
//!
//! Needs Debian's `gcc-aarch64-linux-gnu` and `qemu-user-static` (`.ci/run`
//! installs them). Without them the test fails in CI (`CI` set) and is
//! reported as not run elsewhere.

mod harness;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_module::default_libcall_names;
use cranelift_object::{ObjectBuilder, ObjectModule};
use harness::{FLOATS, Kind, Shape, TAIL, Target, define_harness, shapes};
use jitcard_abi::Scalar;

/// Leading u64 arguments before the aggregate: none; five (the aggregate
/// still fits X5-X7); seven (a two-register composite no longer fits X7, so
/// it and the tail go on the stack: AAPCS64 C.13). Cases after eight doubles
/// (`take8f_*`) put HFAs on the stack (C.3).
const LEADING: [usize; 3] = [0, 5, 7];

fn c_type(scalar: Scalar) -> &'static str {
    match scalar {
        Scalar::U8 => "uint8_t",
        Scalar::I8 => "int8_t",
        Scalar::U16 => "uint16_t",
        Scalar::I16 => "int16_t",
        Scalar::U32 => "uint32_t",
        Scalar::I32 => "int32_t",
        Scalar::U64 => "uint64_t",
        Scalar::I64 => "int64_t",
        Scalar::Ptr => "const void *",
        Scalar::F32 => "float",
        Scalar::F64 => "double",
    }
}

/// C callees for one shape: digest what they get, build what they give.
fn c_callees(shape: &Shape) -> String {
    let name = shape.name;
    let mut c = String::new();
    let _ = writeln!(c, "struct {name} {{");
    for (i, &m) in shape.members.iter().enumerate() {
        let _ = writeln!(c, "    {} m{i};", c_type(m));
    }
    let _ = writeln!(c, "}};");
    let _ = writeln!(
        c,
        "static uint64_t digest_{name}(const struct {name} *a) {{\n    uint64_t h = 17;"
    );
    for i in 0..shape.members.len() {
        let _ = writeln!(c, "    h = h * 31 + member_bits(&a->m{i}, sizeof a->m{i});");
    }
    let _ = writeln!(c, "    return h;\n}}");
    for leading in LEADING {
        let params: String = (0..leading).map(|i| format!("uint64_t p{i}, ")).collect();
        let weighted: String = (0..leading)
            .map(|i| format!(" ^ (p{i} * {})", 2 * i + 1))
            .collect();
        let _ = writeln!(
            c,
            "uint64_t take{leading}_{name}({params}struct {name} a, uint64_t tail) {{ return digest_{name}(&a){weighted} ^ rotl17(tail); }}"
        );
    }
    let doubles: String = (0..FLOATS).map(|i| format!("double d{i}, ")).collect();
    let float_digest: String = (0..FLOATS)
        .map(|i| format!(" ^ (member_bits(&d{i}, 8) * {})", 2 * i + 1))
        .collect();
    let _ = writeln!(
        c,
        "uint64_t take8f_{name}({doubles}struct {name} a, uint64_t tail) {{ return digest_{name}(&a){float_digest} ^ rotl17(tail); }}"
    );
    let _ = writeln!(
        c,
        "struct {name} give_{name}(uint64_t seed) {{\n    struct {name} r;"
    );
    for (i, &m) in shape.members.iter().enumerate() {
        let value = match m {
            Scalar::F32 => format!("(float)seed + {i}.5f"),
            Scalar::F64 => format!("(double)seed * 1.5 + {i}.25"),
            Scalar::Ptr => format!(
                "(const void *)(uintptr_t)(seed * 0x9E3779B97F4A7C15ull + {})",
                i + 1
            ),
            other => format!(
                "({})(seed * 0x9E3779B97F4A7C15ull + {})",
                c_type(other),
                (i + 1) * 0x0101
            ),
        };
        let _ = writeln!(c, "    r.m{i} = {value};");
    }
    let _ = writeln!(c, "    return r;\n}}");
    c
}

struct Case {
    harness: String,
    shape: Shape,
    kind: Kind,
    seed: u64,
}

/// The driver's check of one case: call the callee directly, call the
/// harness, compare.
fn c_check(case: &Case) -> String {
    let name = case.shape.name;
    let h = &case.harness;
    let mut c = String::new();
    let _ = writeln!(c, "    {{");
    match case.kind {
        Kind::Take { .. } | Kind::TakeAfterFloats => {
            let _ = writeln!(c, "        struct {name} a;");
            for (i, &m) in case.shape.members.iter().enumerate() {
                let bits = case.shape.member_bits(case.seed, i);
                let _ = writeln!(
                    c,
                    "        {{ uint64_t b = {bits}ull; memcpy(&a.m{i}, &b, sizeof a.m{i}); }}"
                );
                let _ = m;
            }
            let call = match case.kind {
                Kind::Take { leading } => {
                    let leading_args: String =
                        (0..leading).map(|i| format!("{}, ", 1000 + i)).collect();
                    format!("take{leading}_{name}({leading_args}a, {TAIL}ull)")
                }
                _ => format!("take8f_{name}(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, a, {TAIL}ull)"),
            };
            let _ = writeln!(c, "        uint64_t expected = {call};");
            let _ = writeln!(c, "        uint64_t got = {h}(out);");
            let _ = writeln!(
                c,
                "        if (got != expected) {{ printf(\"FAIL {h} ({name} {:?}): got %llx expected %llx\\n\", (unsigned long long)got, (unsigned long long)expected); failures++; }}",
                case.kind
            );
        }
        Kind::Give => {
            let _ = writeln!(
                c,
                "        struct {name} r = give_{name}({}ull);",
                case.seed
            );
            let _ = writeln!(c, "        memset(out, 0, sizeof out);\n        {h}(out);");
            for i in 0..case.shape.members.len() {
                let _ = writeln!(
                    c,
                    "        if (out[{i}] != member_bits(&r.m{i}, sizeof r.m{i})) {{ printf(\"FAIL {h} ({name} give) member {i}: got %llx expected %llx\\n\", (unsigned long long)out[{i}], (unsigned long long)member_bits(&r.m{i}, sizeof r.m{i})); failures++; }}"
                );
            }
        }
    }
    let _ = writeln!(c, "        cases++;\n    }}");
    c
}

fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[test]
fn aarch64_aapcs64_matrix_under_qemu() {
    let (Some(gcc), Some(qemu)) = (tool("aarch64-linux-gnu-gcc"), tool("qemu-aarch64-static"))
    else {
        let message = "aarch64-linux-gnu-gcc and qemu-aarch64-static are needed \
                       (apt-get install gcc-aarch64-linux-gnu qemu-user-static)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("NOT RUN: {message}");
        return;
    };

    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    let isa = cranelift_codegen::isa::lookup_by_name("aarch64-unknown-linux-gnu")
        .unwrap()
        .finish(settings::Flags::new(flags))
        .unwrap();
    let mut module =
        ObjectModule::new(ObjectBuilder::new(isa, "abi_harness", default_libcall_names()).unwrap());

    let mut cases = Vec::new();
    for shape in shapes() {
        let takes = LEADING.iter().map(|&leading| Kind::Take { leading });
        for kind in takes.chain([Kind::TakeAfterFloats, Kind::Give]) {
            for in_memory in [false, true] {
                let harness = format!("h{}", cases.len());
                let seed = 3 + cases.len() as u64;
                let symbol = match kind {
                    Kind::Take { leading } => format!("take{leading}_{}", shape.name),
                    Kind::TakeAfterFloats => format!("take8f_{}", shape.name),
                    Kind::Give => format!("give_{}", shape.name),
                };
                define_harness(
                    &mut module,
                    &harness,
                    &shape,
                    kind,
                    seed,
                    CallConv::SystemV,
                    true,
                    in_memory,
                    Target::Symbol(&symbol),
                );
                cases.push(Case {
                    harness,
                    shape: shape.clone(),
                    kind,
                    seed,
                });
            }
        }
    }
    let object = module.finish().emit().unwrap();

    let dir = std::env::temp_dir().join(format!("jitcard-abi-aarch64-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("harness.o"), object).unwrap();
    let mut c = String::from(
        "#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n\
         static uint64_t member_bits(const void *p, size_t n) { uint64_t b = 0; memcpy(&b, p, n); return b; }\n\
         static uint64_t rotl17(uint64_t x) { return (x << 17) | (x >> 47); }\n",
    );
    for shape in shapes() {
        c.push_str(&c_callees(&shape));
    }
    for case in &cases {
        let _ = writeln!(c, "uint64_t {}(uint64_t *out);", case.harness);
    }
    c.push_str("int main(void) {\n    uint64_t out[8];\n    int failures = 0, cases = 0;\n");
    for case in &cases {
        c.push_str(&c_check(case));
    }
    c.push_str("    printf(\"%d cases, %d failures\\n\", cases, failures);\n    return failures != 0;\n}\n");
    std::fs::write(dir.join("driver.c"), c).unwrap();

    let binary = dir.join("abi_test");
    let compiled = Command::new(gcc)
        .args(["-O1", "-static", "-o"])
        .arg(&binary)
        .arg(dir.join("driver.c"))
        .arg(dir.join("harness.o"))
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "gcc failed:\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let run = Command::new(qemu).arg(&binary).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "AAPCS64 calls disagree with GCC's:\n{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains(&format!("{} cases, 0 failures", cases.len())),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
