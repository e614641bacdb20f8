//! The OSTree layout: how a plain root filesystem becomes a tree that deploys and boots.
//!
//! In: one or more layers (the rootfs, overlays, Pine's own files), each a `MutableTree` shaped like a
//! root filesystem. Out: one tree where `/etc` lives at `/usr/etc` (OSTree merges it into the
//! deployment's `/etc`), `/bin /sbin /lib*` are merged into `/usr`, `/var` is an empty mount point
//! (the stateroot's `/var` is mounted there at boot), `/home /root /opt /srv /mnt` point into `/var`,
//! `/ostree` and `/tmp` point into `/sysroot` (the physical root), and the kernel and initramfs sit
//! under `/usr/lib/modules/KVER/` where libostree looks for them.
//!
//! What the rootfs had in `/var` (and `/home`, `/root`, ...) is not thrown away: it is kept read-only
//! in `/usr/share/factory/var`, and `/usr/lib/tmpfiles.d/pine-var.conf` says how to recreate it in the
//! live `/var` at boot (tmpfiles.d format, the way rpm-ostree handles `/var`: new folders appear on
//! every boot, existing files are never overwritten).
//!
//! Everything here works on checksums already in the repo: no file content is read or copied again.

use crate::progress::warn;
use crate::repo::Repo;
use anyhow::{bail, Context, Result};
use ostree::gio::prelude::*;
use ostree::glib::translate::ToGlibPtr;
use ostree::MutableTree;

/// Folders merged into `/usr` (usr-merge), each replaced by a symlink `name -> usr/name`.
const USR_MERGED: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// Folders whose content lives in `/var` on a deployed system: (name, place in /var).
const VAR_LINKS: &[(&str, &str)] = &[
    ("home", "home"),
    ("root", "roothome"),
    ("opt", "opt"),
    ("srv", "srv"),
    ("mnt", "mnt"),
];
/// Links into the physical root.
const SYSROOT_LINKS: &[(&str, &str)] = &[("ostree", "sysroot/ostree"), ("tmp", "sysroot/tmp")];
/// Top-level folders whose content is never committed: the kernel, a tmpfs or the physical root
/// provides it at boot.
const DROPPED: &[&str] = &["dev", "proc", "sys", "run", "tmp", "sysroot", "ostree"];
/// Mount points kept as empty folders.
const MOUNT_POINTS: &[&str] = &["var", "dev", "proc", "sys", "run", "sysroot", "boot"];
/// Where the rootfs's `/var` is kept (recreated by `/usr/lib/tmpfiles.d/pine-var.conf`).
pub const FACTORY_VAR: &str = "/usr/share/factory/var";

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Variant {
    Vm,
    Container,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Vm => "vm",
            Variant::Container => "container",
        }
    }
}

/// Kernel name used for the stub kernel of container trees (libostree will not deploy without one).
pub const CONTAINER_KVER: &str = "pine-container";

/// Top-level names whose source content is dropped, so the source reader need not even read it.
pub fn dropped_at_top(name: &str) -> bool {
    DROPPED.contains(&name)
}

/// Where a top-level folder's content goes in `/var`, if it goes there.
fn var_place(name: &str) -> Option<&'static str> {
    if name == "var" {
        return Some("");
    }
    VAR_LINKS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

pub struct Layout<'r> {
    repo: &'r Repo,
    root: MutableTree,
    /// The rootfs's `/var` content, to be kept under FACTORY_VAR.
    var: MutableTree,
    default_dir: String,
    has_root_meta: bool,
}

/// The metadata checksum of a tree, or None when it was never set.
fn meta_of(t: &MutableTree) -> Option<String> {
    // The safe binding asserts non-NULL; a fresh tree has none, so ask libostree directly.
    let p = unsafe { ostree::ffi::ostree_mutable_tree_get_metadata_checksum(t.to_glib_none().0) };
    if p.is_null() {
        return None;
    }
    let s = unsafe { std::ffi::CStr::from_ptr(p) };
    Some(s.to_string_lossy().into_owned())
}

fn lookup(t: &MutableTree, name: &str) -> (Option<String>, Option<MutableTree>) {
    match t.lookup(name) {
        Ok((f, d)) => (f.map(|s| s.to_string()), d),
        Err(_) => (None, None),
    }
}

impl<'r> Layout<'r> {
    pub fn new(repo: &'r Repo) -> Result<Self> {
        let default_dir = repo.write_dirmeta(0, 0, 0o755)?;
        Ok(Layout {
            repo,
            root: MutableTree::new(),
            var: MutableTree::new(),
            default_dir,
            has_root_meta: false,
        })
    }

    /// A subfolder of `parent`, created with `meta` (or the default) when missing. A file in the way
    /// is replaced, with a warning, since the layout needs a folder there.
    fn dir(&self, parent: &MutableTree, name: &str, meta: Option<&str>) -> Result<MutableTree> {
        match lookup(parent, name) {
            (_, Some(d)) => Ok(d),
            (file, None) => {
                if file.is_some() {
                    warn(format!("replacing file {name} by a folder"));
                    parent.remove(name, true)?;
                }
                let d = parent.ensure_dir(name)?;
                d.set_metadata_checksum(meta.unwrap_or(&self.default_dir));
                Ok(d)
            }
        }
    }

    /// Copies `src` into `dst`, later layers winning on conflicts.
    fn merge(&self, dst: &MutableTree, src: &MutableTree) -> Result<()> {
        if let Some(m) = meta_of(src) {
            dst.set_metadata_checksum(&m);
        }
        for (name, sum) in src.copy_files() {
            if let (_, Some(_)) = lookup(dst, &name) {
                dst.remove(&name, true)?;
            }
            dst.replace_file(&name, &sum)?;
        }
        for (name, sub) in src.copy_subdirs() {
            let d = self.dir(dst, &name, meta_of(&sub).as_deref())?;
            self.merge(&d, &sub)?;
        }
        Ok(())
    }

    /// Adds one root-filesystem-shaped layer.
    pub fn add_layer(&mut self, layer: &MutableTree) -> Result<()> {
        if let Some(m) = meta_of(layer) {
            self.root.set_metadata_checksum(&m);
            self.has_root_meta = true;
        }
        let usr = self.dir(&self.root, "usr", None)?;
        for (name, sum) in layer.copy_files() {
            // Top-level links such as a usr-merged distro's `bin -> usr/bin` are replaced by ours.
            if USR_MERGED.contains(&name.as_str())
                || dropped_at_top(&name)
                || var_place(&name).is_some()
            {
                continue;
            }
            self.root.remove(&name, true)?;
            self.root.replace_file(&name, &sum)?;
        }
        for (name, sub) in layer.copy_subdirs() {
            let n = name.as_str();
            if n == "etc" {
                let d = self.dir(&usr, "etc", meta_of(&sub).as_deref())?;
                self.merge(&d, &sub)?;
            } else if n == "usr" {
                self.merge(&usr, &sub)?;
            } else if USR_MERGED.contains(&n) {
                let d = self.dir(&usr, n, meta_of(&sub).as_deref())?;
                self.merge(&d, &sub)?;
            } else if let Some(place) = var_place(n) {
                let d = match place {
                    "" => self.var.clone(),
                    p => self.dir(&self.var, p, meta_of(&sub).as_deref())?,
                };
                self.merge(&d, &sub)?;
            } else if dropped_at_top(n) {
                // Its folder metadata is kept where the layout keeps a folder.
                if MOUNT_POINTS.contains(&n) {
                    self.dir(&self.root, n, meta_of(&sub).as_deref())?;
                }
            } else {
                let d = self.dir(&self.root, n, meta_of(&sub).as_deref())?;
                self.merge(&d, &sub)?;
            }
        }
        Ok(())
    }

    /// Adds the fixed folders and links, places the kernel, and writes the tree. Returns the kernel
    /// version it placed and the root `RepoFile` to commit.
    pub fn finish(self, variant: Variant, version: &str) -> Result<(String, ostree::RepoFile)> {
        if !self.has_root_meta {
            self.root.set_metadata_checksum(&self.default_dir);
        }
        let usr = self.dir(&self.root, "usr", None)?;
        if lookup(&usr, "etc").1.is_none() {
            bail!("the rootfs has no /etc: is it a root filesystem?");
        }
        for name in MOUNT_POINTS {
            self.dir(&self.root, name, None)?;
        }
        for name in USR_MERGED {
            if lookup(&usr, name).1.is_some() {
                self.link(name, &format!("usr/{name}"))?;
            }
        }
        for (name, place) in VAR_LINKS {
            self.link(name, &format!("var/{place}"))?;
        }
        for (name, target) in SYSROOT_LINKS {
            self.link(name, target)?;
        }
        self.keep_var(&usr)?;
        self.ensure_os_release(&usr, version)?;
        let kver = self.place_kernel(&usr, variant)?;
        let file = self
            .repo
            .inner
            .write_mtree(&self.root, ostree::gio::Cancellable::NONE)
            .context("cannot write the tree")?;
        let root = file
            .downcast::<ostree::RepoFile>()
            .map_err(|_| anyhow::anyhow!("libostree returned no RepoFile for the tree"))?;
        Ok((kver, root))
    }

    /// Moves the collected `/var` content to FACTORY_VAR and writes the tmpfiles.d lines that
    /// recreate it: `d` for folders (with their owner and mode), `L` for links, `C` (copy once) for
    /// files. The folders behind `/home`, `/root`, ... are always listed.
    fn keep_var(&self, usr: &MutableTree) -> Result<()> {
        for (_, place) in VAR_LINKS {
            let mode = if *place == "roothome" { 0o700 } else { 0o755 };
            if lookup(&self.var, place).1.is_none() {
                let meta = self.repo.write_dirmeta(0, 0, mode)?;
                self.dir(&self.var, place, Some(&meta))?;
            }
        }
        let mut lines = vec![
            "# Generated by pine-build: recreates the image's /var in the live /var at boot."
                .to_owned(),
            format!("# The content lives read-only in {FACTORY_VAR}."),
        ];
        self.tmpfiles_lines(&self.var, "/var", &mut lines)?;
        let share = self.dir(usr, "share", None)?;
        let factory = self.dir(&share, "factory", None)?;
        let kept = self.dir(&factory, "var", None)?;
        self.merge(&kept, &self.var)?;
        let lib = self.dir(usr, "lib", None)?;
        let tmpfiles = self.dir(&lib, "tmpfiles.d", None)?;
        let text = lines.join("\n") + "\n";
        tmpfiles.replace_file(
            "pine-var.conf",
            &self.repo.write_file(text.as_bytes(), 0o644)?,
        )?;
        Ok(())
    }

    fn tmpfiles_lines(&self, t: &MutableTree, path: &str, out: &mut Vec<String>) -> Result<()> {
        let mut dirs: Vec<(String, MutableTree)> = t.copy_subdirs().into_iter().collect();
        dirs.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, sub) in dirs {
            let p = format!("{path}/{name}");
            let (uid, gid, mode) = match meta_of(&sub) {
                Some(m) => self.repo.dirmeta(&m)?,
                None => (0, 0, 0o755),
            };
            out.push(format!(
                "d {} {:04o} {uid} {gid} -",
                tmpfiles_escape(&p),
                mode & 0o7777
            ));
            self.tmpfiles_lines(&sub, &p, out)?;
        }
        let mut files: Vec<(String, String)> = t.copy_files().into_iter().collect();
        files.sort();
        for (name, sum) in files {
            let p = format!("{path}/{name}");
            match self.repo.symlink_target(&sum)? {
                Some(target) => out.push(format!(
                    "L {} - - - - {}",
                    tmpfiles_escape(&p),
                    tmpfiles_escape(&target)
                )),
                None => out.push(format!(
                    "C {} - - - - {}",
                    tmpfiles_escape(&p),
                    tmpfiles_escape(&format!("{}{}", FACTORY_VAR, &p["/var".len()..]))
                )),
            }
        }
        Ok(())
    }

    /// `ostree admin deploy` reads os-release from the tree; a rootfs without one gets Pine's.
    fn ensure_os_release(&self, usr: &MutableTree, version: &str) -> Result<()> {
        let lib = self.dir(usr, "lib", None)?;
        let etc = self.dir(usr, "etc", None)?;
        if lookup(&lib, "os-release").0.is_some() || lookup(&etc, "os-release").0.is_some() {
            return Ok(());
        }
        warn("the rootfs has no /etc/os-release; writing /usr/lib/os-release for Pine");
        let text =
            format!("NAME=Pine\nID=pine\nVERSION_ID={version}\nPRETTY_NAME=\"Pine {version}\"\n");
        lib.replace_file("os-release", &self.repo.write_file(text.as_bytes(), 0o644)?)?;
        Ok(())
    }

    fn link(&self, name: &str, target: &str) -> Result<()> {
        let sum = self.repo.write_symlink(target)?;
        self.root.remove(name, true)?;
        self.root.replace_file(name, &sum)?;
        Ok(())
    }

    /// Moves the kernel and initramfs of `/boot` (or an existing `/usr/lib/modules/KVER/vmlinuz`) to
    /// `/usr/lib/modules/KVER/{vmlinuz,initramfs.img}`, and empties `/boot` (the bootloader's
    /// partition is mounted there).
    fn place_kernel(&self, usr: &MutableTree, variant: Variant) -> Result<String> {
        let boot = self.dir(&self.root, "boot", None)?;
        let boot_files = boot.copy_files();
        let lib = self.dir(usr, "lib", None)?;
        let modules = self.dir(&lib, "modules", None)?;
        let mut kvers: Vec<String> = modules.copy_subdirs().into_keys().collect();
        kvers.sort();
        // Empty /boot now: whatever decides below, its files are not part of the deployment.
        let boot_meta = meta_of(&boot);
        self.root.remove("boot", false)?;
        self.dir(&self.root, "boot", boot_meta.as_deref())?;

        let ready = kvers.iter().find(|k| {
            lookup(&modules, k)
                .1
                .is_some_and(|d| lookup(&d, "vmlinuz").0.is_some())
        });
        if let Some(k) = ready {
            return Ok(k.clone());
        }
        if variant == Variant::Container {
            let d = self.dir(&modules, CONTAINER_KVER, None)?;
            d.replace_file("vmlinuz", &self.repo.write_file(b"", 0o644)?)?;
            return Ok(CONTAINER_KVER.to_owned());
        }
        let mut names: Vec<&String> = boot_files.keys().collect();
        names.sort();
        let kernel = names
            .iter()
            .find(|n| n.starts_with("vmlinuz"))
            .with_context(|| "variant vm needs a kernel: no /boot/vmlinuz* and no /lib/modules/KVER/vmlinuz in the rootfs")?;
        let suffix = kernel
            .strip_prefix("vmlinuz-")
            .unwrap_or("")
            .trim_end_matches(".efi");
        let kver = match kvers.len() {
            0 if suffix.is_empty() => "0".to_owned(),
            0 => suffix.to_owned(),
            1 => kvers[0].clone(),
            _ => kvers
                .iter()
                .find(|k| {
                    !suffix.is_empty() && (*k == suffix || k.ends_with(&format!("-{suffix}")))
                })
                .cloned()
                .with_context(|| {
                    format!(
                        "cannot tell which of /lib/modules/{{{}}} belongs to /boot/{kernel}",
                        kvers.join(",")
                    )
                })?,
        };
        let dest = self.dir(&modules, &kver, None)?;
        dest.replace_file("vmlinuz", &boot_files[*kernel])?;
        let initrd = names.iter().find(|n| {
            (n.starts_with("initramfs") || n.starts_with("initrd"))
                && (suffix.is_empty() || n.contains(suffix))
        });
        match initrd {
            Some(n) => dest.replace_file("initramfs.img", &boot_files[*n])?,
            None => warn(format!(
                "no initramfs next to /boot/{kernel}: the VM must boot without one"
            )),
        }
        Ok(kver)
    }
}

/// tmpfiles.d fields are split on white space; escape it (and backslashes) C-style.
fn tmpfiles_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' || c.is_whitespace() || c.is_control() {
            for b in c.to_string().bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds a small layer from paths and content checksums (Pine's own files, service links).
pub struct LayerBuilder<'r> {
    repo: &'r Repo,
    pub tree: MutableTree,
    dir_meta: String,
}

impl<'r> LayerBuilder<'r> {
    pub fn new(repo: &'r Repo) -> Result<Self> {
        Ok(LayerBuilder {
            repo,
            tree: MutableTree::new(),
            dir_meta: repo.write_dirmeta(0, 0, 0o755)?,
        })
    }

    fn parent(&self, path: &str) -> Result<(MutableTree, String)> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (name, dirs) = parts.split_last().context("empty path")?;
        let mut t = self.tree.clone();
        for d in dirs {
            let next = match lookup(&t, d) {
                (_, Some(sub)) => sub,
                _ => {
                    let sub = t.ensure_dir(d)?;
                    sub.set_metadata_checksum(&self.dir_meta);
                    sub
                }
            };
            t = next;
        }
        Ok((t, (*name).to_owned()))
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        let sum = self.repo.write_file(data, mode)?;
        let (dir, name) = self.parent(path)?;
        dir.replace_file(&name, &sum)?;
        Ok(())
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        let sum = self.repo.write_symlink(target)?;
        let (dir, name) = self.parent(path)?;
        dir.replace_file(&name, &sum)?;
        Ok(())
    }
}
