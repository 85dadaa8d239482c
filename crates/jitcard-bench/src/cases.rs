//! Benchmark cases: one workload value paired with every competitor that can
//! encode it, behind one object-safe trait so the comparison binary, the
//! divan benches and the tests can loop over them.

use facet::Facet;
use serde::Deserialize;
use serde::Serialize;

use crate::workloads::{
    self, GnarlyPayload, ManyVariants, Mesh, NumericBuffer, OptionHeavy, PointerHeavy, Tree,
    WideStruct,
};

/// An encoder being compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Competitor {
    /// serde's derived `Serialize` driving `postcard`, the reference bytes.
    SerdePostcard,
    /// facet's reflective serializer, `facet-postcard`.
    FacetPostcard,
    /// jitcard on one of its engines.
    Jitcard(jitcard::Engine),
    /// Not an encoder: copies the (precomputed) reference bytes into the
    /// buffer, the floor no encoder can beat.
    MemcpyOutput,
}

impl Competitor {
    /// Every competitor, the reference first.
    pub fn all() -> Vec<Competitor> {
        let mut all = vec![Competitor::SerdePostcard, Competitor::FacetPostcard];
        all.extend(jitcard_engines().into_iter().map(Competitor::Jitcard));
        all.push(Competitor::MemcpyOutput);
        all
    }

    /// The column name used in tables, reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Competitor::SerdePostcard => "serde+postcard",
            Competitor::FacetPostcard => "facet-postcard",
            Competitor::Jitcard(engine) => engine.name(),
            Competitor::MemcpyOutput => "memcpy-output",
        }
    }

    /// The competitor with this [`name`](Self::name).
    pub fn parse(name: &str) -> Option<Competitor> {
        Competitor::all().into_iter().find(|c| c.name() == name)
    }
}

/// Every production jitcard engine available in this build and on this
/// host: what the comparison times.
pub fn jitcard_engines() -> Vec<jitcard::Engine> {
    jitcard::Engine::available()
}

/// [`jitcard_engines`] plus the testing modes available here (direct calls
/// through Win64 adapters on x86-64): what the differential tests check.
pub fn jitcard_engines_under_test() -> Vec<jitcard::Engine> {
    jitcard::diagnostics::engines_under_test()
}

/// One workload value, encodable by every competitor.
pub trait Case {
    /// The workload's name, e.g. `gnarly_16`.
    fn name(&self) -> &str;
    /// Appends the value's encoding by `competitor` to `out`.
    fn encode(&self, competitor: Competitor, out: &mut Vec<u8>) -> Result<(), String>;
    /// The value, for mismatch reports.
    fn describe(&self) -> String;
    /// Lowers and compiles the value's type afresh for the JIT (bypassing
    /// caches), its encoder or (`decoder`) its decoder, reporting
    /// machine-code size and cold compile time.
    fn measure_jit_compile(
        &self,
        vtable_calls: jitcard::VtableCalls,
        target: CompileTarget,
    ) -> Result<jitcard::CompileReport, String>;
    /// serde+postcard's encoding of the value: the input of every decoder.
    fn reference(&self) -> &[u8];
    /// Decodes [`reference`](Self::reference) with `competitor` and drops
    /// the value (what decode benchmarks time).
    fn decode(&self, competitor: Competitor) -> Result<(), String>;
    /// The value's encoded length by `competitor`'s `serialized_size`,
    /// computed without encoding.
    fn serialized_size(&self, competitor: Competitor) -> Result<usize, String>;
    /// Decodes [`reference`](Self::reference) with `competitor` and checks
    /// the value equals the original (what is verified before timing).
    fn verify_decode(&self, competitor: Competitor) -> Result<(), String>;
}

/// What a cold JIT compile measurement compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileTarget {
    /// The encoder as `Encoder::new` compiles it (quick code).
    Encoder,
    /// The optimized code encoders switch to after use.
    OptimizedEncoder,
    /// The decoder.
    Decoder,
}

impl CompileTarget {
    /// Every target, in table order.
    pub const ALL: [CompileTarget; 3] = [
        CompileTarget::Encoder,
        CompileTarget::OptimizedEncoder,
        CompileTarget::Decoder,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            CompileTarget::Encoder => "encode",
            CompileTarget::OptimizedEncoder => "encode (optimized)",
            CompileTarget::Decoder => "decode",
        }
    }
}

/// Whether `competitor` has a `serialized_size` (postcard and jitcard).
pub fn sizes(competitor: Competitor) -> bool {
    matches!(
        competitor,
        Competitor::SerdePostcard | Competitor::Jitcard(_)
    )
}

/// Whether `competitor` decodes at all (memcpy-output has no decoder).
pub fn decodes(competitor: Competitor) -> bool {
    match competitor {
        Competitor::SerdePostcard | Competitor::FacetPostcard | Competitor::Jitcard(_) => true,
        Competitor::MemcpyOutput => false,
    }
}

/// A typed [`Case`]: the value plus its jitcard encoders and decoders,
/// built once.
pub struct TypedCase<T: Facet<'static>> {
    name: String,
    value: T,
    /// serde+postcard's bytes: [`Competitor::MemcpyOutput`]'s output and
    /// every decoder's input (leaked once per case, so values that borrow
    /// from it, such as `&'static str` fields, can be decoded).
    reference: &'static [u8],
    /// One per engine under test; a short list searched linearly, which
    /// costs less per encode than hashing the key.
    encoders: Vec<(jitcard::Engine, Result<jitcard::Encoder<T>, jitcard::Error>)>,
    /// One per engine that decodes.
    decoders: Vec<(jitcard::Engine, Result<jitcard::Decoder<T>, jitcard::Error>)>,
}

impl<T> TypedCase<T>
where
    T: Facet<'static> + Serialize + Deserialize<'static> + PartialEq + std::fmt::Debug,
{
    /// Pairs `value` with encoders for every jitcard engine, switched to
    /// their optimized code (what a long-running program runs; JIT encoders
    /// start on quick code and switch after some use), unless
    /// `JITCARD_BENCH_QUICK=1` asks to measure the quick code (run it with
    /// `JITCARD_TIER_UP_WORK=4294967295` so it never switches).
    pub fn new(name: impl Into<String>, value: T) -> Self {
        let quick = std::env::var("JITCARD_BENCH_QUICK").is_ok_and(|v| v == "1");
        let encoders = jitcard_engines_under_test()
            .into_iter()
            .map(|engine| {
                let encoder = jitcard::Encoder::<T>::new(engine).and_then(|encoder| {
                    if !quick {
                        encoder.optimize()?;
                    }
                    Ok(encoder)
                });
                (engine, encoder)
            })
            .collect();
        let decoders = jitcard_engines_under_test()
            .into_iter()
            .filter(|&engine| decodes(Competitor::Jitcard(engine)))
            .map(|engine| (engine, jitcard::Decoder::<T>::new(engine)))
            .collect();
        let mut reference = Vec::new();
        // A workload serde cannot encode shows up as a refusal when measured.
        let _ = serde_postcard_append(&value, &mut reference);
        let reference = Box::leak(reference.into_boxed_slice());
        TypedCase {
            name: name.into(),
            value,
            reference,
            encoders,
            decoders,
        }
    }
}

impl<T> TypedCase<T>
where
    T: Facet<'static> + Serialize + Deserialize<'static> + PartialEq + std::fmt::Debug,
{
    #[inline]
    fn decode_value(&self, competitor: Competitor) -> Result<T, String> {
        let bytes = self.reference;
        match competitor {
            Competitor::SerdePostcard => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
            Competitor::FacetPostcard => {
                facet_postcard::from_slice_borrowed(bytes).map_err(|e| e.to_string())
            }
            Competitor::Jitcard(engine) => match self
                .decoders
                .iter()
                .find(|(e, _)| *e == engine)
                .map(|(_, r)| r)
            {
                Some(Ok(decoder)) => decoder.decode(bytes).map_err(|e| e.to_string()),
                Some(Err(error)) => Err(error.to_string()),
                None => Err(format!("{} does not decode", engine.name())),
            },
            Competitor::MemcpyOutput => Err("memcpy-output does not decode".to_string()),
        }
    }
}

/// postcard output flavor appending to a borrowed `Vec<u8>`: the fastest
/// way to drive serde+postcard into a reused buffer.
struct AppendToVec<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendToVec<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends serde+postcard's encoding of `value` to `out`.
pub fn serde_postcard_append<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    postcard::serialize_with_flavor(value, AppendToVec(out)).map_err(|e| e.to_string())
}

impl<T> Case for TypedCase<T>
where
    T: Facet<'static> + Serialize + Deserialize<'static> + PartialEq + std::fmt::Debug,
{
    fn name(&self) -> &str {
        &self.name
    }

    #[inline]
    fn encode(&self, competitor: Competitor, out: &mut Vec<u8>) -> Result<(), String> {
        match competitor {
            Competitor::SerdePostcard => serde_postcard_append(&self.value, out),
            Competitor::FacetPostcard => {
                facet_postcard::to_writer_fallible(&self.value, out).map_err(|e| e.to_string())
            }
            Competitor::Jitcard(engine) => match self
                .encoders
                .iter()
                .find(|(e, _)| *e == engine)
                .map(|(_, r)| r)
            {
                Some(Ok(encoder)) => encoder.encode(&self.value, out).map_err(|e| e.to_string()),
                Some(Err(error)) => Err(error.to_string()),
                None => Err(format!("no encoder built for {engine:?}")),
            },
            Competitor::MemcpyOutput => {
                out.extend_from_slice(self.reference);
                Ok(())
            }
        }
    }

    fn measure_jit_compile(
        &self,
        vtable_calls: jitcard::VtableCalls,
        target: CompileTarget,
    ) -> Result<jitcard::CompileReport, String> {
        match target {
            CompileTarget::Encoder => jitcard::diagnostics::measure_jit_compile::<T>(vtable_calls),
            CompileTarget::OptimizedEncoder => {
                jitcard::diagnostics::measure_jit_optimized_compile::<T>(vtable_calls)
            }
            CompileTarget::Decoder => {
                jitcard::diagnostics::measure_jit_decoder_compile::<T>(vtable_calls)
            }
        }
        .map_err(|e| e.to_string())
    }

    fn reference(&self) -> &[u8] {
        self.reference
    }

    #[inline]
    fn decode(&self, competitor: Competitor) -> Result<(), String> {
        self.decode_value(competitor).map(drop)
    }

    #[inline]
    fn serialized_size(&self, competitor: Competitor) -> Result<usize, String> {
        match competitor {
            Competitor::SerdePostcard => {
                postcard::experimental::serialized_size(&self.value).map_err(|e| e.to_string())
            }
            Competitor::Jitcard(engine) => match self
                .encoders
                .iter()
                .find(|(e, _)| *e == engine)
                .map(|(_, r)| r)
            {
                Some(Ok(encoder)) => encoder
                    .serialized_size(&self.value)
                    .map_err(|e| e.to_string()),
                Some(Err(error)) => Err(error.to_string()),
                None => Err(format!("no encoder built for {engine:?}")),
            },
            other => Err(format!("{} has no serialized_size", other.name())),
        }
    }

    fn verify_decode(&self, competitor: Competitor) -> Result<(), String> {
        let decoded = self.decode_value(competitor)?;
        if decoded == self.value {
            Ok(())
        } else {
            Err(format!(
                "{} decoded a different value: {}",
                competitor.name(),
                crate::diff::truncated(&format!("{decoded:?}"), 400)
            ))
        }
    }

    fn describe(&self) -> String {
        crate::diff::truncated(&format!("{:?}", self.value), 400)
    }
}

/// The names of the built-in workloads, in table order.
pub const WORKLOADS: &[&str] = &[
    "gnarly_1",
    "gnarly_16",
    "gnarly_256",
    "wide",
    "many_variants",
    "tree",
    "numeric",
    "option_heavy",
    "pointer_heavy",
    "nested_pair",
    "mesh",
];

/// The workload called `name`, built with the default sizes and seed.
pub fn case(name: &str) -> Option<Box<dyn Case>> {
    const SEED: u64 = 0x5EED;
    Some(match name {
        "gnarly_1" => Box::new(TypedCase::new(name, GnarlyPayload::new(1, SEED))),
        "gnarly_16" => Box::new(TypedCase::new(name, GnarlyPayload::new(16, SEED))),
        "gnarly_256" => Box::new(TypedCase::new(name, GnarlyPayload::new(256, SEED))),
        "wide" => Box::new(TypedCase::new(name, WideStruct::new(SEED))),
        "many_variants" => Box::new(TypedCase::new(name, ManyVariants::list(64, SEED))),
        "tree" => Box::new(TypedCase::new(name, Tree::new(10, SEED))),
        "numeric" => Box::new(TypedCase::new(name, NumericBuffer::new(4096, SEED))),
        "option_heavy" => Box::new(TypedCase::new(name, OptionHeavy::list(64, SEED))),
        "pointer_heavy" => Box::new(TypedCase::new(name, PointerHeavy::list(64, SEED))),
        "nested_pair" => Box::new(TypedCase::new(name, workloads::nested_pair(SEED))),
        "mesh" => Box::new(TypedCase::new(name, Mesh::new(100_000, SEED))),
        _ => return None,
    })
}

/// Every built-in workload.
pub fn all_cases() -> Vec<Box<dyn Case>> {
    WORKLOADS.iter().filter_map(|name| case(name)).collect()
}
