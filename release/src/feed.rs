//! The release feed, `feed.json`: the one document a host reads to learn what it may run.
//!
//! The builder writes it (`pine-build publish`), the agent reads it. Unknown fields are ignored so an
//! older agent can read a newer feed; a missing required field, a second schema, a malformed checksum
//! or a path that climbs out of the publish folder is an error, so the agent can trust the values it
//! acts on after parsing.

use serde::{Deserialize, Serialize};

pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    pub schema: u32,
    pub stream: String,
    pub sequence: u64,
    /// RFC 3339, UTC.
    pub generated: String,
    /// Newest first.
    pub releases: Vec<Release>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub version: String,
    pub commit: String,
    pub published: String,
    pub full: Artifact,
    #[serde(default)]
    pub deltas: Vec<Delta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    #[serde(default)]
    pub deadend: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub from: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub start: String,
    /// A humantime duration such as `24h`.
    pub duration: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("feed is not valid JSON for schema {SCHEMA}: {0}")]
    Json(#[from] serde_json::Error),
    #[error("feed has schema {0}; this Pine understands schema {SCHEMA}")]
    Schema(u32),
    #[error("feed field {field} is not a 64-digit hex checksum: {value:?}")]
    Checksum { field: String, value: String },
    #[error("feed field {field} is not a relative path inside the feed's folder: {value:?}")]
    Path { field: String, value: String },
    #[error("feed lists version {0} twice")]
    DuplicateVersion(String),
}

pub fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.contains("://")
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

impl Feed {
    pub fn parse(bytes: &[u8]) -> Result<Feed, FeedError> {
        let feed: Feed = serde_json::from_slice(bytes)?;
        feed.validate()?;
        Ok(feed)
    }

    /// Pretty JSON with a final newline; the bytes that get signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain structs of strings and numbers cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    pub fn validate(&self) -> Result<(), FeedError> {
        if self.schema != SCHEMA {
            return Err(FeedError::Schema(self.schema));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in self.releases.iter().enumerate() {
            let at = |f: &str| format!("releases[{i}].{f}");
            if !seen.insert(r.version.as_str()) {
                return Err(FeedError::DuplicateVersion(r.version.clone()));
            }
            check_sum(&at("commit"), &r.commit)?;
            check_artifact(&at("full"), &r.full.path, &r.full.sha256)?;
            for (j, d) in r.deltas.iter().enumerate() {
                let f = at(&format!("deltas[{j}]"));
                check_sum(&format!("{f}.from"), &d.from)?;
                check_artifact(&f, &d.path, &d.sha256)?;
            }
        }
        Ok(())
    }

    pub fn release_by_commit(&self, commit: &str) -> Option<&Release> {
        self.releases.iter().find(|r| r.commit == commit)
    }
}

fn check_sum(field: &str, value: &str) -> Result<(), FeedError> {
    if is_checksum(value) {
        Ok(())
    } else {
        Err(FeedError::Checksum {
            field: field.to_owned(),
            value: value.to_owned(),
        })
    }
}

fn check_artifact(field: &str, path: &str, sha: &str) -> Result<(), FeedError> {
    check_sum(&format!("{field}.sha256"), sha)?;
    if is_safe_path(path) {
        Ok(())
    } else {
        Err(FeedError::Path {
            field: format!("{field}.path"),
            value: path.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn sample() -> String {
        format!(
            r#"{{"schema":1,"stream":"pine/x86_64/vm","sequence":7,"generated":"2026-11-25T12:00:00Z",
            "future-field":{{"x":1}},
            "releases":[{{"version":"2026.11.2","commit":"{SUM}","published":"2026-11-25T12:00:00Z",
            "full":{{"path":"deltas/{SUM}.full","size":10,"sha256":"{SUM}"}},
            "deltas":[{{"from":"{SUM}","path":"deltas/a-b.delta","size":5,"sha256":"{SUM}"}}],
            "rollout":{{"start":"2026-11-25T12:00:00Z","duration":"24h"}},"deadend":false}}]}}"#
        )
    }

    #[test]
    fn parses_the_spec_example_and_ignores_unknown_fields() {
        let feed = Feed::parse(sample().as_bytes()).unwrap();
        assert_eq!(feed.sequence, 7);
        assert_eq!(feed.releases[0].deltas.len(), 1);
        assert_eq!(feed.releases[0].rollout.as_ref().unwrap().duration, "24h");
        let again = Feed::parse(&feed.to_bytes()).unwrap();
        assert_eq!(again, feed);
    }

    #[test]
    fn refuses_missing_fields_bad_sums_and_escaping_paths() {
        let s = sample();
        let no_seq = s.replace(r#""sequence":7,"#, "");
        assert!(Feed::parse(no_seq.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("sequence"));
        let bad_sum = s.replacen(SUM, "xyz", 1);
        assert!(matches!(
            Feed::parse(bad_sum.as_bytes()),
            Err(FeedError::Checksum { .. })
        ));
        let escape = s.replace("deltas/a-b.delta", "../../etc/shadow");
        assert!(matches!(
            Feed::parse(escape.as_bytes()),
            Err(FeedError::Path { .. })
        ));
        let schema2 = s.replace(r#""schema":1"#, r#""schema":2"#);
        assert!(matches!(
            Feed::parse(schema2.as_bytes()),
            Err(FeedError::Schema(2))
        ));
    }
}
