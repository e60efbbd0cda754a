#!/usr/bin/env bash
# Builds a ThreadSanitizer-instrumented librdkafka 2.0.2 (Debian bookworm's
# source package) into .build-tsan-librdkafka/prefix, for
# `swift test --sanitize=thread` runs. Idempotent: a second run finds the
# library already built and only re-runs the self-check.
#
#   scripts/build-tsan-librdkafka.sh            # build (if needed) + self-check
#   scripts/build-tsan-librdkafka.sh --rebuild  # wipe and build again
#   scripts/build-tsan-librdkafka.sh --print-libdir   # only print the libdir
#
# The last line printed (stdout; the log goes to stderr) is the library
# directory. Either put it on LD_LIBRARY_PATH:
#   LD_LIBRARY_PATH=$(scripts/build-tsan-librdkafka.sh) swift test --sanitize=thread ...
# or, better when the tests start other programs that use librdkafka (kcat:
# under LD_LIBRARY_PATH it loads this library too and dies with "undefined
# symbol: __tsan_init"), put it in the test binary's RUNPATH, which comes
# before the system library directories:
#   lib=$(scripts/build-tsan-librdkafka.sh)
#   swift test --sanitize=thread --scratch-path .build-tsan -Xlinker -rpath -Xlinker "$lib" ...
# (pkg-config still links against Debian's librdkafka-dev; same soname, so the
# loader picks the TSan build at run time.)
#
# Why this recipe:
# - The Swift toolchain's own clang is used: gcc's -fsanitize=thread would pull
#   in gcc's libtsan, a second TSan runtime next to the one Swift links, which
#   crashes (SEGV) at start-up.
# - --disable-c11threads: with C11 threads librdkafka starts its threads with
#   glibc's thrd_create, which does not go through TSan's pthread_create
#   interceptor, so TSan would not know those threads (false reports/crashes).
# - The toolchain's TSan runtime is built with libdispatch interception and
#   needs libdispatch and BlocksRuntime (in <toolchain>/usr/lib/swift/linux)
#   at link time, so they go in LDFLAGS (with an rpath) for configure's link
#   tests and for the library itself.
# Needs root (or sudo) for the deb-src entry and the -dev packages, only on a
# first run on a machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/.build-tsan-librdkafka
prefix=$work/prefix
libdir=$prefix/lib
version=2.0.2
jobs=${JOBS:-2}

log() { echo "== $*" >&2; }
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

rebuild=0
case "${1:-}" in
  --rebuild) rebuild=1 ;;
  --print-libdir) echo "$libdir"; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--rebuild|--print-libdir]" >&2; exit 2 ;;
esac

# --- the Swift toolchain -----------------------------------------------------
swift_path=$(command -v swift) || { echo "swift not found on PATH" >&2; exit 1; }
toolchain_bin=$(dirname "$(readlink -f "$swift_path")")
toolchain_usr=$(dirname "$toolchain_bin")
cc=$toolchain_bin/clang
cxx=$toolchain_bin/clang++
swift_linux_lib=$toolchain_usr/lib/swift/linux
for f in "$cc" "$cxx" "$swift_linux_lib/libdispatch.so" "$swift_linux_lib/libBlocksRuntime.so"; do
  [ -e "$f" ] || { echo "missing from the Swift toolchain: $f" >&2; exit 1; }
done
tsan_cflags="-fsanitize=thread -g -O1 -fno-omit-frame-pointer"
tsan_ldflags="-fsanitize=thread -L$swift_linux_lib -Wl,-rpath,$swift_linux_lib -ldispatch -lBlocksRuntime"

# (grep -c, not grep -q: with pipefail, -q's early exit makes nm die of SIGPIPE)
tsan_symbol_count() { nm -D "$1" 2>/dev/null | grep -c ' U __tsan_' || true; }
is_tsan_lib() { [ -f "$1" ] && [ "$(tsan_symbol_count "$1")" -gt 0 ]; }

# --- build (skipped when already there) -------------------------------------
if [ "$rebuild" = 1 ]; then
  log "--rebuild: removing $work"
  rm -rf "$work"
fi

if is_tsan_lib "$libdir/librdkafka.so.1"; then
  log "TSan librdkafka already built in $libdir (use --rebuild to redo)"
else
  start=$(date +%s)
  apt_updated=0
  apt_update() { [ "$apt_updated" = 1 ] || { log "apt-get update"; $SUDO apt-get update -qq; apt_updated=1; }; }

  # 1. A deb-src entry for bookworm, mirroring the URIs already configured.
  has_bookworm_src() {
    # one-line format
    if cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        grep -qE '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm([[:space:]]|$)'; then
      return 0
    fi
    # deb822 format: a stanza whose Types has deb-src and Suites has bookworm
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk 'BEGIN{RS=""; IGNORECASE=1; found=0}
           /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ \
             && !/(^|\n)Enabled:[ \t]*no/ {found=1}
           END{exit !found}' "$f" && return 0
    done
    return 1
  }
  if ! has_bookworm_src; then
    src_list=/etc/apt/sources.list.d/bookworm-src.sources
    log "adding a deb-src entry for bookworm: $src_list"
    tmp=$(mktemp)
    # deb822 stanzas with Types: deb and Suites containing bookworm
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk 'BEGIN{RS=""; ORS="\n\n"}
           {
             types=""; uris=""; suites=""; signed=""
             n=split($0, lines, "\n")
             for (i=1; i<=n; i++) {
               l=lines[i]
               if (l ~ /^Types:/)     { sub(/^Types:[ \t]*/, "", l); types=l }
               if (l ~ /^URIs:/)      { sub(/^URIs:[ \t]*/, "", l); uris=l }
               if (l ~ /^Suites:/)    { sub(/^Suites:[ \t]*/, "", l); suites=" " l " " }
               if (l ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", l); signed=l }
               if (l ~ /^Enabled:[ \t]*[Nn]o/) { types="" }
             }
             if ((" " types " ") ~ / deb / && suites ~ /[ \t]bookworm[ \t]/) {
               s="Types: deb-src\nURIs: " uris "\nSuites: bookworm\nComponents: main"
               if (signed != "") s=s "\nSigned-By: " signed
               print s
             }
           }' "$f" >>"$tmp"
    done
    # one-line entries: deb [opts] URI bookworm ...
    if [ ! -s "$tmp" ]; then
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1=="deb" {
               i=2; opts=""
               if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts=opts $i " "; i++ } opts=opts $i " "; i++ }
               if ($(i+1)=="bookworm") print "deb-src " opts $i " bookworm main"
             }' | sort -u >"$tmp.list"
      if [ -s "$tmp.list" ]; then
        src_list=/etc/apt/sources.list.d/bookworm-src.list
        mv "$tmp.list" "$tmp"
      else
        rm -f "$tmp.list"
      fi
    fi
    if [ ! -s "$tmp" ]; then
      src_list=/etc/apt/sources.list.d/bookworm-src.list
      echo "deb-src http://deb.debian.org/debian bookworm main" >"$tmp"
    fi
    $SUDO install -m 0644 "$tmp" "$src_list"
    rm -f "$tmp"
    apt_update
  fi

  # 2. The source package (and what configure needs).
  if ! apt-cache showsrc librdkafka 2>/dev/null | grep -q "^Version: $version"; then
    apt_update
  fi
  src_version=$(apt-cache showsrc librdkafka | awk -v v="$version" '$1=="Version:" && index($2, v)==1 {print $2; exit}')
  [ -n "$src_version" ] || { echo "no librdkafka $version source package in apt" >&2; exit 1; }

  need_pkgs=()
  command -v dpkg-source >/dev/null || need_pkgs+=(dpkg-dev)
  command -v make >/dev/null || need_pkgs+=(make)
  for p in libssl-dev libsasl2-dev liblz4-dev libzstd-dev zlib1g-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
  done
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    apt_update
    log "apt-get install ${need_pkgs[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi

  rm -rf "$work/src" "$prefix"
  mkdir -p "$work/src"
  log "apt-get source librdkafka=$src_version"
  (cd "$work/src" && apt-get source -qq -o APT::Sandbox::User=root "librdkafka=$src_version" >/dev/null)
  srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name "librdkafka-$version*" | head -n 1)
  [ -n "$srcdir" ] || { echo "apt-get source did not unpack librdkafka-$version" >&2; exit 1; }

  # 3. Configure and build with the toolchain clang and TSan.
  # Debian's build enables ssl, sasl (cyrus), lz4 (system), zstd and zlib;
  # the same here (curl/OIDC and the bundled-deps paths stay off).
  log "configure in $srcdir"
  (cd "$srcdir" && ./configure \
      --prefix="$prefix" \
      --cc="$cc" --cxx="$cxx" \
      --CFLAGS="$tsan_cflags" --CXXFLAGS="$tsan_cflags" \
      --LDFLAGS="$tsan_ldflags" \
      --disable-c11threads \
      --enable-ssl --enable-gssapi --enable-lz4-ext --enable-zstd --enable-zlib \
      --disable-curl \
      >"$work/configure.log" 2>&1) || { tail -n 40 "$work/configure.log" >&2; exit 1; }
  log "make -j$jobs libs"
  (cd "$srcdir" && make -j"$jobs" libs >"$work/make.log" 2>&1) || { tail -n 40 "$work/make.log" >&2; exit 1; }
  (cd "$srcdir" && make install-subdirs >>"$work/make.log" 2>&1) || { tail -n 40 "$work/make.log" >&2; exit 1; }
  is_tsan_lib "$libdir/librdkafka.so.1" || { echo "built $libdir/librdkafka.so.1 has no __tsan symbols" >&2; exit 1; }
  log "built in $(( $(date +%s) - start ))s"
fi

# --- self-check ---------------------------------------------------------------
log "self-check: $libdir/librdkafka.so.1 references $(tsan_symbol_count "$libdir/librdkafka.so.1") __tsan_ symbols"
smoke=$work/tsan-smoke
if [ ! -x "$smoke" ] || [ "$repo/scripts/tsan-smoke.c" -nt "$smoke" ] || [ "$libdir/librdkafka.so.1" -nt "$smoke" ]; then
  "$cc" -fsanitize=thread -g -O1 -I"$prefix/include" "$repo/scripts/tsan-smoke.c" -o "$smoke" \
    -L"$libdir" -lrdkafka $tsan_ldflags
fi
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$smoke" | awk '/librdkafka\.so/ {print $3}')
[ "$loaded" = "$libdir/librdkafka.so.1" ] || { echo "smoke test would load $loaded, not $libdir/librdkafka.so.1" >&2; exit 1; }
LD_LIBRARY_PATH="$libdir" TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" "$smoke" >&2 ||
  { echo "self-check failed (exit $?)" >&2; exit 1; }
log "self-check passed; TSan librdkafka directory (LD_LIBRARY_PATH, or -Xlinker -rpath -Xlinker DIR):"
echo "$libdir"
