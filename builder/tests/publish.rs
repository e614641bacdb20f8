//! `pine-build publish`: the signed feed, its deltas, idempotence and refusal of tampered feeds.

mod common;
use common::*;
use std::path::{Path, PathBuf};

struct Pub {
    env: Env,
    root: PathBuf,
    repo: PathBuf,
    out: PathBuf,
}

impl Pub {
    fn new() -> Pub {
        let env = Env::new();
        let root = make_rootfs(&env.path("root")).dir;
        let (repo, out) = (env.path("repo"), env.path("pub"));
        Pub {
            env,
            root,
            repo,
            out,
        }
    }
    fn release(&self, version: &str) -> String {
        std::fs::write(self.root.join("etc/motd"), format!("release {version}\n")).unwrap();
        stdout(&run(
            &mut self.env.commit(&self.repo, &self.root, version, &[]),
            true,
        ))
    }
    fn publish(&self, extra: &[&str]) -> std::process::Output {
        pine_build()
            .env("SOURCE_DATE_EPOCH", "1700001000")
            .arg("publish")
            .arg("--repo")
            .arg(&self.repo)
            .args(["--ref", "pine/x86_64/vm"])
            .arg("--out")
            .arg(&self.out)
            .arg("--key")
            .arg(&self.env.keys.secret)
            .args(extra)
            .output()
            .unwrap()
    }
    fn feed(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.out.join("feed.json")).unwrap()).unwrap()
    }
}

fn feed_signature_ok(p: &Pub) -> bool {
    use base64::Engine;
    let sig = std::fs::read_to_string(p.out.join("feed.json.sig")).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .unwrap();
    openssl_verify(
        &p.env.keys.public,
        &std::fs::read(p.out.join("feed.json")).unwrap(),
        &sig,
    )
}

fn check_artifact(out: &Path, a: &serde_json::Value) {
    let file = out.join(a["path"].as_str().unwrap());
    let data = std::fs::read(&file).unwrap();
    assert_eq!(
        a["size"].as_u64().unwrap(),
        data.len() as u64,
        "{}",
        file.display()
    );
    assert_eq!(a["sha256"].as_str().unwrap(), sha256_hex(&data));
}

#[test]
fn feed_matches_the_spec_and_is_signed() {
    let p = Pub::new();
    let c1 = p.release("2026.11.1");
    let o = p.publish(&["--rollout", "24h"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = p.feed();
    assert_eq!(f["schema"], 1);
    assert_eq!(f["stream"], "pine/x86_64/vm");
    assert_eq!(f["sequence"], 1);
    assert_eq!(
        f["generated"], "2023-11-14T22:30:00Z",
        "SOURCE_DATE_EPOCH pins the time"
    );
    let r = &f["releases"][0];
    assert_eq!(r["version"], "2026.11.1");
    assert_eq!(r["commit"], c1.as_str());
    assert_eq!(
        r["published"], "2023-11-14T22:13:20Z",
        "the commit's own timestamp"
    );
    assert_eq!(r["full"]["path"], format!("deltas/{c1}.full"));
    check_artifact(&p.out, &r["full"]);
    assert_eq!(r["deltas"].as_array().unwrap().len(), 0);
    assert_eq!(r["deadend"], false);
    assert_eq!(r["rollout"]["start"], "2023-11-14T22:30:00Z");
    assert_eq!(r["rollout"]["duration"], "24h");
    assert!(
        feed_signature_ok(&p),
        "independent ed25519 check of feed.json.sig"
    );
    // The full delta is what a fresh host applies with the stock CLI.
    let host = p.env.path("host");
    run(
        std::process::Command::new("ostree")
            .arg(format!("--repo={}", host.display()))
            .args(["init", "--mode=bare-user"]),
        true,
    );
    ostree(
        &host,
        &[
            "static-delta",
            "apply-offline",
            &p.out
                .join(r["full"]["path"].as_str().unwrap())
                .to_string_lossy(),
        ],
    );
    assert_eq!(
        ostree(&host, &["cat", &c1, "/usr/etc/motd"]),
        "release 2026.11.1"
    );
}

#[test]
fn republishing_is_a_no_op_and_new_releases_raise_the_sequence() {
    let p = Pub::new();
    let c1 = p.release("1");
    assert!(p.publish(&[]).status.success());
    let before = snapshot(&p.out);
    let first = p.feed();
    let o = p.publish(&[]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("unchanged"), "{}", stdout(&o));
    assert_eq!(snapshot(&p.out), before, "byte-identical after a re-run");

    let c2 = p.release("2");
    let c3 = p.release("3");
    let c4 = p.release("4");
    // Four releases, deltas from the previous two only.
    let o = p.publish(&["--deltas-from", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = p.feed();
    assert_eq!(f["sequence"], 2, "one publish, one step");
    let versions: Vec<&str> = f["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["4", "3", "2", "1"], "newest first");
    let froms = |i: usize| -> Vec<String> {
        f["releases"][i]["deltas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["from"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(froms(0), [c3.clone(), c2.clone()]);
    assert_eq!(froms(1), [c2.clone(), c1.clone()]);
    assert_eq!(froms(2), std::slice::from_ref(&c1));
    for r in f["releases"].as_array().unwrap() {
        check_artifact(&p.out, &r["full"]);
        for d in r["deltas"].as_array().unwrap() {
            check_artifact(&p.out, d);
            assert_eq!(
                d["path"],
                format!(
                    "deltas/{}-{}.delta",
                    d["from"].as_str().unwrap(),
                    r["commit"].as_str().unwrap()
                )
            );
        }
    }
    assert_eq!(
        f["releases"][3], first["releases"][0],
        "old entries are kept as they were"
    );
    assert!(feed_signature_ok(&p));
    // A delta from the feed applies onto the release it starts from.
    let host = p.env.path("host");
    run(
        std::process::Command::new("ostree")
            .arg(format!("--repo={}", host.display()))
            .args(["init", "--mode=bare-user"]),
        true,
    );
    ostree(
        &host,
        &["pull-local", "--depth=0", &p.repo.to_string_lossy(), &c3],
    );
    ostree(
        &host,
        &[
            "static-delta",
            "apply-offline",
            &p.out
                .join(format!("deltas/{c3}-{c4}.delta"))
                .to_string_lossy(),
        ],
    );
    assert_eq!(ostree(&host, &["cat", &c4, "/usr/etc/motd"]), "release 4");
    let again = snapshot(&p.out);
    assert!(p.publish(&[]).status.success());
    assert_eq!(snapshot(&p.out), again);
}

#[test]
fn a_hand_edited_feed_is_refused_unless_forced() {
    let p = Pub::new();
    p.release("1");
    assert!(p.publish(&[]).status.success());
    p.release("2");
    let feed = p.out.join("feed.json");
    let text = std::fs::read_to_string(&feed)
        .unwrap()
        .replace("\"sequence\": 1", "\"sequence\": 99");
    std::fs::write(&feed, text).unwrap();
    let before = snapshot(&p.out);
    assert_one_line_error(&p.publish(&[]), "--force");
    assert_eq!(snapshot(&p.out), before, "publish folder left as it was");
    // A missing signature is the same refusal.
    std::fs::remove_file(p.out.join("feed.json.sig")).unwrap();
    assert_one_line_error(&p.publish(&[]), "signature");
    // Told --force, it builds on the edited feed and signs the result.
    let o = p.publish(&["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(p.feed()["sequence"], 100);
    assert!(feed_signature_ok(&p));
}

#[test]
fn publish_errors_are_one_line() {
    let p = Pub::new();
    p.release("1");
    let not_a_key = p.env.path("x.key");
    std::fs::write(&not_a_key, "nope").unwrap();
    let o = pine_build()
        .arg("publish")
        .arg("--repo")
        .arg(&p.repo)
        .args(["--ref", "pine/x86_64/vm"])
        .arg("--out")
        .arg(&p.out)
        .arg("--key")
        .arg(&not_a_key)
        .output()
        .unwrap();
    assert_one_line_error(&o, "not a Pine secret key");
    assert!(!p.out.exists(), "nothing written");
    let o = pine_build()
        .arg("publish")
        .arg("--repo")
        .arg(&p.repo)
        .args(["--ref", "pine/x86_64/nope"])
        .arg("--out")
        .arg(&p.out)
        .arg("--key")
        .arg(&p.env.keys.secret)
        .output()
        .unwrap();
    assert_one_line_error(&o, "pine/x86_64/nope");
    // A feed of another stream in the folder is not overwritten.
    assert!(p.publish(&[]).status.success());
    let before = snapshot(&p.out);
    let other = stdout(&run(
        &mut p
            .env
            .commit(&p.repo, &p.root, "c1", &["--variant", "container"]),
        true,
    ));
    assert_eq!(other.len(), 64);
    let o = pine_build()
        .arg("publish")
        .arg("--repo")
        .arg(&p.repo)
        .args(["--ref", "pine/x86_64/container"])
        .arg("--out")
        .arg(&p.out)
        .arg("--key")
        .arg(&p.env.keys.secret)
        .output()
        .unwrap();
    assert_one_line_error(&o, "stream");
    assert_eq!(snapshot(&p.out), before);
}
