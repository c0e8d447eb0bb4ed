#!/usr/bin/env bash
# One call on a lent GPU machine: the model benchmark (sequence
# models, then the QA models' questions/s), then the NTM-task baseline set and the survey's
# Table 2, everything written under $OUT. Budget: about 8 minutes in all.
#   TAG=h100 TIME_LIMIT=20 bash baselines/device_run.sh
# Copy $OUT/baselines/* to baselines/results/$TAG/ and run baselines/make_tables.py afterwards.
set -euo pipefail
OUT=${OUT:-/tmp/device-out}
TAG=${TAG:-gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
timeout 150 python benchmarks/bench_models.py --device cuda --compile --qa-models "" \
  --json "$OUT/bench_models.json" 2>&1 | tee "$OUT/bench_models.log"
timeout 120 python benchmarks/bench_models.py --device cuda --models lstm --no-curve \
  --qa-models memn2n,gated-memn2n,memnn,kv-memnn,dmn-plus,lstm,transformer \
  --json "$OUT/bench_qa.json" 2>&1 | tee "$OUT/bench_qa.log"
python baselines/run_baselines.py --tag "$TAG" --out-dir "$OUT/baselines" --device cuda \
  --time-limit "${TIME_LIMIT:-20}" --jobs 1 2>&1 | tee "$OUT/baselines.log"
python baselines/run_qa_baselines.py table2 --tag "$TAG-table2" --out-dir "$OUT/table2" \
  --device cuda --jobs 1 2>&1 | tee "$OUT/table2.log"
