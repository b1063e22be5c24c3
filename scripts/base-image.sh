#!/usr/bin/env bash
# A Debian 12 base image with Python for the Containerfile, made without any container registry:
# mmdebstrap unpacks the packages from the Debian mirrors, and Podman imports the result.
#   scripts/base-image.sh NAME            -> NAME in the default Podman store
#   scripts/base-image.sh NAME PODMAN_DIR -> NAME in the private store of scripts/test-podman.sh
# The root filesystem tar is kept in $DOCKYARD_IMAGE_CACHE (default ~/.cache/dockyard/images),
# named after everything that goes into it, so later runs import it without rebuilding.
# Needs root (mmdebstrap's root mode, chroot); installs mmdebstrap with apt-get when missing.
# Progress goes to stderr.
set -euo pipefail

name=${1:?image name, e.g. localhost/dockyard-base:bookworm}
podman_dir=${2:-}
suite=bookworm
# What the Containerfile uses: Python with venv, a shell for RUN, useradd, the CA certificates.
packages=python3,python3-venv,dash,coreutils,passwd,base-files,base-passwd,ca-certificates,netbase
recipe=3  # raise when the recipe below changes, so older tars are not reused

cache=${DOCKYARD_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/images}
key=$(printf '%s %s %s' "$suite" "$packages" "$recipe" | sha256sum | cut -c1-12)
tar_file="$cache/debian-$suite-python-$key.tar"

podman_cmd() {
  if [ -n "$podman_dir" ]; then
    CONTAINERS_CONF="$podman_dir/containers.conf" podman --root "$podman_dir/root" \
      --runroot "$podman_dir/runroot" --tmpdir "$podman_dir/tmp" "$@"
  else
    podman "$@"
  fi
}

labels='{{index .Labels "dockyard.base"}}'
if [ "$(podman_cmd image inspect --format "$labels" "$name" 2>/dev/null)" = "$key" ]; then
  echo "$name is already in the store" >&2
  exit 0
fi

if [ ! -s "$tar_file" ]; then
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
      echo "mmdebstrap is missing and not root: install it first (apt-get install mmdebstrap)" >&2
      exit 1
    fi
    echo "apt-get install mmdebstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
    }
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "making the base needs root (mmdebstrap --mode=root, chroot)" >&2
    exit 1
  fi
  mkdir -p "$cache"
  build=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  rootfs=$build/rootfs
  echo "mmdebstrap $suite with $packages -> $tar_file" >&2
  # --variant=extract unpacks the packages and their dependencies without running maintainer
  # scripts: several times faster than a full install, and nothing in the image needs apt or
  # dpkg. What those scripts would have made is made below. Documentation, manual pages and
  # translations are left out. </dev/null: mmdebstrap reads extra sources from a pipe.
  mmdebstrap --quiet --mode=root --variant=extract --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$rootfs" </dev/null >&2
  cp "$rootfs/usr/share/base-passwd/passwd.master" "$rootfs/etc/passwd"
  cp "$rootfs/usr/share/base-passwd/group.master" "$rootfs/etc/group"
  mkdir -p "$rootfs/etc/ssl/certs"
  cat "$rootfs"/usr/share/ca-certificates/mozilla/*.crt >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$rootfs/tmp"
  # Byte-code for the standard library: Python starts about twice as fast with it.
  chroot "$rootfs" /usr/bin/python3 -m compileall -q -j0 /usr/lib/python3 /usr/lib/python3.11 \
    >/dev/null
  tar -C "$rootfs" -cf "$build/rootfs.tar" .
  mv "$build/rootfs.tar" "$tar_file"
  rm -rf "$build"
  trap - EXIT
fi

echo "podman import $tar_file as $name" >&2
podman_cmd import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/usr/bin/python3"]' \
  --change "LABEL dockyard.base=$key" \
  "$tar_file" "$name" >/dev/null
