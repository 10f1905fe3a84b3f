//! Compiled-pack cache: native code produced by cranelift, kept in the store so a restart or a
//! second CLI run skips compilation. Every entry carries an HMAC-SHA256 under a key only this
//! host holds; an entry that fails the check is never deserialized (deserializing is running
//! native code). Keys are (module sha256, engine compatibility hash).

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;

use crate::store::Store;

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 32;

/// Why the cache could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read or create the artefact key {path}: {source}")]
    Key {
        path: String,
        source: std::io::Error,
    },
    #[error("the artefact key {path} is not {MAC_LEN} bytes; delete it to start a fresh cache")]
    BadKey { path: String },
}

/// Compiled components in a [`Store`], authenticated with a host-local key.
pub struct ArtifactCache {
    store: Arc<dyn Store>,
    key: [u8; MAC_LEN],
}

impl ArtifactCache {
    /// A cache over `store` whose MAC key lives in `key_file` (created, mode 0600, when absent).
    /// The key is kept apart from the store so that write access to the store alone cannot
    /// forge an artefact.
    pub fn open(store: Arc<dyn Store>, key_file: &Path) -> Result<Self, CacheError> {
        let path = key_file.display().to_string();
        let io = |source| CacheError::Key {
            path: path.clone(),
            source,
        };
        let key = match fs::read(key_file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; MAC_LEN];
                getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e.to_string())))?;
                if let Some(dir) = key_file.parent() {
                    fs::create_dir_all(dir).map_err(io)?;
                }
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(key_file).map_err(io)?;
                file.write_all(&key)
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                key.to_vec()
            }
            Err(e) => return Err(io(e)),
        };
        let key: [u8; MAC_LEN] = key.try_into().map_err(|_| CacheError::BadKey { path })?;
        Ok(Self { store, key })
    }

    fn entry_key(engine: &wasmtime::Engine, digest: &str) -> Vec<u8> {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        format!("component/{digest}/{:016x}", hasher.finish()).into_bytes()
    }

    fn mac(&self, entry_key: &[u8], artefact: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&(entry_key.len() as u64).to_le_bytes());
        mac.update(entry_key);
        mac.update(artefact);
        mac
    }

    /// The cached compilation of `digest`, if present, authentic and loadable by `engine`.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, digest: &str) -> Option<Component> {
        let key = Self::entry_key(engine, digest);
        let entry = match self.store.get_artifact(&key) {
            Ok(Some(entry)) => entry,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(module_digest = digest, error = %e, "artefact cache read failed; compiling");
                return None;
            }
        };
        if entry.len() < MAC_LEN {
            return None;
        }
        let (tag, artefact) = entry.split_at(MAC_LEN);
        if self.mac(&key, artefact).verify_slice(tag).is_err() {
            tracing::warn!(
                module_digest = digest,
                "cached artefact failed its MAC check; ignoring it"
            );
            return None;
        }
        // SAFETY: `artefact` was produced by `Component::serialize` in a host holding our key
        // (the MAC, checked in constant time above, proves it), for an engine with the same
        // compatibility hash (part of the entry key). wasmtime additionally checks its header.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, artefact) };
        match component {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(module_digest = digest, error = %e, "cached artefact did not load; compiling");
                None
            }
        }
    }

    /// Remember the compilation of `digest`. Failures only cost a recompilation later.
    pub(crate) fn save(&self, engine: &wasmtime::Engine, digest: &str, component: &Component) {
        let artefact = match component.serialize() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(module_digest = digest, error = %e, "could not serialize compiled pack");
                return;
            }
        };
        let key = Self::entry_key(engine, digest);
        let tag = self.mac(&key, &artefact).finalize().into_bytes();
        let mut entry = Vec::with_capacity(MAC_LEN + artefact.len());
        entry.extend_from_slice(&tag);
        entry.extend_from_slice(&artefact);
        if let Err(e) = self.store.put_artifact(&key, &entry) {
            tracing::warn!(module_digest = digest, error = %e, "could not cache compiled pack");
        }
    }
}
