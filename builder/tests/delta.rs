//! `pine-build delta`: files the stock `ostree static-delta apply-offline` applies.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Two releases of one rootfs on one ref; the second changes, adds and removes files.
fn two_releases(env: &Env) -> (PathBuf, String, String) {
    let root = make_rootfs(&env.path("root"));
    let repo = env.path("repo");
    let a = stdout(&run(&mut env.commit(&repo, &root.dir, "1.0", &[]), true));
    std::fs::write(root.dir.join("etc/motd"), "welcome to 1.1\n").unwrap();
    std::fs::remove_file(root.dir.join("etc/hostname")).unwrap();
    // Incompressible data, so a small --max-chunk-size has parts to split.
    let noise: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(root.dir.join("usr/bin/blob"), noise).unwrap();
    let b = stdout(&run(&mut env.commit(&repo, &root.dir, "1.1", &[]), true));
    (repo, a, b)
}

fn delta(repo: &Path, from: &str, to: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let mut c = pine_build();
    c.arg("delta")
        .arg("--repo")
        .arg(repo)
        .args(["--from", from, "--to", to])
        .arg("--out")
        .arg(out)
        .args(extra);
    PathBuf::from(stdout(&run(&mut c, true)))
}

/// A bare-user repo holding only `commit` of `src` (what a host has before updating).
fn host_repo(dir: &Path, src: &Path, commit: Option<&str>) -> PathBuf {
    let r = dir.to_owned();
    run(
        std::process::Command::new("ostree")
            .arg(format!("--repo={}", r.display()))
            .args(["init", "--mode=bare-user"]),
        true,
    );
    if let Some(c) = commit {
        ostree(&r, &["pull-local", "--depth=0", &src.to_string_lossy(), c]);
    }
    r
}

#[test]
fn deltas_apply_offline_with_the_stock_cli() {
    let env = Env::new();
    let (repo, a, b) = two_releases(&env);
    let out = env.path("deltas");
    // By version, by checksum, and full from empty.
    let d = delta(&repo, "1.0", "1.1", &out, &[]);
    assert_eq!(d, out.join(format!("{a}-{b}.delta")));
    let d2 = delta(&repo, &a, &b, &out, &[]);
    assert_eq!(d, d2);
    let full = delta(&repo, "empty", "1.1", &out, &[]);
    assert_eq!(full, out.join(format!("{b}.full")));
    // Nothing else is left in the folder (no temporary files, no part files).
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");

    let host = host_repo(&env.path("host"), &repo, Some(&a));
    ostree(
        &host,
        &["static-delta", "apply-offline", &d.to_string_lossy()],
    );
    assert_eq!(
        ostree(&host, &["cat", &b, "/usr/etc/motd"]),
        "welcome to 1.1"
    );
    assert!(
        ostree_try(&host, &["cat", &b, "/usr/etc/hostname"])
            .status
            .code()
            != Some(0)
    );
    assert!(ostree(&host, &["fsck"]).contains("no errors"));
    // The commit's signature travels inside the delta.
    let sig = ostree(
        &host,
        &[
            "show",
            "--print-detached-metadata-key=ostree.sign.ed25519",
            &b,
        ],
    );
    assert!(openssl_verify(
        &env.keys.public,
        &commit_object(&repo, &b),
        &parse_aay(&sig)[0]
    ));

    let fresh = host_repo(&env.path("fresh"), &repo, None);
    ostree(
        &fresh,
        &["static-delta", "apply-offline", &full.to_string_lossy()],
    );
    assert!(ostree(&fresh, &["fsck"]).contains("no errors"));
    assert_eq!(
        ostree(&fresh, &["cat", &b, "/usr/etc/motd"]),
        "welcome to 1.1"
    );

    // A delta into a repo that lacks the from-commit is refused by ostree itself.
    let empty = host_repo(&env.path("lacking"), &repo, None);
    assert!(!ostree_try(
        &empty,
        &["static-delta", "apply-offline", &d.to_string_lossy()]
    )
    .status
    .success());
}

/// Number of parts a single-file delta holds, read from its superblock with GLib's GVariant parser
/// (libostree's superblock format: the seventh member is the array of part headers).
fn part_count(file: &Path) -> usize {
    use ostree::glib;
    let ty =
        glib::VariantTy::new("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))").unwrap();
    let bytes = glib::Bytes::from_owned(std::fs::read(file).unwrap());
    let v = glib::Variant::from_bytes_with_type(&bytes, ty);
    assert!(v.is_normal_form(), "{} is a superblock", file.display());
    v.child_value(6).n_children()
}

#[test]
fn max_chunk_size_splits_parts_and_still_applies() {
    let env = Env::new();
    let (repo, _a, b) = two_releases(&env);
    let big = delta(&repo, "empty", "1.1", &env.path("big"), &[]);
    let small = delta(
        &repo,
        "empty",
        "1.1",
        &env.path("small"),
        &["--max-chunk-size", "1"],
    );
    let (nb, ns) = (part_count(&big), part_count(&small));
    assert!(
        ns > nb && ns >= 3,
        "1 MiB chunks over ~3 MB of data: {ns} parts vs {nb}"
    );
    let host = host_repo(&env.path("host"), &repo, None);
    ostree(
        &host,
        &["static-delta", "apply-offline", &small.to_string_lossy()],
    );
    assert!(ostree(&host, &["fsck"]).contains("no errors"));
    assert_eq!(
        ostree(&host, &["cat", &b, "/usr/etc/motd"]),
        "welcome to 1.1"
    );
}

#[test]
fn delta_errors_are_one_line_and_write_nothing() {
    let env = Env::new();
    let (repo, _a, _b) = two_releases(&env);
    let out = env.path("deltas");
    for (from, to, needle) in [
        ("0.9", "1.1", "\"0.9\""),
        ("1.0", "7.7", "\"7.7\""),
        ("1.1", "1.1", "same commit"),
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "1.1",
            "not in the repo",
        ),
    ] {
        let o = pine_build()
            .arg("delta")
            .arg("--repo")
            .arg(&repo)
            .args(["--from", from, "--to", to])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_one_line_error(&o, needle);
        assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    }
    let o = pine_build()
        .arg("delta")
        .arg("--repo")
        .arg(env.path("norepo"))
        .args(["--from", "empty", "--to", "1"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_one_line_error(&o, "not an OSTree repo");
    assert!(!env.path("norepo").exists(), "delta does not create repos");
}
