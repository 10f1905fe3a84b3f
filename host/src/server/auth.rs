//! Who may call the API, and which policy modules it may be given: bearer tokens mapped to
//! [`Role`]s, and the Ed25519 keys trusted to sign uploaded modules.
//!
//! Nothing here keeps a token: only SHA-256 digests are stored, tokens are compared in constant
//! time, and no error or `Debug` output contains a token. HTTP handlers, routing and the signing
//! CLI do not live here.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// Shortest token accepted. 16 bytes: with random tokens, far beyond guessing over the network.
pub const MIN_TOKEN_LEN: usize = 16;

/// What a caller may do. Ordered: `Admin` can do everything a `Reader` can, so a handler checks
/// `role >= Role::Reader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read findings, resources, rules and metrics.
    Reader,
    /// Also change state: upload modules, change settings, start scans.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }
}

/// Why the configured tokens or keys were refused. Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{list} token #{index} is invalid: {reason}")]
    InvalidToken {
        /// `"admin"` or `"reader"`.
        list: &'static str,
        /// Position in that list, from 0.
        index: usize,
        reason: &'static str,
    },
    #[error(
        "admin token #{admin_index} is also reader token #{reader_index}; a token must have one role"
    )]
    DuplicateToken {
        admin_index: usize,
        reader_index: usize,
    },
    #[error("trusted key #{index} is invalid: {reason}")]
    InvalidKey { index: usize, reason: &'static str },
}

type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The API tokens and their roles, stored as SHA-256 digests only.
#[derive(Clone, Default)]
pub struct Tokens {
    admin: Vec<TokenDigest>,
    reader: Vec<TokenDigest>,
}

impl Tokens {
    /// Check and store the tokens. A token must be at least [`MIN_TOKEN_LEN`] bytes of visible
    /// ASCII (no whitespace or control characters: those are pasting mistakes, and an HTTP
    /// header could not carry them), and may not appear in both lists.
    pub fn new(admin: &[String], reader: &[String]) -> Result<Tokens, AuthError> {
        check_tokens("admin", admin)?;
        check_tokens("reader", reader)?;
        let admin: Vec<TokenDigest> = admin.iter().map(|t| digest(t)).collect();
        let reader: Vec<TokenDigest> = reader.iter().map(|t| digest(t)).collect();
        for (admin_index, a) in admin.iter().enumerate() {
            if let Some(reader_index) = reader.iter().position(|r| r == a) {
                return Err(AuthError::DuplicateToken {
                    admin_index,
                    reader_index,
                });
            }
        }
        Ok(Tokens { admin, reader })
    }

    /// No tokens configured at all.
    pub fn is_empty(&self) -> bool {
        self.admin.is_empty() && self.reader.is_empty()
    }

    /// The role of `presented`, or `None` if it matches no token.
    ///
    /// The presented token is hashed and compared with every stored digest in constant time,
    /// without stopping at a match, so the time taken reveals neither whether nor which token
    /// matched. If a token were somehow in both lists, admin wins.
    pub fn role(&self, presented: &str) -> Option<Role> {
        let presented = digest(presented);
        let mut is_admin = Choice::from(0);
        for stored in &self.admin {
            is_admin |= stored.ct_eq(&presented);
        }
        let mut is_reader = Choice::from(0);
        for stored in &self.reader {
            is_reader |= stored.ct_eq(&presented);
        }
        // Branch only on the outcome, which the response reveals anyway.
        if bool::from(is_admin) {
            Some(Role::Admin)
        } else if bool::from(is_reader) {
            Some(Role::Reader)
        } else {
            None
        }
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("admin", &self.admin.len())
            .field("reader", &self.reader.len())
            .finish()
    }
}

fn check_tokens(list: &'static str, tokens: &[String]) -> Result<(), AuthError> {
    for (index, token) in tokens.iter().enumerate() {
        let invalid = |reason| AuthError::InvalidToken {
            list,
            index,
            reason,
        };
        if token.len() < MIN_TOKEN_LEN {
            return Err(invalid("shorter than 16 bytes"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace or control characters"));
        }
        if !token.is_ascii() {
            return Err(invalid(
                "contains non-ASCII characters, which an HTTP header cannot carry",
            ));
        }
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header: the scheme in any case, then one or
/// more spaces. `None` when the header is missing, repeated, not visible ASCII, of another
/// scheme, or the token is empty or contains whitespace.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        // Two credentials: refuse rather than guess which one counts.
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    // Leading spaces separate; trailing optional whitespace is not part of the field value.
    let token = rest.trim_start_matches(' ').trim_end_matches([' ', '\t']);
    if token.is_empty() || token.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    Some(token)
}

/// Why a module signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature or digest is not in an accepted encoding or has the wrong length.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// The signature is well formed but no trusted key verifies it.
    #[error("no trusted key verifies this signature")]
    NoTrustedKey,
}

/// The Ed25519 public keys whose signatures make an uploaded module acceptable.
#[derive(Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<VerifyingKey>,
}

impl TrustedKeys {
    /// Parse the keys, each 32 bytes as 64 hex characters or standard padded base64 (44
    /// characters); surrounding whitespace is ignored. Small-order ("weak") keys are refused:
    /// signatures under them prove nothing.
    pub fn parse(keys: &[String]) -> Result<TrustedKeys, AuthError> {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                let invalid = |reason| AuthError::InvalidKey { index, reason };
                let bytes: [u8; 32] = decode_fixed(key.trim())
                    .ok_or_else(|| invalid("not 32 bytes in hex or standard base64"))?;
                let key = VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| invalid("not a valid Ed25519 public key"))?;
                if key.is_weak() {
                    return Err(invalid("a weak (small-order) Ed25519 key"));
                }
                Ok(key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedKeys { keys })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Check `signature` over a module whose SHA-256 is `sha256_hex`. The signed message is
    /// the digest as 64 lowercase hex ASCII characters, exactly what `sha256sum` prints; the
    /// signature is 64 bytes as 128 hex characters or standard base64 (surrounding whitespace
    /// ignored). Verification is strict (no malleable or small-order signatures).
    ///
    /// Returns the hex public key that verified it. With no trusted keys every signature fails
    /// with [`SignatureError::NoTrustedKey`]; whether unsigned modules are then allowed is the
    /// caller's decision.
    pub fn verify(&self, sha256_hex: &str, signature: &str) -> Result<String, SignatureError> {
        let message = canonical_digest(sha256_hex)?;
        let bytes: [u8; 64] = decode_fixed(signature.trim()).ok_or_else(|| {
            SignatureError::Malformed(
                "expected 64 bytes as 128 hex characters or standard base64".to_owned(),
            )
        })?;
        let signature = Signature::from_bytes(&bytes);
        self.keys
            .iter()
            .find(|key| key.verify_strict(message.as_bytes(), &signature).is_ok())
            .map(|key| hex::encode(key.as_bytes()))
            .ok_or(SignatureError::NoTrustedKey)
    }
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| hex::encode(k.as_bytes())))
            .finish()
    }
}

/// Sign a module digest the way [`TrustedKeys::verify`] checks it: Ed25519 over the 64
/// lowercase hex characters of its SHA-256; returns the signature as 128 hex characters.
///
/// Used by the tests and meant for a future CLI signing command; the server never holds a
/// signing key. `sha256_hex` is lowercased first; it is not otherwise checked.
pub fn sign_digest(key: &SigningKey, sha256_hex: &str) -> String {
    let message = sha256_hex.to_ascii_lowercase();
    hex::encode(key.sign(message.as_bytes()).to_bytes())
}

/// The digest as signed: 64 lowercase hex characters.
fn canonical_digest(sha256_hex: &str) -> Result<String, SignatureError> {
    let digest = sha256_hex.trim();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::Malformed(
            "the module digest is not 64 hex characters".to_owned(),
        ));
    }
    Ok(digest.to_ascii_lowercase())
}

/// `N` bytes from `2 * N` hex characters or standard padded base64.
fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = if text.len() == 2 * N && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        BASE64.decode(text).ok()?
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const ADMIN: &str = "admin-token-0123456789";
    const READER: &str = "reader-token-0123456789";

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn tokens() -> Tokens {
        Tokens::new(
            &strings(&[ADMIN]),
            &strings(&["other-reader-token-xyz", READER]),
        )
        .unwrap()
    }

    #[test]
    fn roles_resolve() {
        let tokens = tokens();
        assert_eq!(tokens.role(ADMIN), Some(Role::Admin));
        assert_eq!(tokens.role(READER), Some(Role::Reader));
        assert_eq!(tokens.role("other-reader-token-xyz"), Some(Role::Reader));
        assert!(Role::Admin >= Role::Reader);
        assert!(Role::Reader < Role::Admin);
        assert!(!tokens.is_empty());
        assert!(Tokens::new(&[], &[]).unwrap().is_empty());
    }

    #[test]
    fn unknown_and_empty_tokens_have_no_role() {
        let tokens = tokens();
        assert_eq!(tokens.role(""), None);
        assert_eq!(tokens.role("admin-token-012345678"), None);
        assert_eq!(tokens.role("ADMIN-TOKEN-0123456789"), None);
        assert_eq!(Tokens::default().role(ADMIN), None);
    }

    #[test]
    fn short_and_whitespace_tokens_are_rejected_without_echoing_them() {
        for (bad, reason) in [
            ("short-secret", "shorter"),
            ("with a space in the middle", "whitespace"),
            ("trailing-newline-token\n", "whitespace"),
            ("control\u{7}character-token", "control"),
            ("non-ascii-tökén-value-xyz", "non-ASCII"),
        ] {
            let err = Tokens::new(&strings(&[ADMIN]), &strings(&[READER, bad])).unwrap_err();
            assert!(
                matches!(
                    err,
                    AuthError::InvalidToken {
                        list: "reader",
                        index: 1,
                        ..
                    }
                ),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains("reader token #1"), "{message}");
            assert!(message.contains(reason), "{message}");
            assert!(!message.contains(bad.trim()), "{message}");
            assert!(!format!("{err:?}").contains(bad.trim()));
        }
        let err = Tokens::new(&strings(&["tiny"]), &[]).unwrap_err();
        assert!(err.to_string().starts_with("admin token #0"));
        assert!(!err.to_string().contains("tiny"));
    }

    #[test]
    fn a_token_in_both_lists_is_rejected() {
        let err = Tokens::new(&strings(&[ADMIN]), &strings(&[READER, ADMIN])).unwrap_err();
        assert_eq!(
            err,
            AuthError::DuplicateToken {
                admin_index: 0,
                reader_index: 1
            }
        );
        assert!(!err.to_string().contains(ADMIN));
    }

    #[test]
    fn debug_prints_only_counts() {
        let debug = format!("{:?}", tokens());
        assert_eq!(debug, "Tokens { admin: 1, reader: 2 }");
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&headers(&["Bearer abc"])), Some("abc"));
        assert_eq!(bearer(&headers(&["bearer abc"])), Some("abc"));
        assert_eq!(bearer(&headers(&["BEARER abc"])), Some("abc"));
        assert_eq!(bearer(&headers(&["Bearer    abc"])), Some("abc"));
        assert_eq!(bearer(&headers(&["Bearer abc  "])), Some("abc"));
        assert_eq!(bearer(&headers(&[])), None);
        assert_eq!(bearer(&headers(&["Bearer"])), None);
        assert_eq!(bearer(&headers(&["Bearer "])), None);
        assert_eq!(bearer(&headers(&["Bearer    "])), None);
        assert_eq!(bearer(&headers(&["Bearerabc"])), None);
        assert_eq!(bearer(&headers(&["Bearer\tabc"])), None);
        assert_eq!(bearer(&headers(&["Basic YWxhZGRpbjpvcGVuc2VzYW1l"])), None);
        assert_eq!(bearer(&headers(&["Bearer abc def"])), None);
        assert_eq!(bearer(&headers(&["Bearer abc", "Bearer def"])), None);
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer t\xc3\xb6ken").unwrap(),
        );
        assert_eq!(bearer(&non_ascii), None);
    }

    fn signing_key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn public_hex(key: &SigningKey) -> String {
        hex::encode(key.verifying_key().as_bytes())
    }

    fn module_digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn keys_parse_in_hex_and_base64() {
        let key = signing_key().verifying_key();
        let hex_key = hex::encode(key.as_bytes());
        let b64_key = BASE64.encode(key.as_bytes());
        let keys = TrustedKeys::parse(&[
            hex_key.clone(),
            hex_key.to_uppercase(),
            format!(" {b64_key}\n"),
        ])
        .unwrap();
        assert_eq!(keys.len(), 3);
        assert!(!keys.is_empty());
        assert!(TrustedKeys::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn invalid_keys_name_their_index() {
        let good = public_hex(&signing_key());
        for bad in [
            "not a key".to_owned(),
            good[..62].to_owned(),
            format!("{good}00"),
            BASE64.encode([1u8; 31]),
            BASE64.encode([1u8; 32]).trim_end_matches('=').to_owned(),
            // The identity point: small order.
            hex::encode({
                let mut b = [0u8; 32];
                b[0] = 1;
                b
            }),
        ] {
            let err = TrustedKeys::parse(&[good.clone(), bad.clone()]).unwrap_err();
            assert!(
                matches!(err, AuthError::InvalidKey { index: 1, .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().starts_with("trusted key #1 is invalid"));
        }
    }

    #[test]
    fn a_signature_verifies_and_names_its_key() {
        let key = signing_key();
        let digest = module_digest(b"\0asm module bytes");
        let signature = sign_digest(&key, &digest);
        assert_eq!(signature.len(), 128);

        let other = SigningKey::from_bytes(&[9u8; 32]);
        let keys = TrustedKeys::parse(&[public_hex(&other), public_hex(&key)]).unwrap();
        assert_eq!(keys.verify(&digest, &signature), Ok(public_hex(&key)));
        // Base64 signatures, surrounding whitespace and an uppercase digest are accepted.
        let b64 = BASE64.encode(hex::decode(&signature).unwrap());
        assert_eq!(
            keys.verify(&digest.to_uppercase(), &format!("  {b64}\n")),
            Ok(public_hex(&key))
        );
        // The signed message is exactly the sha256sum text.
        let raw = key.sign(digest.as_bytes());
        assert_eq!(hex::encode(raw.to_bytes()), signature);
    }

    #[test]
    fn wrong_key_tampered_digest_and_malformed_signatures_fail() {
        let key = signing_key();
        let digest = module_digest(b"module");
        let signature = sign_digest(&key, &digest);

        let other = TrustedKeys::parse(&[public_hex(&SigningKey::from_bytes(&[9u8; 32]))]).unwrap();
        assert_eq!(
            other.verify(&digest, &signature),
            Err(SignatureError::NoTrustedKey)
        );
        assert_eq!(
            TrustedKeys::default().verify(&digest, &signature),
            Err(SignatureError::NoTrustedKey)
        );

        let keys = TrustedKeys::parse(&[public_hex(&key)]).unwrap();
        let tampered = module_digest(b"module!");
        assert_eq!(
            keys.verify(&tampered, &signature),
            Err(SignatureError::NoTrustedKey)
        );
        let mut flipped = hex::decode(&signature).unwrap();
        flipped[10] ^= 1;
        assert_eq!(
            keys.verify(&digest, &hex::encode(flipped)),
            Err(SignatureError::NoTrustedKey)
        );

        for bad in [
            "",
            "zz",
            &signature[..126],
            &format!("{signature}00"),
            &BASE64.encode([0u8; 63]),
        ] {
            assert!(
                matches!(keys.verify(&digest, bad), Err(SignatureError::Malformed(_))),
                "{bad}"
            );
        }
        for bad_digest in ["", "abc", &digest[..63], &format!("{}g", &digest[..63])] {
            assert!(matches!(
                keys.verify(bad_digest, &signature),
                Err(SignatureError::Malformed(_))
            ));
        }
    }
}
