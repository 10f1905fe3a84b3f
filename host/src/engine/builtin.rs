//! Packs compiled from `plugins/*` by `build.rs` and embedded in the binary, so `palisade` needs
//! no separate files to evaluate with them.

/// A pack shipped inside the binary.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPack {
    /// The plugin's directory name, e.g. `aws-iam`.
    pub name: &'static str,
    /// The component bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_packs.rs"));

/// Every built-in pack, compiled by `engine`, as one rule set.
pub fn builtin_packs(engine: &super::Engine) -> Result<super::PackSet, super::EngineError> {
    let packs = BUILTIN_PACKS
        .iter()
        .map(|b| engine.load(b.name, b.wasm).map(std::sync::Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    super::PackSet::new(packs)
}
