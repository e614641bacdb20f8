#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Pine need, skipping those present.
set -euo pipefail
want=(
  pkg-config gcc make libostree-dev libglib2.0-dev   # build: libostree through the ostree crate
  ostree busybox-static openssl tar xz-utils zstd    # tests: the stock CLI, rootfs, independent checks
  util-linux python3 curl binutils debootstrap       # tests and demo: unshare, HTTP, readelf, a Debian tree
)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "a Rust toolchain (cargo, rustc >= 1.80) is needed: https://rustup.rs" >&2; exit 1; }
