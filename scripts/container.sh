#!/usr/bin/env bash
# The app as a container image (see docs/deploy.md).
#
#   scripts/container.sh build    release binary + build context + `podman build`, as
#                                 localhost/server-side-sessions:latest; prints its size
#   scripts/container.sh run      run the image on http://127.0.0.1:8080 (Ctrl-C stops it)
#   scripts/container.sh check    the container checks CI runs: `cargo test` of tests/app/container/
#   scripts/container.sh setup    install and configure podman for an image already built
#
# Podman (Debian's package) is installed when missing. The image needs no registry: it is
# FROM scratch, fed with what `cargo build --release` made on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
IMAGE="${IMAGE:-localhost/server-side-sessions:latest}"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
CONTEXT="$TARGET/container"
BINARY="$TARGET/release/server-side-sessions"

die() { printf 'container.sh: %s\n' "$*" >&2; exit 2; }

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian's podman, with runc: crun (podman's default) refuses some kernels' hybrid cgroup
# layouts, runc runs on them.
install_podman() {
  command -v apt-get >/dev/null || die "podman is missing and there is no apt-get: install podman, then run this again"
  echo "podman is missing: installing Debian's podman and runc"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq podman runc >/dev/null
}

# Some sandboxes forbid a container runtime to set resource limits (runc then fails with
# "error setting rlimits ... operation not permitted"). Podman sets its default ulimits on
# every container unless told not to; this writes that setting, and only where a probe
# container shows it is needed.
CONF=/etc/containers/containers.conf
probe() {
  # The smallest run of the image: its own dynamic loader, asked for its help text.
  podman run --rm --network none --entrypoint /lib64/ld-linux-x86-64.so.2 "$IMAGE" --help 2>&1 >/dev/null
}

configure_runtime() {
  local out
  out="$(probe)" && return 0
  if printf '%s' "$out" | grep -q 'rlimit' && ! grep -qs '^default_ulimits' "$CONF"; then
    echo "this machine does not let containers set rlimits: adding default_ulimits = [] to $CONF"
    as_root mkdir -p "$(dirname "$CONF")"
    if grep -qs '^\[containers\]' "$CONF"; then
      as_root sed -i '/^\[containers\]/a default_ulimits = []' "$CONF"
    else
      printf '[containers]\ndefault_ulimits = []\n' | as_root tee -a "$CONF" >/dev/null
    fi
    out="$(probe)" && return 0
  fi
  die "podman cannot run a container here: $out"
}

ensure_podman() {
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then install_podman; fi
}

ensure_image() {
  ensure_podman
  podman image exists "$IMAGE" || die "no image $IMAGE: run scripts/container.sh build first"
  configure_runtime
}

# target/container/rootfs: exactly what the image holds, laid out as its root.
stage_rootfs() {
  local root="$CONTEXT/rootfs" lib
  rm -rf "$CONTEXT"
  mkdir -p "$root/app" "$root/etc"
  # Symbols are left in target/ (the benchmark's profiler reads them), not in the image.
  strip -o "$root/app/server-side-sessions" "$BINARY"
  cp -r templates "$root/app/templates"
  cp Rocket.toml "$root/app/Rocket.toml"
  # The shared libraries the binary links, each at the path the loader looks for it.
  for lib in $(ldd "$BINARY" | awk '/=> \//{print $3} /^\s*\/lib/{print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  printf 'root:x:0:0:root:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  cp Containerfile "$CONTEXT/Containerfile"
}

report_size() {
  local unpacked compressed
  unpacked="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
  # What a registry would store and a platform would pull: the layers, gzip-compressed.
  compressed="$(podman save --format docker-archive "$IMAGE" | gzip -c | wc -c)"
  python3 - "$unpacked" "$compressed" "$IMAGE" <<'EOF'
import sys
unpacked, compressed, image = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
mib = lambda n: f"{n / 1024 / 1024:.1f} MiB"
print(f"{image}: {mib(unpacked)} unpacked, {mib(compressed)} compressed (gzip)")
EOF
}

build() {
  command -v python3 >/dev/null || die "this needs python3"
  echo "building the release binary (cargo build --release)"
  cargo build --release --quiet
  stage_rootfs
  ensure_podman
  local started=$SECONDS
  podman build --quiet --tag "$IMAGE" --file "$CONTEXT/Containerfile" "$CONTEXT" >/dev/null
  echo "built $IMAGE in $((SECONDS - started)) s (after the cargo build)"
  configure_runtime
  report_size
}

run() {
  ensure_image
  # A key for this run only, passed through the environment, never on a command line.
  ROCKET_SECRET_KEY="${ROCKET_SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}"
  export ROCKET_SECRET_KEY
  echo "serving on http://127.0.0.1:8080 (plain http, so cookie_secure is off for this run); Ctrl-C stops it"
  exec podman run --rm --read-only --cap-drop ALL --security-opt no-new-privileges \
    -p 127.0.0.1:8080:8080 -e ROCKET_SECRET_KEY -e ROCKET_COOKIE_SECURE=false "$@" "$IMAGE"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  check) shift; ensure_image; export IMAGE; exec cargo test --test app -- --ignored container:: "$@" ;;
  setup) ensure_image ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
