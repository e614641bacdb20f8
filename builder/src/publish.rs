//! `pine-build publish`: the signed release feed and every delta it names, as static files.
//!
//! In: a ref's history in the repo and the feed already in PUBDIR (if any). Out: for each commit on
//! the ref that the feed does not list yet (oldest first), a full delta and deltas from the previous
//! N releases of the feed, then `feed.json` with its sequence raised by one and `feed.json.sig`.
//! With nothing new, nothing is written, so a re-run is byte-for-byte a no-op.

use crate::delta;
use crate::progress::warn;
use crate::repo::{CommitInfo, Repo};
use crate::util::{build_time, rfc3339, sha256_file, write_atomic};
use anyhow::{bail, Context, Result};
use ostree::gio;
use pine_release::feed::{Artifact, Delta, Feed, Release, Rollout, SCHEMA};
use pine_release::keys::{self, PublicKey, SecretKey, COMMIT_SIGNATURE_KEY};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    repo: PathBuf,
    /// The ref whose history is published; also the feed's `stream`.
    #[arg(long = "ref")]
    refname: String,
    /// Publish folder (static files for any HTTP server).
    #[arg(long)]
    out: PathBuf,
    /// Secret key that signs feed.json.
    #[arg(long)]
    key: PathBuf,
    /// Make deltas into each new release from this many previous releases.
    #[arg(long, default_value_t = 3)]
    deltas_from: usize,
    /// Build on top of a feed whose signature does not verify (for example after a hand edit).
    #[arg(long)]
    force: bool,
    /// Roll new releases out over this long (humantime, e.g. `24h`), starting now.
    #[arg(long, value_parser = parse_duration)]
    rollout: Option<String>,
    /// Largest delta part in MiB (see `delta --max-chunk-size`).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_chunk_size: Option<u32>,
}

/// Checks a humantime duration and keeps the operator's spelling of it (`24h` stays `24h`).
fn parse_duration(s: &str) -> Result<String, String> {
    humantime::parse_duration(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// The feed already in the publish folder, verified against our own key.
fn existing_feed(out: &Path, key: &PublicKey, force: bool) -> Result<Option<Feed>> {
    let feed_path = out.join("feed.json");
    let bytes = match std::fs::read(&feed_path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", feed_path.display())),
    };
    let sig = std::fs::read_to_string(out.join("feed.json.sig")).unwrap_or_default();
    if !keys::verify_detached_b64(std::slice::from_ref(key), &bytes, &sig) {
        if !force {
            bail!(
                "{} does not match its signature feed.json.sig under this key (edited by hand?); refusing to build on it (use --force to re-sign it)",
                feed_path.display()
            );
        }
        warn(format!(
            "{}: signature does not verify; --force given, re-signing it",
            feed_path.display()
        ));
    }
    Feed::parse(&bytes)
        .map(Some)
        .with_context(|| format!("cannot use {}", feed_path.display()))
}

fn artifact(out: &Path, file: &Path) -> Result<(String, u64, String)> {
    let (sha256, size) = sha256_file(file)?;
    let rel = file
        .strip_prefix(out)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned();
    Ok((rel, size, sha256))
}

fn is_signed_by(repo: &Repo, commit: &str, key: &PublicKey) -> Result<bool> {
    let Some(meta) = repo
        .inner
        .read_commit_detached_metadata(commit, gio::Cancellable::NONE)?
    else {
        return Ok(false);
    };
    let data = repo
        .inner
        .load_variant(ostree::ObjectType::Commit, commit)?
        .data_as_bytes();
    let dict = ostree::glib::VariantDict::new(Some(&meta));
    let Some(sigs) = dict.lookup_value(
        COMMIT_SIGNATURE_KEY,
        Some(ostree::glib::VariantTy::BYTE_STRING_ARRAY),
    ) else {
        return Ok(false);
    };
    Ok(sigs
        .iter()
        .any(|s| s.fixed_array::<u8>().is_ok_and(|b| key.verify(&data, b))))
}

fn new_release(
    repo: &Repo,
    a: &Args,
    c: &CommitInfo,
    previous: &[Release],
    now: u64,
) -> Result<Release> {
    let version = c
        .version
        .clone()
        .with_context(|| format!("commit {} has no version metadata", c.checksum))?;
    if previous.iter().any(|r| r.version == version) {
        bail!("version {version} is already in the feed under another commit");
    }
    let deltas_dir = a.out.join("deltas");
    let full = delta::generate(repo, None, &c.checksum, &deltas_dir, a.max_chunk_size)?;
    let (path, size, sha256) = artifact(&a.out, &full)?;
    let mut deltas = Vec::new();
    for from in previous.iter().take(a.deltas_from) {
        if repo
            .inner
            .load_variant_if_exists(ostree::ObjectType::Commit, &from.commit)?
            .is_none()
        {
            warn(format!(
                "commit {} ({}) is no longer in the repo; no delta from it",
                from.commit, from.version
            ));
            continue;
        }
        let f = delta::generate(
            repo,
            Some(&from.commit),
            &c.checksum,
            &deltas_dir,
            a.max_chunk_size,
        )?;
        let (path, size, sha256) = artifact(&a.out, &f)?;
        deltas.push(Delta {
            from: from.commit.clone(),
            path,
            size,
            sha256,
        });
    }
    Ok(Release {
        version,
        commit: c.checksum.clone(),
        published: rfc3339(c.timestamp),
        full: Artifact { path, size, sha256 },
        deltas,
        rollout: a.rollout.as_ref().map(|d| Rollout {
            start: rfc3339(now),
            duration: d.clone(),
        }),
        deadend: false,
    })
}

pub fn run(a: Args) -> Result<()> {
    let key = SecretKey::load(&a.key)?;
    let repo = Repo::open(&a.repo)?;
    let history = repo.history(&a.refname)?;
    if history.is_empty() {
        bail!("ref {} is not in {}", a.refname, a.repo.display());
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let old = existing_feed(&a.out, &key.public(), a.force)?;
    if let Some(f) = &old {
        if f.stream != a.refname {
            bail!(
                "{} is the feed of stream {}, not {}",
                a.out.join("feed.json").display(),
                f.stream,
                a.refname
            );
        }
    }
    let mut releases = old.as_ref().map(|f| f.releases.clone()).unwrap_or_default();
    // Commits newer than the feed's newest release, newest first.
    let new: Vec<&CommitInfo> = match releases.first() {
        None => history.iter().collect(),
        Some(top) => {
            let Some(pos) = history.iter().position(|c| c.checksum == top.commit) else {
                bail!(
                    "the feed's newest release {} ({}) is not in the history of {}; was the ref reset?",
                    top.version, top.commit, a.refname
                );
            };
            history[..pos].iter().collect()
        }
    };
    let feed_path = a.out.join("feed.json");
    if new.is_empty() {
        let seq = old.map(|f| f.sequence).unwrap_or(0);
        println!(
            "{} unchanged (sequence {seq}): nothing new on {}",
            feed_path.display(),
            a.refname
        );
        return Ok(());
    }
    let now = build_time()?;
    for c in new.iter().rev() {
        if !is_signed_by(&repo, &c.checksum, &key.public())? {
            warn(format!(
                "commit {} is not signed by this key: hosts must trust the key that signed it",
                c.checksum
            ));
        }
        let r = new_release(&repo, &a, c, &releases, now)?;
        println!(
            "release {} ({}): {} delta(s) and a full delta",
            r.version,
            r.commit,
            r.deltas.len()
        );
        releases.insert(0, r);
    }
    let feed = Feed {
        schema: SCHEMA,
        stream: a.refname.clone(),
        sequence: old.map(|f| f.sequence).unwrap_or(0) + 1,
        generated: rfc3339(now),
        releases,
    };
    let bytes = feed.to_bytes();
    // feed.json first: a client that fetches between the two renames sees a bad signature and
    // retries, never a feed that verifies but was not meant.
    write_atomic(&feed_path, &bytes, 0o644)?;
    write_atomic(
        &a.out.join("feed.json.sig"),
        keys::sign_detached_b64(&key, &bytes).as_bytes(),
        0o644,
    )?;
    println!("{} (sequence {})", feed_path.display(), feed.sequence);
    Ok(())
}
