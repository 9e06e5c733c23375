#!/usr/bin/env bash
# One vLLM server per GPU for CALMA Studio's model pool (see deploy/vllm/README.md).
#
#   deploy/vllm/vllm-gpus.sh                 every GPU nvidia-smi lists, in the foreground; Ctrl-C stops them all
#   deploy/vllm/vllm-gpus.sh 0 1             GPUs 0 and 1 only
#   deploy/vllm/vllm-gpus.sh --one 2         replace this shell with the server of GPU 2 (what vllm@.service runs)
#   deploy/vllm/vllm-gpus.sh --config [N..]  print the [[models]] table for calma-llm.toml, one endpoint per GPU
#   deploy/vllm/vllm-gpus.sh --check [N..]   GET /v1/models on each GPU's server (the pool's own health check)
#
# GPU N gets CUDA_VISIBLE_DEVICES=N and port VLLM_BASE_PORT + N (8000, 8001, ...). Settings, from the
# environment (the systemd unit reads them from /etc/calma/vllm.env):
#   VLLM_MODEL                   required: a Hugging Face id or a local path (an instruction-tuned model:
#                                CALMA talks to it through /v1/chat/completions, so it needs a chat template)
#   VLLM_API_KEY                 required: clients must send it as a bearer token; vLLM reads it from this
#                                variable itself (the same setting as --api-key, kept out of `ps`)
#   VLLM_SERVED_NAME             the model name clients send (default: VLLM_MODEL); calma-llm.toml's served_model
#   VLLM_MAX_NUM_SEQS=32         sequences vLLM runs at once per GPU; set the pool's max_concurrent to the same
#   VLLM_MAX_MODEL_LEN=8192      context length (prompt + reply); lower it if the KV cache does not fit
#   VLLM_GPU_MEMORY_UTILIZATION=0.90
#   VLLM_HOST=0.0.0.0            listen address (firewall the ports: only the hub nodes need them)
#   VLLM_BASE_PORT=8000
#   VLLM_PUBLIC_HOST=$(hostname -f)   the host name the hub nodes use, for --config
#   VLLM_BIN=vllm                the vllm executable (e.g. /opt/vllm/.venv/bin/vllm)
#   VLLM_EXTRA_ARGS              more `vllm serve` options, split on spaces (e.g. "--enable-prefix-caching")
set -euo pipefail

: "${VLLM_MAX_NUM_SEQS:=32}"
: "${VLLM_MAX_MODEL_LEN:=8192}"
: "${VLLM_GPU_MEMORY_UTILIZATION:=0.90}"
: "${VLLM_HOST:=0.0.0.0}"
: "${VLLM_BASE_PORT:=8000}"
: "${VLLM_BIN:=vllm}"
: "${VLLM_EXTRA_ARGS:=}"

die() { echo "vllm-gpus.sh: $*" >&2; exit 2; }

gpus() {  # the GPUs asked for, or every GPU nvidia-smi lists
  if (($#)); then
    printf '%s\n' "$@"
  else
    command -v nvidia-smi >/dev/null || die "nvidia-smi not found: name the GPUs (vllm-gpus.sh 0 1 ...)"
    nvidia-smi --query-gpu=index --format=csv,noheader
  fi
}

port_of() { echo $((VLLM_BASE_PORT + $1)); }

serve_one() {  # exec the server of GPU $1
  local gpu=$1
  [[ $gpu =~ ^[0-9]+$ ]] || die "not a GPU index: $gpu"
  [[ -n ${VLLM_MODEL:-} ]] || die "set VLLM_MODEL (a Hugging Face id or a local path)"
  [[ -n ${VLLM_API_KEY:-} ]] || die "set VLLM_API_KEY (the pool sends it; without it anyone reaching the port can use the GPU)"
  export VLLM_API_KEY CUDA_VISIBLE_DEVICES=$gpu
  # shellcheck disable=SC2086  # VLLM_EXTRA_ARGS is a list of options
  exec "$VLLM_BIN" serve "$VLLM_MODEL" \
    --host "$VLLM_HOST" --port "$(port_of "$gpu")" \
    --served-model-name "${VLLM_SERVED_NAME:-$VLLM_MODEL}" \
    --max-num-seqs "$VLLM_MAX_NUM_SEQS" \
    --max-model-len "$VLLM_MAX_MODEL_LEN" \
    --gpu-memory-utilization "$VLLM_GPU_MEMORY_UTILIZATION" \
    $VLLM_EXTRA_ARGS
}

print_config() {
  local host=${VLLM_PUBLIC_HOST:-$(hostname -f 2>/dev/null || hostname)}
  local served=${VLLM_SERVED_NAME:-${VLLM_MODEL:-MODEL}}
  cat <<EOF
[[models]]
name = "${served##*/}"
kind = "openai"
served_model = "$served"
EOF
  local gpu
  for gpu in $(gpus "$@"); do
    cat <<EOF

[[models.endpoints]]
url = "http://$host:$(port_of "$gpu")/v1"
max_concurrent = $VLLM_MAX_NUM_SEQS
api_key_env = "VLLM_API_KEY"
EOF
  done
}

check() {  # exit 1 if any server does not list its model
  local host=${VLLM_PUBLIC_HOST:-127.0.0.1} gpu url failed=0
  for gpu in $(gpus "$@"); do
    url="http://$host:$(port_of "$gpu")/v1/models"
    if curl -fsS --max-time 5 -H "Authorization: Bearer ${VLLM_API_KEY:-}" "$url" >/dev/null; then
      echo "GPU $gpu: $url ok"
    else
      echo "GPU $gpu: $url FAILED" >&2
      failed=1
    fi
  done
  return "$failed"
}

case "${1:-}" in
  --one) shift; (($# == 1)) || die "--one takes one GPU index"; serve_one "$1" ;;
  --config) shift; print_config "$@" ;;
  --check) shift; check "$@" ;;
  -h|--help) sed -n '2,28p' "$0" ;;
  -*) die "unknown option $1 (--one N, --config, --check, --help)" ;;
  *)
    pids=()
    trap 'kill "${pids[@]}" 2>/dev/null; wait' INT TERM
    for gpu in $(gpus "$@"); do
      "$0" --one "$gpu" &
      pids+=("$!")
      echo "GPU $gpu: vllm serve on port $(port_of "$gpu") (pid $!)"
    done
    wait -n "${pids[@]}" || true  # one server ended: stop the others, so a supervisor sees the failure
    kill "${pids[@]}" 2>/dev/null || true
    wait
    exit 1
    ;;
esac
