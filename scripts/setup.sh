#!/usr/bin/env bash
# Installs what CALMA Studio needs into this checkout: a Python venv (.venv), the client's npm
# packages, and the built client (client/dist). `--test` adds the test tools and Debian's chromium.
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
with_tests=0
if [[ "${1:-}" == "--test" ]]; then extras="[test]"; with_tests=1; fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "CALMA Studio needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
# llama-cpp-python has no wheel on PyPI: pip builds it from source (about 7 minutes, once; pip's wheel
# cache keeps the result, so later runs install in seconds). Build for any x86-64 CPU, not just this one:
# no -march=native and no instruction sets beyond the x86-64 baseline (see README: "The embedded model").
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_SSE42=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_BMI2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_AVX512=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
echo "==> installing Python packages${extras:+ (with test tools)} (a first install builds llama.cpp: ~7 min)"
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first, pinned: resolved through sentence-transformers, pip would take a CUDA build of several GB.
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".${extras}"

echo "==> installing and building the browser client"
if [[ ! -d client/node_modules ]] || [[ client/package-lock.json -nt client/node_modules/.package-lock.json ]]; then
  npm ci --prefix client --no-audit --no-fund --loglevel=error
fi
npm run build --prefix client --silent

if [[ $with_tests == 1 ]]; then
  # Debian packages the tests drive for real: chromium (browser tests), redis-server (many-node tests).
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if (( ${#missing[@]} )); then
    echo "==> installing Debian packages for the tests: ${missing[*]}"
    sudo_cmd=""
    if [[ $(id -u) != 0 ]]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
echo "==> setup done"
