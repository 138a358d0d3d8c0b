#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: the dataset package, a venv at .venv, the project with its extras.
#   scripts/setup.sh            training + edge + dev tools
#   scripts/setup.sh --tests    also what the browser tests need (Debian chromium, Playwright's Python client)
#   scripts/setup.sh --edge     only an edge-only venv at .venv-edge: `pip install -e .[dev]`, no train extra (what a
#                               Raspberry Pi installs: no TensorFlow), for the TF-free tests (`make test-edge`)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--edge" ]]; then
  [[ -x .venv-edge/bin/python ]] || { echo "== creating .venv-edge"; python3 -m venv .venv-edge; }
  echo "== pip install -e .[dev] (edge-only: no TensorFlow)"
  .venv-edge/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv-edge/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv-edge/bin/python -c "import importlib.util as u; assert u.find_spec('tensorflow') is None, 'TensorFlow in the edge venv'"
  exit 0
fi

apt_packages=(dataset-fashion-mnist gcc python3-dev)  # (a C compiler and headers: edge/_kernels.c)
[[ "${1:-}" == "--tests" ]] && apt_packages+=(chromium)

missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "== apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== pip install -e .[train,dev]"
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -m pip install -q -e ".[train,dev]" 2>&1 | grep -v "^WARNING: Location" || true
if [[ "${1:-}" == "--tests" ]]; then
  .venv/bin/python -m pip install -q playwright 2>&1 | grep -v "^WARNING: Location" || true
  # tf-keras for the two-process multi-worker test. --no-deps: its `tensorflow` requirement is met by tensorflow-cpu
  # (the same module); without it pip would add the full tensorflow wheel over tensorflow-cpu.
  .venv/bin/python -m pip install -q --no-deps "tf-keras~=2.21.0" 2>&1 | grep -v "^WARNING: Location" || true
fi
.venv/bin/python -c "import fashion_edge.edge.runtime as r; print('== ready: runtimes', r.available_runtimes())"
