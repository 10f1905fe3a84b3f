//! Policies in any language: the example pack written in Rust, Python and JavaScript
//! (plugins/examples/) is built with `palisade policy build`, passes its own test cases with
//! `palisade policy test`, and gives the same verdicts and messages as the other two on the
//! same 1,000 generated resources. Needs the SDKs' toolchains (scripts/setup.sh installs them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use palisade::engine::{Engine, EvalContext, Limits, Pack, RuleSettings, Subject};

#[path = "common/example_corpus.rs"]
mod example_corpus;
use example_corpus::corpus;

const LANGUAGES: [&str; 3] = ["rust", "python", "js"];

/// Runs `palisade`; one at a time, since they share a data directory (one process may hold it).
fn palisade(args: &[&str]) -> std::process::Output {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(env!("CARGO_BIN_EXE_palisade-cli"))
        .args(args)
        // Rust packs build in a target directory of their own: the test's cargo holds its own.
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-build"),
        )
        // A compile cache shared by the build and the test run of each pack.
        .env(
            "PALISADE_DATA_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache"),
        )
        .output()
        .expect("run palisade")
}

/// The example pack of each language, built once per test binary.
fn packs() -> &'static Vec<(String, PathBuf)> {
    static PACKS: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    PACKS.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-packs");
        std::fs::create_dir_all(&out).expect("output folder");
        LANGUAGES
            .iter()
            .map(|lang| {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../plugins/examples")
                    .join(lang);
                let wasm = out.join(format!("example-{lang}.wasm"));
                let build = palisade(&[
                    "policy",
                    "build",
                    dir.to_str().expect("utf-8 path"),
                    "-o",
                    wasm.to_str().expect("utf-8 path"),
                ]);
                assert!(
                    build.status.success(),
                    "palisade policy build {lang} failed:\n{}",
                    String::from_utf8_lossy(&build.stderr)
                );
                ((*lang).to_owned(), wasm)
            })
            .collect()
    })
}

#[test]
fn every_example_passes_its_embedded_cases() {
    for (lang, wasm) in packs() {
        let junit = wasm.with_extension("xml");
        let run = palisade(&[
            "policy",
            "test",
            wasm.to_str().expect("utf-8"),
            "--junit",
            junit.to_str().expect("utf-8"),
        ]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{lang}:\n{stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(stdout.contains("11 passed, 0 failed"), "{lang}: {stdout}");
        let xml = std::fs::read_to_string(&junit).expect("junit written");
        assert!(xml.contains("tests=\"11\" failures=\"0\""), "{lang}: {xml}");
    }
}

#[test]
fn a_failing_case_fails_the_run_and_names_itself() {
    let (_, wasm) = &packs()[0];
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = dir.path().join("wrong.yaml");
    std::fs::write(
        &cases,
        "- name: deliberately wrong\n  rule: Example.S3.Bucket.Encrypted\n  resource: {ResourceId: b, ResourceType: AWS.S3.Bucket, Name: b, EncryptionRules: null}\n  expect: pass\n",
    )
    .expect("write");
    let run = palisade(&[
        "policy",
        "test",
        wasm.to_str().expect("utf-8"),
        "--cases",
        cases.to_str().expect("utf-8"),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  deliberately wrong"), "{stdout}");
    assert!(stdout.contains("expected pass, got fail"), "{stdout}");
    assert!(stdout.contains("11 passed, 1 failed"), "{stdout}");
}

/// Every verdict of `pack` on the corpus: (resource, rule, status, message). Error messages are
/// compared too: every SDK words an uncollected field the same way.
fn verdicts(
    pack: &Pack,
    corpus: &[(String, String, String)],
) -> Vec<(String, String, String, Option<String>)> {
    let plan = pack.plan(|_| true, &RuleSettings::new()).expect("plan");
    let subjects: Vec<Subject<'_>> = corpus
        .iter()
        .map(|(id, ty, doc)| Subject {
            id,
            resource_type: ty,
            account_id: "123456789012",
            document: doc,
        })
        .collect();
    let ctx = EvalContext::at(time::OffsetDateTime::now_utc());
    pack.evaluate(&plan, &ctx, &subjects)
        .into_iter()
        .map(|e| {
            (
                corpus[e.subject].0.clone(),
                pack.rules()[e.rule].id.clone(),
                e.status.as_str().to_owned(),
                e.message,
            )
        })
        .collect()
}

#[test]
fn the_three_languages_agree_on_a_thousand_resources() {
    let engine = Engine::new(Limits::default()).expect("engine");
    let corpus = corpus(1000, 0);
    let mut results = Vec::new();
    for (lang, wasm) in packs() {
        let bytes = std::fs::read(wasm).expect("read pack");
        let pack = engine.load(lang, &bytes).expect("the pack loads");
        let mut v = verdicts(&pack, &corpus);
        v.sort();
        assert_eq!(v.len(), 1000, "{lang}: one verdict per resource");
        results.push((lang.clone(), v));
    }
    let (rust_lang, rust) = &results[0];
    for (lang, other) in &results[1..] {
        for (a, b) in rust.iter().zip(other) {
            assert_eq!(a, b, "{rust_lang} and {lang} disagree");
        }
    }
    // The corpus exercises every outcome of every rule.
    for rule in [
        "Example.S3.Bucket.Encrypted",
        "Example.EC2.SecurityGroup.NoWorldSSH",
        "Example.IAM.User.ConsoleMFA",
    ] {
        for status in ["pass", "fail", "error"] {
            assert!(
                rust.iter().any(|(_, r, s, _)| r == rule && s == status),
                "no {status} verdict of {rule} in the corpus"
            );
        }
    }
}
