//! The build manifest (TOML): a base rootfs, Alpine packages to add with `apk`, overlay folders and
//! the OpenRC services to enable per runlevel. Paths are relative to the manifest's folder.
//!
//! ```toml
//! base = "alpine-minirootfs-3.20.3-x86_64.tar.gz"
//! packages = ["alpine-base", "openssh", "linux-virt"]
//! repositories = ["https://dl-cdn.alpinelinux.org/alpine/v3.20/main"]
//! overlays = ["overlay"]
//! [services]
//! default = ["sshd"]
//! boot = ["networking"]
//! ```
//!
//! `apk` runs on the build host with `--root` (apk-tools or apk.static on the PATH, or the command
//! named by `apk = "..."`); it is the only step that needs a network or a local apk repository.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    base: Option<PathBuf>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    repositories: Vec<String>,
    /// Folder of trusted apk signing keys; default: the base's own `/etc/apk/keys`.
    apk_keys: Option<PathBuf>,
    #[serde(default)]
    allow_untrusted: bool,
    /// The apk command, split into words (default `apk`).
    apk: Option<String>,
    #[serde(default)]
    overlays: Vec<PathBuf>,
    #[serde(default)]
    services: BTreeMap<String, Vec<String>>,
}

#[derive(Debug)]
pub struct Manifest {
    pub base: Option<PathBuf>,
    pub packages: Vec<String>,
    pub repositories: Vec<String>,
    pub apk_keys: Option<PathBuf>,
    pub allow_untrusted: bool,
    pub apk: Vec<String>,
    pub overlays: Vec<PathBuf>,
    pub services: BTreeMap<String, Vec<String>>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
        && !s.starts_with('.')
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let f: File = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("manifest {}: {}", path.display(), e.message().trim()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let rel = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
        for (rl, svcs) in &f.services {
            for s in std::iter::once(rl).chain(svcs) {
                if !is_name(s) {
                    bail!(
                        "manifest {}: services: {s:?} is not a valid name",
                        path.display()
                    );
                }
            }
        }
        let apk = match &f.apk {
            Some(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
            None => vec!["apk".to_owned()],
        };
        if apk.is_empty() {
            bail!("manifest {}: apk: empty command", path.display());
        }
        Ok(Manifest {
            base: f.base.map(rel),
            packages: f.packages,
            repositories: f.repositories,
            apk_keys: f.apk_keys.map(rel),
            allow_untrusted: f.allow_untrusted,
            apk,
            overlays: f.overlays.into_iter().map(rel).collect(),
            services: f.services,
        })
    }

    /// Runs `apk add` for the manifest's packages into the unpacked root `root`.
    pub fn run_apk(&self, root: &Path) -> Result<()> {
        let mut cmd = std::process::Command::new(&self.apk[0]);
        cmd.args(&self.apk[1..])
            .arg("--root")
            .arg(root)
            .arg("--no-cache")
            .arg("--repositories-file")
            .arg("/dev/null");
        for r in &self.repositories {
            cmd.arg("--repository").arg(r);
        }
        let keys = self
            .apk_keys
            .clone()
            .unwrap_or_else(|| root.join("etc/apk/keys"));
        cmd.arg("--keys-dir").arg(keys);
        if self.allow_untrusted {
            cmd.arg("--allow-untrusted");
        }
        cmd.arg("add").args(&self.packages);
        let status = cmd.status().map_err(|e| {
            anyhow::anyhow!(
                "cannot run {:?} ({e}); install apk-tools or apk.static on the build host, or name it with apk = \"...\" in the manifest",
                self.apk[0]
            )
        })?;
        if !status.success() {
            bail!("apk add {} failed ({status})", self.packages.join(" "));
        }
        Ok(())
    }
}
