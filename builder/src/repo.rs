//! The archive repo as the builder sees it: open or create, walk a ref's history, find a commit by
//! version, and the few object writes that libostree has no one-call API for.

use anyhow::{bail, Context, Result};
use ostree::gio::{self, prelude::*};
use ostree::glib;
use std::path::Path;

pub struct Repo {
    pub inner: ostree::Repo,
}

/// One commit as the builder needs it.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub checksum: String,
    pub version: Option<String>,
    pub parent: Option<String>,
    pub timestamp: u64,
    pub root_contents: String,
}

impl Repo {
    /// Opens the repo at `path`, creating an `archive` repo there if nothing exists yet.
    pub fn open_or_create(path: &Path) -> Result<Repo> {
        let repo = ostree::Repo::new(&gio::File::for_path(path));
        if path.join("config").exists() {
            repo.open(gio::Cancellable::NONE)
                .with_context(|| format!("cannot open repo {}", path.display()))?;
        } else {
            repo.create(ostree::RepoMode::Archive, gio::Cancellable::NONE)
                .with_context(|| format!("cannot create repo {}", path.display()))?;
        }
        Ok(Repo { inner: repo })
    }

    /// Opens an existing repo; a missing one is an error, not a new empty repo.
    pub fn open(path: &Path) -> Result<Repo> {
        if !path.join("config").exists() {
            bail!("{} is not an OSTree repo", path.display());
        }
        Self::open_or_create(path)
    }

    pub fn resolve_ref(&self, refspec: &str) -> Result<Option<String>> {
        Ok(self
            .inner
            .resolve_rev(refspec, true)
            .with_context(|| format!("cannot resolve ref {refspec}"))?
            .map(|s| s.to_string()))
    }

    pub fn commit_info(&self, checksum: &str) -> Result<CommitInfo> {
        let (v, _) = self
            .inner
            .load_commit(checksum)
            .with_context(|| format!("cannot load commit {checksum}"))?;
        let meta = v.child_value(0);
        let version = glib::VariantDict::new(Some(&meta))
            .lookup_value("version", Some(glib::VariantTy::STRING))
            .and_then(|s| s.str().map(str::to_owned));
        let parent = ostree::commit_get_parent(&v).map(|s| s.to_string());
        let timestamp = ostree::commit_get_timestamp(&v);
        let root_contents = checksum_of(&v.child_value(6))?;
        Ok(CommitInfo {
            checksum: checksum.to_owned(),
            version,
            parent,
            timestamp,
            root_contents,
        })
    }

    /// The commits of a ref, newest first, as far back as the repo holds them.
    pub fn history(&self, refspec: &str) -> Result<Vec<CommitInfo>> {
        let mut out = Vec::new();
        let mut next = self.resolve_ref(refspec)?;
        while let Some(c) = next {
            if self
                .inner
                .load_variant_if_exists(ostree::ObjectType::Commit, &c)?
                .is_none()
            {
                break;
            }
            let info = self.commit_info(&c)?;
            next = info.parent.clone();
            out.push(info);
        }
        Ok(out)
    }

    /// Resolves what a user typed as `--from`/`--to`: a full checksum, a ref, or a version.
    pub fn resolve_commit(&self, what: &str) -> Result<String> {
        if pine_release::feed::is_checksum(what) {
            if self
                .inner
                .load_variant_if_exists(ostree::ObjectType::Commit, what)?
                .is_some()
            {
                return Ok(what.to_owned());
            }
            bail!("commit {what} is not in the repo");
        }
        let mut found: Vec<String> = Vec::new();
        let commits = self
            .inner
            .list_commit_objects_starting_with(None, gio::Cancellable::NONE)?;
        for c in commits {
            if self.commit_info(&c)?.version.as_deref() == Some(what) {
                found.push(c.to_string());
            }
        }
        match found.len() {
            1 => return Ok(found.remove(0)),
            0 => {}
            _ => {
                found.sort();
                bail!(
                    "version {what} names several commits ({}); give a checksum",
                    found.join(", ")
                )
            }
        }
        if let Ok(Some(c)) = self.inner.resolve_rev(what, true) {
            return Ok(c.to_string());
        }
        bail!("no commit with version, checksum or ref {what:?} in the repo")
    }

    /// Writes a dirmeta object (uid, gid, mode; no xattrs) and returns its checksum.
    pub fn write_dirmeta(&self, uid: u32, gid: u32, mode: u32) -> Result<String> {
        // Dirmeta integers are stored big-endian (OSTree's on-disk GVariant convention).
        let xattrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let v = (uid.to_be(), gid.to_be(), (0o040000 | mode).to_be(), xattrs).to_variant();
        let c = self.inner.write_metadata(
            ostree::ObjectType::DirMeta,
            None,
            &v,
            gio::Cancellable::NONE,
        )?;
        Ok(c.to_hex())
    }

    /// (uid, gid, mode) of a dirmeta object.
    pub fn dirmeta(&self, checksum: &str) -> Result<(u32, u32, u32)> {
        let m = self.inner.read_dirmeta(checksum)?;
        Ok((m.uid, m.gid, m.mode))
    }

    /// The target of a symlink content object, or None for any other file.
    pub fn symlink_target(&self, checksum: &str) -> Result<Option<String>> {
        let (_, info, _) = self.inner.load_file(checksum, gio::Cancellable::NONE)?;
        if info.file_type() != gio::FileType::SymbolicLink {
            return Ok(None);
        }
        Ok(info
            .symlink_target()
            .map(|t| t.to_string_lossy().into_owned()))
    }

    pub fn write_symlink(&self, target: &str) -> Result<String> {
        Ok(self
            .inner
            .write_symlink(None, 0, 0, None, target, gio::Cancellable::NONE)?
            .to_string())
    }

    pub fn write_file(&self, data: &[u8], mode: u32) -> Result<String> {
        Ok(self
            .inner
            .write_regfile_inline(
                None,
                0,
                0,
                0o100000 | mode,
                None,
                data,
                gio::Cancellable::NONE,
            )?
            .to_string())
    }

    /// Runs `f` inside a transaction; on error the transaction is aborted and no ref moves.
    pub fn transaction<T>(&self, f: impl FnOnce(&Repo) -> Result<T>) -> Result<T> {
        self.inner
            .prepare_transaction(gio::Cancellable::NONE)
            .context("cannot start a repo transaction")?;
        match f(self) {
            Ok(v) => {
                self.inner
                    .commit_transaction(gio::Cancellable::NONE)
                    .context("cannot finish the repo transaction")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.inner.abort_transaction(gio::Cancellable::NONE);
                Err(e)
            }
        }
    }
}

/// An `ay` checksum variant as hex.
pub fn checksum_of(v: &glib::Variant) -> Result<String> {
    let bytes = v
        .fixed_array::<u8>()
        .map_err(|e| anyhow::anyhow!("malformed checksum in commit: {e}"))?;
    Ok(hex::encode(bytes))
}

/// An `a{sv}` with its keys in sorted order, so equal input gives equal bytes (and commit checksums).
pub fn sorted_dict(mut entries: Vec<(String, glib::Variant)>) -> glib::Variant {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let items: Vec<glib::Variant> = entries
        .into_iter()
        .map(|(k, v)| glib::Variant::from_dict_entry(&k.to_variant(), &v.to_variant()))
        .collect();
    glib::Variant::array_from_iter_with_type(
        glib::VariantTy::new("{sv}").expect("static type string"),
        items,
    )
}
