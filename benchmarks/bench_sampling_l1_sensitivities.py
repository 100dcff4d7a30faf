"""All l1 sensitivities of a 300 x 8 Gaussian matrix: toytheory against cvxpy and HiGHS.

Contenders (same matrix, same process):

- toytheory vertex walk (``lp_sensitivities(A, 1)``), certified to rounding;
- cvxpy, one problem per row (Clarabel), the issue's baseline;
- cvxpy, one parametrised problem re-solved per row;
- scipy ``linprog(method="highs")`` per row (toytheory's LP reference).

Accuracy is reported next to the timings (max relative difference to the vertex walk's
certified values; cvxpy must be within 1e-6 for the comparison to be at equal accuracy).

Run: ``.venv/bin/python -m benchmarks.bench_sampling_l1_sensitivities [--quick]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._timing import (Contender, add_blas_threads_option, apply_blas_threads,
                                compare)


def cvxpy_per_row(a, reuse: bool):
    import cvxpy as cp
    import numpy as np

    n, d = a.shape
    out = np.empty(n)
    if reuse:
        x = cp.Variable(d)
        row = cp.Parameter(d)
        prob = cp.Problem(cp.Maximize(row @ x), [cp.norm1(a @ x) <= 1])
        for i in range(n):
            row.value = a[i]
            prob.solve(solver=cp.CLARABEL)
            out[i] = prob.value
        return out
    for i in range(n):
        x = cp.Variable(d)
        prob = cp.Problem(cp.Maximize(a[i] @ x), [cp.norm1(a @ x) <= 1])
        prob.solve(solver=cp.CLARABEL)
        out[i] = prob.value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    add_blas_threads_option(parser)
    args = parser.parse_args(argv)
    apply_blas_threads(args)
    import numpy as np
    from toytheory.sampling import lp_sensitivities
    from toytheory.sampling.l1_sensitivities import l1_sensitivities_lp

    n, d, repeat = (40, 4, 2) if args.quick else (300, 8, 5)
    a = np.random.default_rng(0).standard_normal((n, d))
    ours = lp_sensitivities(a, 1.0)
    ref = ours.values
    print(f"vertex walk: certified gap {ours.max_relative_gap:.2e}, "
          f"LP fallbacks {int(np.sum(ours.iterations < 0))}")
    for name, fn in [("cvxpy per row", lambda: cvxpy_per_row(a, False)),
                     ("cvxpy parametrised", lambda: cvxpy_per_row(a, True)),
                     ("scipy HiGHS per row", lambda: l1_sensitivities_lp(a)[0])]:
        vals = fn()
        print(f"{name}: max relative difference {np.max(np.abs(vals - ref) / ref):.2e}")
    table = compare(f"all l1 sensitivities, {n} x {d} Gaussian", [
        Contender("toytheory vertex walk", lambda: lp_sensitivities(a, 1.0)),
        Contender("cvxpy per row (Clarabel)", lambda: cvxpy_per_row(a, False)),
        Contender("cvxpy parametrised (Clarabel)", lambda: cvxpy_per_row(a, True)),
        Contender("scipy linprog HiGHS per row", lambda: l1_sensitivities_lp(a)),
    ], repeat=repeat, baseline="cvxpy per row (Clarabel)", work=n, work_unit="rows")
    table.print()
    table.save(Path(__file__).parent / "results" / "bench_sampling_l1_sensitivities.json")
    return table


if __name__ == "__main__":
    main()
