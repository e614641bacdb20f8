//! Key files and signatures.
//!
//! The layout is libostree's ed25519 engine's: a secret key is base64 of 64 bytes (seed then public
//! key), a public key is base64 of 32 bytes, a signature is 64 raw bytes. Files hold one base64 line.
//! Feed signatures (`feed.json.sig`) are the base64 of the signature over the exact bytes of the feed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, Verifier};
use std::path::{Path, PathBuf};

/// The detached-metadata key under which libostree's ed25519 engine stores commit signatures (`aay`).
pub const COMMIT_SIGNATURE_KEY: &str = "ostree.sign.ed25519";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a Pine {what} (expected one line of base64 holding {len} bytes)")]
    Malformed {
        path: PathBuf,
        what: &'static str,
        len: usize,
    },
    #[error("{path}: secret key is inconsistent (its public half does not match its seed)")]
    Inconsistent { path: PathBuf },
}

/// A signing key.
pub struct SecretKey(ed25519_dalek::SigningKey);

/// A key that verifies signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

fn read_b64(path: &Path, what: &'static str, len: usize) -> Result<Vec<u8>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let malformed = || KeyError::Malformed {
        path: path.to_owned(),
        what,
        len,
    };
    let bytes = B64.decode(text.trim()).map_err(|_| malformed())?;
    if bytes.len() != len {
        return Err(malformed());
    }
    Ok(bytes)
}

impl SecretKey {
    pub fn generate() -> Self {
        SecretKey(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = read_b64(path, "secret key", 64)?;
        let mut pair = [0u8; 64];
        pair.copy_from_slice(&bytes);
        ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
            .map(SecretKey)
            .map_err(|_| KeyError::Inconsistent {
                path: path.to_owned(),
            })
    }

    /// base64 of seed || public key, libostree's secret key format.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0.to_keypair_bytes())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, data: &[u8]) -> [u8; 64] {
        self.0.sign(data).to_bytes()
    }
}

impl PublicKey {
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes = read_b64(path, "public key", 32)?;
        Self::from_bytes(&bytes).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
            what: "public key",
            len: 32,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .ok()
            .map(PublicKey)
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0.as_bytes())
    }

    /// Strict verification (no malleable signatures accepted).
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(data, &sig).is_ok() && self.0.verify(data, &sig).is_ok()
    }
}

/// Loads every `*.pub` of the given folders, in name order; missing folders are skipped.
/// A malformed key is an error: a typo in a trust store must not silently shrink it.
pub fn load_trusted(dirs: &[&Path]) -> Result<Vec<PublicKey>, KeyError> {
    let mut keys = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(KeyError::Io {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        paths.sort();
        for p in paths {
            keys.push(PublicKey::load(&p)?);
        }
    }
    Ok(keys)
}

/// The feed signature file's content for `data`.
pub fn sign_detached_b64(key: &SecretKey, data: &[u8]) -> String {
    let mut s = B64.encode(key.sign(data));
    s.push('\n');
    s
}

/// True when `sig_file` (the text of a `.sig` file) is a valid signature of `data` by one of `keys`.
pub fn verify_detached_b64(keys: &[PublicKey], data: &[u8], sig_file: &str) -> bool {
    let Ok(sig) = B64.decode(sig_file.trim()) else {
        return false;
    };
    keys.iter().any(|k| k.verify(data, &sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let sk = SecretKey::generate();
        std::fs::write(dir.path().join("a.key"), sk.to_base64()).unwrap();
        std::fs::write(dir.path().join("a.pub"), sk.public().to_base64()).unwrap();
        let sk2 = SecretKey::load(&dir.path().join("a.key")).unwrap();
        let pk = PublicKey::load(&dir.path().join("a.pub")).unwrap();
        let sig = sign_detached_b64(&sk2, b"feed");
        assert!(verify_detached_b64(
            std::slice::from_ref(&pk),
            b"feed",
            &sig
        ));
        assert!(!verify_detached_b64(&[pk], b"feeD", &sig));
    }

    #[test]
    fn rejects_files_that_are_not_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.key");
        std::fs::write(&p, "hello world").unwrap();
        let err = SecretKey::load(&p).err().unwrap().to_string();
        assert!(err.contains("not a Pine secret key"), "{err}");
        // A public key where a secret one is expected is refused by length.
        std::fs::write(&p, SecretKey::generate().public().to_base64()).unwrap();
        assert!(SecretKey::load(&p).is_err());
        // 64 bytes whose second half is not the seed's public key.
        let mut pair = [7u8; 64];
        pair[40] = 1;
        std::fs::write(&p, B64.encode(pair)).unwrap();
        assert!(matches!(
            SecretKey::load(&p),
            Err(KeyError::Inconsistent { .. })
        ));
    }
}
