#!/usr/bin/env bash
# Run COMMAND as on an AVX2 CPU without VNNI: CPUID hides AVX-512, VNNI and AMX (benchmarks/avx2_dispatch.c).
#   bash benchmarks/avx2_dispatch.sh python benchmarks/bench_int8_cpu.py --runs 20 --models 256-CE
# Prints the features NumPy and ONNX Runtime then see, so a run that did not take effect is visible.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash benchmarks/avx2_dispatch.sh COMMAND [ARGS...]" >&2; exit 2; }
grep -qw cpuid_fault /proc/cpuinfo || { echo "error: this CPU or VM has no CPUID faulting (cpuid_fault flag): run on an AVX2 machine instead" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -o "$tmp/avx2_dispatch.so" "$here/avx2_dispatch.c"
LD_PRELOAD="$tmp/avx2_dispatch.so" python - <<'PY' >&2
from numpy._core._multiarray_umath import __cpu_features__ as f
print("avx2_dispatch: NumPy sees", ", ".join(k for k in ("AVX2", "FMA3", "AVX512F", "AVX512_VNNI", "AVX512_SPR") if f.get(k)))
PY
LD_PRELOAD="$tmp/avx2_dispatch.so" "$@"
