#!/usr/bin/env bash
# A private, throwaway Podman service (Docker-compatible API) for the test suite.
#   scripts/test-podman.sh start DIR  -> prints `export DOCKER_HOST=…` and
#                                        `export DOCKYARD_TEST_PODMAN_DIR=…` lines to `eval`
#   scripts/test-podman.sh stop DIR   -> removes its containers, stops it and deletes DIR
# Everything lives in DIR: image store, run root, socket and its own containers.conf, so it
# never touches (nor sees) the machine's global Podman store. Test images are built offline
# from the host's static busybox. Installs podman with apt-get when missing (needs root).
# Only the export lines go to stdout; progress goes to stderr.
set -euo pipefail

action=${1:?start|stop}
dir=${2:?directory}
BUSYBOX_IMAGE=localhost/dockyard-test-bb:1

podman_in() {
  CONTAINERS_CONF="$dir/containers.conf" podman --root "$dir/root" --runroot "$dir/runroot" \
    --tmpdir "$dir/tmp" "$@"
}

install_packages() {
  local need=()
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /usr/bin/catatonit ] || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
  # The test images copy this binary, so it must be the static build.
  if [ ! -x /usr/bin/busybox ] || ldd /usr/bin/busybox >/dev/null 2>&1; then
    need+=(busybox-static)
  fi
  if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "missing packages (${need[*]}) and not root: install them first" >&2
      exit 1
    fi
    echo "apt-get install ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    }
  fi
}

write_conf() {
  # CONTAINERS_CONF replaces every other containers.conf, so the lines this machine kind
  # needs are repeated here; a short exit_command_delay stops exec
  # sessions from leaving conmon processes that recreate DIR after it is deleted. `kube play`
  # writes the network it makes into network_config_dir: kept in DIR, not /etc/containers.
  cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 2

[network]
network_config_dir = "$dir/networks"
EOF
}

build_busybox_image() {
  local rootfs="$dir/build/bb"
  mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  cp /usr/bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo ok >"$rootfs/www/healthz"
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -cf "$dir/build/bb.tar" .
  podman_in import --quiet --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    "$dir/build/bb.tar" "$BUSYBOX_IMAGE" >/dev/null
  rm -rf "$dir/build"
}

kill_conmons() {
  # conmon outlives the service; kill (by pid) only the ones that belong to this store.
  local pid
  for pid in $(grep -lsa -- "$dir/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$pid" = "$$" ] && continue
    if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q '^/usr/bin/conmon\|^conmon'; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

case "$action" in
start)
  install_packages
  mkdir -p "$dir/root" "$dir/runroot" "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  write_conf
  sock="$dir/podman.sock"
  CONTAINERS_CONF="$dir/containers.conf" setsid podman --root "$dir/root" \
    --runroot "$dir/runroot" --tmpdir "$dir/tmp" system service --time=0 "unix://$sock" \
    </dev/null >"$dir/service.log" 2>&1 &
  echo $! >"$dir/service.pid"
  for _ in $(seq 1 250); do
    [ -S "$sock" ] && break
    if ! kill -0 "$(cat "$dir/service.pid")" 2>/dev/null; then
      cat "$dir/service.log" >&2
      exit 1
    fi
    sleep 0.02
  done
  [ -S "$sock" ] || { echo "podman service did not open $sock" >&2; exit 1; }
  build_busybox_image
  echo "export DOCKER_HOST=unix://$sock"
  echo "export DOCKYARD_TEST_PODMAN_DIR=$dir"
  ;;
stop)
  [ -d "$dir" ] || exit 0
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/containers.conf" ]; then
    # Containers before the service (they outlive it), then the overlay mount before rm.
    podman_in pod rm -af -t 0 >/dev/null 2>&1 || true
    podman_in rm -af -t 0 >/dev/null 2>&1 || true
  fi
  kill_conmons
  if [ -f "$dir/service.pid" ]; then
    pid=$(cat "$dir/service.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -f "$dir/containers.conf" ]; then
    podman_in system reset -f >/dev/null 2>&1 || true
  fi
  umount "$dir/root/overlay" >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
