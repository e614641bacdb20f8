//! `pine-build keygen`: a fresh ed25519 pair in libostree's key file layout.

use crate::util::write_atomic;
use anyhow::{bail, Context, Result};
use pine_release::keys::SecretKey;
use std::path::Path;

pub fn run(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let secret = out.join("pine.key");
    let public = out.join("pine.pub");
    // Overwriting a signing key would orphan every host that trusts it.
    for p in [&secret, &public] {
        if p.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key",
                p.display()
            );
        }
    }
    let key = SecretKey::generate();
    write_atomic(&secret, format!("{}\n", key.to_base64()).as_bytes(), 0o600)?;
    write_atomic(
        &public,
        format!("{}\n", key.public().to_base64()).as_bytes(),
        0o644,
    )?;
    println!("{}", secret.display());
    println!("{}", public.display());
    Ok(())
}
