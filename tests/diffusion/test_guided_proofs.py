"""The sympy proofs of issue 16 (proofs/diffusion_guided.py) hold, and each fails when the
formula it checks is planted wrong."""

from __future__ import annotations

import sympy as sp

from proofs import diffusion_guided as pg


def test_tilted_products_of_gaussians():
    assert pg.prove_tilted_gaussian_products().holds


def test_tilted_product_proof_catches_a_wrong_mean(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    def wrong(c1, c2):  # planted: means averaged with the exponents, not the precisions
        prec = c1 / pg.v1 + c2 / pg.v2
        return (c1 * pg.m1 + c2 * pg.m2) / (c1 + c2), 1 / prec

    monkeypatch.setattr(pg, "tilted_gaussian_1d", wrong)
    assert not pg.prove_tilted_gaussian_products().holds


def test_fkc_weight_solves_the_pde_and_vanishes_on_the_data_path():
    assert pg.prove_fkc_weight_solves_pde().holds
    assert pg.prove_fkc_weight_vanishes_on_the_data_path().holds


def test_fkc_proof_catches_a_dropped_laplacian(monkeypatch):
    """Power: deterministic: a sympy residual, exact symbolic algebra; no random draw
    enters."""
    orig = pg.fkc_rate_1d

    def dropped(log_pi):  # planted: the -g^2/2 (-P) term left out
        G, v = orig(log_pi)
        P = -sp.diff(log_pi, pg.x, 2)
        return G - pg.g2 / 2 * P, v

    monkeypatch.setattr(pg, "fkc_rate_1d", dropped)
    assert not pg.prove_fkc_weight_solves_pde().holds


def test_proof_formula_is_the_library_formula():
    """The proof's closed form is the one toytheory.diffusion.targets computes."""
    from toytheory.diffusion import targets

    vals = {pg.m1: 0.7, pg.m2: -1.2, pg.v1: 0.4, pg.v2: 1.5}
    mean, var = (float(e.subs(vals)) for e in pg.tilted_gaussian_1d(0.3, 0.7))
    g = targets.gaussian_geometric([0.7], [[0.4]], [-1.2], [[1.5]], 0.3)
    assert abs(g.mean()[0] - mean) < 1e-12 and abs(g.covariance()[0, 0] - var) < 1e-12
