r"""The PFGM++ ODE map against the EDM ODE map as D grows, with its first-order term.

"PFGM++: Unlocking the Potential of Physics-Inspired Generative Models" (Xu et al., ICML
2023): the models "reduce ... to diffusion models when D -> infinity". With the alignment
:math:`r = \sigma\sqrt D` (Section 4) the PFGM++ ODE on point data :math:`y_1..y_m` is, in
:math:`s = \log\sigma`,

.. math:: \frac{dx}{ds} = x - E_D[y \mid x], \qquad
          w_i \propto \Big(1 + \frac{\|x - y_i\|^2}{D\sigma^2}\Big)^{-(N+D)/2},

and EDM's probability-flow ODE is the same with Gaussian weights
:math:`w_i \propto e^{-u_i/2}`, :math:`u_i = \|x - y_i\|^2/\sigma^2`. Expanding the
logarithm, :math:`\log w_i = -u_i/2 + g_i/D + O(D^{-2})` with
:math:`g_i = u_i^2/4 - N u_i/2`, so

.. math:: E_D[y \mid x] = E_\infty[y \mid x] + \mathrm{Cov}_\infty(y, g)/D + O(D^{-2}),

and the maps :math:`\Phi_D, \Phi_\infty` from :math:`\sigma_{max}` to :math:`\sigma_{min}`
differ by :math:`\delta(x)/D + O(D^{-2})`, where :math:`\delta` solves the variational
equation along the EDM path
(:math:`\partial_x E_\infty[y \mid x] = \mathrm{Cov}_\infty(y)/\sigma^2`)

.. math:: \frac{d\delta}{ds} = \Big(I - \frac{\mathrm{Cov}_\infty(y)}{\sigma^2}\Big)\delta
          - \mathrm{Cov}_\infty(y, g), \qquad \delta(\log\sigma_{max}) = 0 .

Hence the root-mean-square distance of the maps over any start law with light tails falls
like :math:`1/D`, and :math:`D\,\mathrm{RMS} \to \sqrt{E\|\delta\|^2}`.

On a single point both ODEs are :math:`dx/ds = x - y`, so both maps are
:math:`y + (x - y)\sigma_{min}/\sigma_{max}` exactly, for every D.

On isotropic Gaussian data :math:`\mathcal N(\mu, s^2 I_N)` EDM's map is linear (closed
form) and the first-order term is a radial scalar ODE (:func:`gaussian_first_order`); the
PFGM++ map runs on the exact Student-t scale-mixture denoiser
(:func:`gaussian_posterior_mean`).
"""

from __future__ import annotations

import math

import numpy as np

from toytheory._validation import as_float_array, check_int, check_real

__all__ = ["point_ode_map_in_r", "edm_map_first_order", "tilted_edm_map",
           "edm_prior_sample", "ode_map_distance", "gaussian_posterior_mean", "gaussian_ode_map",
           "gaussian_first_order",
           "gaussian_denoiser_first_order"]


def _check_data(data):
    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    return data


def _check_pair(hi_name, hi, lo_name, lo):
    hi = check_real(hi_name, hi, low=0.0, low_open=True)
    lo = check_real(lo_name, lo, low=0.0, low_open=True)
    if lo >= hi:
        raise ValueError(f"{lo_name}: must be below {hi_name}")
    return hi, lo


def _check_sigmas(sigma_max, sigma_min):
    return _check_pair("sigma_max", sigma_max, "sigma_min", sigma_min)


def _check_x(x, ref):
    """``x`` as an (n, N) float array with N = ``ref.shape[-1]`` (data or a mean)."""
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != ref.shape[-1]:
        raise ValueError(f"x: must have {ref.shape[-1]} columns like the data")
    return x


def _check_gaussian(x, mean, s):
    mean = as_float_array("mean", mean, ndim=1)
    s = check_real("s", s, low=0.0, low_open=True)
    return _check_x(x, mean), mean, s


def point_ode_map_in_r(x, data, D: int, r_max: float, r_min: float,
                       rtol: float = 1e-11) -> np.ndarray:
    r"""The PFGM++ ODE of Section 3 in its own variable, :math:`dx/dr = (x - E_D[y \mid x])/r`
    (:func:`toytheory.diffusion.pfgmpp.point_ode_velocity`), from ``r_max`` down to
    ``r_min`` (DOP853 in :math:`\log r`). No alignment enters: with
    :math:`r = \sigma\sqrt D` it must equal
    :func:`toytheory.diffusion.pfgmpp.point_ode_map` from :math:`\sigma_{max}` to
    :math:`\sigma_{min}`, which is the check of that alignment.

    Parameters
    ----------
    x : (n, N) array
    data : (m, N) array, m >= 1
    D : int, >= 1
    r_max, r_min : float, 0 < r_min < r_max
    """
    from scipy.integrate import solve_ivp

    from toytheory.diffusion.pfgmpp import point_ode_velocity

    data = _check_data(data)
    D = check_int("D", D, low=1)
    r_max, r_min = _check_pair("r_max", r_max, "r_min", r_min)
    x = _check_x(x, data)
    n, N = x.shape

    def rhs(t, flat):                       # t = log r, dx/dt = r dx/dr
        r = math.exp(t)
        return (r * point_ode_velocity(flat.reshape(n, N), data, r, D)).ravel()

    sol = solve_ivp(rhs, (math.log(r_max), math.log(r_min)), x.ravel(), method="DOP853",
                    rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    return sol.y[:, -1].reshape(n, N)


def edm_map_first_order(x, data, sigma_max: float, sigma_min: float,
                        rtol: float = 1e-11) -> tuple[np.ndarray, np.ndarray]:
    r"""EDM's ODE map :math:`\Phi_\infty(x)` on point data and the first-order term
    :math:`\delta(x) = \lim_{D\to\infty} D(\Phi_D(x) - \Phi_\infty(x))`, by integrating the
    ODE and its variational equation (module docstring) together (DOP853 in
    :math:`\log\sigma`).

    Parameters
    ----------
    x : (n, N) array
    data : (m, N) array, m >= 1
    sigma_max, sigma_min : float, 0 < sigma_min < sigma_max

    Returns
    -------
    phi, delta : (n, N) arrays
    """
    from scipy.integrate import solve_ivp

    data = _check_data(data)
    sigma_max, sigma_min = _check_sigmas(sigma_max, sigma_min)
    x = _check_x(x, data)
    n, N = x.shape

    def rhs(s, flat):
        sig2 = math.exp(2 * s)
        z, d = flat[:n * N].reshape(n, N), flat[n * N:].reshape(n, N)
        u = ((z[:, None, :] - data[None]) ** 2).sum(-1) / sig2          # (n, m)
        lw = -u / 2
        w = np.exp(lw - lw.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        mean = w @ data                                                  # (n, N)
        g = u * u / 4 - N * u / 2
        cov_yg = w * g @ data - mean * (w * g).sum(1, keepdims=True)     # Cov(y, g)
        cy = data[None] - mean[:, None, :]                               # (n, m, N)
        cov_d = np.einsum("nm,nmi,nmj,nj->ni", w, cy, cy, d)             # Cov(y) delta
        return np.concatenate([(z - mean).ravel(), (d - cov_d / sig2 - cov_yg).ravel()])

    start = np.concatenate([x.ravel(), np.zeros(n * N)])
    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), start,
                    method="DOP853", rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    end = sol.y[:, -1]
    return end[:n * N].reshape(n, N), end[n * N:].reshape(n, N)


def tilted_edm_map(x, data, eps: float, sigma_max: float, sigma_min: float,
                   rtol: float = 1e-11) -> np.ndarray:
    r"""The ODE map with the first-order-tilted weights
    :math:`w_i \propto \exp(-u_i/2 + \varepsilon g_i)`, :math:`g_i = u_i^2/4 - N u_i/2`
    (module docstring): EDM at :math:`\varepsilon = 0`, and its derivative in
    :math:`\varepsilon` at 0 is :math:`\delta` of :func:`edm_map_first_order` (an
    independent check of the variational equation by finite differences).

    Parameters
    ----------
    x : (n, N) array
    data : (m, N) array, m >= 1
    eps : float
    sigma_max, sigma_min : float, 0 < sigma_min < sigma_max
    """
    from scipy.integrate import solve_ivp

    data = _check_data(data)
    sigma_max, sigma_min = _check_sigmas(sigma_max, sigma_min)
    eps = check_real("eps", eps)
    x = _check_x(x, data)
    n, N = x.shape

    def rhs(s, flat):
        z = flat.reshape(n, N)
        u = ((z[:, None, :] - data[None]) ** 2).sum(-1) / math.exp(2 * s)
        lw = -u / 2 + eps * (u * u / 4 - N * u / 2)
        w = np.exp(lw - lw.max(1, keepdims=True))
        return (z - (w @ data) / w.sum(1, keepdims=True)).ravel()

    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), x.ravel(),
                    method="DOP853", rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    return sol.y[:, -1].reshape(n, N)


def edm_prior_sample(data, sigma_max: float, n: int, rng) -> np.ndarray:
    r"""``n`` draws from EDM's prior at :math:`\sigma_{max}` on point data,
    :math:`\frac1m\sum_j \mathcal N(y_j, \sigma_{max}^2 I_N)` (the law the EDM ODE starts
    from).

    Returns
    -------
    (n, N) array
    """
    data = _check_data(data)
    sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
    n = check_int("n", n, low=1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    pick = rng.integers(data.shape[0], size=n)
    return data[pick] + sigma_max * rng.standard_normal((n, data.shape[1]))


def ode_map_distance(x, data, grid, sigma_max: float, sigma_min: float,
                     rtol: float = 1e-11) -> dict:
    r"""Root-mean-square distance of the PFGM++ and EDM ODE maps over the start points
    ``x`` (e.g. :func:`edm_prior_sample`),
    :math:`\big(\frac1n\sum_k\|\Phi_D(x_k) - \Phi_\infty(x_k)\|^2\big)^{1/2}`
    (:func:`toytheory.diffusion.pfgmpp.point_ode_map`), for each D in ``grid``, and the
    first-order constant :math:`\big(\frac1n\sum_k\|\delta(x_k)\|^2\big)^{1/2}`, the
    limit of D times the distance (:func:`edm_map_first_order`).

    Returns
    -------
    dict
        ``grid`` (array), ``distance`` (array, one per D), ``limit`` (float), ``edm`` (the
        EDM map at ``x``), ``delta`` (the first-order term at ``x``).
    """
    from toytheory.diffusion.pfgmpp import point_ode_map

    data = _check_data(data)
    sigma_max, sigma_min = _check_sigmas(sigma_max, sigma_min)
    grid = [check_int("grid", D, low=1) for D in grid]
    if not grid:
        raise ValueError("grid: must not be empty")
    x = _check_x(x, data)
    edm = point_ode_map(x, data, np.inf, sigma_max, sigma_min, rtol=rtol)
    dist = []
    for D in grid:
        phi = point_ode_map(x, data, D, sigma_max, sigma_min, rtol=rtol)
        dist.append(math.sqrt(float(((phi - edm) ** 2).sum(1).mean())))
    _, delta = edm_map_first_order(x, data, sigma_max, sigma_min, rtol)
    return {"grid": np.asarray(grid, float), "distance": np.array(dist),
            "limit": math.sqrt(float((delta ** 2).sum(1).mean())), "edm": edm,
            "delta": delta}


# --------------------------------------------------------------- isotropic Gaussian data
def gaussian_posterior_mean(x, mean, s: float, r: float, D, n_nodes: int = 400) -> np.ndarray:
    r""":math:`E_D[y \mid x]` under the PFGM++ kernel at norm ``r`` for isotropic Gaussian
    data :math:`y \sim \mathcal N(\mu, s^2 I_N)` (``D = np.inf``: EDM at :math:`\sigma = r`).

    The kernel is :math:`\mathcal N(y, \tau I)` with :math:`\tau = r^2/V`,
    :math:`V \sim \chi^2_D` (:mod:`toytheory.diffusion.pfgmpp_gmm`), and given
    :math:`\tau` the posterior mean is :math:`\mu + (x - \mu) s^2/T`, :math:`T = s^2 + \tau`;
    the posterior of V weighs the prior nodes (:func:`~toytheory.diffusion.pfgmpp_gmm.scale_nodes`)
    by :math:`T^{-N/2} e^{-\rho^2/(2T)}`, :math:`\rho = \|x - \mu\|`. A radial special case
    of :func:`~toytheory.diffusion.pfgmpp_gmm.gmm_posterior_mean` (its witness), vectorised.

    Returns
    -------
    (n, N) array
    """
    from toytheory.diffusion.pfgmpp_gmm import _check_d, scale_nodes

    x, mean, s = _check_gaussian(x, mean, s)
    r = check_real("r", r, low=0.0, low_open=True)
    D = _check_d(D)
    dev = x - mean
    if D == np.inf:
        return mean + dev * (s * s / (s * s + r * r))
    v, log_w = scale_nodes(D, n_nodes)
    T = s * s + r * r / v                                           # (nodes,)
    rho2 = (dev * dev).sum(1, keepdims=True)                        # (n, 1)
    a = log_w - mean.size / 2 * np.log(T) - rho2 / (2 * T)          # (n, nodes)
    w = np.exp(a - a.max(1, keepdims=True))
    shrink = (w * (s * s / T)).sum(1, keepdims=True) / w.sum(1, keepdims=True)
    return mean + dev * shrink


def gaussian_ode_map(x, mean, s: float, D, sigma_max: float, sigma_min: float,
                     rtol: float = 1e-10) -> np.ndarray:
    r"""The PFGM++ ODE map on :math:`\mathcal N(\mu, s^2 I_N)` data,
    :math:`dx/d\log\sigma = x - E_D[y \mid x]` with :math:`r = \sigma\sqrt D`
    (``D = np.inf``: EDM), from ``sigma_max`` to ``sigma_min`` (DOP853) on
    :func:`gaussian_posterior_mean`.

    Parameters
    ----------
    x : (n, N) array
    mean : (N,) array
    s : float, > 0
    D : int >= 1 or np.inf
    sigma_max, sigma_min : float, 0 < sigma_min < sigma_max
    """
    from scipy.integrate import solve_ivp

    from toytheory.diffusion.pfgmpp_gmm import _check_d

    x, mean, s = _check_gaussian(x, mean, s)
    D = _check_d(D)
    sigma_max, sigma_min = _check_sigmas(sigma_max, sigma_min)
    n, N = x.shape
    root = 1.0 if D == np.inf else math.sqrt(D)

    def rhs(t, flat):
        z = flat.reshape(n, N)
        return (z - gaussian_posterior_mean(z, mean, s, math.exp(t) * root, D)).ravel()

    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), x.ravel(),
                    method="DOP853", rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    return sol.y[:, -1].reshape(n, N)


def gaussian_first_order(x, mean, s: float, sigma_max: float, sigma_min: float,
                         rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    r"""EDM's ODE map and the first-order term :math:`\delta` on isotropic Gaussian data
    :math:`y \sim \mathcal N(\mu, s^2 I_N)`, in closed form up to one linear scalar ODE.

    EDM's denoiser is :math:`\mu + a(x - \mu)`, :math:`a = s^2/T`, :math:`T = s^2 + \sigma^2`,
    so :math:`\Phi_\infty(x) = \mu + (x - \mu)
    \sqrt{(s^2 + \sigma_{min}^2)/(s^2 + \sigma_{max}^2)}`.
    The PFGM++ kernel is :math:`\mathcal N(y, \tau I)` with :math:`\tau = \sigma^2 D/V`,
    :math:`V \sim \chi^2_D`, and :math:`\eta = D/V - 1` has :math:`E\eta = E\eta^2 + O(D^{-2})
    = 2/D + O(D^{-2})`, so the posterior mean of :math:`a(\tau)` given
    :math:`\rho = \|x - \mu\|` (likelihood :math:`L = T^{-N/2} e^{-\rho^2/(2T)}`) is
    :math:`a + b/D + O(D^{-2})` with

    .. math:: b = 2s^2\Big(-\frac{\sigma^2}{T^2} + \frac{\sigma^4}{T^3}
              + \frac{N\sigma^4}{2T^3} - \frac{\sigma^4\rho^2}{2T^4}\Big).

    The velocity gap is :math:`-(x - \mu)\, b/D` and the EDM Jacobian is
    :math:`(1 - a) I`, so :math:`\delta = \theta\, (x - \mu)/\rho` with
    :math:`d\theta/ds = (1 - a)\theta - \rho_\infty(s)\, b(\rho_\infty(s), \sigma)`,
    :math:`\theta(\log\sigma_{max}) = 0`, integrated by DOP853.

    Parameters
    ----------
    x : (n, N) array
    mean : (N,) array
    s : float, > 0
        The data's standard deviation per coordinate.
    sigma_max, sigma_min : float, 0 < sigma_min < sigma_max

    Returns
    -------
    phi, delta : (n, N) arrays
    """
    from scipy.integrate import solve_ivp

    x, mean, s = _check_gaussian(x, mean, s)
    sigma_max, sigma_min = _check_sigmas(sigma_max, sigma_min)
    N = mean.size
    dev = x - mean
    rho0 = np.linalg.norm(dev, axis=1)
    s2 = s * s

    def rhs(t, theta):
        sig2 = math.exp(2 * t)
        T = s2 + sig2
        rho = rho0 * math.sqrt(T / (s2 + sigma_max ** 2))
        return (1 - s2 / T) * theta - rho * _gaussian_b(rho, s2, sig2, N)

    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), np.zeros(x.shape[0]),
                    method="DOP853", rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    unit = np.divide(dev, rho0[:, None], out=np.zeros_like(dev), where=rho0[:, None] > 0)
    phi = mean + dev * math.sqrt((s2 + sigma_min ** 2) / (s2 + sigma_max ** 2))
    return phi, sol.y[:, -1][:, None] * unit


def _gaussian_b(rho, s2, sig2, N):
    """The first-order coefficient b of :func:`gaussian_first_order`."""
    T = s2 + sig2
    return 2 * s2 * (-sig2 / T ** 2 + sig2 ** 2 / T ** 3 + N * sig2 ** 2 / (2 * T ** 3)
                     - sig2 ** 2 * rho ** 2 / (2 * T ** 4))


def gaussian_denoiser_first_order(x, mean, s: float, sigma: float) -> np.ndarray:
    r"""The first-order term of the PFGM++ denoiser on :math:`\mathcal N(\mu, s^2 I_N)` data,
    :math:`\lim_{D\to\infty} D(E_D[y \mid x] - E_\infty[y \mid x]) = (x - \mu)\, b`
    (:func:`gaussian_first_order`), at :math:`r = \sigma\sqrt D`.

    Returns
    -------
    (n, N) array
    """
    x, mean, s = _check_gaussian(x, mean, s)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    dev = x - mean
    rho = np.linalg.norm(dev, axis=1, keepdims=True)
    return dev * _gaussian_b(rho, s * s, sigma * sigma, mean.size)
