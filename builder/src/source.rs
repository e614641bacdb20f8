//! Reading a root filesystem into the repo: a directory or a tarball (`.tar`, `.tar.gz`, `.tar.xz`,
//! `.tar.zst`; libarchive inside libostree detects the compression), straight into a `MutableTree`
//! with no unpacked copy on disk.
//!
//! The filter drops what a commit must not or need not carry, and says so: device nodes, sockets and
//! fifos (the kernel makes `/dev` at boot), and the contents of `/dev /proc /sys /run /tmp`, which
//! are mounted at boot.

use crate::layout;
use crate::progress::warn;
use crate::repo::Repo;
use crate::util::sha256_file;
use anyhow::{bail, Context, Result};
use ostree::gio::{self, prelude::*};
use ostree::{MutableTree, RepoCommitFilterResult, RepoCommitModifier, RepoCommitModifierFlags};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What reading a source dropped, reported once it is read.
#[derive(Default)]
struct Dropped {
    special: Vec<String>,
    contents_of: BTreeSet<String>,
}

fn why_dropped(top: &str) -> String {
    match top {
        "dev" => "devtmpfs provides /dev at boot".to_owned(),
        "proc" | "sys" => format!("the kernel mounts /{top} at boot"),
        "run" | "tmp" => format!("/{top} is scratch space, emptied at boot"),
        _ => "the physical root is mounted there at boot".to_owned(),
    }
}

pub struct Source {
    pub tree: MutableTree,
    /// sha256 of the tarball, or the OSTree checksum of the directory's tree.
    pub sha256: String,
}

/// A commit modifier for a subtree read at `prefix` (the absolute path of its root in the rootfs).
fn modifier(dropped: Rc<RefCell<Dropped>>, prefix: String) -> RepoCommitModifier {
    let filter = move |_: &ostree::Repo, path: &str, info: &gio::FileInfo| {
        let rel = path.trim_start_matches("./").trim_start_matches('/');
        let full = format!("{prefix}/{rel}");
        let full = full.trim_start_matches('/');
        let mut parts = full.splitn(2, '/');
        let top = parts.next().unwrap_or("");
        if parts.next().is_some_and(|rest| !rest.is_empty()) && layout::dropped_at_top(top) {
            // Empty folders there are normal (a rootfs tarball's /dev/pts); only files are worth a word.
            if info.file_type() != gio::FileType::Directory {
                dropped.borrow_mut().contents_of.insert(top.to_owned());
            }
            return RepoCommitFilterResult::Skip;
        }
        if info.file_type() == gio::FileType::Special {
            dropped.borrow_mut().special.push(format!("/{full}"));
            return RepoCommitFilterResult::Skip;
        }
        RepoCommitFilterResult::Allow
    };
    RepoCommitModifier::new(RepoCommitModifierFlags::NONE, Some(Box::new(filter)))
}

/// Folders (relative to the root) below which a device node, socket or fifo sits. libostree's folder
/// reader refuses those files before any filter sees them, so these folders are walked here and every
/// clean subtree below them is handed to libostree whole.
fn dirs_with_special(root: &Path) -> Result<HashSet<PathBuf>> {
    let mut out = HashSet::new();
    fn walk(dir: &Path, rel: &Path, out: &mut HashSet<PathBuf>) -> Result<bool> {
        let mut found = false;
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for e in entries {
            let e = e?;
            let ft = e.file_type()?;
            let child = rel.join(e.file_name());
            if ft.is_dir() {
                found |= walk(&e.path(), &child, out)?;
            } else if !ft.is_file() && !ft.is_symlink() {
                found = true;
            }
        }
        if found {
            out.insert(rel.to_owned());
        }
        Ok(found)
    }
    walk(root, Path::new(""), &mut out)?;
    Ok(out)
}

/// True when something other than folders sits below `dir`.
fn has_files(dir: &Path) -> Result<bool> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if !e.file_type()?.is_dir() || has_files(&e.path())? {
            return Ok(true);
        }
    }
    Ok(false)
}

struct DirReader<'a> {
    repo: &'a Repo,
    dropped: Rc<RefCell<Dropped>>,
    special_dirs: HashSet<PathBuf>,
}

impl DirReader<'_> {
    fn read(&self, abs: &Path, rel: &Path, tree: &MutableTree) -> Result<()> {
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let meta = std::fs::symlink_metadata(abs)?;
        if rel.components().count() == 1 && top.as_deref().is_some_and(layout::dropped_at_top) {
            // Only the folder itself is kept; its content is replaced by a mount or a link.
            tree.set_metadata_checksum(&self.repo.write_dirmeta(
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777,
            )?);
            if has_files(abs)? {
                self.dropped
                    .borrow_mut()
                    .contents_of
                    .insert(top.unwrap_or_default());
            }
            return Ok(());
        }
        if !self.special_dirs.contains(rel) {
            let m = modifier(self.dropped.clone(), format!("/{}", rel.display()));
            let p = abs
                .to_str()
                .with_context(|| format!("{} is not UTF-8", abs.display()))?;
            self.repo
                .inner
                .write_dfd_to_mtree(libc::AT_FDCWD, p, tree, Some(&m), gio::Cancellable::NONE)
                .with_context(|| format!("cannot read {}", abs.display()))?;
            return Ok(());
        }
        tree.set_metadata_checksum(&self.repo.write_dirmeta(
            meta.uid(),
            meta.gid(),
            meta.mode() & 0o7777,
        )?);
        for e in std::fs::read_dir(abs)? {
            let e = e?;
            let name = e.file_name();
            let name_s = name
                .to_str()
                .with_context(|| format!("{} is not UTF-8", e.path().display()))?;
            let (path, child_rel) = (e.path(), rel.join(&name));
            let m = std::fs::symlink_metadata(&path)?;
            let ft = m.file_type();
            if ft.is_dir() {
                self.read(&path, &child_rel, &tree.ensure_dir(name_s)?)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path)?;
                let sum = self.repo.inner.write_symlink(
                    None,
                    m.uid(),
                    m.gid(),
                    None,
                    &target.to_string_lossy(),
                    gio::Cancellable::NONE,
                )?;
                tree.replace_file(name_s, &sum)?;
            } else if ft.is_file() {
                let sum = self.write_regular(&path, &m)?;
                tree.replace_file(name_s, &sum)?;
            } else {
                self.dropped
                    .borrow_mut()
                    .special
                    .push(format!("/{}", child_rel.display()));
            }
        }
        Ok(())
    }

    fn write_regular(&self, path: &Path, m: &std::fs::Metadata) -> Result<String> {
        // Streamed: a content stream (header + file) that libostree hashes and compresses.
        let info = gio::FileInfo::new();
        info.set_file_type(gio::FileType::Regular);
        info.set_size(m.len() as i64);
        info.set_attribute_uint32("unix::uid", m.uid());
        info.set_attribute_uint32("unix::gid", m.gid());
        info.set_attribute_uint32("unix::mode", m.mode());
        let input = gio::File::for_path(path).read(gio::Cancellable::NONE)?;
        let (stream, len) =
            ostree::raw_file_to_content_stream(&input, &info, None, gio::Cancellable::NONE)?;
        let sum = self
            .repo
            .inner
            .write_content(None, &stream, len, gio::Cancellable::NONE)?;
        Ok(sum.to_hex())
    }
}

/// Reads `path` (a directory or a tarball) into a new tree in `repo`'s open transaction.
pub fn read(repo: &Repo, path: &Path) -> Result<Source> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("rootfs {} cannot be read", path.display()))?;
    let dropped = Rc::new(RefCell::new(Dropped::default()));
    let tree = MutableTree::new();
    let file = gio::File::for_path(path);
    let sha256 = if meta.is_dir() {
        let reader = DirReader {
            repo,
            dropped: dropped.clone(),
            special_dirs: dirs_with_special(path)?,
        };
        // The root itself is always walked here, so each top-level folder is judged by name.
        let mut special_dirs = reader.special_dirs;
        special_dirs.insert(PathBuf::new());
        let reader = DirReader {
            special_dirs,
            ..reader
        };
        reader
            .read(path, Path::new(""), &tree)
            .with_context(|| format!("cannot read rootfs folder {}", path.display()))?;
        let root = repo.inner.write_mtree(&tree, gio::Cancellable::NONE)?;
        let root = root
            .downcast::<ostree::RepoFile>()
            .map_err(|_| anyhow::anyhow!("libostree returned no RepoFile"))?;
        root.tree_get_contents_checksum()
            .map(|s| s.to_string())
            .unwrap_or_default()
    } else if meta.is_file() {
        let m = modifier(dropped.clone(), String::new());
        repo.inner
            .write_archive_to_mtree(&file, &tree, Some(&m), true, gio::Cancellable::NONE)
            .with_context(|| format!("cannot read rootfs tarball {}", path.display()))?;
        sha256_file(path)?.0
    } else {
        bail!(
            "rootfs {} is neither a folder nor a tarball",
            path.display()
        );
    };
    let d = dropped.borrow();
    if !d.special.is_empty() {
        let shown: Vec<&str> = d.special.iter().take(5).map(String::as_str).collect();
        warn(format!(
            "dropped {} device node(s), socket(s) or fifo(s) (made at boot, not committed): {}{}",
            d.special.len(),
            shown.join(" "),
            if d.special.len() > 5 { " ..." } else { "" }
        ));
    }
    for top in &d.contents_of {
        warn(format!(
            "the contents of /{top} are not committed: {}",
            why_dropped(top)
        ));
    }
    if tree.copy_subdirs().is_empty() {
        bail!("rootfs {} is empty", path.display());
    }
    Ok(Source { tree, sha256 })
}
