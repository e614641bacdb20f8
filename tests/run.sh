#!/usr/bin/env bash
# The full test suite: one command on a fresh Debian 12 machine (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh
echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
echo "== TLS: rustls only"
if cargo tree --locked -e normal -i native-tls >/dev/null 2>&1; then
  echo "native-tls is in the dependency tree" >&2; exit 1
fi
echo "== make dist"
make dist
bash tests/check-dist.sh
echo "== cargo test"
cargo test --locked --workspace
