#!/usr/bin/env bash
# Builder benchmark: pine-build vs the stock ostree CLI on the same ~200 MB Debian rootfs.
#
#   bash bench/builder.sh                 build the cache if missing, measure, update BENCHMARKS.md
#   bash bench/builder.sh --prepare-only  only build the cached rootfs trees (needs the network once)
#
# Environment:
#   PINE_BENCH_DIR   cache and scratch folder (default /var/tmp/pine-bench); the trees live in
#                    $PINE_BENCH_DIR/rootfs and $PINE_BENCH_DIR/rootfs2 and are reused on later runs.
#   PINE_BENCH_RUNS  runs per measurement, best (minimum) kept (default 3).
#
# Each measurement runs under GNU time (-f '%e %M': wall seconds, peak RSS KiB). The section between
# <!-- builder:begin --> and <!-- builder:end --> in BENCHMARKS.md is rewritten; nothing else is.
# Runs as root (debootstrap, and trees with root-owned files); needs no terminal; offline once the
# cache exists and cargo has its crates.

set -euo pipefail
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
BENCH_DIR=${PINE_BENCH_DIR:-/var/tmp/pine-bench}
ROOTFS=$BENCH_DIR/rootfs
ROOTFS2=$BENCH_DIR/rootfs2
RUNS=${PINE_BENCH_RUNS:-3}
SUITE=bookworm
# Packages on top of minbase, to bring the tree to ~200 MB with a realistic mix of files.
INCLUDE_PKGS=python3,perl,ca-certificates
GOAL=1.1
BENCHMARKS_MD=$REPO_DIR/BENCHMARKS.md
BEGIN_MARK='<!-- builder:begin -->'
END_MARK='<!-- builder:end -->'
GNU_TIME=/usr/bin/time

PREPARE_ONLY=0
case "${1:-}" in
  "") ;;
  --prepare-only) PREPARE_ONLY=1 ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "builder.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and committing root-owned trees need it)"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "PINE_BENCH_RUNS must be a positive integer, not '$RUNS'"

WORK=
cleanup() {
  local rc=$?
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# 1. Tools
# ---------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  # apt_install PKG...: installs the packages quietly, running `apt-get update` once first.
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "installing: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

need_tools() {
  local missing=()
  command -v ostree >/dev/null 2>&1 || missing+=(ostree)
  [ -x "$GNU_TIME" ] || missing+=(time)
  if [ ! -d "$ROOTFS" ] || [ ! -d "$ROOTFS2" ]; then
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
  "$GNU_TIME" --version >/dev/null 2>&1 || die "$GNU_TIME is not GNU time (apt-get install time)"
  if [ "$PREPARE_ONLY" -eq 0 ]; then
    command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
  fi
}

# ---------------------------------------------------------------------------------------------
# 2. The cached trees
# ---------------------------------------------------------------------------------------------
# The Debian archive URI this machine's apt uses for $SUITE (deb822 or one-line sources).
debian_mirror() {
  local uri=""
  shopt -s nullglob
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        u = ""; s = ""; t = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/)   { u = $i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u = a[1] }
          if ($i ~ /^Suites:/) { s = " " $i " "; sub(/^ Suites:/, "", s) }
          if ($i ~ /^Types:/)  { t = $i }
        }
        if (t ~ /(^|[ \t])deb([ \t]|$)/ && u != "" && s ~ ("[ \t]" suite "[ \t]")) { print u; exit }
      }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      uri=$(awk -v suite="$SUITE" '
        $1 == "deb" {
          i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) { print $i; exit }
        }' "$f")
      [ -n "$uri" ] && break
    done
  fi
  shopt -u nullglob
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# Unmounts anything debootstrap may have left mounted under $1, then removes $1.
remove_tree() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  while read -r m; do
    [ -n "$m" ] && umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

build_rootfs() {
  local tmp=$ROOTFS.tmp mirror
  mirror=$(debian_mirror)
  remove_tree "$tmp"
  mkdir -p "$BENCH_DIR"
  log "building the rootfs once: debootstrap --variant=minbase --include=$INCLUDE_PKGS $SUITE $mirror"
  log "  (into $tmp; takes a few minutes; log in $BENCH_DIR/debootstrap.log)"
  if ! debootstrap --variant=minbase --include="$INCLUDE_PKGS" "$SUITE" "$tmp" "$mirror" \
       >"$BENCH_DIR/debootstrap.log" 2>&1; then
    tail -n 20 "$BENCH_DIR/debootstrap.log" >&2 || true
    remove_tree "$tmp"
    die "debootstrap failed (see $BENCH_DIR/debootstrap.log)"
  fi
  # Make it committable by the stock CLI: `ostree commit` refuses device nodes, sockets and fifos
  # (pine-build would drop them with a warning). Both tools then see the very same tree.
  find "$tmp/dev" -mindepth 1 -delete
  find "$tmp" -xdev \( -type b -o -type c -o -type p -o -type s \) -delete
  # Downloaded .debs and apt's package lists are not part of a system image (the lists alone
  # are ~50 MB of a few big text files).
  find "$tmp/var/cache/apt/archives" -maxdepth 1 -type f -name '*.deb' -delete
  find "$tmp/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
  mv "$tmp" "$ROOTFS"
  log "rootfs cached in $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

# rootfs2: rootfs with ~10 MiB changed (a few large files, ~5 MiB, rewritten with random bytes;
# one new 5 MiB file), the second version for delta generation.
build_rootfs2() {
  local tmp=$ROOTFS2.tmp changes=$BENCH_DIR/rootfs2.changes total=0 size f
  remove_tree "$tmp"
  log "building rootfs2 (rootfs with ~10 MiB changed)"
  cp -a --reflink=auto "$ROOTFS" "$tmp"
  : >"$changes.tmp"
  # The first regular, singly-linked files over 512 KiB under usr/lib in name order, until 4 MiB.
  while IFS= read -r -d '' f; do
    size=$(stat -c %s "$f")
    head -c "$size" /dev/urandom >"$f"   # in place: keeps owner, mode and size
    printf 'rewritten %s (%s bytes)\n' "${f#"$tmp"}" "$size" >>"$changes.tmp"
    total=$((total + size))
    [ "$total" -ge $((4 * 1024 * 1024)) ] && break
  done < <(find "$tmp/usr/lib" -xdev -type f -links 1 -size +512k -print0 | sort -z)
  mkdir -p "$tmp/usr/share/pine-bench"
  head -c $((5 * 1024 * 1024)) /dev/urandom >"$tmp/usr/share/pine-bench/blob.bin"
  printf 'added /usr/share/pine-bench/blob.bin (%s bytes)\n' $((5 * 1024 * 1024)) >>"$changes.tmp"
  echo "pine-bench rootfs2" >"$tmp/etc/pine-bench-version"
  printf 'added /etc/pine-bench-version\n' >>"$changes.tmp"
  mv "$changes.tmp" "$changes"
  mv "$tmp" "$ROOTFS2"
  log "rootfs2 cached in $ROOTFS2 ($(awk '{ n++ } END { print n }' "$changes") changes, see $changes)"
}

prepare_trees() {
  if [ -d "$ROOTFS" ]; then
    log "reusing cached rootfs $ROOTFS"
  else
    build_rootfs
  fi
  if [ -d "$ROOTFS2" ]; then
    log "reusing cached rootfs2 $ROOTFS2"
  else
    build_rootfs2
  fi
}

# ---------------------------------------------------------------------------------------------
# 3. Binaries
# ---------------------------------------------------------------------------------------------
PINE_BUILD=
BIN_DIR=
STUBS=()

build_binaries() {
  local rel=$REPO_DIR/target/release b
  log "cargo build --release (in $REPO_DIR)"
  if ! (cd "$REPO_DIR" && cargo build --release); then
    log "the workspace build failed; building pine-build alone"
    (cd "$REPO_DIR" && cargo build --release -p pine-build) || die "cargo build --release -p pine-build failed"
  fi
  PINE_BUILD=$rel/pine-build
  [ -x "$PINE_BUILD" ] || die "$PINE_BUILD missing after the build"
  "$PINE_BUILD" commit --help >/dev/null 2>&1 || die "'pine-build commit --help' fails: commit is not usable yet"
  "$PINE_BUILD" delta --help >/dev/null 2>&1 || die "'pine-build delta --help' fails: delta is not usable yet"

  # --bin-dir: the real executables where they were built, small stubs for the rest.
  BIN_DIR=$WORK/bin
  mkdir -p "$BIN_DIR"
  for b in pine-agent pinectl pine-init; do
    if [ -x "$rel/$b" ] && [ -f "$rel/$b" ]; then
      cp "$rel/$b" "$BIN_DIR/$b"
    else
      printf '#!/bin/sh\necho "%s: benchmark stub" >&2\nexit 0\n' "$b" >"$BIN_DIR/$b"
      chmod 0755 "$BIN_DIR/$b"
      STUBS+=("$b")
    fi
  done
  if [ "${#STUBS[@]}" -gt 0 ]; then
    log "NOTE: stub executables used for --bin-dir: ${STUBS[*]} (not built in target/release)"
  fi
}

# ---------------------------------------------------------------------------------------------
# 4. Measuring
# ---------------------------------------------------------------------------------------------
declare -A BEST_T BEST_M OUT_SIZE
LAST_T= LAST_M=

# timed NAME CMD...: runs CMD once under GNU time; stdout to $WORK/NAME.out, stderr to
# $WORK/NAME.err; sets LAST_T (s) and LAST_M (KiB). A failing command stops the benchmark.
timed() {
  local name=$1; shift
  local tf=$WORK/$name.time
  if ! "$GNU_TIME" -f '%e %M' -o "$tf" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
    printf '[bench] command failed: %s\n' "$*" >&2
    sed 's/^/[bench]   stderr: /' "$WORK/$name.err" | tail -n 20 >&2
    die "$name failed"
  fi
  read -r LAST_T LAST_M < <(tail -n 1 "$tf")
  [[ "$LAST_T" =~ ^[0-9.]+$ && "$LAST_M" =~ ^[0-9]+$ ]] || die "cannot parse GNU time output: $(cat "$tf")"
  if grep -q . "$WORK/$name.err"; then
    sed 's/^/[bench]   stderr: /' "$WORK/$name.err" | sort | uniq -c | sort -rn | head -n 5 \
      | sed 's/^ *\([0-9]*\) \(.*\)/\2  (x\1)/' >&2
  fi
}

# keep KEY: folds LAST_T/LAST_M into the best (minimum) seen for KEY; time and RSS independently.
keep() {
  local key=$1
  if [ -z "${BEST_T[$key]:-}" ] || awk -v a="$LAST_T" -v b="${BEST_T[$key]}" 'BEGIN { exit !(a < b) }'; then
    BEST_T[$key]=$LAST_T
  fi
  if [ -z "${BEST_M[$key]:-}" ] || [ "$LAST_M" -lt "${BEST_M[$key]}" ]; then
    BEST_M[$key]=$LAST_M
  fi
  log "  $key run: ${LAST_T}s, $((LAST_M / 1024)) MiB"
}

# The last line of a command's stdout, checked to be a commit checksum.
checksum_from() {
  local c
  c=$(tail -n 1 "$1" | tr -d '[:space:]')
  [[ "$c" =~ ^[0-9a-f]{64}$ ]] || die "expected a commit checksum as the last line of $1, got: $(tail -n 1 "$1")"
  printf '%s\n' "$c"
}

new_repo() {
  remove_tree "$1"
  ostree init --mode=archive --repo="$1" >/dev/null
}

warm_cache() {
  # Reads both trees once so the first measured run does not pay for cold disk reads.
  find "$ROOTFS" "$ROOTFS2" -xdev -type f -print0 | xargs -0 cat >/dev/null 2>&1 || true
}

ostree_commit() { # ostree_commit REPO TREE NAME
  timed "$3" ostree commit --repo="$1" -b bench --tree=dir="$2"
}
pine_commit() { # pine_commit REPO TREE VERSION NAME
  timed "$4" env SOURCE_DATE_EPOCH=0 "$PINE_BUILD" commit --repo "$1" --rootfs "$2" \
    --version "$3" --variant container --bin-dir "$BIN_DIR"
}

bench_commit() {
  local i r
  log "step: commit ($RUNS runs each, fresh archive repo per run)"
  for i in $(seq "$RUNS"); do
    r=$WORK/repo-ostree-commit
    new_repo "$r"
    ostree_commit "$r" "$ROOTFS" ostree-commit
    checksum_from "$WORK/ostree-commit.out" >/dev/null
    keep ostree:commit
    remove_tree "$r"
  done
  for i in $(seq "$RUNS"); do
    r=$WORK/repo-pine-commit
    new_repo "$r"
    pine_commit "$r" "$ROOTFS" 1 pine-commit
    checksum_from "$WORK/pine-commit.out" >/dev/null
    keep pine:commit
    remove_tree "$r"
  done
}

# Two commits (rootfs, rootfs2) in one repo per tool, for the delta steps (not measured).
OSTREE_A= OSTREE_B= PINE_A= PINE_B=
setup_delta_repos() {
  log "setting up the delta repos (two commits per tool, not measured)"
  new_repo "$WORK/repo-ostree"
  ostree_commit "$WORK/repo-ostree" "$ROOTFS" setup-ostree-a
  OSTREE_A=$(checksum_from "$WORK/setup-ostree-a.out")
  ostree_commit "$WORK/repo-ostree" "$ROOTFS2" setup-ostree-b
  OSTREE_B=$(checksum_from "$WORK/setup-ostree-b.out")
  new_repo "$WORK/repo-pine"
  pine_commit "$WORK/repo-pine" "$ROOTFS" 1 setup-pine-a
  PINE_A=$(checksum_from "$WORK/setup-pine-a.out")
  pine_commit "$WORK/repo-pine" "$ROOTFS2" 2 setup-pine-b
  PINE_B=$(checksum_from "$WORK/setup-pine-b.out")
}

size_of() { du -sb "$1" | cut -f1; }

bench_delta() { # bench_delta KEY (delta|full)
  local kind=$1 i out key_o=ostree:$1 key_p=pine:$1
  log "step: $kind delta ($RUNS runs each, fresh output per run)"
  for i in $(seq "$RUNS"); do
    out=$WORK/delta-ostree-$kind
    remove_tree "$out"
    if [ "$kind" = full ]; then
      timed "ostree-$kind" ostree --repo="$WORK/repo-ostree" static-delta generate --inline \
        --min-fallback-size=0 --empty --to="$OSTREE_B" --filename="$out"
    else
      timed "ostree-$kind" ostree --repo="$WORK/repo-ostree" static-delta generate --inline \
        --min-fallback-size=0 --from="$OSTREE_A" --to="$OSTREE_B" --filename="$out"
    fi
    keep "$key_o"
    [ -e "$out" ] || die "ostree static-delta generate wrote nothing at $out"
    OUT_SIZE[$key_o]=$(size_of "$out")
    remove_tree "$out"
  done
  for i in $(seq "$RUNS"); do
    out=$WORK/delta-pine-$kind
    remove_tree "$out"
    mkdir -p "$out"
    if [ "$kind" = full ]; then
      timed "pine-$kind" env SOURCE_DATE_EPOCH=0 "$PINE_BUILD" delta --repo "$WORK/repo-pine" \
        --from empty --to "$PINE_B" --out "$out"
    else
      timed "pine-$kind" env SOURCE_DATE_EPOCH=0 "$PINE_BUILD" delta --repo "$WORK/repo-pine" \
        --from "$PINE_A" --to "$PINE_B" --out "$out"
    fi
    keep "$key_p"
    local written
    written=$(tail -n 1 "$WORK/pine-$kind.out")
    [ -n "$written" ] && [ -e "$written" ] || die "pine-build delta did not print a path it wrote (last stdout line: '$written')"
    OUT_SIZE[$key_p]=$(size_of "$written")
    remove_tree "$out"
  done
}

# ---------------------------------------------------------------------------------------------
# 5. Report
# ---------------------------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
mib_b() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
# ratio NEW OLD: NEW/OLD with two decimals (times below 0.01 s count as 0.01 s).
ratio() { awk -v n="$1" -v o="$2" 'BEGIN { if (o < 0.01) o = 0.01; if (n < 0.01) n = 0.01; printf "%.2f", n / o }'; }
within_goal() { awk -v r="$1" -v g="$GOAL" 'BEGIN { exit !(r <= g) }'; }

table_row() { # table_row LABEL KEY
  local label=$1 k=$2 tr mr mark miss=()
  tr=$(ratio "${BEST_T[pine:$k]}" "${BEST_T[ostree:$k]}")
  mr=$(ratio "${BEST_M[pine:$k]}" "${BEST_M[ostree:$k]}")
  within_goal "$tr" || miss+=(time)
  within_goal "$mr" || miss+=(RSS)
  if [ "${#miss[@]}" -eq 0 ]; then mark="pass"; else mark="miss (${miss[*]})"; fi
  printf '| %s | %s | %s | %sx | %s | %s | %sx | %s |\n' "$label" \
    "${BEST_T[ostree:$k]}" "${BEST_T[pine:$k]}" "$tr" \
    "$(mib "${BEST_M[ostree:$k]}")" "$(mib "${BEST_M[pine:$k]}")" "$mr" "$mark"
}

write_section() {
  local f=$1 cpu ostree_ver pine_ver rev tree_size tree_files tree_entries mem
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  ostree_ver=$(ostree --version | awk -F"'" '/Version:/ { print $2; exit }')
  pine_ver=$("$PINE_BUILD" --version 2>/dev/null | head -n 1 || true)
  rev=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo "no commit yet")
  tree_size=$(du -sh "$ROOTFS" | cut -f1)
  tree_files=$(find "$ROOTFS" -xdev -type f | wc -l)
  tree_entries=$(find "$ROOTFS" -xdev | wc -l)
  {
    echo "$BEGIN_MARK"
    echo "## Builder: pine-build vs ostree CLI"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: ${cpu:-unknown CPU}, $(nproc) cores, $mem RAM, $(uname -sr)"
    echo "- Tree: Debian $SUITE \`debootstrap --variant=minbase --include=$INCLUDE_PKGS\`, device nodes, sockets and fifos removed: $tree_size (du -sh), $tree_files regular files, $tree_entries entries"
    echo "- Second version (delta steps): the same tree with ~10 MiB changed ($(awk '/^rewritten/ { n++ } END { print n + 0 }' "$BENCH_DIR/rootfs2.changes") files under /usr/lib rewritten with random bytes, one new 5 MiB file)"
    echo "- ostree CLI: libostree $ostree_ver; pine-build: ${pine_ver:-unknown} (workspace at $rev), release profile"
    if [ "${#STUBS[@]}" -gt 0 ]; then
      echo "- \`--bin-dir\`: small shell stubs for ${STUBS[*]} (not built in target/release), real binaries for the rest"
    else
      echo "- \`--bin-dir\`: the real pine-agent, pinectl and pine-init from target/release"
    fi
    echo "- Method: GNU \`/usr/bin/time -f '%e %M'\`, best (minimum) of $RUNS runs, time and peak RSS minimised independently; trees read once beforehand (warm page cache); commits into a fresh archive repo per run, deltas into a fresh output path per run from a repo holding both commits"
    echo
    echo "| step | ostree CLI time (s) | pine-build time (s) | time ratio | ostree CLI peak RSS (MiB) | pine-build peak RSS (MiB) | RSS ratio | goal |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    table_row "commit (~200 MB tree)" commit
    table_row "delta A→B (~10 MiB changed)" delta
    table_row "full delta (empty→B)" full
    echo
    echo "Goal: at most ${GOAL}x the CLI's time and memory."
    echo
    echo "Delta sizes: A→B ostree $(mib_b "${OUT_SIZE[ostree:delta]}") MiB, pine-build $(mib_b "${OUT_SIZE[pine:delta]}") MiB; empty→B ostree $(mib_b "${OUT_SIZE[ostree:full]}") MiB, pine-build $(mib_b "${OUT_SIZE[pine:full]}") MiB."
    echo
    echo "Commands measured (R an archive repo, T the tree, A and B commit checksums):"
    echo
    echo '```'
    echo "ostree commit --repo=R -b bench --tree=dir=T"
    echo "SOURCE_DATE_EPOCH=0 pine-build commit --repo R --rootfs T --version 1 --variant container --bin-dir BINDIR"
    echo "ostree --repo=R static-delta generate --inline --min-fallback-size=0 --from=A --to=B --filename=OUT"
    echo "pine-build delta --repo R --from A --to B --out DIR"
    echo "ostree --repo=R static-delta generate --inline --min-fallback-size=0 --empty --to=B --filename=OUT"
    echo "pine-build delta --repo R --from empty --to B --out DIR"
    echo '```'
    echo
    echo "Reproduce: \`bash bench/builder.sh\` (as root; the first run debootstraps the tree into /var/tmp/pine-bench, override with PINE_BENCH_DIR)."
    echo "$END_MARK"
  } >"$f"
}

update_benchmarks_md() {
  local section=$1 new=$WORK/BENCHMARKS.md.new
  if [ ! -f "$BENCHMARKS_MD" ]; then
    printf '# Benchmarks\n\nPerformance measurements of Pine. Each section is written by the script under bench/ that it names; a script rewrites only its own section.\n' >"$new"
  else
    cp "$BENCHMARKS_MD" "$new"
  fi
  if grep -qxF "$BEGIN_MARK" "$new" && grep -qxF "$END_MARK" "$new"; then
    awk -v b="$BEGIN_MARK" -v e="$END_MARK" -v s="$section" '
      $0 == b { while ((getline line < s) > 0) print line; skip = 1; next }
      $0 == e && skip { skip = 0; next }
      !skip { print }' "$new" >"$new.2"
    mv "$new.2" "$new"
  else
    { echo; cat "$section"; } >>"$new"
  fi
  cat "$new" >"$BENCHMARKS_MD"
}

# ---------------------------------------------------------------------------------------------
main() {
  need_tools
  prepare_trees
  log "tree: $ROOTFS, $(du -sh "$ROOTFS" | cut -f1), $(find "$ROOTFS" -xdev -type f | wc -l) regular files"
  if [ "$PREPARE_ONLY" -eq 1 ]; then
    log "prepare-only: done"
    return 0
  fi
  mkdir -p "$BENCH_DIR"
  # Scratch on the same filesystem as the trees, so both tools read and write alike.
  WORK=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
  build_binaries
  warm_cache
  bench_commit
  setup_delta_repos
  bench_delta delta
  bench_delta full
  write_section "$WORK/section.md"
  update_benchmarks_md "$WORK/section.md"
  log "wrote the builder section of $BENCHMARKS_MD:"
  cat "$WORK/section.md"
}

main
