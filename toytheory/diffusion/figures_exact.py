"""Figures of the exact diffusion oracle: score fields, explained variance, teleportation.

Each figure function takes a seed (and, optionally, data a claim has already
computed) and returns a :class:`matplotlib.figure.Figure`; they are registered
with :func:`toytheory.figures.register_figure` so ``toytheory figures`` renders
them.
"""

from __future__ import annotations

import numpy as np

from ..figures import register_figure
from .laws import GaussianMixture

__all__ = ["field_law", "score_field_figure", "explained_variance_figure",
           "teleportation_figure"]


def field_law() -> GaussianMixture:
    """A 2-D mixture with unequal weights and tilted covariances (for the score-field figure)."""
    rot = lambda th: np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])  # noqa: E731
    covs = np.stack([rot(th) @ np.diag(v) @ rot(th).T for th, v in
                     ((0.4, (0.35, 0.04)), (-0.9, (0.2, 0.08)), (1.3, (0.05, 0.05)))])
    return GaussianMixture([0.5, 0.3, 0.2], [[-1.2, -0.4], [1.1, 0.9], [0.9, -1.3]], covs)


@register_figure("diffusion.exact.score_fields",
                 caption="Exact GMM score (top) and its Gaussian approximation (bottom) at "
                         "three noise levels; colour: log-density of each diffused law")
def score_field_figure(seed: int = 0, sigmas=(0.1, 0.5, 2.0), law=None):
    from matplotlib.figure import Figure

    from .explained_variance import gaussian_score

    law = field_law() if law is None else law
    lim = 3.0
    g = np.linspace(-lim, lim, 120)
    gx, gy = np.meshgrid(g, g)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    q = np.linspace(-lim, lim, 17)
    qx, qy = np.meshgrid(q, q)
    qpts = np.column_stack([qx.ravel(), qy.ravel()])
    fig = Figure(figsize=(10, 6.4))
    axes = fig.subplots(2, len(sigmas), sharex=True, sharey=True)
    gauss = law.gaussian_approximation()
    for j, s in enumerate(sigmas):
        for i, (name, model, field) in enumerate((
                ("exact score", law, law.score(qpts, 1.0, s)),
                ("Gaussian approximation", gauss, gaussian_score(law, qpts, 1.0, s)))):
            ax = axes[i, j]
            dens = model.log_prob(pts, 1.0, s).reshape(gx.shape)
            ax.contourf(gx, gy, np.maximum(dens, dens.max() - 12), levels=20, cmap="Blues")
            norm = np.linalg.norm(field, axis=1, keepdims=True)
            unit = field / np.maximum(norm, 1e-12)
            ax.quiver(qx, qy, unit[:, 0], unit[:, 1], np.log10(norm[:, 0] + 1e-12),
                      cmap="autumn", scale=20, width=0.006)
            ax.set_title(f"{name}, sigma = {s:g}", fontsize=9)
            ax.set_aspect("equal")
    fig.suptitle("arrows: direction of the score, colour: log10 |score|", fontsize=9)
    return fig


@register_figure("diffusion.exact.explained_variance",
                 caption="Fraction of the score's variance explained by the Gaussian "
                         "approximation against sigma / (largest data standard deviation)")
def explained_variance_figure(seed: int = 0, curves=None):
    """``curves``: dict name -> (sigma / top std (m,), fraction (m,), stderr (m,))."""
    from matplotlib.figure import Figure

    if curves is None:
        from .explained_variance import explained_variance_curve
        from .toys import grid_25, two_mode_1d

        curves = {}
        for name, law in (("two modes, 1-D", two_mode_1d()), ("5x5 grid, 2-D", grid_25())):
            top = float(np.sqrt(np.linalg.eigvalsh(law.covariance()).max()))
            sig = top * np.geomspace(0.02, 20, 25)
            res = explained_variance_curve(law, sig, order=32, rng=seed)
            curves[name] = (sig / top, np.array([r.fraction for r in res]),
                            np.array([r.stderr for r in res]))
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    for name, (ratio, frac, err) in curves.items():
        ax.errorbar(ratio, frac, yerr=err, marker=".", capsize=2, label=name)
    ax.axhline(0.99, color="k", lw=0.8, ls="--", label="99%")
    ax.axvline(2.0, color="grey", lw=0.8, ls=":", label="sigma = 2 x top std")
    ax.set_xscale("log")
    ax.set_xlabel("sigma / largest data standard deviation")
    ax.set_ylabel("1 - E|s - s_G|^2 / E|s|^2")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return fig


@register_figure("diffusion.exact.teleportation_error",
                 caption="Exact KL between the teleported output and the data law against the "
                         "skipped fraction of an 18-step EDM grid, with the KL any test can "
                         "detect from 50,000 samples at level 1e-6")
def teleportation_figure(seed: int = 0, curves=None, threshold=None):
    """``curves``: dict name -> (fractions (m,), kl (m,), stderr (m,))."""
    from matplotlib.figure import Figure

    from .teleportation import detectable_kl, teleportation_curve

    threshold = detectable_kl(50_000) if threshold is None else threshold
    if curves is None:
        from .toys import grid_25

        pts = teleportation_curve(grid_25(), 18, max_fraction=0.6, order=24)[1:]
        curves = {"5x5 grid, 2-D": (np.array([p.fraction for p in pts]),
                                    np.array([p.kl for p in pts]),
                                    np.array([p.stderr for p in pts]))}
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    for name, (frac, kl, err) in curves.items():
        keep = kl > 0
        ax.errorbar(frac[keep], kl[keep], yerr=err[keep], marker="o", ms=3, capsize=2,
                    label=name)
    ax.axhline(threshold, color="k", lw=0.8, ls="--",
               label="detectable from 50k samples (level 1e-6, power 1/2)")
    ax.axvspan(0.15, 0.30, color="orange", alpha=0.15, label="claimed safe: 15-30%")
    ax.set_yscale("log")
    ax.set_xlabel("fraction of the 18 steps skipped by teleportation")
    ax.set_ylabel("KL(output || data), nats")
    ax.legend(fontsize=7, loc="upper left")
    return fig
