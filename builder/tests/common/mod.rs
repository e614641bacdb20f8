//! Test harness for the builder: root filesystems made from Debian's busybox-static, fake Pine
//! binaries, and the stock `ostree` CLI and `openssl` as independent judges of what was written.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const KVER: &str = "6.6.1-0-virt";

pub fn pine_build() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pine-build"))
}

/// Runs a command, returns its output; panics with stderr if `ok` is not what happened.
pub fn run(cmd: &mut Command, ok: bool) -> Output {
    let out = cmd.output().expect("spawn");
    if out.status.success() != ok {
        panic!(
            "{:?} exited {:?} (wanted success={ok})\nstdout: {}\nstderr: {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The stock ostree CLI on `repo`.
pub fn ostree(repo: &Path, args: &[&str]) -> String {
    let mut c = Command::new("ostree");
    c.arg(format!("--repo={}", repo.display())).args(args);
    stdout(&run(&mut c, true))
}

pub fn ostree_try(repo: &Path, args: &[&str]) -> Output {
    Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .output()
        .expect("spawn ostree")
}

/// Asserts the failure mode the CLI promises: non-zero exit and exactly one error line, last.
pub fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure");
    let err = stderr(o);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "want one error line, got:\n{err}");
    assert!(
        err.trim_end().lines().last().unwrap_or("").contains(needle),
        "error should mention {needle:?}:\n{err}"
    );
}

pub struct Rootfs {
    pub dir: PathBuf,
}

/// A small but real root filesystem: busybox-static with its applet links, an /etc, log files in
/// /var, a device node, a fifo and a socket, and a fake Alpine-style kernel and initramfs.
pub fn make_rootfs(dir: &Path) -> Rootfs {
    let d = |p: &str| {
        let p = dir.join(p);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    for p in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc/init.d",
        "var/log",
        "var/cache/apk",
        "root",
        "home/alice",
        "tmp",
        "dev",
        "proc",
        "sys",
        "run",
        "boot",
        "opt",
    ] {
        d(p);
    }
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("busybox-static installed");
    for applet in ["sh", "ls", "cat", "mount", "echo"] {
        symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    symlink("/bin/busybox", dir.join("sbin/init")).unwrap();
    let w = |p: &str, s: &str| std::fs::write(dir.join(p), s).unwrap();
    w("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    w("etc/group", "root:x:0:root\n");
    w("etc/hostname", "pine\n");
    w(
        "etc/os-release",
        "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Pine test\"\n",
    );
    w("var/log/messages", "old log\n");
    w("var/cache/apk/APKINDEX.tar.gz", "cache\n");
    w("root/.profile", "export PS1='# '\n");
    w("home/alice/notes", "hi\n");
    w("opt/tool", "opt\n");
    w("tmp/scratch", "tmp\n");
    w("boot/vmlinuz-virt", "fake kernel 1\n");
    w("boot/initramfs-virt", "fake initramfs 1\n");
    w("boot/config-virt", "CONFIG_X=y\n");
    let m = d(&format!("lib/modules/{KVER}/kernel"));
    std::fs::write(m.join("virtio.ko"), "module\n").unwrap();
    // Special files: a device node, a fifo, a socket (the socket outside /dev and /run on purpose).
    run(
        Command::new("mknod")
            .arg(dir.join("dev/null"))
            .args(["c", "1", "3"]),
        true,
    );
    run(Command::new("mkfifo").arg(dir.join("etc/initctl")), true);
    let sock = std::os::unix::net::UnixListener::bind(dir.join("etc/agent.sock")).unwrap();
    drop(sock);
    Rootfs {
        dir: dir.to_owned(),
    }
}

/// Packs the rootfs as a tarball; `flag` is the tar compression flag ("" for plain .tar).
pub fn tarball(root: &Path, out: &Path, flag: &str) {
    let mut c = Command::new("tar");
    c.arg("-C").arg(root).arg("--numeric-owner");
    if !flag.is_empty() {
        c.arg(flag);
    }
    c.arg("-cf").arg(out).arg(".");
    run(&mut c, true);
}

/// Executables named like Pine's binaries, for commits that do not need the real ones.
pub fn fake_bins(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    for b in ["pine-agent", "pinectl", "pine-init"] {
        let p = dir.join(b);
        std::fs::write(&p, format!("#!/bin/sh\necho {b}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.to_owned()
}

pub struct Keys {
    pub secret: PathBuf,
    pub public: PathBuf,
}

pub fn keygen(dir: &Path) -> Keys {
    run(pine_build().arg("keygen").arg("--out").arg(dir), true);
    Keys {
        secret: dir.join("pine.key"),
        public: dir.join("pine.pub"),
    }
}

/// A test workspace: temp dir, keys, fake binaries.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub keys: Keys,
    pub bins: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let keys = keygen(&tmp.path().join("keys"));
        let bins = fake_bins(&tmp.path().join("bins"));
        Env { tmp, keys, bins }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    /// `pine-build commit` with the usual flags; more flags appended.
    pub fn commit(&self, repo: &Path, rootfs: &Path, version: &str, extra: &[&str]) -> Command {
        let mut c = self.commit_replacing(repo, rootfs, version, &[]);
        c.args(extra);
        c
    }

    /// `pine-build commit` with the usual flags, some of them given other values.
    pub fn commit_replacing(
        &self,
        repo: &Path,
        rootfs: &Path,
        version: &str,
        replace: &[(&str, &std::ffi::OsStr)],
    ) -> Command {
        let mut opts: Vec<(&str, std::ffi::OsString)> = vec![
            ("--repo", repo.into()),
            ("--rootfs", rootfs.into()),
            ("--version", version.into()),
            ("--bin-dir", self.bins.clone().into()),
            ("--key", self.keys.secret.clone().into()),
            ("--trust", self.keys.public.clone().into()),
        ];
        for (flag, value) in replace {
            match opts.iter_mut().find(|(f, _)| f == flag) {
                Some(o) => o.1 = value.into(),
                None => opts.push((flag, value.into())),
            }
        }
        let mut c = pine_build();
        c.env("SOURCE_DATE_EPOCH", "1700000000").arg("commit");
        for (f, v) in opts {
            c.arg(f).arg(v);
        }
        c
    }
}

/// Everything in a folder, with contents, for "nothing changed" assertions.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.push((p.clone(), Vec::new()));
                walk(&p, out);
            } else if ft.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            } else {
                out.push((p.clone(), b"<other>".to_vec()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// Independent ed25519 check: OpenSSL verifies `sig` (raw 64 bytes) of `data` under the raw
/// 32-byte public key in the base64 file `pub_file`.
pub fn openssl_verify(pub_file: &Path, data: &[u8], sig: &[u8]) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = b64
        .decode(std::fs::read_to_string(pub_file).unwrap().trim())
        .unwrap();
    // SubjectPublicKeyInfo for Ed25519 is a fixed 12-byte prefix and the raw key.
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(&raw);
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("k.pem");
    std::fs::write(
        &pem,
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64.encode(der)
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("data"), data).unwrap();
    std::fs::write(dir.path().join("sig"), sig).unwrap();
    Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
        .arg(&pem)
        .arg("-in")
        .arg(dir.path().join("data"))
        .arg("-sigfile")
        .arg(dir.path().join("sig"))
        .output()
        .expect("openssl")
        .status
        .success()
}

/// Parses `ostree show --print-detached-metadata-key=ostree.sign.ed25519` output
/// (`[[byte 0x12, ...]]` or `[b'...']`-free GVariant text of an `aay`) into signatures.
pub fn parse_aay(text: &str) -> Vec<Vec<u8>> {
    text.split(']')
        .map(|chunk| {
            chunk
                .split(|c: char| c == ',' || c.is_whitespace() || c == '[')
                .filter_map(|t| t.strip_prefix("0x"))
                .map(|h| u8::from_str_radix(h, 16).unwrap())
                .collect::<Vec<u8>>()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The raw bytes of a commit object in an archive repo (what its signature covers).
pub fn commit_object(repo: &Path, checksum: &str) -> Vec<u8> {
    std::fs::read(
        repo.join("objects")
            .join(&checksum[..2])
            .join(format!("{}.commit", &checksum[2..])),
    )
    .unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
