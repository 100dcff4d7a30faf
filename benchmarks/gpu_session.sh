#!/usr/bin/env bash
# Every device check of a session with a CUDA machine, in one call:
#   1. the packages the device lacks, from carried wheels (no network there);
#   2. the gpu-marked tests;
#   3. the GPU rows of the benchmarks.
# Order: the solver benchmark (issue 4's 10^7 x 64 run), the tests, the other benchmarks;
# the limits add up to 555 s, inside one 590 s call, before issue 15's Gumbel row (240 s):
# with it, run that row in a second call.
# Issue 22 item 6's GPU rows: (a) 10^7 x 64 solver steps against the diffusers loop (target
# >= 3x): bench_diffusion_solvers; (b) the GMM score at N = 2e6, d = 64, K = 64 (target
# <= 20 ms on an H200; the table prints "target met?"): bench_diffusion_scores; (c) the FKC
# particles, 10^7 x 200 steps in d = 64 (sims.diffusion_guided_fkc.fkc_smc_torch on CUDA,
# float64, torch's normal_; three (d+1) x 10^7 buffers, about 16 GB of device memory):
# bench_diffusion_fkc.
# Prepare here:   bash benchmarks/gpu_wheels.sh
# Then one call of the device tool, from the repository root:
#   run(command="bash benchmarks/gpu_session.sh", carry=[".gpu_wheels"], timeout_s=590)
# Four files go to $OUT (./gpu-out where OUT is unset): session.txt, pytest-gpu.txt,
# benchmarks.txt and results-json.tgz. Each part has its own time limit, so that one slow
# part cannot take the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1   # a part stopped by its time limit keeps what it printed
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/session.txt"; }

log "start"
nvidia-smi >> "$OUT/session.txt" 2>&1 || log "nvidia-smi failed"
missing=$($PY - <<'PYEOF'
import importlib.util
need = {"scipy": "scipy", "tqdm": "tqdm", "array_api_compat": "array-api-compat",
        "pebble": "pebble", "diffusers": "diffusers", "huggingface_hub": "huggingface-hub",
        "safetensors": "safetensors", "regex": "regex", "requests": "requests",
        "filelock": "filelock", "PIL": "pillow", "yaml": "pyyaml", "fsspec": "fsspec",
        "importlib_metadata": "importlib-metadata", "zipp": "zipp", "packaging": "packaging",
        "typing_extensions": "typing-extensions", "charset_normalizer": "charset-normalizer",
        "idna": "idna", "urllib3": "urllib3", "certifi": "certifi"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
PYEOF
)
log "missing: ${missing:-nothing}"
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    $PY -m pip install -q --disable-pip-version-check --no-index --find-links .gpu_wheels \
        --no-deps $missing >> "$OUT/session.txt" 2>&1 || log "install failed"
fi
$PY -c "import torch, numpy, scipy, numba; print('torch', torch.__version__, 'cuda', \
torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0), 'numpy', \
numpy.__version__, 'scipy', scipy.__version__, 'numba', numba.__version__)" 2>&1 \
    | tee -a "$OUT/session.txt"

run_bench() {   # every table goes to one file: at most 8 files come back from $OUT
    local limit=$1; shift
    log "benchmark $*"
    echo "===== $* (limit ${limit} s)" >> "$OUT/benchmarks.txt"
    timeout "$limit" $PY -m "$@" >> "$OUT/benchmarks.txt" 2>&1
    log "exit $? : $1"
}
# issue 4 (open) first: 12 solvers x (plain, fused, replay) against the diffusers loop, one
# table per solver as it finishes
run_bench 220 benchmarks.bench_diffusion_solvers --gpu-only --gpu-repeat 3

log "gpu-marked tests"
FILES=$(grep -rl "torch_device\|mark.gpu" tests --include=*.py | grep -v conftest | sort)
# shellcheck disable=SC2086
timeout 120 $PY -m pytest -m gpu -p no:cacheprovider -q -rs $FILES > "$OUT/pytest-gpu.txt" 2>&1
log "pytest exit $? : $(tail -1 "$OUT/pytest-gpu.txt")"

run_bench 50 benchmarks.bench_diffusion_scores --gpu-only
run_bench 60 benchmarks.bench_diffusion_fkc --device cuda --gpu-large
run_bench 40 benchmarks.bench_adaptive_holdout --gpu-only
run_bench 40 benchmarks.bench_gauge_decomposition --repeat 1
run_bench 25 benchmarks.bench_rl_rollouts --repeat 3 --loop-episodes 100000
# issue 15 item 2: 10^7 float32 Gumbel-max draws at V = 10^5 (10^12 uniforms) against the
# exact 24-bit grid law (its CPU sweep alone is ~1-2 min idle; the draws ~30 s on an H100)
run_bench 240 benchmarks.bench_decoding_gumbel --device cuda --draws 10000000
tar czf "$OUT/results-json.tgz" benchmarks/results 2>/dev/null
log "done"
