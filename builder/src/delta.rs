//! `pine-build delta`: one self-contained static delta file.
//!
//! The parts are inline and `min-fallback-size` is 0, so the file carries every object the target
//! needs and applies offline (`ostree static-delta apply-offline`) into a repo holding the from-commit,
//! with no HTTP fallbacks to fetch.

use crate::progress::Step;
use crate::repo::{sorted_dict, Repo};
use anyhow::{bail, Context, Result};
use ostree::gio;
use ostree::glib::prelude::*;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    repo: PathBuf,
    /// Version, checksum or ref to update from, or `empty` for a full delta.
    #[arg(long)]
    from: String,
    /// Version, checksum or ref to update to.
    #[arg(long)]
    to: String,
    /// Folder the delta file is written into.
    #[arg(long)]
    out: PathBuf,
    /// Largest part in MiB: bounds the memory needed to apply the delta (low-RAM hosts).
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_chunk_size: Option<u32>,
}

/// File name of a delta inside the publish folder's `deltas/`.
pub fn file_name(from: Option<&str>, to: &str) -> String {
    match from {
        Some(f) => format!("{f}-{to}.delta"),
        None => format!("{to}.full"),
    }
}

/// Writes the delta `from -> to` as `out_dir/<name>`, atomically; returns the path.
pub fn generate(
    repo: &Repo,
    from: Option<&str>,
    to: &str,
    out_dir: &Path,
    max_chunk_mb: Option<u32>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let dest = out_dir.join(file_name(from, to));
    let tmp = tempfile::Builder::new()
        .prefix(".pine-delta-")
        .tempfile_in(out_dir)
        .with_context(|| format!("cannot write in {}", out_dir.display()))?;
    let mut params = vec![
        ("inline-parts".to_owned(), true.to_variant()),
        ("min-fallback-size".to_owned(), 0u32.to_variant()),
        (
            "filename".to_owned(),
            // A GVariant bytestring (`^ay`) carries its NUL terminator.
            ostree::glib::Variant::array_from_fixed_array(
                &[tmp.path().as_os_str().as_encoded_bytes(), b"\0"].concat(),
            ),
        ),
    ];
    if let Some(mb) = max_chunk_mb {
        params.push(("max-chunk-size".to_owned(), mb.to_variant()));
    }
    let _s = Step::start(format!(
        "generating {}",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    repo.inner
        .static_delta_generate(
            ostree::StaticDeltaGenerateOpt::Major,
            from,
            to,
            None,
            Some(&sorted_dict(params)),
            gio::Cancellable::NONE,
        )
        .with_context(|| {
            format!(
                "cannot generate the delta {} -> {to}",
                from.unwrap_or("empty")
            )
        })?;
    tmp.as_file().sync_all()?;
    tmp.persist(&dest)
        .with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(dest)
}

pub fn run(a: Args) -> Result<()> {
    let repo = Repo::open(&a.repo)?;
    let to = repo.resolve_commit(&a.to)?;
    let from = match a.from.as_str() {
        "empty" => None,
        f => Some(repo.resolve_commit(f)?),
    };
    if from.as_deref() == Some(to.as_str()) {
        bail!("--from and --to name the same commit {to}");
    }
    let path = generate(&repo, from.as_deref(), &to, &a.out, a.max_chunk_size)?;
    println!("{}", path.display());
    Ok(())
}
