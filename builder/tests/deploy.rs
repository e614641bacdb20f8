//! The commits deploy with the stock `ostree admin deploy` into a real sysroot: libostree finds the
//! kernel, writes a boot entry and merges `/usr/etc` into `/etc`. Also for a Debian minbase tree
//! from debootstrap, a real distribution root filesystem.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh physical root with stateroot `pine`, holding `rev` from `repo`, deployed.
fn deploy(dir: &Path, repo: &Path, rev: &str) -> PathBuf {
    let s = dir.to_owned();
    std::fs::create_dir_all(&s).unwrap();
    run(
        Command::new("ostree").args(["admin", "init-fs"]).arg(&s),
        true,
    );
    run(
        Command::new("ostree")
            .args(["admin", "os-init", "pine"])
            .arg(format!("--sysroot={}", s.display())),
        true,
    );
    ostree(
        &s.join("ostree/repo"),
        &["pull-local", &repo.to_string_lossy(), rev],
    );
    run(
        Command::new("ostree")
            .args([
                "admin",
                "deploy",
                "--os=pine",
                "--karg=root=UUID=0000-test",
                "--karg=console=ttyS0",
            ])
            .arg(format!("--sysroot={}", s.display()))
            .arg(rev),
        true,
    );
    s
}

fn deployment_dir(sysroot: &Path, commit: &str) -> PathBuf {
    sysroot.join(format!("ostree/deploy/pine/deploy/{commit}.0"))
}

fn boot_entry(sysroot: &Path) -> String {
    let dir = sysroot.join("boot/loader/entries");
    let e = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .expect("a boot entry")
        .unwrap();
    std::fs::read_to_string(e.path()).unwrap()
}

#[test]
fn vm_and_container_commits_deploy_with_ostree_admin() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    let vm = stdout(&run(&mut env.commit(&repo, &root.dir, "1", &[]), true));
    let s = deploy(&env.path("vm-sysroot"), &repo, &vm);
    let entry = boot_entry(&s);
    assert!(entry.contains(&format!("vmlinuz-{KVER}")), "{entry}");
    assert!(
        entry.contains("initrd /boot/ostree/pine-") || entry.contains("initrd /ostree/pine-"),
        "{entry}"
    );
    assert!(
        entry.contains("root=UUID=0000-test") && entry.contains("ostree=/ostree/boot."),
        "{entry}"
    );
    let d = deployment_dir(&s, &vm);
    assert_eq!(
        std::fs::read_to_string(d.join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert!(d.join("usr/bin/pine-agent").exists());
    assert!(std::fs::symlink_metadata(d.join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    let status = stdout(&run(
        Command::new("ostree")
            .args(["admin", "status"])
            .arg(format!("--sysroot={}", s.display())),
        true,
    ));
    assert!(
        status.contains(&vm) && status.contains("Version: 1"),
        "{status}"
    );

    let ct = stdout(&run(
        &mut env.commit(&repo, &root.dir, "1", &["--variant", "container"]),
        true,
    ));
    let s = deploy(&env.path("ct-sysroot"), &repo, &ct);
    assert!(boot_entry(&s).contains("vmlinuz-pine-container"));
    assert!(deployment_dir(&s, &ct).join("etc/os-release").exists());
}

#[test]
fn a_tree_without_os_release_still_deploys() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    std::fs::remove_file(root.dir.join("etc/os-release")).unwrap();
    let repo = env.path("repo");
    let out = run(
        &mut env.commit(&repo, &root.dir, "7", &["--variant", "container"]),
        true,
    );
    assert!(stderr(&out).contains("os-release"));
    let c = stdout(&out);
    assert!(ostree(&repo, &["cat", &c, "/usr/lib/os-release"]).contains("VERSION_ID=7"));
    deploy(&env.path("sysroot"), &repo, &c);
}

/// A Debian 12 minbase tree, made once with debootstrap and cached for later runs.
fn debian_minbase() -> PathBuf {
    let cache = PathBuf::from(
        std::env::var("PINE_TEST_CACHE").unwrap_or_else(|_| "/var/tmp/pine-test-cache".into()),
    );
    let dir = cache.join("debian-minbase");
    if dir.join("etc/os-release").exists() {
        return dir;
    }
    std::fs::create_dir_all(&cache).unwrap();
    let tmp = cache.join("debian-minbase.partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let mirror = std::env::var("PINE_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    run(
        Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&tmp)
            .arg(mirror),
        true,
    );
    std::fs::rename(&tmp, &dir).unwrap();
    dir
}

#[test]
fn a_debian_minbase_tree_commits_and_deploys() {
    let env = Env::new();
    let tree = debian_minbase();
    let repo = env.path("repo");
    let out = run(
        &mut env.commit(&repo, &tree, "deb-1", &["--variant", "container"]),
        true,
    );
    let c = stdout(&out);
    assert!(ostree(&repo, &["fsck"]).contains("no errors"));
    assert!(ostree(&repo, &["cat", &c, "/usr/lib/os-release"]).contains("bookworm"));
    // Debian is usr-merged already: its own /bin -> usr/bin links are replaced by the layout's.
    let ls = ostree(&repo, &["ls", &c, "/bin", "/lib64"]);
    assert!(
        ls.contains("/bin -> usr/bin") && ls.contains("/lib64 -> usr/lib64"),
        "{ls}"
    );
    let tmpfiles = ostree(&repo, &["cat", &c, "/usr/lib/tmpfiles.d/pine-var.conf"]);
    assert!(tmpfiles.contains("L /var/run - - - - /run"), "{tmpfiles}");
    assert!(tmpfiles.contains("d /var/lib/dpkg 0755 0 0 -"));
    let s = deploy(&env.path("sysroot"), &repo, &c);
    let d = deployment_dir(&s, &c);
    assert!(d.join("etc/debian_version").exists());
    assert!(d.join("usr/bin/dpkg").exists());
}
