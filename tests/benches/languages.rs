//! Language benchmark: the example pack (plugins/examples/) in Rust, Python and JavaScript —
//! component size, build time, load (compile) time, the cost of a call on a fresh instance, and
//! evaluations per second on one core over documents of realistic size (~1.8 KB), each against
//! the Rust pack in the same process.
//!
//! Run: `cargo bench -p palisade-tests --bench languages` (release; the figures in
//! BENCHMARKS.md). Quick check: `cargo test -p palisade-tests --bench languages -- --quick`.
//! Needs the SDK toolchains (scripts/setup.sh).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use palisade::engine::{Engine, EvalContext, Limits, Pack, RuleSettings, Subject};

#[path = "../common/example_corpus.rs"]
mod example_corpus;

/// Bytes of padding per document: brings the documents to about 1.8 KB, like the engine
/// benchmark's.
const PADDING: usize = 1500;

fn build(lang: &str) -> (Vec<u8>, Duration) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/examples")
        .join(lang);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bench-example-{lang}.wasm"));
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_palisade-cli"))
        .args(["policy", "build", "--no-embed-tests"])
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-build"),
        )
        .status()
        .expect("run palisade policy build");
    assert!(status.success(), "building the {lang} example failed");
    (
        std::fs::read(&out).expect("read the pack"),
        started.elapsed(),
    )
}

struct Figures {
    size: usize,
    build: Duration,
    load: Duration,
    fresh_call: Duration,
    per_second: f64,
}

fn measure(lang: &str, docs: &[(String, String, String)], quick: bool) -> Figures {
    let (wasm, build) = build(lang);
    // Compile without a cache: what an upload costs.
    let engine = Engine::new(Limits::default()).expect("engine");
    let started = Instant::now();
    let pack = engine.load(lang, &wasm).expect("the pack loads");
    let load = started.elapsed();
    let plan = pack.plan(|_| true, &RuleSettings::new()).expect("plan");
    let ctx = EvalContext::at(time::OffsetDateTime::now_utc());
    // A call on a fresh instance: each `evaluate` call instantiates the pack once.
    let one = subjects(&docs[..1]);
    let mut calls = Vec::new();
    for _ in 0..if quick { 3 } else { 15 } {
        let started = Instant::now();
        let verdicts = pack.evaluate(&plan, &ctx, &one);
        calls.push(started.elapsed());
        assert_eq!(verdicts.len(), 1);
    }
    calls.sort();
    let all = subjects(docs);
    let mut rates = Vec::new();
    for _ in 0..if quick { 1 } else { 3 } {
        let started = Instant::now();
        let verdicts = evaluate_checked(&pack, &plan, &ctx, &all);
        rates.push(verdicts as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Figures {
        size: wasm.len(),
        build,
        load,
        fresh_call: calls[calls.len() / 2],
        per_second: rates[rates.len() / 2],
    }
}

fn subjects(docs: &[(String, String, String)]) -> Vec<Subject<'_>> {
    docs.iter()
        .map(|(id, ty, doc)| Subject {
            id,
            resource_type: ty,
            account_id: "123456789012",
            document: doc,
        })
        .collect()
}

fn evaluate_checked(
    pack: &Pack,
    plan: &palisade::engine::Plan,
    ctx: &EvalContext,
    subjects: &[Subject<'_>],
) -> usize {
    let verdicts = pack.evaluate(plan, ctx, subjects);
    assert_eq!(verdicts.len(), subjects.len(), "one verdict per document");
    verdicts.len()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 2_000 } else { 30_000 };
    let docs = example_corpus::corpus(n, PADDING);
    let average = docs.iter().map(|(_, _, d)| d.len()).sum::<usize>() / docs.len();
    println!("## Languages: the example pack over {n} documents of {average} bytes on average\n");
    let rust = measure("rust", &docs, quick);
    println!(
        "| language | size | build | load (compile) | call on a fresh instance | evaluations/s, one core | vs Rust |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for lang in ["rust", "python", "js"] {
        let f = if lang == "rust" {
            None
        } else {
            Some(measure(lang, &docs, quick))
        };
        let f = f.as_ref().unwrap_or(&rust);
        println!(
            "| {lang} | {:.1} MB | {:.1} s | {:.2} s | {:.2} ms | {:.0} | {:.2}× |",
            f.size as f64 / 1e6,
            f.build.as_secs_f64(),
            f.load.as_secs_f64(),
            f.fresh_call.as_secs_f64() * 1e3,
            f.per_second,
            f.per_second / rust.per_second,
        );
    }
}
