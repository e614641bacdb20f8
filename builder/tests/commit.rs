//! `pine-build keygen` and `commit`, judged through the stock ostree CLI and OpenSSL.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// `ostree ls -R` of a commit as path -> (type+mode, target for links).
fn tree(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    ostree(repo, &["ls", "-R", rev])
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let path = cols.get(4)?.to_string();
            let rest = cols.get(6).map(|t| format!(" -> {t}")).unwrap_or_default();
            Some((path, format!("{}{rest}", cols[0])))
        })
        .collect()
}

fn meta(repo: &Path, rev: &str, key: &str) -> String {
    ostree(repo, &["show", &format!("--print-metadata-key={key}"), rev])
}

#[test]
fn keygen_writes_a_private_secret_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&k.secret), 0o600);
    assert_eq!(mode(&k.public), 0o644);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let sec = std::fs::read_to_string(&k.secret).unwrap();
    assert_eq!(sec.lines().count(), 1);
    assert_eq!(b64.decode(sec.trim()).unwrap().len(), 64);
    let public = std::fs::read_to_string(&k.public).unwrap();
    assert_eq!(b64.decode(public.trim()).unwrap().len(), 32);
    // libostree's layout: the secret key's second half is the public key.
    assert_eq!(
        &b64.decode(sec.trim()).unwrap()[32..],
        &b64.decode(public.trim()).unwrap()[..]
    );
    let again = pine_build()
        .arg("keygen")
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_one_line_error(&again, "refusing to overwrite");
    assert_eq!(std::fs::read_to_string(&k.secret).unwrap(), sec);
}

#[test]
fn commit_of_a_folder_has_the_ostree_layout() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    let out = run(&mut env.commit(&repo, &root.dir, "2026.12.1", &[]), true);
    let checksum = stdout(&out);
    assert_eq!(checksum.len(), 64, "prints the checksum: {checksum}");
    let warnings = stderr(&out);
    assert!(
        warnings.contains("/etc/initctl") && warnings.contains("/etc/agent.sock"),
        "{warnings}"
    );
    assert!(
        warnings.contains("/dev"),
        "device nodes are reported: {warnings}"
    );

    let r = "pine/x86_64/vm";
    assert_eq!(ostree(&repo, &["rev-parse", r]), checksum, "default ref");
    let t = tree(&repo, r);
    let has = |p: &str| t.contains_key(p);
    assert!(has("/usr/etc/passwd") && has("/usr/etc/os-release"));
    assert!(!has("/etc"), "/etc moved to /usr/etc");
    for (link, target) in [
        ("/home", "var/home"),
        ("/root", "var/roothome"),
        ("/opt", "var/opt"),
        ("/srv", "var/srv"),
        ("/mnt", "var/mnt"),
        ("/ostree", "sysroot/ostree"),
        ("/tmp", "sysroot/tmp"),
        ("/bin", "usr/bin"),
        ("/sbin", "usr/sbin"),
        ("/lib", "usr/lib"),
    ] {
        assert!(
            t[link].starts_with('l') && t[link].ends_with(&format!("-> {target}")),
            "{link}: {:?}",
            t.get(link)
        );
    }
    for dir in ["/var", "/sysroot", "/dev", "/proc", "/sys", "/run", "/boot"] {
        assert!(t[dir].starts_with('d'), "{dir} is a folder");
        assert!(
            !t.keys().any(|k| k.starts_with(&format!("{dir}/"))),
            "{dir} is empty"
        );
    }
    assert!(!t
        .keys()
        .any(|k| k.contains("initctl") || k.contains("agent.sock") || k.ends_with("/null")));
    assert!(
        has("/usr/bin/busybox") && t["/usr/bin/sh"].ends_with("-> busybox"),
        "usr-merge"
    );
    // The kernel where libostree looks for it, modules beside it.
    assert!(has(&format!("/usr/lib/modules/{KVER}/vmlinuz")));
    assert!(has(&format!("/usr/lib/modules/{KVER}/initramfs.img")));
    assert!(has(&format!("/usr/lib/modules/{KVER}/kernel/virtio.ko")));
    assert_eq!(
        ostree(
            &repo,
            &["cat", r, &format!("/usr/lib/modules/{KVER}/vmlinuz")]
        ),
        "fake kernel 1"
    );
    // Pine's own files.
    for (p, mode) in [
        ("/usr/bin/pine-agent", "-00755"),
        ("/usr/bin/pinectl", "-00755"),
        ("/usr/sbin/pine-init", "-00755"),
        ("/usr/etc/init.d/pine-agent", "-00755"),
        ("/usr/etc/conf.d/pine-agent", "-00644"),
        ("/usr/lib/pine/keys.d/pine.pub", "-00644"),
    ] {
        assert_eq!(t.get(p).map(String::as_str), Some(mode), "{p}");
    }
    assert!(t["/usr/etc/runlevels/default/pine-agent"].ends_with("-> /etc/init.d/pine-agent"));
    assert_eq!(
        ostree(&repo, &["cat", r, "/usr/lib/pine/keys.d/pine.pub"]),
        std::fs::read_to_string(&env.keys.public).unwrap().trim()
    );
    // Metadata.
    assert_eq!(meta(&repo, r, "version"), "'2026.12.1'");
    assert_eq!(meta(&repo, r, "pine.variant"), "'vm'");
    assert_eq!(meta(&repo, r, "ostree.bootable"), "true");
    assert_eq!(meta(&repo, r, "ostree.linux"), format!("'{KVER}'"));
    let src = meta(&repo, r, "pine.source-sha256");
    assert_eq!(src.trim_matches('\'').len(), 64, "{src}");
    assert!(ostree(&repo, &["fsck"]).contains("no errors"));
    // The repo is an archive repo.
    assert!(std::fs::read_to_string(repo.join("config"))
        .unwrap()
        .contains("mode=archive"));
}

#[test]
fn every_tarball_flavour_gives_the_same_tree() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    let mut contents = Vec::new();
    for (i, (ext, flag)) in [
        ("tar", ""),
        ("tar.gz", "-z"),
        ("tar.xz", "-J"),
        ("tar.zst", "--zstd"),
    ]
    .iter()
    .enumerate()
    {
        let tb = env.path(&format!("rootfs.{ext}"));
        tarball(&root.dir, &tb, flag);
        let rf = format!("test/{i}");
        let out = run(
            &mut env.commit(
                &repo,
                &tb,
                &format!("1.{i}"),
                &["--variant", "container", "--ref", &rf],
            ),
            true,
        );
        let c = stdout(&out);
        assert_eq!(
            meta(&repo, &c, "pine.source-sha256"),
            format!("'{}'", sha256_hex(&std::fs::read(&tb).unwrap())),
            "source-sha256 is the tarball's sha256 ({ext})"
        );
        assert_eq!(meta(&repo, &c, "pine.variant"), "'container'");
        let t = tree(&repo, &c);
        assert!(
            t.contains_key("/usr/lib/modules/pine-container/vmlinuz"),
            "stub kernel ({ext})"
        );
        assert!(!t
            .keys()
            .any(|k| k.starts_with("/usr/lib/modules/") && k.ends_with("initramfs.img")));
        assert!(t.contains_key("/usr/etc/passwd"));
        assert!(
            stderr(&out).contains("/dev"),
            "device node reported ({ext})"
        );
        let show = ostree(&repo, &["show", &c]);
        contents.push(
            show.lines()
                .find(|l| l.starts_with("ContentChecksum"))
                .unwrap()
                .to_owned(),
        );
    }
    assert!(contents.windows(2).all(|w| w[0] == w[1]), "{contents:?}");
    assert!(ostree(&repo, &["fsck"]).contains("no errors"));
}

#[test]
fn same_input_same_commit_and_versions_are_unique() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let a = stdout(&run(
        &mut env.commit(&env.path("a"), &root.dir, "1", &[]),
        true,
    ));
    let b = stdout(&run(
        &mut env.commit(&env.path("b"), &root.dir, "1", &[]),
        true,
    ));
    assert_eq!(a, b, "reproducible with SOURCE_DATE_EPOCH");
    // Same version and content again in the same repo: the existing commit, no new one.
    let again = stdout(&run(
        &mut env.commit(&env.path("a"), &root.dir, "1", &[]),
        true,
    ));
    assert_eq!(again, a);
    assert_eq!(
        ostree(&env.path("a"), &["log", "pine/x86_64/vm"])
            .matches("commit ")
            .count(),
        1
    );
    // Same version, other content: refused, ref unchanged.
    std::fs::write(root.dir.join("etc/motd"), "changed\n").unwrap();
    let o = env
        .commit(&env.path("a"), &root.dir, "1", &[])
        .output()
        .unwrap();
    assert_one_line_error(&o, "already exists");
    assert_eq!(ostree(&env.path("a"), &["rev-parse", "pine/x86_64/vm"]), a);
    // A new version becomes the child of the previous commit.
    let c = stdout(&run(
        &mut env.commit(&env.path("a"), &root.dir, "2", &[]),
        true,
    ));
    assert_ne!(c, a);
    assert!(ostree(&env.path("a"), &["show", &c]).contains("Parent:"));
    let log = ostree(&env.path("a"), &["log", "pine/x86_64/vm"]);
    assert!(log.contains(&a) && log.contains(&c), "{log}");
}

#[test]
fn commit_signature_verifies_with_openssl() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    let c = stdout(&run(&mut env.commit(&repo, &root.dir, "1", &[]), true));
    let text = ostree(
        &repo,
        &[
            "show",
            "--print-detached-metadata-key=ostree.sign.ed25519",
            &c,
        ],
    );
    let sigs = parse_aay(&text);
    assert_eq!(sigs.len(), 1, "{text}");
    assert_eq!(sigs[0].len(), 64);
    let data = commit_object(&repo, &c);
    assert!(openssl_verify(&env.keys.public, &data, &sigs[0]));
    // The check can fail: another key, or other bytes, do not verify.
    let other = keygen(&env.path("other"));
    assert!(!openssl_verify(&other.public, &data, &sigs[0]));
    let mut tampered = data.clone();
    tampered[10] ^= 1;
    assert!(!openssl_verify(&env.keys.public, &tampered, &sigs[0]));
    // Without --key there is no signature.
    let mut plain = pine_build();
    plain
        .args(["commit", "--version", "1", "--repo"])
        .arg(env.path("unsigned"))
        .arg("--rootfs")
        .arg(&root.dir)
        .arg("--bin-dir")
        .arg(&env.bins);
    let u = stdout(&run(&mut plain, true));
    let none = ostree_try(
        &env.path("unsigned"),
        &[
            "show",
            "--print-detached-metadata-key=ostree.sign.ed25519",
            &u,
        ],
    );
    assert!(!none.status.success());
}

#[test]
fn manifest_runs_apk_adds_overlays_and_enables_services() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let base = env.path("base.tar.gz");
    tarball(&root.dir, &base, "-z");
    // A stand-in for apk-tools: records its arguments and installs a "package" into --root,
    // the way `apk --root DIR add PKG` would.
    let log = env.path("apk.log");
    let fake = env.path("fake-apk");
    std::fs::write(&fake, format!(
        "#!/bin/sh\necho \"$@\" > {log}\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
         mkdir -p $root/usr/sbin $root/etc/init.d\necho sshd > $root/usr/sbin/sshd\necho svc > $root/etc/init.d/sshd\n",
        log = log.display())).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.path("overlay/etc/ssh")).unwrap();
    std::fs::write(
        env.path("overlay/etc/ssh/sshd_config"),
        "PermitRootLogin no\n",
    )
    .unwrap();
    let manifest = env.path("pine.toml");
    std::fs::write(&manifest, format!(
        "base = \"base.tar.gz\"\npackages = [\"openssh\"]\nrepositories = [\"/srv/apk/main\"]\n\
         allow_untrusted = true\napk = \"{}\"\noverlays = [\"overlay\"]\n[services]\ndefault = [\"sshd\"]\n",
        fake.display())).unwrap();
    let repo = env.path("repo");
    let mut c = pine_build();
    c.args([
        "commit",
        "--version",
        "1",
        "--variant",
        "container",
        "--manifest",
    ])
    .arg(&manifest)
    .arg("--repo")
    .arg(&repo)
    .arg("--bin-dir")
    .arg(&env.bins);
    run(&mut c, true);
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(
        args.contains("--repository /srv/apk/main")
            && args.contains("--allow-untrusted")
            && args.trim_end().ends_with("add openssh"),
        "{args}"
    );
    let t = tree(&repo, "pine/x86_64/container");
    assert!(
        t.contains_key("/usr/sbin/sshd"),
        "package installed by apk is committed"
    );
    assert!(
        t.contains_key("/usr/etc/ssh/sshd_config"),
        "overlay /etc lands in /usr/etc"
    );
    assert!(t["/usr/etc/runlevels/default/sshd"].ends_with("-> /etc/init.d/sshd"));
    assert_eq!(
        meta(&repo, "pine/x86_64/container", "pine.source-sha256"),
        format!("'{}'", sha256_hex(&std::fs::read(&base).unwrap()))
    );
    // A failing apk leaves the ref where it was.
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'ERROR: unable to select packages' >&2\nexit 1\n",
    )
    .unwrap();
    let before = ostree(&repo, &["rev-parse", "pine/x86_64/container"]);
    let mut c = pine_build();
    c.args([
        "commit",
        "--version",
        "2",
        "--variant",
        "container",
        "--manifest",
    ])
    .arg(&manifest)
    .arg("--repo")
    .arg(&repo)
    .arg("--bin-dir")
    .arg(&env.bins);
    assert_one_line_error(&c.output().unwrap(), "apk add openssh failed");
    assert_eq!(
        ostree(&repo, &["rev-parse", "pine/x86_64/container"]),
        before
    );
}

/// The repo's refs and commit objects, to show a failed command left it as it was.
fn repo_state(repo: &Path) -> (String, Vec<(std::path::PathBuf, Vec<u8>)>) {
    let refs = snapshot(&repo.join("refs"));
    (ostree(repo, &["refs"]), refs)
}

#[test]
fn bad_input_is_refused_in_one_line_and_changes_nothing() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    run(&mut env.commit(&repo, &root.dir, "1", &[]), true);
    let state = repo_state(&repo);

    let corrupt = env.path("corrupt.tar.gz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00 definitely not gzip data").unwrap();
    let not_a_key = env.path("bad.key");
    std::fs::write(&not_a_key, "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n").unwrap();
    let missing = env.path("nope.tar.xz");
    let empty_dir = env.path("empty");
    std::fs::create_dir_all(&empty_dir).unwrap();

    let nobins = env.path("nobins");
    let cases: Vec<(&str, &std::ffi::OsStr, &str)> = vec![
        ("--rootfs", missing.as_os_str(), "nope.tar.xz"),
        ("--rootfs", corrupt.as_os_str(), "corrupt.tar.gz"),
        ("--rootfs", empty_dir.as_os_str(), "empty"),
        ("--key", not_a_key.as_os_str(), "not a Pine secret key"),
        ("--trust", not_a_key.as_os_str(), "not a Pine public key"),
        ("--bin-dir", nobins.as_os_str(), "pine-agent is missing"),
        ("--version", "two words".as_ref(), "--version"),
    ];
    for (flag, value, needle) in cases {
        let o = env
            .commit_replacing(&repo, &root.dir, "2", &[(flag, value)])
            .output()
            .unwrap();
        assert_one_line_error(&o, needle);
        assert_eq!(
            repo_state(&repo),
            state,
            "repo unchanged after {flag} {value:?}"
        );
    }
    // Unknown variant: a usage error (exit 2), nothing written.
    let o = env
        .commit(&repo, &root.dir, "2", &["--variant", "desktop"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("desktop"));
    assert_eq!(repo_state(&repo), state);
    // A vm without a kernel.
    let nok = make_rootfs(&env.path("nokernel"));
    std::fs::remove_file(nok.dir.join("boot/vmlinuz-virt")).unwrap();
    assert_one_line_error(
        &env.commit(&repo, &nok.dir, "2", &[]).output().unwrap(),
        "needs a kernel",
    );
    assert_eq!(repo_state(&repo), state);
}

#[test]
fn unwritable_repo_is_refused_and_left_alone() {
    let env = Env::new();
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    run(&mut env.commit(&repo, &root.dir, "1", &[]), true);
    let state = repo_state(&repo);
    // Root ignores file modes, so make the repo truly read-only: a read-only bind mount in a
    // private mount namespace.
    let cmd = env.commit(&repo, &root.dir, "2", &[]);
    let mut line = vec![cmd.get_program().to_owned()];
    line.extend(cmd.get_args().map(|a| a.to_owned()));
    let o = std::process::Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\"",
        ])
        .arg(&repo)
        .args(&line)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert_one_line_error(&o, "ead-only");
    assert_eq!(repo_state(&repo), state);
    // A repo path under a regular file cannot be created.
    let file = env.path("afile");
    std::fs::write(&file, "x").unwrap();
    let o = env
        .commit(&file.join("repo"), &root.dir, "1", &[])
        .output()
        .unwrap();
    assert_one_line_error(&o, "repo");
}
