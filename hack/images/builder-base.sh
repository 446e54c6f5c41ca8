#!/usr/bin/env bash
# Assembles the local builder base: Debian bookworm (debootstrap from the Debian mirror apt
# is configured with) with a C compiler and linker, plus the pinned Rust toolchain copied
# from this machine's rustup. It stands in for rust:1.95-bookworm where no registry can
# be reached. Imported into the engine hack/image.sh runs (DOCKER_HOST); the root
# filesystem's tar is kept under the cache, so the work happens once per change of this
# script or of the toolchain.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/lib.sh
source hack/images/common.sh

# Only what a release build of the workspace needs: gcc links Rust binaries and compiles
# ring's C and assembly; binutils brings strip.
PACKAGES=gcc,libc6-dev,binutils

toolchain_dir() {
  local home="${RUSTUP_HOME:-$HOME/.rustup}" dir
  dir="$home/toolchains/$RUST_RELEASE-x86_64-unknown-linux-gnu"
  if [ ! -x "$dir/bin/rustc" ] && command -v rustup >/dev/null; then
    rustup toolchain install "$RUST_RELEASE" --profile minimal >&2
  fi
  dir="$(readlink -f "$dir")"
  "$dir/bin/rustc" --version | grep -q "^rustc $RUST_RELEASE " || {
    echo "no Rust $RUST_RELEASE toolchain at $dir" >&2; return 1; }
  echo "$dir"
}

toolchain="$(toolchain_dir)"
key="$(files_digest hack/images/builder-base.sh <("$toolchain/bin/rustc" -vV))"
if [ "$(image_label "$BUILDER_BASE" ferrosched.assembly)" = "$key" ]; then
  echo "builder base $BUILDER_BASE: up to date" >&2
  exit 0
fi

mkdir -p "$IMAGE_CACHE/bases" "$IMAGE_CACHE/debs"
tarball="$IMAGE_CACHE/bases/builder-$key.tar"
if [ ! -s "$tarball" ]; then
  ensure_debs debootstrap
  rootfs="$(mktemp -d "$IMAGE_CACHE/builder-rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs" "$rootfs.log" "$tarball.part"' EXIT
  echo "builder base: debootstrap bookworm ($PACKAGES) from $(debian_mirror)" >&2
  debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$IMAGE_CACHE/debs" \
    bookworm "$rootfs" "$(debian_mirror)" >"$rootfs.log" 2>&1 || {
    tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # What an image does not need: package lists, downloaded debs, documentation.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  # The toolchain is relocatable: rustc finds its sysroot next to its binary, cargo finds
  # rustc on PATH. Its HTML documentation (800 MB) stays behind.
  echo "builder base: Rust toolchain from $toolchain" >&2
  mkdir -p "$rootfs/usr/local/rust" "$rootfs/usr/local/cargo/bin"
  tar -C "$toolchain" --exclude=./share/doc -c . | tar -C "$rootfs/usr/local/rust" -x
  # The kernel's file systems come from the engine at run time.
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
  # Older assemblies are of no further use.
  find "$IMAGE_CACHE/bases" -name 'builder-*.tar' ! -name "builder-$key.tar" -delete
fi

echo "builder base: importing $tarball as $BUILDER_BASE" >&2
# Same layout as the rust image: CARGO_HOME=/usr/local/cargo, cargo and rustc on PATH.
docker import \
  --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV CARGO_HOME=/usr/local/cargo' \
  --change "LABEL ferrosched.assembly=$key" \
  --change 'CMD ["bash"]' \
  "$tarball" "$BUILDER_BASE" >/dev/null
