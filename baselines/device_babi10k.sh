#!/usr/bin/env bash
# bAbI-10k on a lent GPU (issue 13, item 6): DMN+ and the DNC as their papers train them, through
# their named variants (`memtasks baseline --list-models`): DMN+ one model per task and one on
# all tasks (`dmn-plus.babi-10k`: batch 128, up to 256 epochs, patience 20; Xiong et al. 2016),
# the DNC on all tasks (`dnc.babi-10k`: LSTM 256, N=256, W=64, R=4; Graves et al. 2016).
# The full protocols take hours; TIME_LIMIT (seconds per run) caps each run, and the results
# say where it stopped. TASKS picks the per-task DMN+ runs (a prefix list, "" for none).
#   TAG=h100-babi-10k TIME_LIMIT=150 TASKS=qa1-v1,qa2-v1 bash baselines/device_babi10k.sh
#   DEVICE=cpu QUICK=1 bash baselines/device_babi10k.sh      # a smoke test of the script
# Copy $OUT/babi-10k*/ to baselines/results/$TAG*/ and run baselines/make_tables.py afterwards.
set -euo pipefail
OUT=${OUT:-/tmp/device-out}
TAG=${TAG:-gpu-babi-10k}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1
if [ "$DEVICE" != cpu ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu-babi-10k.txt"
fi
flags=(--device "$DEVICE" --jobs 1)
if [ -n "${TIME_LIMIT:-}" ]; then flags+=(--time-limit "$TIME_LIMIT"); fi
if [ -n "${QUICK:-}" ]; then flags+=(--quick); fi
python baselines/run_qa_baselines.py babi-10k --tag "$TAG" --out-dir "$OUT/babi-10k" \
  --only joint-v2__dmn-plus,joint-v2__dnc "${flags[@]}" 2>&1 | tee "$OUT/babi-10k.log"
if [ -n "${TASKS-qa1-v1,qa2-v1,qa3-v1}" ]; then
  python baselines/run_qa_baselines.py babi-10k-tasks --tag "$TAG-tasks" \
    --out-dir "$OUT/babi-10k-tasks" --only "${TASKS-qa1-v1,qa2-v1,qa3-v1}" "${flags[@]}" \
    2>&1 | tee "$OUT/babi-10k-tasks.log"
fi
