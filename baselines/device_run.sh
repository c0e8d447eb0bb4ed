#!/usr/bin/env bash
# One call on a lent GPU machine (see /work/.library/device): the model benchmark, then the
# NTM-task baseline set, everything written under $OUT. Budget: about 8 minutes in all.
#   TAG=h100 TIME_LIMIT=20 bash baselines/device_run.sh
# Copy $OUT/baselines/* to baselines/results/$TAG/ and run baselines/make_tables.py afterwards.
set -euo pipefail
OUT=${OUT:-/tmp/device-out}
TAG=${TAG:-gpu}
mkdir -p "$OUT"
pip install -q --no-deps -e . >/dev/null 2>&1 || true
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
timeout 150 python benchmarks/bench_models.py --device cuda --compile \
  --json "$OUT/bench_models.json" 2>&1 | tee "$OUT/bench_models.log"
python baselines/run_baselines.py --tag "$TAG" --out-dir "$OUT/baselines" --device cuda \
  --time-limit "${TIME_LIMIT:-20}" --jobs 1 2>&1 | tee "$OUT/baselines.log"
