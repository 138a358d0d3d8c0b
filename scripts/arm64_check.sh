#!/usr/bin/env bash
# arm64 check of the edge runtime: install fashion-edge (no TensorFlow) into a Debian bookworm arm64 root under
# qemu user-mode emulation, classify rendered Fashion-MNIST test images with the shipped int8 model there and on
# this machine, and fail unless every prediction is the same.
#
# Usage (as root, on a Debian/Ubuntu x86-64 host):
#   scripts/arm64_check.sh [--root DIR] [--model PATH.tflite] [--per-class N] [--python PY]
# Needs: apt-get install qemu-user-static debootstrap binfmt-support   (first run: ~10 min, later runs: ~2 min)
# The arm64 root is kept in --root (default /var/tmp/fashion-edge-arm64) and reused; delete it to start over.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=/var/tmp/fashion-edge-arm64
MODEL="$REPO/edge/models/small/fashion_int8.tflite"
PER_CLASS=10
HOST_PY="${REPO}/.venv/bin/python"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --model) MODEL="$(realpath "$2")"; shift 2 ;;
    --per-class) PER_CLASS="$2"; shift 2 ;;
    --python) HOST_PY="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "arm64_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[arm64_check %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'arm64_check: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap and chroot); run it with sudo"
for tool in qemu-aarch64-static debootstrap; do
  command -v "$tool" >/dev/null || die "$tool missing; run: apt-get install -y qemu-user-static debootstrap binfmt-support"
done
[[ -f "$MODEL" ]] || die "model $MODEL not found; pass --model PATH.tflite (its .json card must sit beside it)"
[[ -f "${MODEL%.tflite}.json" ]] || die "card ${MODEL%.tflite}.json not found beside $MODEL"
[[ -x "$HOST_PY" ]] || die "host python $HOST_PY not found; pass --python (a venv with fashion-edge installed)"

# binfmt_misc lets the kernel run arm64 ELF files through qemu, so chroot, dpkg and pip subprocesses just work.
# Without it (some containers cannot mount binfmt_misc) every arm64 program is started through qemu explicitly.
BINFMT=0
if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] && command -v update-binfmts >/dev/null; then
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
if grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then BINFMT=1; fi
say "binfmt_misc for aarch64: $([[ $BINFMT == 1 ]] && echo enabled || echo 'not available: explicit qemu mode')"

# Run an arm64 program inside the root. With binfmt the kernel picks qemu; without it qemu is named explicitly and
# the program must not exec other arm64 binaries (pip installing wheels and our checks do not).
# The host's CA bundle goes in too: behind a TLS-inspecting proxy pip in the root must trust what the host trusts.
# (requests prefers REQUESTS_CA_BUNDLE over pip's --cert, so both are set.)
ROOT_ENV=(PIP_CERT=/opt/fe-check/host-ca.crt REQUESTS_CA_BUNDLE=/opt/fe-check/host-ca.crt
          SSL_CERT_FILE=/opt/fe-check/host-ca.crt PIP_FIND_LINKS= PIP_CONFIG_FILE=/dev/null)
in_root() {
  if [[ $BINFMT == 1 ]]; then
    env "${ROOT_ENV[@]}" chroot "$ROOT" "$@"
  else
    env "${ROOT_ENV[@]}" chroot "$ROOT" /usr/bin/qemu-aarch64-static "$@"
  fi
}

# 1. The arm64 root: Debian bookworm (what Raspberry Pi OS 64-bit is built on) with Python 3.11.
if [[ ! -f "$ROOT/.fashion-edge-root-ready" ]]; then
  say "debootstrap bookworm arm64 into $ROOT"
  rm -rf "$ROOT"; mkdir -p "$ROOT"
  debootstrap --arch=arm64 --foreign --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT.debootstrap.log"; die "debootstrap first stage failed (log: $ROOT.debootstrap.log)"; }
  cp "$(command -v qemu-aarch64-static)" "$ROOT/usr/bin/"
  if [[ $BINFMT == 1 ]]; then
    say "debootstrap second stage (configures packages under emulation)"
    chroot "$ROOT" /debootstrap/debootstrap --second-stage >>"$ROOT.debootstrap.log" 2>&1 \
      || { tail -20 "$ROOT.debootstrap.log"; die "debootstrap second stage failed (log: $ROOT.debootstrap.log)"; }
  else
    # No binfmt: maintainer scripts cannot run, but unpacking every downloaded .deb gives a usable Python.
    say "unpacking packages without configuring them (no binfmt)"
    for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  fi
  touch "$ROOT/.fashion-edge-root-ready"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# /proc and /sys stay unmounted on purpose: under qemu-user they describe the x86-64 host, and XNNPACK's cpuinfo,
# given both, segfaults parsing x86 /proc/cpuinfo as ARM. Without them it says "Error in cpuinfo" and uses defaults.
mkdir -p "$ROOT/opt/fe-check"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/opt/fe-check/host-ca.crt"
say "arm64 root: $(in_root /usr/bin/python3 -c 'import platform,sys; print(platform.machine(), "Python", sys.version.split()[0])')"

# 2. The edge install, as on a Pi, in two venvs: the plain one (`pip install fashion-edge`: numpy 2, the newest
#    OpenCV) and the Picamera2 one (--system-site-packages over apt's numpy 1.24, which apt's picamera2 and its
#    simplejpeg are built for, so numpy<2 and an OpenCV that still accepts numpy 1). The project wheel is built here;
#    its dependencies come from PyPI as aarch64 wheels (--only-binary: nothing may need compiling on the device).
WORK="$ROOT/opt/fe-check"
rm -rf "$WORK/wheel" "$WORK/images" "$WORK/model"; mkdir -p "$WORK/wheel" "$WORK/images" "$WORK/model"
say "building the fashion-edge wheel"
# Pure Python: no compiler (CC=false: the optional kernels are skipped, their numpy reference runs), tagged for any
# platform. The check classifies 28x28 images (dataset mode), which never reach the kernels; a Pi that installs the
# source distribution with gcc compiles them (docs/raspberry-pi.md).
CC=/bin/false "$HOST_PY" -m pip wheel -q --no-deps -w "$WORK/wheel" "$REPO" >/dev/null 2>&1
"$HOST_PY" -m wheel tags --remove --python-tag py3 --abi-tag none --platform-tag any "$WORK"/wheel/fashion_edge-*.whl >/dev/null
WHEEL="/opt/fe-check/wheel/$(basename "$(ls "$WORK"/wheel/fashion_edge-*.whl)")"
PIP=(-m pip install -q --disable-pip-version-check --only-binary=:all:)

VENVS=(default)
if [[ $BINFMT == 1 ]]; then
  VENVS+=(picamera2)
  if ! in_root /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    say "apt-get install python3-numpy (what apt's python3-picamera2 pulls in on Raspberry Pi OS)"
    in_root apt-get -qq update >/dev/null && DEBIAN_FRONTEND=noninteractive in_root apt-get -qq install -y python3-numpy >/dev/null
  fi
else
  say "no binfmt: apt cannot run in the arm64 root, so only the plain venv is checked"
fi
for venv in "${VENVS[@]}"; do
  VENV="/opt/fe-check/venv-$venv"
  if [[ ! -x "$ROOT$VENV/bin/python" ]]; then
    say "creating $VENV"
    if [[ $venv == picamera2 ]]; then
      in_root /usr/bin/python3 -m venv --system-site-packages "$VENV"
    else
      in_root /usr/bin/python3 -m venv "$VENV"
    fi
  fi
  say "[$venv] pip install fashion-edge (aarch64 wheels from PyPI)"
  in_root "$VENV/bin/python" "${PIP[@]}" --force-reinstall --no-deps "$WHEEL"
  if [[ $venv == picamera2 ]]; then
    in_root "$VENV/bin/python" "${PIP[@]}" "$WHEEL" "numpy<2" "opencv-python-headless<4.12"
  else
    in_root "$VENV/bin/python" "${PIP[@]}" "$WHEEL"
  fi
  if in_root "$VENV/bin/python" -c 'import tensorflow' 2>/dev/null; then die "[$venv] TensorFlow got installed"; fi
  in_root "$VENV/bin/python" -c 'import importlib.metadata as m, numpy
print("  [arm64 '"$venv"']", ", ".join(f"{d} {m.version(d)}" for d in ("fashion-edge", "ai-edge-litert",
      "opencv-python-headless", "click")), "| numpy", numpy.__version__, "from", numpy.__file__.split("/numpy/")[0])'
done

# 3. The same images and model on both sides.
cp "$MODEL" "${MODEL%.tflite}.json" "$WORK/model/"
cp "$REPO/scripts/arm64/classify.py" "$WORK/classify.py"
say "rendering $((PER_CLASS * 10)) Fashion-MNIST test images"
"$HOST_PY" "$REPO/scripts/arm64/render_images.py" "$WORK/images" --per-class "$PER_CLASS"
MODEL_NAME="$(basename "$MODEL")"

# edge-classify itself, run through Python so that it also works without binfmt
CLI=(-c 'import sys; from fashion_edge.edge.cli import main; sys.exit(main())' --json --model)
say "classifying on x86-64 ($(uname -m))"
"$HOST_PY" "$REPO/scripts/arm64/classify.py" "$WORK/model/$MODEL_NAME" "$WORK/images" >"$WORK/x86.json"
(cd "$ROOT" && "$HOST_PY" "${CLI[@]}" "opt/fe-check/model/$MODEL_NAME" opt/fe-check/images >"$WORK/x86-cli.jsonl" 2>/dev/null)
FAILED=0
for venv in "${VENVS[@]}"; do
  say "[$venv] classifying on arm64 (emulated)"
  START=$(date +%s)
  in_root "/opt/fe-check/venv-$venv/bin/python" /opt/fe-check/classify.py "/opt/fe-check/model/$MODEL_NAME" \
    /opt/fe-check/images >"$WORK/arm64-$venv.json" 2>"$WORK/arm64-$venv.err" \
    || { cat "$WORK/arm64-$venv.err"; die "[$venv] classification on arm64 failed"; }
  in_root "/opt/fe-check/venv-$venv/bin/python" "${CLI[@]}" "opt/fe-check/model/$MODEL_NAME" opt/fe-check/images \
    >"$WORK/arm64-$venv-cli.jsonl" 2>/dev/null || true  # its exit code is checked by comparing the results
  say "[$venv] arm64 runs took $(( $(date +%s) - START )) s under emulation"
  # 4. Same top-1 for every image (also through edge-classify); the largest probability difference is reported.
  "$HOST_PY" "$REPO/scripts/arm64/compare.py" "$WORK/x86.json" "$WORK/arm64-$venv.json" \
    "$WORK/x86-cli.jsonl" "$WORK/arm64-$venv-cli.jsonl" || FAILED=1
  say "[$venv] edge-classify doctor on arm64"
  in_root "/opt/fe-check/venv-$venv/bin/python" "${CLI[0]}" "${CLI[1]}" doctor --model "/opt/fe-check/model/$MODEL_NAME" \
    2>&1 | grep -v '^Error in cpuinfo' | sed 's/^/  /'
  [[ ${PIPESTATUS[0]} == 0 ]] || FAILED=1
done
exit $FAILED
