#!/usr/bin/env bash
# The GPU check (docs/performance.md): JSON lines of throughput, MFU and peak memory for ResNet-50,
# BERT-base (seq 512) and wav2vec 2.0 base in bf16, eager / torch.compile / channels_last, peak
# memory per policy, and one short real run that resumes exactly. About 8 minutes on one H100.
#   benchmarks/gpu_check.sh            on the GPU (exits 2 without one)
#   benchmarks/gpu_check.sh --dry      tiny sizes on the CPU, in seconds (the test suite runs this)
# Extra flags go to benchmarks/gpu/check.py (--steps N, --no-compile).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"
exec "$python" "$here/gpu/check.py" "$@"
