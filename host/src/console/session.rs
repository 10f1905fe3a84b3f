//! Console sign-in sessions: a random session id in an HttpOnly, SameSite=Strict cookie maps to
//! the role of the token signed in with and a per-session CSRF token. The token itself is never
//! stored or echoed; session ids are kept only as SHA-256 digests, so the map leaks nothing
//! usable. Pages and forms are `mod.rs`'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::server::auth::Role;

/// The session cookie's name.
pub const COOKIE: &str = "palisade_session";
/// A session lasts a working day; signing in again is cheap.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most: sign-ins beyond it evict the oldest, so nobody can exhaust memory.
const MAX_SESSIONS: usize = 10_000;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub role: Role,
    /// Echoed in every form and checked on every change.
    pub csrf: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

struct Session {
    viewer: Viewer,
    expires: Instant,
}

/// Every open session, by the digest of its id.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Opens a session for `role`; returns its id (the cookie's value).
    pub fn open(&self, role: Role) -> String {
        let id = random_hex();
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, s| s.expires > now);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            open.remove(&oldest);
        }
        open.insert(
            digest(&id),
            Session {
                viewer: Viewer {
                    role,
                    csrf: random_hex(),
                },
                expires: now + LIFETIME,
            },
        );
        id
    }

    /// The viewer of session `id`, unless it is unknown or expired.
    pub fn viewer(&self, id: &str) -> Option<Viewer> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&digest(id))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.viewer.clone())
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&digest(id));
    }
}

/// The `Set-Cookie` value that keeps session `id` in the browser: not readable by scripts,
/// never sent by other sites' requests.
pub fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The session id in a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_resolve_and_close() {
        let sessions = Sessions::default();
        let id = sessions.open(Role::Reader);
        assert_eq!(id.len(), 64);
        let viewer = sessions.viewer(&id).expect("open");
        assert!(!viewer.is_admin());
        assert!(viewer.csrf_matches(&viewer.csrf.clone()));
        assert!(!viewer.csrf_matches("forged"));
        assert!(sessions.viewer("not-a-session").is_none());
        let other = sessions.open(Role::Admin);
        assert_ne!(sessions.viewer(&other).unwrap().csrf, viewer.csrf);
        sessions.close(&id);
        assert!(sessions.viewer(&id).is_none());
        assert!(sessions.viewer(&other).is_some());
    }

    #[test]
    fn the_cookie_is_http_only_and_strict_and_parses_back() {
        let cookie = set_cookie("abc");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert_eq!(
            from_cookie_header("theme=dark; palisade_session=abc; x=1"),
            Some("abc")
        );
        assert_eq!(from_cookie_header("palisade_session="), None);
        assert_eq!(from_cookie_header("other=1"), None);
    }
}
