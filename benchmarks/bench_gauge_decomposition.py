"""Grid split s = grad phi + r: scipy sparse CG vs torch CG, 2-D 512^2 and 3-D 64^3.

Contenders (same density, same field, same discrete problem, one process,
``benchmarks/_timing.py``), each solving to a relative residual of 1e-10 and
timed end to end (weights, right-hand side, operator, preconditioner set-up,
CG, gradients):

- ``scipy CG + multigrid``: :func:`toytheory.gauge.decomposition.decompose` with
  ``solver="scipy"`` (sparse matrix, the symmetric V-cycle preconditioner);
- ``scipy CG + Jacobi``;
- ``torch CG + Jacobi (cpu)``: matrix-free stencil, float64;
- ``torch CG + multigrid (cpu)``: the same V-cycle as sparse CSR tensors;
- the two torch contenders on ``cuda`` when a GPU is present.

The problem: the 2-D three-component mixture of :mod:`toytheory.gauge.toys` at t = 0.3
on [-8, 8]^2, the field ``split_field_2d`` (score + grad chi + a stream-function gauge
field); in 3-D the two-component mixture on [-7, 7]^3 with a skew-tensor gauge field.
Each row also reports the CG iterations and the relative residual
||div(p r)|| / ||div(p s)|| measured independently of the solver. Target (issue 5):
the 2-D 512^2 split in under 5 s on the CPU.

Run: ``.venv/bin/python -m benchmarks.bench_gauge_decomposition [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_gauge_decomposition.json"


def problem(dim: int, n: int):
    from toytheory.claims.catalog.gauge_decomposition import _field_3d
    from toytheory.gauge import toys
    from toytheory.gauge.grid import Grid

    if dim == 2:
        field, _, _, logd, _ = toys.split_field_2d(0.3)
        return field, logd, Grid(toys.BOX_2D[0], toys.BOX_2D[1], (n, n))
    field, _, _, logd = _field_3d(0.3)
    return field, logd, Grid(toys.BOX_3D[0], toys.BOX_3D[1], (n, n, n))


def contenders(dim: int, n: int):
    import torch

    from toytheory.gauge.decomposition import decompose

    field, logd, grid = problem(dim, n)
    runs = [("scipy CG + multigrid", dict(solver="scipy", preconditioner="multigrid")),
            ("scipy CG + Jacobi", dict(solver="scipy", preconditioner="jacobi")),
            ("torch CG + Jacobi (cpu)", dict(solver="torch", preconditioner="jacobi")),
            ("torch CG + multigrid (cpu)", dict(solver="torch", preconditioner="multigrid"))]
    if torch.cuda.is_available():
        runs += [("torch CG + Jacobi (cuda)",
                  dict(solver="torch", preconditioner="jacobi", device="cuda")),
                 ("torch CG + multigrid (cuda)",
                  dict(solver="torch", preconditioner="multigrid", device="cuda"))]
    out, info = [], {}
    for name, kwargs in runs:
        maxiter = 20 * max(grid.shape) + 100 if kwargs["preconditioner"] == "jacobi" else 200

        def run(kwargs=kwargs, name=name, maxiter=maxiter):
            dec = decompose(field, grid, log_density=logd, tol=1e-10, maxiter=maxiter, **kwargs)
            info[name] = (dec.iterations, dec.relative_residual)
            return dec

        sync = torch.cuda.synchronize if kwargs.get("device") == "cuda" else None
        out.append(Contender(name, run, sync))
    return out, info, grid


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny grids (smoke run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [(2, 65), (3, 17)] if args.quick else [(2, 512), (3, 64)]
    for dim, n in sizes:
        cs, info, grid = contenders(dim, n)
        table = compare(f"gauge split, {dim}-D {n}^{dim} grid ({grid.size} nodes)", cs,
                        repeat=1 if args.quick else args.repeat, baseline="scipy CG + multigrid",
                        work=grid.size, work_unit="nodes")
        table.print()
        for name, (its, res) in info.items():
            print(f"    {name:36s} {its:5d} CG iterations, relative residual {res:.2e}")
        if not args.quick:
            table.save(RESULTS)


if __name__ == "__main__":
    main()
