"""Figures of imperfect denoisers: learned vs exact score, hallucination filter, error curves.

Each function returns a :class:`matplotlib.figure.Figure`; the ``*_figure`` functions
with a ``seed`` argument only are registered with
:func:`toytheory.figures.register_figure`.
"""

from __future__ import annotations

import numpy as np

from ..figures import register_figure

__all__ = ["learned_vs_exact_score_figure", "hallucination_histogram_figure",
           "curve_figure"]


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


@register_figure("diffusion.imperfect.score_rates",
                 caption="Plug-in Gaussian score: exact expected score error and KL of the "
                         "sampler against the number of samples n")
def score_rates_figure(seed: int = 0):
    from .score_rates import expected_kl_plugin, expected_score_error_plugin

    ns = np.array([20, 40, 80, 160, 320, 640, 1280])
    curves = {}
    for d in (2, 8):
        curves[f"score error, d = {d}"] = [expected_score_error_plugin(n, np.eye(d))
                                          for n in ns]
        curves[f"KL, d = {d}"] = [expected_kl_plugin(n, d) for n in ns]
    return curve_figure(ns, curves, xlabel="n", ylabel="expected error", logx=True)


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
