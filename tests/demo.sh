#!/usr/bin/env bash
# The main job on its embedded default: a local demo of the update story, end to end, offline.
#
#   build two releases of a small busybox rootfs -> sign -> publish a feed with deltas ->
#   serve it over HTTP on loopback -> a "host" repo installs release 1 from the full delta ->
#   checks the feed's signature, picks the delta 1 -> 2, checks its sha256, applies it with the
#   stock ostree CLI -> runs release 2.
#
# Until pine-agent lands, the host side is done here with curl, openssl and the ostree CLI: the very
# steps the agent automates.  Work folder: $PINE_DEMO_DIR (default /var/tmp/pine-demo), kept for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/deps.sh
make dist >/dev/null
PB=$PWD/target/dist/pine-build
W=${PINE_DEMO_DIR:-/var/tmp/pine-demo}
rm -rf "$W"; mkdir -p "$W"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a small root filesystem from Debian's busybox-static"
R=$W/rootfs
mkdir -p "$R"/{bin,sbin,etc,var/log,dev,proc,sys,run,tmp,boot,root}
cp /bin/busybox "$R/bin/busybox"
for a in sh ls cat echo mount; do ln -s busybox "$R/bin/$a"; done
ln -s /bin/busybox "$R/sbin/init"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'Pine demo release 1' > "$R/etc/motd"

say "signing key"
"$PB" keygen --out "$W/keys"

say "release 2026.12.0 (container variant; binaries from target/dist, the default --bin-dir)"
"$PB" commit --repo "$W/repo" --rootfs "$R" --version 2026.12.0 --variant container \
  --key "$W/keys/pine.key" --trust "$W/keys/pine.pub"
"$PB" publish --repo "$W/repo" --ref pine/x86_64/container --out "$W/pub" --key "$W/keys/pine.key"

say "release 2026.12.1 changes /etc/motd"
echo 'Pine demo release 2' > "$R/etc/motd"
tar -C "$R" --numeric-owner -czf "$W/rootfs-2.tar.gz" .
"$PB" commit --repo "$W/repo" --rootfs "$W/rootfs-2.tar.gz" --version 2026.12.1 --variant container \
  --key "$W/keys/pine.key" --trust "$W/keys/pine.pub"
"$PB" publish --repo "$W/repo" --ref pine/x86_64/container --out "$W/pub" --key "$W/keys/pine.key"
"$PB" publish --repo "$W/repo" --ref pine/x86_64/container --out "$W/pub" --key "$W/keys/pine.key"

say "serving $W/pub on loopback"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$W/pub" >"$W/http.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
URL=http://127.0.0.1:$port
for _ in $(seq 50); do curl -fs "$URL/feed.json" -o /dev/null && break; sleep 0.1; done

say "host: fetch and verify the feed (ed25519, OpenSSL)"
H=$W/host; mkdir -p "$H"
curl -fsS "$URL/feed.json" -o "$H/feed.json"
curl -fsS "$URL/feed.json.sig" -o "$H/feed.json.sig"
{ printf '302a300506032b6570032100' ; base64 -d "$W/keys/pine.pub" | od -An -tx1 | tr -d ' \n'; } | xxd -r -p 2>/dev/null > "$H/pub.der" \
  || python3 -c "import base64,sys; sys.stdout.buffer.write(bytes.fromhex('302a300506032b6570032100')+base64.b64decode(open('$W/keys/pine.pub').read()))" > "$H/pub.der"
openssl pkey -pubin -inform DER -in "$H/pub.der" -out "$H/pub.pem"
base64 -d "$H/feed.json.sig" > "$H/feed.sig.raw"
openssl pkeyutl -verify -pubin -inkey "$H/pub.pem" -rawin -in "$H/feed.json" -sigfile "$H/feed.sig.raw"

field() { python3 -c "import json,sys; f=json.load(open('$H/feed.json')); print(eval(sys.argv[1]))" "$1"; }
old=$(field 'f["releases"][1]["commit"]'); new=$(field 'f["releases"][0]["commit"]')

say "host: install release 1 from its full delta"
ostree init --repo="$H/repo" --mode=bare-user
curl -fsS "$URL/$(field 'f["releases"][1]["full"]["path"]')" -o "$H/full"
ostree --repo="$H/repo" static-delta apply-offline "$H/full"
echo "host runs: $(ostree --repo="$H/repo" cat "$old" /usr/etc/motd)"

say "host: update to release 2 with the delta from release 1"
path=$(field '[d for d in f["releases"][0]["deltas"] if d["from"]=="'"$old"'"][0]["path"]')
sha=$(field '[d for d in f["releases"][0]["deltas"] if d["from"]=="'"$old"'"][0]["sha256"]')
curl -fsS "$URL/$path" -o "$H/delta"
echo "$sha  $H/delta" | sha256sum -c -
ostree --repo="$H/repo" static-delta apply-offline "$H/delta"
ostree --repo="$H/repo" fsck | tail -1
echo "host runs: $(ostree --repo="$H/repo" cat "$new" /usr/etc/motd)"
printf '\ndelta %s bytes vs full %s bytes\n' "$(stat -c %s "$H/delta")" "$(stat -c %s "$H/full")"
say "done: everything is in $W"
