#!/usr/bin/env bash
# A stand-in for `vllm` on a machine without a GPU, to try this folder end to end on a CPU:
#   llama-cpp-as-vllm.sh serve NAME [vllm serve options]
# runs llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on the same host and
# port, under the same model name and API key (VLLM_API_KEY), with the GGUF named by LLAMA_GGUF. E.g.
#
#   VLLM_BIN=$PWD/deploy/vllm/llama-cpp-as-vllm.sh LLAMA_PYTHON=$PWD/.venv/bin/python \
#   LLAMA_GGUF=~/.cache/calma/models/gemma-3-270m-q4_k_m.gguf LLAMA_CHAT_FORMAT=gemma \
#   VLLM_MODEL=gemma-3-270m VLLM_API_KEY=dev-key VLLM_MAX_NUM_SEQS=1 VLLM_MAX_MODEL_LEN=2048 \
#   VLLM_HOST=127.0.0.1 deploy/vllm/vllm-gpus.sh 0 1
#
# llama_cpp.server generates one reply at a time: give its endpoints max_concurrent = 1. Options it
# has no equivalent for (--max-num-seqs, --gpu-memory-utilization, ...) are dropped.
#   LLAMA_GGUF         required: the GGUF file
#   LLAMA_PYTHON       a Python with llama-cpp-python[server] (default: python3)
#   LLAMA_THREADS      CPU threads per server (default 1)
#   LLAMA_CHAT_FORMAT  e.g. gemma (for the packaged Gemma 3 270M), for a GGUF without a chat template (CALMA uses /v1/chat/completions)
set -euo pipefail

die() { echo "llama-cpp-as-vllm.sh: $*" >&2; exit 2; }
[[ ${1:-} == serve && -n ${2:-} ]] || die "usage: llama-cpp-as-vllm.sh serve NAME [options]"
[[ -n ${LLAMA_GGUF:-} && -f ${LLAMA_GGUF} ]] || die "set LLAMA_GGUF to a GGUF file"
name=$2
shift 2
args=(--model "$LLAMA_GGUF" --model_alias "$name" --n_threads "${LLAMA_THREADS:-1}")
while (($#)); do
  case $1 in
    --host) args+=(--host "$2"); shift 2 ;;
    --port) args+=(--port "$2"); shift 2 ;;
    --served-model-name) args[3]=$2; shift 2 ;;  # replaces --model_alias's value
    --max-model-len) args+=(--n_ctx "$2"); shift 2 ;;
    --api-key) VLLM_API_KEY=$2; shift 2 ;;
    --*=*) shift ;;
    --*) if [[ ${2:-} != --* && $# -gt 1 ]]; then shift 2; else shift; fi ;;  # no equivalent: dropped
    *) shift ;;
  esac
done
if [[ -n ${LLAMA_CHAT_FORMAT:-} ]]; then args+=(--chat_format "$LLAMA_CHAT_FORMAT"); fi
echo "llama-cpp-as-vllm.sh: CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-} (ignored); llama_cpp.server ${args[*]}${VLLM_API_KEY:+ --api_key ***}" >&2
if [[ -n ${VLLM_API_KEY:-} ]]; then args+=(--api_key "$VLLM_API_KEY"); fi  # visible in ps: a CPU test, not production
exec "${LLAMA_PYTHON:-python3}" -m llama_cpp.server "${args[@]}"
