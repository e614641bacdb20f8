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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --workspace 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite (cargo's own last block is the doc tests, often empty).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "suite: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log" || status=1
exit "$status"
