//! Compiles every pack under `plugins/` to a wasm32-wasip2 component and embeds them (see
//! `src/engine/builtin.rs`).

#[path = "guest_build.rs"]
mod guest_build;

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let workspace = Path::new(&manifest_dir)
        .parent()
        .expect("host/ sits in the workspace");
    // Relative to this package: checkouts that share a target directory (CI clones) must each
    // watch their own sources, not the paths of whichever checkout ran the script last.
    for watched in [
        "../plugins",
        "../sdk/rust",
        "../wit",
        "../Cargo.lock",
        "guest_build.rs",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }

    let plugins = guest_build::crate_dirs(&workspace.join("plugins"));
    let packages: Vec<String> = plugins
        .iter()
        .map(|dir| guest_build::package_name(&dir.join("Cargo.toml")))
        .collect();
    let artefacts = guest_build::build_guests(workspace, &packages);

    let mut code = String::from(
        "/// Every pack under `plugins/`, compiled from source by `build.rs`.\npub static BUILTIN_PACKS: &[BuiltinPack] = &[\n",
    );
    for (dir, wasm) in plugins.iter().zip(&artefacts) {
        let name = dir
            .file_name()
            .expect("crate dirs have names")
            .to_string_lossy();
        writeln!(
            code,
            "    BuiltinPack {{ name: {name:?}, wasm: include_bytes!({:?}) }},",
            wasm.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("set by cargo")).join("builtin_packs.rs");
    std::fs::write(&out, code).expect("cannot write builtin_packs.rs");
}
