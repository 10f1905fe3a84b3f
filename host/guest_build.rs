//! Builds guest crates of this workspace into wasm32-wasip2 components, for build scripts
//! (`host/build.rs` embeds the plugin packs, `tests/fixtures/build.rs` the test guests).
//! Included with `#[path]`; keep it free of dependencies beyond `std`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every guest is built for.
pub const GUEST_TARGET: &str = "wasm32-wasip2";
/// The cargo profile guests are built with (see the workspace `Cargo.toml`).
pub const GUEST_PROFILE: &str = "guest";

/// Build `packages` (cargo package names) of the workspace at `workspace` and return the path
/// of each one's component, in the same order. Panics with the compiler output on failure:
/// build scripts have no better way to report.
pub fn build_guests(workspace: &Path, packages: &[String]) -> Vec<PathBuf> {
    if packages.is_empty() {
        return Vec::new();
    }
    let out_dir =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    // <target>/<profile>/build/<pkg>-<hash>/out -> <target>/palisade-guests: shared by every
    // build script and profile, so guests and their dependencies compile once.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR sits inside the target directory")
        .join("palisade-guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target")
        .arg(GUEST_TARGET)
        .arg("--profile")
        .arg(GUEST_PROFILE)
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host build (coverage, sanitizers, clippy's driver) do not apply
        // to guests.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET");
    for package in packages {
        cmd.arg("-p").arg(package);
    }
    let output = cmd
        .output()
        .expect("cannot run cargo to build guest components");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            "\nhint: install the target with `rustup target add wasm32-wasip2`"
        } else {
            ""
        };
        panic!("building guest components {packages:?} failed:\n{stderr}{hint}");
    }
    packages
        .iter()
        .map(|package| {
            let artefact = target_dir
                .join(GUEST_TARGET)
                .join(GUEST_PROFILE)
                .join(format!("{}.wasm", package.replace('-', "_")));
            assert!(
                artefact.exists(),
                "cargo built {package} but {} is missing",
                artefact.display()
            );
            artefact
        })
        .collect()
}

/// The `[package] name` of the crate whose manifest is `manifest`.
pub fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_owned();
        }
    }
    panic!("{} has no [package] name", manifest.display());
}

/// Crate directories directly under `dir` (those holding a `Cargo.toml`), sorted by name.
pub fn crate_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}
