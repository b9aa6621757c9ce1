"""The compiled kernels with numba's default 256-bit vectors against 512-bit ones (issue 17).

On a CPU of ``losslab.kernels.WIDE_VECTOR_CPUS`` the kernels ask numba for 512-bit vectors;
``LOSSLAB_KERNELS_512=0`` keeps LLVM's default tuning (256-bit). Each setting runs in its own
process (numba fixes its target when it starts); each kernel's best CPU time of 7 calls on
one thread is printed, so that the arithmetic is compared and not the scheduling of threads.
Inputs: 1e7 float64 values (margin losses: labels ±1), softmax 65536 x 1000.
Run: ``python bench/kernels_vector_width.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import json, time, numpy as np
from losslab import kernels as K
K.set_num_threads(1)
n = 10**7
rng = np.random.default_rng(0)
y, p, out = rng.normal(size=n), rng.normal(size=n) * 2, np.empty(n)
labels = np.where(rng.random(n) < 0.5, 1.0, -1.0)
targets01 = (labels > 0).astype(float)
z32 = rng.normal(size=(65536, 1000)).astype(np.float32)
z64 = z32.astype(np.float64)
t = rng.integers(0, 1000, 65536)
o32, o64 = np.empty_like(z32), np.empty_like(z64)
cases = {name: (lambda name=name: K.distance(name, {}, y, p, 1.0 / n, out))
         for name in ("mse", "pseudo_huber", "log_cosh", "cauchy", "barron")}
cases["logistic"] = lambda: K.margin("logistic", {}, labels, p, 1.0 / n, out)
cases["BCE on logits"] = lambda: K.bce_logits(targets01, p, 1.0 / n, out)
cases["softmax CE float32"] = lambda: K.softmax_cross_entropy(z32, t, 1.0 / 65536, o32)
cases["softmax CE float64"] = lambda: K.softmax_cross_entropy(z64, t, 1.0 / 65536, o64)
best = {}
for name, f in cases.items():
    assert f() is not None, name
    times = []
    for _ in range(7):
        start = time.process_time()
        f()
        times.append(time.process_time() - start)
    best[name] = min(times) * 1000
from numba.core.registry import cpu_target  # after the kernels: they import numba themselves
wide = cpu_target.target_context.codegen().magic_tuple()[2].endswith(",-prefer-256-bit")
print(json.dumps({"wide": wide, "ms": best}))
"""


def run(**env) -> dict:
    settings = ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "NUMBA_ENABLE_AVX", "LOSSLAB_KERNELS_512")
    child_env = {k: v for k, v in os.environ.items() if k not in settings}
    child_env.update(env)
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=child_env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    narrow, wide = run(LOSSLAB_KERNELS_512="0"), run()
    if not wide["wide"]:
        print("this CPU is not in losslab.kernels.WIDE_VECTOR_CPUS (or lacks AVX-512): both runs use 256-bit vectors")
    print("| kernel, one thread | 256-bit (ms CPU) | 512-bit (ms CPU) | 512 / 256 |")
    print("|---|---:|---:|---:|")
    for name, before in narrow["ms"].items():
        after = wide["ms"][name]
        print(f"| {name} | {before:.0f} | {after:.0f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
