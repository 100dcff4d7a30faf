"""Figures of the gauge area: the split as stream plots, singular-value spectra, trajectories.

Builders (``*_figure``) take computed data and return a
:class:`matplotlib.figure.Figure`; the registered functions (``toytheory
figures``) compute their own data from a seed. matplotlib is imported lazily.
"""

from __future__ import annotations

import numpy as np

from ..figures import register_figure

__all__ = ["split_streamplot_figure", "spectra_figure", "jacobian_trajectories_figure",
           "trajectories_figure"]


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def split_streamplot_figure(dec, window=4.0, title_suffix=""):
    """Stream plots of :math:`s`, :math:`\\nabla\\phi` and :math:`r` over the density (2-D)."""
    grid = dec.grid
    if grid.ndim != 2:
        raise ValueError("dec: stream plots need a 2-D decomposition")
    xs, ys = grid.axis_coordinates(0), grid.axis_coordinates(1)
    ix = np.flatnonzero(np.abs(xs) <= window)
    iy = np.flatnonzero(np.abs(ys) <= window)
    fig = _figure(12, 4)
    weights_nodes = dec.at_nodes(tuple(w for w in dec.weights))[..., 0]
    panels = [("model field s", dec.field), ("conservative part grad phi", dec.gradient),
              ("gauge part r (div(p r) = 0)", dec.remainder)]
    for k, (title, f) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        v = dec.at_nodes(f)[np.ix_(ix, iy)]
        dens = weights_nodes[np.ix_(ix, iy)]
        ax.contourf(xs[ix], ys[iy], dens.T, levels=12, cmap="Greys", alpha=0.5)
        speed = np.hypot(v[..., 0], v[..., 1]).T
        ax.streamplot(xs[ix], ys[iy], v[..., 0].T, v[..., 1].T, color=speed, cmap="viridis",
                      density=1.1, linewidth=0.8, arrowsize=0.8)
        ax.set_title(title + title_suffix, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(xs[ix][0], xs[ix][-1])
        ax.set_ylim(ys[iy][0], ys[iy][-1])
    fig.tight_layout()
    return fig


def spectra_figure(rows):
    """Singular-value spectra behind the estimates.

    Parameters
    ----------
    rows : list of dict
        Each with ``label``, ``k``, ``svd`` (score-SVD values, descending),
        ``jac`` (flow-Jacobian values at :math:`t_0`), optionally ``svd_gauge``
        and ``jac_gauge``.
    """
    fig = _figure(11, 2.6 * len(rows))
    for i, row in enumerate(rows):
        for j, (key, title, log) in enumerate((("svd", "score SVD (Stanczuk et al.)", False),
                                               ("jac", "flow Jacobian Y(t0) (Horvat & Pfister)",
                                                True))):
            ax = fig.add_subplot(len(rows), 2, 2 * i + j + 1)
            for suffix, style, name in (("", "o-", "conservative (exact score)"),
                                        ("_gauge", "s--", "exact score + gauge field")):
                vals = row.get(key + suffix)
                if vals is None:
                    continue
                vals = np.asarray(vals, float)
                idx = np.arange(1, vals.size + 1)
                y = vals / vals[0]
                ax.plot(idx, y, style, ms=3, lw=1, label=name)
            d = len(row[key])
            gap_at = (d - row["k"]) if key == "svd" else row["k"]
            ax.axvline(gap_at + 0.5, color="k", lw=0.7, ls=":")
            ax.set_yscale("log")
            ax.set_title(f"{row['label']}: {title}", fontsize=8)
            ax.set_xlabel("index i", fontsize=8)
            ax.set_ylabel("s_i / s_1", fontsize=8)
            if i == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def jacobian_trajectories_figure(rows):
    """Singular values of :math:`Y(t) = \\partial\\varphi_t/\\partial x_T` against t.

    Parameters
    ----------
    rows : list of dict with ``label``, ``times`` (m,), ``conservative`` (m, D) and ``gauge`` (m, D)
    """
    fig = _figure(10, 2.8 * len(rows))
    for i, row in enumerate(rows):
        for j, key in enumerate(("conservative", "gauge")):
            ax = fig.add_subplot(len(rows), 2, 2 * i + j + 1)
            ax.loglog(row["times"], row[key], lw=1)
            ax.set_title(f"{row['label']}: {key} field", fontsize=8)
            ax.set_xlabel("t", fontsize=8)
            ax.set_ylabel("singular values of Y(t)", fontsize=8)
    fig.tight_layout()
    return fig


def trajectories_figure(paths_exact, paths_gauge, law, alpha, sigma, window=4.0):
    """Probability-flow paths from the same :math:`x_T` under the score and score + gauge field."""
    fig = _figure(6, 5.2)
    ax = fig.add_subplot()
    g = np.linspace(-window, window, 160)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    dens = np.exp(law.log_prob(np.stack([xx.ravel(), yy.ravel()], 1), alpha, sigma))
    ax.contourf(g, g, dens.reshape(xx.shape).T, levels=12, cmap="Greys", alpha=0.5)
    for k in range(paths_exact.shape[1]):
        ax.plot(paths_exact[:, k, 0], paths_exact[:, k, 1], "-", color="tab:blue", lw=0.8,
                label="exact score" if k == 0 else None)
        ax.plot(paths_gauge[:, k, 0], paths_gauge[:, k, 1], "-", color="tab:red", lw=0.8,
                label="score + gauge field" if k == 0 else None)
        ax.plot(*paths_exact[0, k], "k.", ms=4)
    ax.set_xlim(-window, window)
    ax.set_ylim(-window, window)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("PF-ODE paths from the same x_T (black dots) to t = 0", fontsize=9)
    return fig


# --------------------------------------------------------------------------- registered

@register_figure("gauge.split_streamplot",
                 caption="Stream plots of a model field s, its conservative part grad phi and "
                         "its gauge part r on a 2-D Gaussian mixture (grid split, 129 x 129)")
def split_streamplot(seed: int = 0):
    from . import toys
    from .decomposition import decompose
    from .grid import Grid

    field, _, _, log_density, _ = toys.split_field_2d(0.3)
    grid = Grid(toys.BOX_2D[0], toys.BOX_2D[1], (129, 129))
    return split_streamplot_figure(decompose(field, grid, log_density=log_density))


@register_figure("gauge.intrinsic_dimension_spectra",
                 caption="Singular values behind the intrinsic-dimension estimates (score SVD "
                         "and flow Jacobian), exact score vs score + gauge field; the dotted "
                         "line is where the gap should be")
def intrinsic_dimension_spectra(seed: int = 0):
    from . import manifolds
    from .id_experiments import manifold_spectra_rows

    cases = [manifolds.Sphere(1, 3, rng=seed), manifolds.Sphere(2, 10, rng=seed + 1),
             manifolds.SwissRoll(3, n_spiral=3000, rng=seed + 2)]
    return spectra_figure(manifold_spectra_rows(cases, seed))


@register_figure("gauge.flow_jacobian_trajectories",
                 caption="Singular values of the backward-flow Jacobian Y(t) along t, for the "
                         "exact score and the score plus a gauge field (sphere and Swiss roll)")
def flow_jacobian_trajectories(seed: int = 0):
    from . import manifolds
    from .id_experiments import manifold_trajectory_rows

    cases = [manifolds.Sphere(1, 3, rng=seed), manifolds.Sphere(2, 5, rng=seed + 1),
             manifolds.SwissRoll(3, n_spiral=3000, rng=seed + 2)]
    return jacobian_trajectories_figure(manifold_trajectory_rows(cases, seed))
