"""In-domain dynamics pretraining for imitation, on a linear system seen through a
high-dimensional linear-nonlinear camera with distractors.

Source paper: "DynaMo: In-Domain Dynamics Pretraining for Visuo-Motor Control".

The toy. A state ``s_t in R^2`` follows ``s_{t+1} = A s_t + b a_t + w_t`` (``A`` a damped
rotation, ``w_t ~ N(0, q^2 I)``) under the expert ``a_t = tanh(k . s_t)``; a distractor
``n_t ~ N(0, r^2 I_3)`` (i.i.d. over time: moving background, lighting) shares the camera,
``o_t = tanh(W s_t + V n_t)`` in ``R^D`` with fixed random ``W, V``. The distractor has the
larger variance, so reconstruction prefers it; it is unpredictable, so dynamics do not.

Representations (encoders ``z = E^T (o - mean)``, ``k`` dimensions):

- :func:`pca_encoder`: reconstruction only (the optimum of a linear autoencoder, PCA);
- :func:`dynamo_encoder`: DynaMo's objective (an encoder trained jointly with a forward
  model that predicts the next embedding and an inverse model that supplies a latent
  action, no actions used, whitening against collapse) at its exact linear optimum: the
  most predictable subspace of consecutive frames (canonical directions);
- :func:`state_encoder`: the true state (the reference).

Behaviour cloning (:func:`fit_behaviour_cloning`) is ridge regression of the expert's
actions on ``[z, 1]``; :func:`imitation_errors` gives the squared action error of the
cloned policy (its output clipped to ``[-1, 1]``, the action range) on fresh states from the
demonstrations' law, so every error lies in ``[0, 4]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import as_float_array, check_int, check_real

__all__ = ["LinearSystem", "Demonstrations", "demonstrations", "pca_encoder",
           "dynamo_encoder", "state_encoder", "fit_behaviour_cloning", "imitation_errors",
           "Encoder"]


@dataclass(frozen=True)
class LinearSystem:
    """Dynamics, expert and camera; ``camera_seed`` fixes ``W`` and ``V``."""

    obs_dim: int = 24
    distractor_scale: float = 2.0
    process_noise: float = 0.3
    camera_gain: float = 0.6
    camera_seed: int = 0
    gain: tuple = (1.2, -0.8)
    A: np.ndarray = field(default=None, repr=False)

    def __post_init__(self):
        check_int("obs_dim", self.obs_dim, low=5)
        check_real("distractor_scale", self.distractor_scale, low=0.0)
        check_real("process_noise", self.process_noise, low=0.0, low_open=True)
        check_real("camera_gain", self.camera_gain, low=0.0, low_open=True)
        if self.A is None:
            th = 0.5
            object.__setattr__(self, "A", 0.9 * np.array([[np.cos(th), -np.sin(th)],
                                                          [np.sin(th), np.cos(th)]]))

    @property
    def b(self) -> np.ndarray:
        return np.array([0.0, 1.0])

    def camera(self):
        rng = np.random.default_rng(self.camera_seed)
        W = rng.standard_normal((self.obs_dim, 2)) * self.camera_gain
        V = rng.standard_normal((self.obs_dim, 3)) * self.camera_gain
        return W, V

    def observe(self, states: np.ndarray, distractors: np.ndarray) -> np.ndarray:
        W, V = self.camera()
        return np.tanh(states @ W.T + distractors @ V.T)

    def expert(self, states: np.ndarray) -> np.ndarray:
        return np.tanh(states @ np.asarray(self.gain, dtype=np.float64))


@dataclass(frozen=True)
class Demonstrations:
    """``n`` demonstrations of ``T`` steps: observations (n, T, D), actions and states."""

    observations: np.ndarray
    actions: np.ndarray
    states: np.ndarray


def demonstrations(system: LinearSystem, n: int, steps: int,
                   rng: np.random.Generator) -> Demonstrations:
    """Expert rollouts from ``s_0 ~ N(0, I)``."""
    if not isinstance(system, LinearSystem):
        raise ValueError("system: must be a LinearSystem")
    n = check_int("n", n, low=1)
    steps = check_int("steps", steps, low=2)
    s = np.empty((n, steps, 2))
    s[:, 0] = rng.standard_normal((n, 2))
    for t in range(steps - 1):
        a = system.expert(s[:, t])
        s[:, t + 1] = (s[:, t] @ system.A.T + a[:, None] * system.b
                       + system.process_noise * rng.standard_normal((n, 2)))
    d = system.distractor_scale * rng.standard_normal((n, steps, 3))
    return Demonstrations(system.observe(s, d), system.expert(s), s)


@dataclass(frozen=True)
class Encoder:
    """``z = (o - mean) @ matrix`` (or the true state when ``matrix`` is None)."""

    mean: np.ndarray
    matrix: np.ndarray | None
    name: str

    def __call__(self, observations: np.ndarray, states: np.ndarray | None = None):
        if self.matrix is None:
            if states is None:
                raise ValueError("states: the state encoder needs the states")
            return states
        return (observations - self.mean) @ self.matrix


def _frames(demos: Demonstrations) -> np.ndarray:
    o = demos.observations
    return o.reshape(-1, o.shape[-1])


def pca_encoder(demos: Demonstrations, k: int) -> Encoder:
    """The top-``k`` principal directions of the frames (reconstruction only)."""
    k = check_int("k", k, low=1)
    X = _frames(demos)
    if k > X.shape[1]:
        raise ValueError(f"k: must be <= obs_dim = {X.shape[1]} (got {k})")
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return Encoder(mean, vt[:k].T, "reconstruction (PCA)")


def state_encoder() -> Encoder:
    """The true state (reference)."""
    return Encoder(np.zeros(0), None, "true state")


def dynamo_encoder(demos: Demonstrations, k: int, *, shrinkage: float = 0.1) -> Encoder:
    """The minimiser of DynaMo's forward-dynamics loss in linear form (closed form).

    With the embedding whitened (``E^T S E = I``, the anti-collapse constraint) and the
    forward model free to use the previous frame, the next embedding's prediction error is
    ``tr(E^T S_innov E)`` with ``S_innov = S_11 - S_10 S_00^{-1} S_01`` (consecutive frames,
    no actions). Its minimiser is the ``k`` generalised eigenvectors of ``(S_innov, S)`` of
    smallest eigenvalue, i.e. the top-``k`` canonical directions between ``o_{t+1}`` and
    ``o_t``: the most predictable subspace. An inverse-dynamics latent action of ``m``
    dimensions absorbs ``m`` directions of the innovation: the loss then counts only the
    ``k - m`` least innovative ones, so this subspace remains a minimiser (no longer the only
    one; which minimiser a trained network reaches is not modelled). Covariances are shrunk towards ``shrinkage * tr(S)/D * I`` (few
    frames, many pixels).
    """
    from scipy.linalg import eigh

    k = check_int("k", k, low=1)
    lam = check_real("shrinkage", shrinkage, low=0.0)
    o = demos.observations
    D = o.shape[-1]
    if k > D:
        raise ValueError(f"k: must be <= obs_dim = {D} (got {k})")
    mean = o.reshape(-1, D).mean(axis=0)
    x0 = (o[:, :-1] - mean).reshape(-1, D)
    x1 = (o[:, 1:] - mean).reshape(-1, D)
    n = x0.shape[0]
    S = ((o - mean).reshape(-1, D).T @ (o - mean).reshape(-1, D)) / (o.shape[0] * o.shape[1])
    ridge = lam * np.trace(S) / D * np.eye(D)
    S00 = x0.T @ x0 / n + ridge
    S11 = x1.T @ x1 / n + ridge
    S10 = x1.T @ x0 / n
    innov = S11 - S10 @ np.linalg.solve(S00, S10.T)
    vals, vecs = eigh(0.5 * (innov + innov.T), S + ridge)
    return Encoder(mean, vecs[:, :k], "dynamics (DynaMo objective, linear optimum)")


def fit_behaviour_cloning(encoder: Encoder, demos: Demonstrations,
                          ridge: float = 1e-3) -> np.ndarray:
    """Ridge regression of the actions on ``[z, 1]``: weights, shape (k + 1,)."""
    if not isinstance(encoder, Encoder):
        raise ValueError("encoder: must be an Encoder")
    ridge = check_real("ridge", ridge, low=0.0)
    z = encoder(demos.observations, demos.states).reshape(-1, encoder_dim(encoder, demos))
    X = np.hstack([z, np.ones((z.shape[0], 1))])
    y = demos.actions.reshape(-1)
    return np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T @ y)


def encoder_dim(encoder: Encoder, demos: Demonstrations) -> int:
    return demos.states.shape[-1] if encoder.matrix is None else encoder.matrix.shape[1]


def imitation_errors(encoder: Encoder, weights, test: Demonstrations) -> np.ndarray:
    """Squared action error of the cloned policy on every test frame, each in [0, 4]."""
    if not isinstance(encoder, Encoder):
        raise ValueError("encoder: must be an Encoder")
    w = as_float_array("weights", weights, ndim=1)
    z = encoder(test.observations, test.states).reshape(-1, w.size - 1)
    pred = np.clip(z @ w[:-1] + w[-1], -1.0, 1.0)
    return (pred - test.actions.reshape(-1)) ** 2
