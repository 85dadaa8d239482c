//! Hosts that forbid making memory executable (systemd's
//! `MemoryDenyWriteExecute=yes`, SELinux `deny_execmem`, Linux's
//! `PR_SET_MDWE`): the default-engine API falls back to the interpreter and
//! still encodes and decodes; an explicitly requested JIT engine fails up
//! front with `Error::EngineUnavailable` carrying the OS's reason.
//!
//! The switch is irreversible for a process, so the test re-runs this test
//! binary as a child that turns it on first (with `PR_SET_MDWE`, or where
//! the kernel lacks it, a seccomp filter refusing executable mappings).
#![cfg(all(feature = "jit", target_os = "linux"))]

use std::process::Command;

use facet::Facet;
use jitcard::{Decoder, Encoder, Engine, Error, VtableCalls};
use serde::Serialize;

const CHILD: &str = "JITCARD_NO_EXEC_CHILD";

#[derive(Facet, Serialize, Debug, PartialEq)]
struct Msg {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
}

#[test]
fn a_host_without_executable_memory_encodes_with_the_interpreter() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    // Both ways a host can refuse: the kernel's MDWE switch, and a policy
    // (seccomp here, like SELinux's `deny_execmem`) that fails the mapping.
    for mechanism in ["mdwe", "seccomp"] {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_host_without_executable_memory_encodes_with_the_interpreter",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, mechanism)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{mechanism} child failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
            output.status
        );
        assert!(
            stdout.contains("CHILD CHECKED"),
            "the {mechanism} child did not run its checks:\n{stdout}"
        );
    }
}

fn child() {
    match std::env::var(CHILD).as_deref() {
        Ok("seccomp") => refuse_exec_with_seccomp(),
        _ => forbid_executable_memory(),
    }
    assert!(!Engine::jit_available());
    assert_eq!(Engine::host_default(), Engine::Interpreter);
    let reason = Engine::jit_unavailable_reason().unwrap();
    println!("JIT unavailable: {reason}");

    let value = Msg {
        id: 300,
        name: "héllo".into(),
        tags: vec!["a".into(), "bb".into()],
        score: Some(0.5),
    };
    let expected = postcard::to_allocvec(&value).unwrap();
    assert_eq!(jitcard::to_vec(&value).unwrap(), expected);
    assert_eq!(jitcard::to_extend(&value, vec![]).unwrap(), expected);
    let default = Encoder::<Msg>::new(Engine::host_default()).unwrap();
    assert_eq!(default.engine(), Engine::Interpreter);
    assert_eq!(default.to_vec(&value).unwrap(), expected);
    // Decoding too: the default API decodes with the interpreter.
    assert_eq!(jitcard::from_bytes::<Msg>(&expected).unwrap(), value);
    let decoder = Decoder::<Msg>::new(Engine::host_default()).unwrap();
    assert_eq!(decoder.engine(), Engine::Interpreter);
    assert_eq!(decoder.decode(&expected).unwrap(), value);

    for vtable_calls in [VtableCalls::Direct, VtableCalls::Trampoline] {
        let engine = Engine::Jit { vtable_calls };
        assert!(!engine.is_available());
        let errors = [
            Encoder::<Msg>::new(engine).unwrap_err(),
            Decoder::<Msg>::new(engine).unwrap_err(),
        ];
        for error in &errors {
            let Error::EngineUnavailable { reason, .. } = error else {
                panic!("{error:?}");
            };
            assert!(
                reason.contains("denied") || reason.contains("not permitted"),
                "the OS reason is reported: {error}"
            );
            assert!(!error.to_string().contains("bug"), "{error}");
            // An error, not a caught panic (programs built with
            // `panic = "abort"` would not survive one), and a sentence, not
            // a backtrace.
            assert!(!reason.contains("panicked"), "{error}");
            assert!(reason.len() < 400, "{error}");
        }
    }
    println!("CHILD CHECKED");
}

/// Makes this process unable to map executable memory it wrote.
fn forbid_executable_memory() {
    const PR_SET_MDWE: libc::c_int = 65;
    const PR_MDWE_REFUSE_EXEC_GAIN: libc::c_ulong = 1;
    // SAFETY: a prctl with integer arguments; it changes no Rust-visible state.
    if unsafe { libc::prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) } == 0 {
        return;
    }
    println!(
        "PR_SET_MDWE unavailable ({}): refusing PROT_EXEC with seccomp instead",
        std::io::Error::last_os_error()
    );
    refuse_exec_with_seccomp();
}

/// A seccomp filter that fails `mmap`/`mprotect`/`pkey_mprotect` asking for
/// `PROT_EXEC` with `EACCES`, as SELinux's `deny_execmem` does.
fn refuse_exec_with_seccomp() {
    use libc::{
        BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, EACCES,
        PROT_EXEC, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SYS_mmap, SYS_mprotect, SYS_pkey_mprotect,
        sock_filter, sock_fprog,
    };
    let statement = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    // struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }:
    // nr at 0, args[2] (the protection of all three calls) at 32.
    let filter = [
        statement(BPF_LD | BPF_W | BPF_ABS, 0),
        jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap as u32, 3, 0),
        jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_mprotect as u32, 2, 0),
        jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_pkey_mprotect as u32, 1, 0),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        statement(BPF_LD | BPF_W | BPF_ABS, 32),
        statement(BPF_ALU | BPF_AND | BPF_K, PROT_EXEC as u32),
        jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        statement(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES as u32),
    ];
    let program = sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prctls with integer arguments and a pointer to a filter that
    // lives across the call; they change no Rust-visible state.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const sock_fprog
            ),
            0,
            "seccomp: {}",
            std::io::Error::last_os_error()
        );
    }
}
