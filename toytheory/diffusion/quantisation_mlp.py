r"""Post-training quantisation of a trained :math:`\varepsilon`-MLP, by simulation.

"Post-training Quantization on Diffusion Models" (PTQ4DM, Shang et al. 2023), on a
trained network instead of the exact linear one of :mod:`.quantisation`. The network is
the :class:`~toytheory.diffusion.learned.LearnedEpsModel` MLP (Linear, SiLU, ...,
Linear on ``[x, sin/cos time features]``), evaluated here in float64 numpy from its
weights, with

- weights quantised per tensor to ``b`` bits, symmetric round-to-nearest with range
  :math:`\max|W|` (and the same for each bias);
- activations (the input of every Linear layer) quantised per layer to ``b`` bits with
  one range :math:`r_\ell` for all steps, clipped: :math:`\tilde a = \Delta\,
  \operatorname{clip}(\operatorname{round}(a/\Delta), -q, q)`, :math:`\Delta = r_\ell/q`,
  :math:`q = 2^{b-1} - 1`; :math:`r_\ell` is the largest :math:`|a|` of the layer over
  a calibration set (min-max calibration).

The calibration set is drawn, as PTQ4DM does, from the full-precision sampler's own
trajectory (DDIM, ``n_steps`` steps): the states at the first step only (``"single"``),
at every step (``"uniform"``), or at steps drawn from a normal law over the step index
centred mid-trajectory with standard deviation a quarter of it (``"time-aware"``, this
toy's reading of the paper's Normally Distributed Time-step Calibration; the same as in
:mod:`.quantisation`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from .._random import as_generator
from .._validation import as_float_array, check_int
from .quantisation import CALIBRATIONS, quantise

__all__ = ["NumpyEpsMLP", "ddim_timesteps", "ddim_sample_mlp", "calibration_ranges",
           "kolmogorov_to_law",
           "quantised_mlp"]


class NumpyEpsMLP:
    """The trained MLP in float64 numpy, optionally with quantised weights and activations.

    Parameters
    ----------
    model : LearnedEpsModel
    bits : int or None
        ``None``: full precision.
    act_ranges : sequence of float, optional
        One clipping range per Linear layer's input (required with ``bits``).
    """

    def __init__(self, model, bits=None, act_ranges=None):
        state = {k: v.detach().double().numpy() for k, v in model.net.state_dict().items()}
        self.freqs = state["freqs"]
        self.num_timesteps = model.config.num_timesteps
        self.acp = model.schedule.alphas_cumprod
        names = sorted({k.rsplit(".", 1)[0] for k in state if k.startswith("net.")},
                       key=lambda s: int(s.split(".")[1]))
        self.layers = [(state[f"{n}.weight"], state[f"{n}.bias"]) for n in names]
        self.bits = None if bits is None else check_int("bits", bits, low=2)
        if self.bits is not None:
            if act_ranges is None or len(act_ranges) != len(self.layers):
                raise ValueError(f"act_ranges: must give one range per Linear layer "
                                 f"({len(self.layers)})")
            self.act_ranges = [float(r) for r in act_ranges]
            self.layers = [(quantise(w, self.bits), quantise(b, self.bits))
                           for w, b in self.layers]
        self.record = None

    def _features(self, x, t):
        ang = (np.broadcast_to(np.asarray(t, float), (x.shape[0],)) / self.num_timesteps
               )[:, None] * self.freqs[None, :]
        return np.concatenate([x, np.sin(ang), np.cos(ang)], axis=1)

    def eps(self, x, t) -> np.ndarray:
        """:math:`\\varepsilon(x, t)`, ``x`` (n, d), ``t`` an integer timestep."""
        h = self._features(as_float_array("x", x, ndim=2), t)
        for i, (w, b) in enumerate(self.layers):
            if self.record is not None:
                self.record[i].append(float(np.max(np.abs(h))))
            if self.bits is not None:
                h = quantise(h, self.bits, scale_max=self.act_ranges[i])
            h = h @ w.T + b
            if i + 1 < len(self.layers):
                h = self.activation(h)
        return h

    @staticmethod
    def activation(h):
        r"""SiLU, :math:`h\,\sigma(h)` (the torch model's nonlinearity)."""
        return h / (1.0 + np.exp(-h))


def ddim_timesteps(num_timesteps: int, n_steps: int) -> np.ndarray:
    """DDIM's evenly spaced timesteps, descending: ``T-1, ..., 0`` in ``n_steps`` steps."""
    n_steps = check_int("n_steps", n_steps, low=1, high=num_timesteps)
    return np.round(np.linspace(num_timesteps - 1, 0, n_steps)).astype(int)


def ddim_sample_mlp(net: NumpyEpsMLP, x_T, n_steps: int, on_step=None) -> np.ndarray:
    """Deterministic DDIM (:math:`\\eta = 0`) from ``x_T`` (n, d); ``on_step(i, x)`` is
    called with each step's state before the network sees it."""
    x = np.array(as_float_array("x_T", x_T, ndim=2))
    ts = ddim_timesteps(net.num_timesteps, n_steps)
    acp = net.acp
    for i, t in enumerate(ts):
        if on_step is not None:
            on_step(i, x)
        e = net.eps(x, int(t))
        a, s = np.sqrt(acp[t]), np.sqrt(1 - acp[t])
        x0 = (x - s * e) / a
        if i + 1 < ts.size:
            a2, s2 = np.sqrt(acp[ts[i + 1]]), np.sqrt(1 - acp[ts[i + 1]])
            x = a2 * x0 + s2 * e
        else:
            x = x0
    return x


def calibration_ranges(model, calibration: str, n_steps: int, n_cal: int, rng) -> list:
    """Min-max activation ranges per Linear layer from the full-precision DDIM trajectory
    of ``n_cal`` draws of :math:`x_T`, at the steps the ``calibration`` selects (each
    trajectory contributes one state: ``"single"`` the first step, ``"uniform"`` a step
    drawn uniformly, ``"time-aware"`` a step drawn from the normal law over the index)."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration: must be one of {CALIBRATIONS} (got {calibration!r})")
    n_cal = check_int("n_cal", n_cal, low=1)
    gen = as_generator(rng)
    idx = np.arange(n_steps)
    if calibration == "single":
        p = (idx == 0).astype(float)
    elif calibration == "uniform":
        p = np.ones(n_steps)
    else:
        p = norm.pdf(idx, loc=(n_steps - 1) / 2, scale=n_steps / 4)
    step = gen.choice(n_steps, size=n_cal, p=p / p.sum())
    fp = NumpyEpsMLP(model)
    d = len(model.config.means[0])
    ts = ddim_timesteps(fp.num_timesteps, n_steps)
    states = {}

    def keep(i, x):
        sel = step == i
        if sel.any():
            states[i] = x[sel].copy()

    ddim_sample_mlp(fp, gen.standard_normal((n_cal, d)), n_steps, on_step=keep)
    fp.record = [[] for _ in fp.layers]
    for i, x in states.items():
        fp.eps(x, int(ts[i]))
    return [max(r) for r in fp.record]


def quantised_mlp(model, bits: int, calibration: str, n_steps: int, n_cal: int, rng):
    """The quantised network (:class:`NumpyEpsMLP`) with ranges from
    :func:`calibration_ranges`."""
    return NumpyEpsMLP(model, bits, calibration_ranges(model, calibration, n_steps, n_cal,
                                                       rng))


def kolmogorov_to_law(x, law) -> float:
    """Kolmogorov distance :math:`\\sup_v |F_n(v) - F(v)|` of 1-D samples ``x`` (n, 1) to the
    exact cdf of a 1-D Gaussian mixture ``law``."""
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != 1 or law.dim != 1:
        raise ValueError("x: must be 1-D samples (n, 1) of a 1-D law")
    v = np.sort(x[:, 0])
    n = v.size
    sd = np.sqrt(law.covs[:, 0, 0])
    f = sum(w * norm.cdf((v - m) / s) for w, m, s in zip(law.weights, law.means[:, 0], sd))
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))
