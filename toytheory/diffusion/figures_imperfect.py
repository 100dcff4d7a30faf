"""Figures of imperfect denoisers: learned vs exact score, hallucination filter, error curves.

Each function returns a :class:`matplotlib.figure.Figure`; the ``*_figure`` functions
with a ``seed`` argument only are registered with
:func:`toytheory.figures.register_figure`.
"""

from __future__ import annotations

import numpy as np

from ..figures import register_figure

__all__ = ["learned_vs_exact_score_figure", "hallucination_histogram_figure",
           "curve_figure", "score_rates_panels", "grid_samples_figure"]


def learned_vs_exact_score_figure(model, law, timesteps=(0, 20, 100)):
    """Learned (trained MLP) and exact score of a 1-D law at a few DDPM timesteps."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3))
    axes = fig.subplots(1, len(timesteps))
    x = np.linspace(0.5, 3.5, 600)[:, None]
    for ax, t in zip(np.atleast_1d(axes), timesteps):
        a, s = model.alpha_sigma(t)
        xs = x * float(a)
        ax.plot(xs[:, 0], law.score(xs, float(a), float(s))[:, 0] * float(s), label="exact")
        ax.plot(xs[:, 0], model.score(xs, t)[:, 0] * float(s), label="trained MLP")
        ax.set_title(f"t = {t} (sigma = {float(s):.3f})")
        ax.set_xlabel("x_t")
    np.atleast_1d(axes)[0].set_ylabel("sigma x score")
    np.atleast_1d(axes)[0].legend()
    return fig


def hallucination_histogram_figure(score, hallucinated, threshold):
    """Histograms of the detector's statistic for in-support and hallucinated samples."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    v = np.log10(np.maximum(np.asarray(score), 1e-12))
    h = np.asarray(hallucinated, bool)
    bins = np.linspace(v.min(), v.max(), 50)
    ax.hist(v[~h], bins=bins, alpha=0.6, density=True, label="in support")
    if h.any():
        ax.hist(v[h], bins=bins, alpha=0.6, density=True, label="hallucinated")
    ax.axvline(np.log10(threshold), color="k", ls="--", label="cut")
    ax.set_xlabel("log10 variance of x0-hat over the last steps")
    ax.legend()
    return fig


def curve_figure(x, curves: dict, *, xlabel: str, ylabel: str, logx=False, logy=True,
                 title: str = ""):
    """One panel of labelled curves ``curves[label] = y`` against ``x``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    for label, y in curves.items():
        ax.plot(x, y, marker="o", label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


@register_figure("diffusion.imperfect.skip_tuning",
                 caption="Skip-tuning on Gaussian data: few-step Frechet error and "
                         "denoising loss against the skip scale rho")
def skip_tuning_figure(seed: int = 0):
    from .skip_tuning import skip_tuning_curves

    rhos = np.linspace(0.9, 1.05, 16)
    out = skip_tuning_curves(rhos, nfe_steps=(3, 5, 10))
    curves = {f"Frechet^2, {n} steps": out["frechet"][i] for i, n in enumerate((3, 5, 10))}
    curves["denoising loss (mean over steps)"] = out["loss"]
    return curve_figure(rhos, curves, xlabel="rho (skip scale)", ylabel="error")


def score_rates_panels(compare=None):
    """Left: the plug-in Gaussian score's exact expected score error and sampler KL against
    n (d = 2, 8). Right, given ``compare`` (a
    :func:`~toytheory.diffusion.score_rates_mlp.compare_by_n` result): the time-averaged eps
    error of the trained MLP, the plug-in and the empirical score against n (first seed)."""
    from matplotlib.figure import Figure

    from .score_rates import expected_kl_plugin, expected_score_error_plugin

    fig = Figure(figsize=(10 if compare is not None else 5, 3.4))
    axes = np.atleast_1d(fig.subplots(1, 2 if compare is not None else 1))
    ns = np.array([20, 40, 80, 160, 320, 640, 1280])
    for d in (2, 8):
        axes[0].plot(ns, [expected_score_error_plugin(n, np.eye(d)) for n in ns], marker="o",
                     label=f"plug-in score error, d = {d}")
        axes[0].plot(ns, [expected_kl_plugin(n, d) for n in ns], marker="s",
                     label=f"plug-in KL, d = {d}")
    axes[0].set(xscale="log", yscale="log", xlabel="n", ylabel="exact expected error")
    axes[0].legend(fontsize=7)
    if compare is not None:
        rn = compare["ns"]
        axes[1].plot(rn, [m[0] for m in compare["mlp"]], marker="o", label="trained MLP")
        axes[1].plot(rn, [p[0] for p in compare["plugin"]], marker="s",
                     label="plug-in (exact)")
        axes[1].plot(rn, compare["empirical"], marker="^",
                     label="empirical score (memorises)")
        axes[1].set(xscale="log", yscale="log", xlabel="n (training seed 0, d = 2)",
                    ylabel="time-averaged eps error (excess DDPM loss)")
        axes[1].legend(fontsize=7)
    return fig


@register_figure("diffusion.imperfect.score_rates",
                 caption="Score estimation against the number of samples n: the plug-in "
                         "Gaussian score's exact expected score error and sampler KL (left); "
                         "the time-averaged eps error of the trained MLP, the plug-in and the "
                         "empirical law's score on the same 2-D training sets (right)")
def score_rates_figure(seed: int = 0):
    try:
        import torch  # noqa: F401
    except ImportError:                       # the trained curves need torch
        return score_rates_panels()
    from .score_rates_mlp import compare_by_n

    rn = (16, 64, 256, 1024)
    return score_rates_panels(compare_by_n(rn, [range(1)] * len(rn), n_mc=100,
                                           rng=np.random.default_rng(seed)))


@register_figure("diffusion.imperfect.quantisation",
                 caption="Post-training quantisation of the linear Gaussian denoiser: "
                         "Frechet error against bits, per calibration")
def quantisation_figure(seed: int = 0):
    from .quantisation import CALIBRATIONS, quantised_frechet, toy_problem

    prob = toy_problem()
    bits = (4, 6, 8, 10)
    curves = {c: [quantised_frechet(prob, b, c, n_grid=10_001) for b in bits]
              for c in CALIBRATIONS}
    return curve_figure(bits, curves, xlabel="bits", ylabel="Frechet^2 to data")


@register_figure("diffusion.imperfect.region_caching",
                 caption="Region-adaptive caching: output error against the fraction of "
                         "coordinates re-evaluated, and uniform steps at equal cost")
def region_caching_figure(seed: int = 0):
    from .region_caching import caching_sweep, toy_problem

    prob = toy_problem(d=64, structured=16)
    fr = (0.125, 0.25, 0.5, 0.75, 1.0)
    out = caching_sweep(prob, fr, n=256, rng=np.random.default_rng(seed))
    return curve_figure(fr, {"RAS": out["ras"], "uniform, equal cost": out["uniform"]},
                        xlabel="fraction re-evaluated", ylabel="mean squared output error")


@register_figure("diffusion.imperfect.learned_vs_exact_score",
                 caption="Trained MLP (quick tier) against the exact score of the 1-D mixture "
                         "of means 1, 2, 3 (std 0.05) at three DDPM timesteps")
def learned_score_figure(seed: int = 0):
    from .hallucination import paper_1d_law, trained_1d_model

    return learned_vs_exact_score_figure(trained_1d_model(), paper_1d_law())


@register_figure("diffusion.imperfect.hallucination_filter",
                 caption="Variance of x0-hat over the last 50 reverse steps: in-support vs "
                         "hallucinated samples of the trained 1-D DDPM, with the Youden cut")
def hallucination_filter_figure(seed: int = 0, n: int = 3000):
    from .hallucination import (between_modes, ddpm_sample, paper_1d_law,
                                trajectory_variance, trained_1d_model, youden_threshold)

    model = trained_1d_model()
    x, path = ddpm_sample(model.eps, model.schedule, n, 1, np.random.default_rng(seed),
                          last=50)
    h = between_modes(x, paper_1d_law().means, 0.25)
    v = trajectory_variance(path)
    thr = youden_threshold(v, h) if 0 < h.sum() < n else float(np.median(v))
    return hallucination_histogram_figure(v, h, thr)


def grid_samples_figure(x, law, width, model=None):
    """2-D samples against the modes (between-mode samples marked) and, given a trained
    ``model``, its score's first coordinate at t = 0 from mode (0, 0) to (2, 0) next to the
    exact one."""
    from matplotlib.figure import Figure

    from .hallucination import between_modes

    fig = Figure(figsize=(10 if model is not None else 5, 4))
    axes = np.atleast_1d(fig.subplots(1, 2 if model is not None else 1))
    x = np.asarray(x, float)
    h = between_modes(x, law.means, width)
    axes[0].scatter(x[~h, 0], x[~h, 1], s=3, alpha=0.4, label="within 5 std of a mode")
    axes[0].scatter(x[h, 0], x[h, 1], s=6, color="C3", label=f"between modes ({h.sum()})")
    axes[0].plot(law.means[:, 0], law.means[:, 1], "k+", ms=7, label="modes")
    axes[0].set_aspect("equal")
    axes[0].legend(fontsize=7, loc="upper right")
    if model is not None:
        seg = np.stack([np.linspace(0.0, 2.0, 401), np.zeros(401)], axis=1)
        a, s = model.alpha_sigma(0)
        axes[1].plot(seg[:, 0], law.score(seg, float(a), float(s))[:, 0] * float(s),
                     label="exact")
        axes[1].plot(seg[:, 0], model.score(seg, 0)[:, 0] * float(s), label="trained MLP")
        axes[1].set(xlabel="x_1 (x_2 = 0)", ylabel="sigma x score_1 at t = 0")
        axes[1].legend(fontsize=7)
    return fig


@register_figure("diffusion.imperfect.mode_interpolation_grid_2d",
                 caption="2-D 5 x 5 grid: DDPM samples of the trained MLP with the "
                         "between-mode samples marked, and its score against the exact "
                         "score between two neighbouring modes at t = 0")
def grid_2d_figure(seed: int = 0, n: int = 600):
    from .hallucination import ddpm_sample, paper_2d_law, trained_2d_model

    model = trained_2d_model()
    x, _ = ddpm_sample(model.eps, model.schedule, n, 2, np.random.default_rng(seed), last=1)
    return grid_samples_figure(x, paper_2d_law(), 0.25, model)


@register_figure("diffusion.imperfect.ptq_mlp",
                 caption="Post-training quantisation of the trained 1-D eps-MLP (per-tensor "
                         "min-max): Kolmogorov distance of the DDIM output law to the data "
                         "law against bits, per calibration")
def ptq_mlp_figure(seed: int = 0, n: int = 2000):
    from .hallucination import paper_1d_law, trained_1d_model
    from .quantisation_mlp import (CALIBRATIONS, NumpyEpsMLP, ddim_sample_mlp,
                                   kolmogorov_to_law, quantised_mlp)

    rng = np.random.default_rng(seed)
    law, model = paper_1d_law(), trained_1d_model()
    x_T = rng.standard_normal((n, 1))
    full = kolmogorov_to_law(ddim_sample_mlp(NumpyEpsMLP(model), x_T, 50), law)
    bits = (4, 6, 8, 10, 12)
    # one calibration draw per calibration, the same for every b: the curves differ by b only
    curves = {c: [kolmogorov_to_law(ddim_sample_mlp(
        quantised_mlp(model, b, c, 50, 1000, np.random.default_rng([seed, i])), x_T, 50), law)
        for b in bits] for i, c in enumerate(CALIBRATIONS)}
    curves["full precision"] = [full] * len(bits)
    return curve_figure(bits, curves, xlabel="bits",
                        ylabel="Kolmogorov distance to the data law")
