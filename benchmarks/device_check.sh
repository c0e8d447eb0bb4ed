#!/usr/bin/env bash
# Everything this project measures on a lent GPU machine, in one call (benchmarks/README.md).
# Usage: OUT=results_dir bash benchmarks/device_check.sh [--quick]
# The machine has no network: the package is installed from the source tree without its
# dependencies (the image has them, and setuptools), and nothing here needs `datasets`.
set -uo pipefail
quick="${1:-}"
export PYTHONUNBUFFERED=1
# memtasks.generators and memtasks.models live in generators/ and reference_models/ (pyproject's
# package-dir), so the source tree must be installed, not put on PYTHONPATH
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 \
  || { echo "device_check: pip install -e . failed" >&2; exit 1; }
out="${OUT:-/tmp/memtasks-device}"
mkdir -p "$out"

{
  echo "== machine"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  nproc; python3 -c "import sys, torch, numba, numpy; print(sys.version.split()[0], 'torch', torch.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)"
} 2>&1 | tee "$out/machine.txt"

echo "== streaming generator feeding a GPU training step"
python3 benchmarks/gpu_stream.py $quick --json "$out/gpu_stream.json" 2>&1 | tee "$out/gpu_stream.log"

echo "== generator throughput and scaling on all CPU cores"
python3 benchmarks/bench_ntm.py $quick --no-compile --repeats 3 --json "$out/bench_ntm.json" 2>&1 | tee "$out/bench_ntm.log"

echo "== bulk scaling with Numba threads"
python3 benchmarks/scaling_probe.py $([[ "$quick" == "--quick" ]] && echo "--episodes 4096 --repeats 2") \
  --json "$out/scaling.json" 2>&1 | tee "$out/scaling.log"

echo "== one million copy episodes to Parquet: 1 process, then 8 shards by 8 processes"
n=1000000; [[ "$quick" == "--quick" ]] && n=20000
for args in "" "--shards 8 --workers 8"; do
  rm -rf /tmp/memtasks-gen
  /usr/bin/time -f "%e s wall, %M KB peak" python3 -m memtasks.cli generate ntm/copy-v1 -n "$n" \
    --seed 0 --out /tmp/memtasks-gen -q $args
done 2>&1 | tee "$out/generate.log"
