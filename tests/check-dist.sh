#!/usr/bin/env bash
# What `make dist` promises: four binaries, pine-init with no shared libraries at all.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in pine-build pine-agent pinectl pine-init; do
  test -x "target/dist/$b" || { echo "target/dist/$b missing" >&2; exit 1; }
done
if readelf -d target/dist/pine-init | grep -q NEEDED; then
  echo "pine-init links shared libraries:" >&2; readelf -d target/dist/pine-init | grep NEEDED >&2; exit 1
fi
if readelf -l target/dist/pine-init | grep -q "Requesting program interpreter"; then
  echo "pine-init needs a dynamic loader" >&2; exit 1
fi
target/dist/pine-init --version >/dev/null
echo "pine-init: static, $(stat -c %s target/dist/pine-init) bytes"
