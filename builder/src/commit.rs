//! `pine-build commit`: a root filesystem in, one signed, bootable OSTree commit out.
//!
//! Data path: source (folder/tarball, or a manifest's base + `apk add` + overlays) -> layers ->
//! [`layout`] (OSTree layout, kernel placement) -> commit with metadata -> signature -> ref.
//! All writes happen in one repo transaction; the ref moves only when everything else succeeded.

use crate::layout::{LayerBuilder, Layout, Variant};
use crate::manifest::Manifest;
use crate::progress::Step;
use crate::repo::{sorted_dict, Repo};
use crate::{source, util};
use anyhow::{bail, Context, Result};
use ostree::gio::{self, prelude::*};
use ostree::glib;
use pine_release::keys::{PublicKey, SecretKey, COMMIT_SIGNATURE_KEY};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// OSTree archive repo (created if missing).
    #[arg(long)]
    repo: PathBuf,
    /// Root filesystem: a folder or a .tar/.tar.gz/.tar.xz/.tar.zst tarball (overrides the manifest's base).
    #[arg(long)]
    rootfs: Option<PathBuf>,
    /// Release version, stored as the commit's `version` metadata.
    #[arg(long)]
    version: String,
    #[arg(long, value_enum, default_value = "vm")]
    variant: Variant,
    /// Ref to commit on (default pine/<arch>/<variant>).
    #[arg(long = "ref")]
    refname: Option<String>,
    /// Secret key that signs the commit.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Build manifest (TOML): base, apk packages, overlays, services.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Folder holding pine-agent, pinectl and pine-init (default: the folder of pine-build).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// A public key the image trusts for feeds and commits (repeatable).
    #[arg(long = "trust", value_name = "FILE.pub")]
    trust: Vec<PathBuf>,
}

/// Pine's own binaries and where they go in the image.
const BINARIES: &[(&str, &str)] = &[
    ("pine-agent", "usr/bin/pine-agent"),
    ("pinectl", "usr/bin/pinectl"),
    ("pine-init", "usr/sbin/pine-init"),
];

/// The OpenRC files shipped in every image, embedded so the builder is one self-contained binary.
const OPENRC_FILES: &[(&str, &[u8], u32)] = &[
    (
        "etc/init.d/pine-agent",
        include_bytes!("../../openrc/pine-agent"),
        0o755,
    ),
    (
        "etc/conf.d/pine-agent",
        include_bytes!("../../openrc/pine-agent.confd"),
        0o644,
    ),
];

pub fn default_ref(variant: Variant) -> String {
    format!("pine/{}/{}", std::env::consts::ARCH, variant.name())
}

fn check_version(v: &str) -> Result<()> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        bail!("--version {v:?} must be a non-empty word without spaces or slashes");
    }
    Ok(())
}

fn bin_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = arg {
        return Ok(d);
    }
    let exe = std::env::current_exe().context("cannot find the running pine-build")?;
    Ok(exe.parent().unwrap_or(Path::new("/")).to_owned())
}

fn read_binaries(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>> {
    use std::os::unix::fs::PermissionsExt;
    BINARIES
        .iter()
        .map(|(name, dest)| {
            let p = dir.join(name);
            let meta = std::fs::metadata(&p).with_context(|| {
                format!(
                    "{} is missing (build with `make dist` or pass --bin-dir)",
                    p.display()
                )
            })?;
            if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
                bail!("{} is not an executable file", p.display());
            }
            Ok((*dest, std::fs::read(&p)?))
        })
        .collect()
}

/// Everything that can be checked before the repo is touched.
struct Plan {
    version: String,
    variant: Variant,
    refname: String,
    key: Option<SecretKey>,
    trust: Vec<(String, PublicKey)>,
    binaries: Vec<(&'static str, Vec<u8>)>,
    manifest: Option<Manifest>,
    base: PathBuf,
}

fn plan(a: Args) -> Result<Plan> {
    check_version(&a.version)?;
    let key = a.key.as_deref().map(SecretKey::load).transpose()?;
    let mut trust = Vec::new();
    for p in &a.trust {
        let k = PublicKey::load(p)?;
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.ends_with(".pub"))
            .with_context(|| format!("--trust {}: the file name must end in .pub", p.display()))?;
        trust.push((name.to_owned(), k));
    }
    let manifest = a.manifest.as_deref().map(Manifest::load).transpose()?;
    let base = a
        .rootfs
        .or_else(|| manifest.as_ref().and_then(|m| m.base.clone()))
        .context("no rootfs: pass --rootfs or a manifest with base = \"...\"")?;
    let binaries = read_binaries(&bin_dir(a.bin_dir)?)?;
    let refname = a.refname.unwrap_or_else(|| default_ref(a.variant));
    if ostree::validate_rev(&refname).is_err() {
        bail!("--ref {refname:?} is not a valid ref name");
    }
    Ok(Plan {
        version: a.version,
        variant: a.variant,
        refname,
        key,
        trust,
        binaries,
        manifest,
        base,
    })
}

pub fn run(a: Args) -> Result<()> {
    let repo_path = a.repo.clone();
    let p = plan(a)?;
    let repo = Repo::open_or_create(&repo_path)?;
    if repo.inner.mode() != ostree::RepoMode::Archive {
        bail!("{} is not an archive repo", repo_path.display());
    }
    let checksum = repo.transaction(|repo| build(repo, &p))?;
    println!("{checksum}");
    Ok(())
}

fn build(repo: &Repo, p: &Plan) -> Result<String> {
    let mut layout = Layout::new(repo)?;
    let step = Step::start(format!("reading {}", p.base.display()));
    let src = source::read(repo, &p.base)?;
    drop(step);
    match &p.manifest {
        Some(m) if !m.packages.is_empty() => {
            let _s = Step::start(format!("apk add {}", m.packages.join(" ")));
            layout.add_layer(&with_apk(repo, &src.tree, m)?)?;
        }
        _ => layout.add_layer(&src.tree)?,
    }
    if let Some(m) = &p.manifest {
        for o in &m.overlays {
            layout.add_layer(&source::read(repo, o)?.tree)?;
        }
    }
    layout.add_layer(&pine_layer(repo, p)?)?;
    let _s = Step::start("writing the tree");
    let (kver, root) = layout.finish(p.variant, &p.version)?;
    let contents = root
        .tree_get_contents_checksum()
        .map(|s| s.to_string())
        .unwrap_or_default();

    let history = repo.history(&p.refname)?;
    if let Some(same) = history
        .iter()
        .find(|c| c.version.as_deref() == Some(&p.version))
    {
        if same.root_contents == contents {
            eprintln!(
                "pine-build: version {} is already commit {} on {}; nothing to do",
                p.version, same.checksum, p.refname
            );
            return Ok(same.checksum.clone());
        }
        bail!(
            "version {} already exists on {} as commit {} with other content; pick a new version",
            p.version,
            p.refname,
            same.checksum
        );
    }

    let metadata = sorted_dict(vec![
        ("version".into(), p.version.to_variant()),
        ("pine.variant".into(), p.variant.name().to_variant()),
        ("pine.source-sha256".into(), src.sha256.to_variant()),
        ("ostree.bootable".into(), true.to_variant()),
        ("ostree.linux".into(), kver.to_variant()),
    ]);
    let parent = history.first().map(|c| c.checksum.as_str());
    let subject = format!("Pine {} ({})", p.version, p.variant.name());
    let checksum = repo
        .inner
        .write_commit_with_time(
            parent,
            Some(&subject),
            None,
            Some(&metadata),
            &root,
            util::build_time()?,
            gio::Cancellable::NONE,
        )
        .context("cannot write the commit")?
        .to_string();
    if let Some(key) = &p.key {
        sign_commit(repo, &checksum, key)?;
    }
    repo.inner
        .transaction_set_ref(None, &p.refname, Some(&checksum));
    Ok(checksum)
}

/// Adds an ed25519 signature to the commit's detached metadata, the way libostree's engine does.
pub fn sign_commit(repo: &Repo, checksum: &str, key: &SecretKey) -> Result<()> {
    let commit = repo
        .inner
        .load_variant(ostree::ObjectType::Commit, checksum)?;
    let sig = key.sign(&commit.data_as_bytes());
    let sigs: Vec<glib::Variant> = vec![glib::Variant::array_from_fixed_array(&sig)];
    let aay = glib::Variant::array_from_iter_with_type(glib::VariantTy::BYTE_STRING, sigs);
    let mut entries: Vec<(String, glib::Variant)> = Vec::new();
    if let Some(old) = repo
        .inner
        .read_commit_detached_metadata(checksum, gio::Cancellable::NONE)?
    {
        for e in old.iter() {
            let k: String = e.child_value(0).get().unwrap_or_default();
            if k != COMMIT_SIGNATURE_KEY {
                entries.push((k, e.child_value(1).as_variant().unwrap_or(e.child_value(1))));
            }
        }
    }
    entries.push((COMMIT_SIGNATURE_KEY.to_owned(), aay));
    repo.inner
        .write_commit_detached_metadata(
            checksum,
            Some(&sorted_dict(entries)),
            gio::Cancellable::NONE,
        )
        .context("cannot write the commit signature")?;
    Ok(())
}

/// Pine's own files: the binaries, the OpenRC service (enabled in `default`), the trusted keys and
/// the manifest's service links.
fn pine_layer(repo: &Repo, p: &Plan) -> Result<ostree::MutableTree> {
    let mut l = LayerBuilder::new(repo)?;
    for (dest, data) in &p.binaries {
        l.file(dest, data, 0o755)?;
    }
    for (dest, data, mode) in OPENRC_FILES {
        l.file(dest, data, *mode)?;
    }
    l.symlink("etc/runlevels/default/pine-agent", "/etc/init.d/pine-agent")?;
    for (name, key) in &p.trust {
        l.file(
            &format!("usr/lib/pine/keys.d/{name}"),
            format!("{}\n", key.to_base64()).as_bytes(),
            0o644,
        )?;
    }
    if let Some(m) = &p.manifest {
        for (runlevel, services) in &m.services {
            for s in services {
                l.symlink(
                    &format!("etc/runlevels/{runlevel}/{s}"),
                    &format!("/etc/init.d/{s}"),
                )?;
            }
        }
    }
    Ok(l.tree)
}

/// Checks the base out to a scratch folder, runs `apk add` in it, and reads the result back.
fn with_apk(repo: &Repo, base: &ostree::MutableTree, m: &Manifest) -> Result<ostree::MutableTree> {
    let root = repo.inner.write_mtree(base, gio::Cancellable::NONE)?;
    let root = root
        .downcast::<ostree::RepoFile>()
        .map_err(|_| anyhow::anyhow!("libostree returned no RepoFile"))?;
    let scratch = tempfile::Builder::new()
        .prefix("pine-apk-")
        .tempdir()
        .context("cannot make a scratch folder for apk")?;
    let dest = scratch.path().join("root");
    let info = root.query_info(
        "*",
        gio::FileQueryInfoFlags::NOFOLLOW_SYMLINKS,
        gio::Cancellable::NONE,
    )?;
    repo.inner
        .checkout_tree(
            ostree::RepoCheckoutMode::None,
            ostree::RepoCheckoutOverwriteMode::None,
            &gio::File::for_path(&dest),
            &root,
            &info,
            gio::Cancellable::NONE,
        )
        .context("cannot check the base out for apk")?;
    m.run_apk(&dest)?;
    Ok(source::read(repo, &dest)?.tree)
}
