//! Apple arm64 (`aarch64-apple-darwin`): no runner here, so golden tests on
//! the lowered signatures where Apple's rules differ from AAPCS64 (Apple,
//! "Writing ARM64 code for Apple platforms"), and where they agree.

use cranelift_codegen::ir::{ArgumentExtension, types};
use cranelift_codegen::isa::CallConv;
use jitcard_abi::{
    AbiError, Aggregate, ArgPass, CType, Field, HiddenReturn, LoweredCall, Part, Prototype,
    RetPass, Scalar, lower,
};

fn both(prototype: &Prototype) -> (Result<LoweredCall, AbiError>, Result<LoweredCall, AbiError>) {
    (
        lower(prototype, CallConv::SystemV, true),
        lower(prototype, CallConv::AppleAarch64, true),
    )
}

fn pair() -> CType {
    Aggregate::c_struct([Scalar::U64.into(), Scalar::Ptr.into()]).into()
}

/// Apple: "The caller of a function is responsible for signing or zero-
/// extending any argument with fewer than 32 bits." AAPCS64 leaves the
/// upper bits unspecified (the callee extends).
#[test]
fn apple_callers_widen_narrow_integer_arguments() {
    let prototype = Prototype {
        params: vec![Scalar::U8.into(), Scalar::I16.into(), Scalar::U32.into()],
        ret: None,
    };
    let (linux, apple) = both(&prototype);
    let extensions = |call: LoweredCall| -> Vec<ArgumentExtension> {
        call.params
            .into_iter()
            .map(|p| match p.pass {
                ArgPass::Scalar { extension, .. } => extension,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(extensions(linux.unwrap()), [ArgumentExtension::None; 3]);
    assert_eq!(
        extensions(apple.unwrap()),
        [
            ArgumentExtension::Uext,
            ArgumentExtension::Sext,
            ArgumentExtension::None
        ]
    );
}

/// AAPCS64 C.10 rounds NGRN up to an even register for a composite with
/// 16-byte alignment; Apple does not ("Apple ABI deviates ... doesn't
/// respect Stage C.8/C.10" — the pair may start in an odd register).
#[test]
fn apple_does_not_round_up_to_an_even_register_for_16_aligned_composites() {
    let aligned = Aggregate::with_layout(
        vec![
            Field {
                offset: 0,
                ty: Scalar::U64.into(),
            },
            Field {
                offset: 8,
                ty: Scalar::U64.into(),
            },
        ],
        16,
        16,
    )
    .unwrap();
    let prototype = Prototype {
        params: vec![Scalar::U64.into(), aligned.into()],
        ret: None,
    };
    let (linux, apple) = both(&prototype);
    let chunks = vec![
        Part {
            offset: 0,
            ty: types::I64,
        },
        Part {
            offset: 8,
            ty: types::I64,
        },
    ];
    let linux = linux.unwrap();
    assert_eq!(
        linux.params[1].padding,
        [types::I64],
        "X1 skipped, the pair takes X2/X3"
    );
    assert_eq!(linux.params[1].pass, ArgPass::Parts(chunks.clone()));
    let apple = apple.unwrap();
    assert!(apple.params[1].padding.is_empty(), "the pair takes X1/X2");
    assert_eq!(apple.params[1].pass, ArgPass::Parts(chunks));
}

/// Apple packs stack arguments by natural alignment instead of 8-byte
/// slots; composites that spill to the stack are not implemented for Apple
/// and are refused (callers fall back), while AAPCS64 burns X7 and passes
/// the pair on the stack (C.13).
#[test]
fn apple_refuses_composites_that_spill_to_the_stack() {
    let mut params = vec![CType::Scalar(Scalar::U64); 7];
    params.push(pair());
    let prototype = Prototype { params, ret: None };
    let (linux, apple) = both(&prototype);
    assert_eq!(linux.unwrap().params[7].padding, [types::I64]);
    assert!(matches!(apple, Err(AbiError::Unsupported(_))), "{apple:?}");
}

/// Where the rules agree: a 16-byte pair in two X registers (the PtrConst
/// case), an HFA in V registers, a large composite by reference, results
/// in X0/X1, and large results through X8.
#[test]
fn apple_matches_aapcs64_for_register_composites_and_results() {
    let hfa: CType =
        Aggregate::c_struct([Scalar::F32.into(), Scalar::F32.into(), Scalar::F32.into()]).into();
    let big: CType =
        Aggregate::c_struct([Scalar::U64.into(), Scalar::U64.into(), Scalar::U64.into()]).into();
    for (params, ret) in [
        (vec![pair()], Some(pair())),
        (vec![hfa.clone()], Some(hfa)),
        (vec![big.clone()], Some(big)),
    ] {
        let prototype = Prototype { params, ret };
        let (linux, apple) = both(&prototype);
        let (linux, apple) = (linux.unwrap(), apple.unwrap());
        assert_eq!(linux.params, apple.params, "{prototype:?}");
        assert_eq!(linux.ret, apple.ret, "{prototype:?}");
    }
    let big_ret = Prototype {
        params: vec![],
        ret: Some(
            Aggregate::c_struct([Scalar::U64.into(), Scalar::U64.into(), Scalar::U64.into()])
                .into(),
        ),
    };
    assert_eq!(
        lower(&big_ret, CallConv::AppleAarch64, true).unwrap().ret,
        RetPass::Indirect(HiddenReturn::X8)
    );
    let pair_ret = Prototype {
        params: vec![],
        ret: Some(pair()),
    };
    assert_eq!(
        lower(&pair_ret, CallConv::AppleAarch64, true).unwrap().ret,
        RetPass::Parts(vec![
            Part {
                offset: 0,
                ty: types::I64
            },
            Part {
                offset: 8,
                ty: types::I64
            }
        ])
    );
}

#[test]
fn other_calling_conventions_are_refused() {
    let prototype = Prototype {
        params: vec![pair()],
        ret: None,
    };
    assert_eq!(
        lower(&prototype, CallConv::Tail, false).unwrap_err(),
        AbiError::UnsupportedCallConv(CallConv::Tail)
    );
    assert!(
        lower(&prototype, CallConv::AppleAarch64, false).is_err(),
        "Apple's convention is AArch64-only"
    );
}
