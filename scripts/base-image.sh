#!/usr/bin/env bash
# A Debian 12 base image with Python for the Containerfile, made without any container registry:
# mmdebstrap builds the root filesystem from the Debian mirrors, and Podman imports it.
#   scripts/base-image.sh NAME            -> NAME in the default Podman store
#   scripts/base-image.sh NAME PODMAN_DIR -> NAME in the private store of scripts/test-podman.sh
# The root filesystem tar is kept in $DOCKYARD_IMAGE_CACHE (default ~/.cache/dockyard/images),
# named after everything that goes into it, so later runs import it without rebuilding.
# Installs mmdebstrap with apt-get when missing (needs root). Progress goes to stderr.
set -euo pipefail

name=${1:?image name, e.g. localhost/dockyard-base:bookworm}
podman_dir=${2:-}
suite=bookworm
packages=python3,python3-venv,ca-certificates,passwd
recipe=2  # raise when the mmdebstrap options below change, so old tars are not reused

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

if podman_cmd image exists "$name"; then
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
  mkdir -p "$cache"
  partial="$tar_file.$$.tar"
  trap 'rm -f "$partial"' EXIT
  echo "mmdebstrap $suite with $packages -> $tar_file" >&2
  # Documentation, manual pages and translations are left out: nothing in the image reads them.
  # </dev/null: mmdebstrap would otherwise read extra apt sources from a non-terminal stdin.
  mmdebstrap --quiet --variant=apt --include="$packages" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --aptopt='APT::Install-Recommends "false"' \
    "$suite" "$partial" </dev/null >&2
  mv "$partial" "$tar_file"
  trap - EXIT
fi

echo "podman import $tar_file as $name" >&2
podman_cmd import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/usr/bin/python3"]' \
  "$tar_file" "$name" >/dev/null
