//! `palisade policy build|test`: turn a folder of rules (Rust, Python or JavaScript) into one
//! pack component with its test cases embedded, and run a pack's test cases. The toolchains do
//! the compiling (cargo, the Python SDK over componentize-py, the JavaScript SDK over
//! componentize-js); this finds the right one, names what is missing, and checks the result
//! loads. The test-case format and runner are `policy_tests`'.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::Context as _;

use super::{GlobalArgs, InputError};
use crate::policy_tests;

/// The WIT package, shipped inside the binary so every SDK builds against the host's own.
const WIT: &str = include_str!("../../../wit/policy.wit");

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Build a pack from a folder of rules; its `tests/` cases are embedded in the component.
    Build {
        /// The pack's folder: a Rust crate (Cargo.toml), JavaScript rule files (or a
        /// package.json), or Python rule files.
        dir: PathBuf,
        /// Where to write the component.
        #[arg(short, long)]
        output: PathBuf,
        /// Leave the test cases out of the component.
        #[arg(long)]
        no_embed_tests: bool,
    },
    /// Run a pack's test cases: the embedded ones of a `.wasm`, or a folder's `tests/` after
    /// building it. Exits 1 when any case fails.
    Test {
        /// A pack component, or a pack folder.
        pack: PathBuf,
        /// More cases: a folder of `*.yaml|yml|json` files (or one such file).
        #[arg(long)]
        cases: Option<PathBuf>,
        /// Also write the results as JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
}

pub fn run(global: &GlobalArgs, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Build {
            dir,
            output,
            no_embed_tests,
        } => {
            let wasm = build(&dir)?;
            let cases = policy_tests::load_dir(&dir.join("tests"))
                .map_err(|e| InputError(e.to_string()))?;
            let wasm = if no_embed_tests || cases.is_empty() {
                wasm
            } else {
                policy_tests::embed(&wasm, &cases)?
            };
            // The component must load here before it is handed out (with --data-dir, the
            // compiled artefact is cached for the `policy test` that usually follows).
            let pack = global
                .engine()?
                .load(&pack_name(&dir), &wasm)
                .map_err(|e| anyhow::anyhow!("the built component does not load: {e}"))?;
            std::fs::write(&output, &wasm)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "built {} ({} rules, {} test cases{}, {:.1} MB)",
                output.display(),
                pack.rules().len(),
                cases.len(),
                if no_embed_tests {
                    " not embedded"
                } else {
                    " embedded"
                },
                wasm.len() as f64 / 1e6
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { pack, cases, junit } => {
            test(global, &pack, cases.as_deref(), junit.as_deref())
        }
    }
}

fn test(
    global: &GlobalArgs,
    pack: &Path,
    extra: Option<&Path>,
    junit: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let input = |e: policy_tests::CaseError| InputError(e.to_string());
    let (wasm, mut cases) = if pack.is_dir() {
        let wasm = build(pack)?;
        let cases = policy_tests::load_dir(&pack.join("tests")).map_err(input)?;
        (wasm, cases)
    } else {
        let wasm = std::fs::read(pack)
            .map_err(|e| InputError(format!("cannot read {}: {e}", pack.display())))?;
        let cases = policy_tests::embedded(&wasm)
            .map_err(input)?
            .unwrap_or_default();
        (wasm, cases)
    };
    if let Some(extra) = extra {
        let more = if extra.is_dir() {
            policy_tests::load_dir(extra)
        } else {
            policy_tests::load_file(extra)
        };
        cases.extend(more.map_err(input)?);
    }
    if cases.is_empty() {
        return Err(InputError(format!(
            "{} has no test cases: put them in its tests/ folder (see docs/policy-tests.md) or pass --cases",
            pack.display()
        ))
        .into());
    }
    let name = pack_name(pack);
    let loaded = global
        .engine()?
        .load(&name, &wasm)
        .map_err(|e| InputError(format!("{} does not load: {e}", pack.display())))?;
    let results = policy_tests::run(&loaded, &cases);
    let passed = policy_tests::print_report(&mut std::io::stdout().lock(), &name, &results)?;
    if let Some(path) = junit {
        std::fs::write(path, policy_tests::junit_xml(&name, &results))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What a folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    Rust,
    JavaScript,
    Python,
}

fn detect(dir: &Path) -> anyhow::Result<Language> {
    if !dir.is_dir() {
        return Err(InputError(format!("{} is not a folder", dir.display())).into());
    }
    if dir.join("Cargo.toml").is_file() {
        return Ok(Language::Rust);
    }
    if dir.join("package.json").is_file() {
        return Ok(Language::JavaScript);
    }
    let has = |ext: &str| -> std::io::Result<bool> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == ext)))
    };
    if has("py")? {
        return Ok(Language::Python);
    }
    if has("js")? {
        return Ok(Language::JavaScript);
    }
    Err(InputError(format!(
        "{} holds no pack: expected a Cargo.toml (Rust), a package.json or *.js rule files (JavaScript), or *.py rule files (Python)",
        dir.display()
    ))
    .into())
}

/// Builds the pack in `dir` with its language's toolchain; the component bytes.
fn build(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let language = detect(dir)?;
    let scratch = tempfile::tempdir().context("cannot create a temporary folder")?;
    let wit = scratch.path().join("wit");
    std::fs::create_dir(&wit)?;
    std::fs::write(wit.join("policy.wit"), WIT)?;
    let out = scratch.path().join("pack.wasm");
    match language {
        Language::Rust => return build_rust(dir),
        Language::Python => {
            let mut command = Command::new("python3");
            command.args(["-m", "palisade_policy", "build"]);
            sdk_build(
                command,
                dir,
                &wit,
                &out,
                "the Python SDK is missing: `pip install ./sdk/python componentize-py` (from the Palisade repository)",
            )?;
        }
        Language::JavaScript => {
            let mut command = Command::new("palisade-policy-js");
            command.arg("build");
            sdk_build(
                command,
                dir,
                &wit,
                &out,
                "the JavaScript SDK is missing: `npm ci --prefix sdk/js && npm install --global ./sdk/js` (from the Palisade repository) puts `palisade-policy-js` on PATH",
            )?;
        }
    }
    std::fs::read(&out).with_context(|| format!("the SDK wrote no {}", out.display()))
}

/// Runs an SDK's build command; `missing` says how to install it.
fn sdk_build(
    mut command: Command,
    dir: &Path,
    wit: &Path,
    out: &Path,
    missing: &str,
) -> anyhow::Result<()> {
    command
        .arg(dir)
        .arg("-o")
        .arg(out)
        .arg("--wit")
        .arg(wit)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    let output = match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError(missing.to_owned()).into());
        }
        Err(e) => return Err(e).context("cannot run the SDK's build"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(());
    }
    if stderr.contains("No module named palisade_policy") {
        return Err(InputError(missing.to_owned()).into());
    }
    Err(anyhow::anyhow!(
        "building {} failed ({}):\n{}",
        dir.display(),
        output.status,
        stderr.trim_end()
    ))
}

/// `cargo build` for wasm32-wasip2; the artefact comes from cargo's own report of it.
fn build_rust(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(t) = targets
        && t.status.success()
        && !String::from_utf8_lossy(&t.stdout)
            .lines()
            .any(|l| l == "wasm32-wasip2")
    {
        return Err(InputError(
            "the wasm32-wasip2 target is missing: `rustup target add wasm32-wasip2`".into(),
        )
        .into());
    }
    let manifest = dir.join("Cargo.toml").canonicalize()?;
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                InputError("cargo is missing: install Rust with rustup".into()).into()
            }
            _ => anyhow::Error::from(e).context("cannot run cargo"),
        })?;
    if !output.status.success() {
        return Err(anyhow::anyhow!("cargo build of {} failed", dir.display()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let artefact = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| {
            m["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p) == manifest)
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| {
            InputError(format!(
                "{} built no .wasm: a pack crate needs `crate-type = [\"cdylib\"]`",
                dir.display()
            ))
        })?;
    std::fs::read(&artefact).with_context(|| format!("cannot read {}", artefact.display()))
}

/// A pack's name from its folder or file name.
fn pack_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pack".into())
}
