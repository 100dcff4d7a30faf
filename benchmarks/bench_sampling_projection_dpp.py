"""One exact projection-DPP sample, N = 2000, k = 100: toytheory/sims against DPPy.

Contenders (same orthonormal V, kernel K = V V^T, same process):

- sims Numba chain rule with rejection (``sims.sampling_dpp``);
- sims Numba chain rule with the full residual vector;
- toytheory numpy chain rule (rejection and full-vector variants);
- DPPy ``proj_dpp_sampler_kernel_GS`` (the issue's baseline), ``..._eig_GS``, ``..._kernel_Chol``.

On a machine with CUDA no GPU path is offered: the samplers are sequential in k and the
rejection variant does O(k t) work per proposal, which a GPU would not speed up.

Run: ``.venv/bin/python -m benchmarks.bench_sampling_projection_dpp [--quick]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._timing import (Contender, add_blas_threads_option, apply_blas_threads,
                                compare)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    add_blas_threads_option(parser)
    args = parser.parse_args(argv)
    apply_blas_threads(args)
    import numpy as np
    from dppy.exact_sampling import (proj_dpp_sampler_eig_GS, proj_dpp_sampler_kernel_Chol,
                                     proj_dpp_sampler_kernel_GS)

    from sims.sampling_dpp import sample_projection_dpp_chain, sample_projection_dpp_rejection
    from toytheory.sampling import sample_projection_dpp

    n, k, repeat = (200, 10, 5) if args.quick else (2000, 100, 15)
    rng = np.random.default_rng(0)
    v, _ = np.linalg.qr(rng.standard_normal((n, k)))
    kern = v @ v.T
    gen = np.random.default_rng(1)
    rs = np.random.RandomState(1)
    table = compare(f"one projection DPP sample, N = {n}, k = {k}", [
        Contender("sims numba rejection", lambda: sample_projection_dpp_rejection(v, gen)),
        Contender("sims numba chain rule", lambda: sample_projection_dpp_chain(v, gen)),
        Contender("toytheory numpy rejection",
                  lambda: sample_projection_dpp(v, rng=gen, method="rejection")),
        Contender("toytheory numpy chain rule",
                  lambda: sample_projection_dpp(v, rng=gen, method="chain")),
        Contender("DPPy kernel GS", lambda: proj_dpp_sampler_kernel_GS(kern, random_state=rs)),
        Contender("DPPy eig GS", lambda: proj_dpp_sampler_eig_GS(v, random_state=rs)),
        Contender("DPPy kernel Chol", lambda: proj_dpp_sampler_kernel_Chol(kern,
                                                                           random_state=rs)),
    ], repeat=repeat, baseline="DPPy kernel GS", work=1, work_unit="samples")
    table.print()
    table.save(Path(__file__).parent / "results" / "bench_sampling_projection_dpp.json")
    return table


if __name__ == "__main__":
    main()
