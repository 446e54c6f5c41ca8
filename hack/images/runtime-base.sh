#!/usr/bin/env bash
# Assembles the local runtime base, a stand-in for gcr.io/distroless/cc-debian12:nonroot
# where no registry can be reached: the same Debian 12 packages (C and C++ runtimes,
# OpenSSL, CA certificates, time zones, netbase), unpacked with dpkg-deb (nothing is
# configured, no shell, no package manager), and the user nonroot (UID/GID 65532) with
# its home. Imported into the engine hack/image.sh runs (DOCKER_HOST); the root file
# system's tar is kept under the cache, so the work happens once per change of this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/lib.sh
source hack/images/common.sh

PACKAGES=(base-files netbase tzdata libc6 libgcc-s1 libgomp1 libstdc++6 libssl3 ca-certificates)

key="$(files_digest hack/images/runtime-base.sh)"
if [ "$(image_label "$RUNTIME_BASE" ferrosched.assembly)" = "$key" ]; then
  echo "runtime base $RUNTIME_BASE: up to date" >&2
  exit 0
fi

mkdir -p "$IMAGE_CACHE/bases"
tarball="$IMAGE_CACHE/bases/runtime-$key.tar"
if [ ! -s "$tarball" ]; then
  work="$(mktemp -d "$IMAGE_CACHE/runtime-rootfs.XXXXXX")"
  trap 'rm -rf "$work" "$tarball.part"' EXIT
  mkdir "$work/debs" "$work/root"
  echo "runtime base: ${PACKAGES[*]} from Debian" >&2
  # apt's index may be older than the mirror (a package version gone): refresh once.
  (cd "$work/debs" && apt-get download -qq "${PACKAGES[@]}" 2>/dev/null) || {
    apt-get update -qq
    (cd "$work/debs" && apt-get download -qq "${PACKAGES[@]}")
  }
  root="$work/root"
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # ca-certificates builds its bundle in its maintainer script, which never runs here:
  # concatenate the certificates it ships, as update-ca-certificates would.
  mkdir -p "$root/etc/ssl/certs"
  for crt in "$root"/usr/share/ca-certificates/mozilla/*.crt; do
    cat "$crt"; [ -z "$(tail -c1 "$crt")" ] || echo
  done >"$root/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/lintian \
    "$root"/usr/share/ca-certificates "$root"/usr/sbin/update-ca-certificates
  # The users distroless has: root, nobody, and nonroot (65532) owning its home.
  mkdir -p "$root/etc" "$root/home/nonroot" "$root/root" "$root/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$root/etc/group"
  chown -R 0:0 "$root"
  chown 65532:65532 "$root/home/nonroot"
  chmod 700 "$root/root" "$root/home/nonroot"
  chmod 1777 "$root/tmp"
  tar -C "$root" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$work"
  trap - EXIT
  find "$IMAGE_CACHE/bases" -name 'runtime-*.tar' ! -name "runtime-$key.tar" -delete
fi

echo "runtime base: importing $tarball as $RUNTIME_BASE" >&2
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'USER 65532:65532' \
  --change 'WORKDIR /home/nonroot' \
  --change "LABEL ferrosched.assembly=$key" \
  "$tarball" "$RUNTIME_BASE" >/dev/null
