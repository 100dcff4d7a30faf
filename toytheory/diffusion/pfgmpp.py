"""The PFGM++ perturbation kernel, its radial law, and its diffusion limit.

"PFGM++: Unlocking the Potential of Physics-Inspired Generative Models" (Xu, Liu, Tian,
Tong, Tegmark and Jaakkola, ICML 2023), Section 3: N-dimensional data are embedded in
N + D dimensions; the perturbation kernel at augmentation norm r is

.. math:: p_r(x \\mid y) \\propto (\\|x - y\\|^2 + r^2)^{-(N+D)/2},

so the distance :math:`R = \\|x - y\\|` has radial density
:math:`\\propto \\rho^{N-1} (\\rho^2 + r^2)^{-(N+D)/2}`, which is the law of
:math:`R = r \\sqrt{B/(1-B)}` with :math:`B \\sim \\mathrm{Beta}(N/2, D/2)` (the paper's
sampler), i.e. :math:`R^2/r^2 \\sim \\mathrm{BetaPrime}(N/2, D/2)`. With the alignment
:math:`r = \\sigma\\sqrt{D}` (Section 4), :math:`R^2 \\to \\sigma^2 \\chi^2_N` as
:math:`D \\to \\infty`: the kernel becomes the diffusion kernel
:math:`\\mathcal N(y, \\sigma^2 I_N)`.

Both kernels are spherically symmetric about y, so their total variation equals that of
their radial laws (a 1-D integral, done here by quadrature), and
:math:`\\mathrm{Var}\\,\\log(R/r) = (\\psi_1(N/2) + \\psi_1(D/2))/4` (trigamma), which falls
as D grows: the coupling of ``R`` and ``r`` concentrates.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_real

__all__ = ["radial_density", "radial_density_from_kernel", "gaussian_radial_density",
           "kernel_tv_to_gaussian", "log_ratio_variance", "sample_radius",
           "point_posterior_mean", "point_posterior_mean_loop", "point_posterior_mean_torch",
           "point_ode_velocity", "point_ode_map", "kernel_density", "poisson_field",
           "poisson_potential",
           "line_posterior_mean", "line_prior_cdf", "line_basin_masses",
           "line_marginal_masses", "batch_field_target"]


def _check(N, D, sigma):
    N = check_int("N", N, low=1)
    D = check_int("D", D, low=1)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    return N, D, sigma


def radial_density(rho, N: int, D: int, sigma: float) -> np.ndarray:
    """Density of :math:`R = \\|x - y\\|` under the PFGM++ kernel with :math:`r = \\sigma\\sqrt D`,
    from the Beta construction (:math:`R^2/r^2 \\sim \\mathrm{BetaPrime}(N/2, D/2)`):
    :math:`2 \\rho^{N-1} r^{-N} (1 + \\rho^2/r^2)^{-(N+D)/2} / B(N/2, D/2)`.

    Parameters
    ----------
    rho : array_like, >= 0
    N, D : int, >= 1
        Data and augmentation dimensions.
    sigma : float, > 0
    """
    from scipy.special import betaln, xlogy

    N, D, sigma = _check(N, D, sigma)
    rho = np.asarray(rho, dtype=float)
    r = sigma * np.sqrt(D)
    # the Beta construction's density, 2 rho^(N-1) r^-N (1 + rho^2/r^2)^(-(N+D)/2) / B(N/2, D/2)
    with np.errstate(divide="ignore"):
        log_f = (np.log(2.0) + xlogy(N - 1, rho / r) - np.log(r)
                 - (N + D) / 2 * np.log1p((rho / r) ** 2) - betaln(N / 2, D / 2))
    return np.where(rho < 0, 0.0, np.exp(log_f))


def radial_density_from_kernel(rho, N: int, D: int, sigma: float) -> np.ndarray:
    """The same density from the kernel's definition: :math:`c\\, \\rho^{N-1}(\\rho^2 + r^2)^{-(N+D)/2}`,
    normalised by quadrature (independent of the Beta construction)."""
    from scipy.integrate import quad

    N, D, sigma = _check(N, D, sigma)
    r2 = sigma ** 2 * D
    scale = np.sqrt(r2)

    def unnormalised(x):  # in units of r, to keep the integrand O(1)
        return x ** (N - 1) * (x ** 2 + 1.0) ** (-(N + D) / 2)

    total = quad(unnormalised, 0, np.inf, limit=400, epsabs=0, epsrel=1e-12)[0]
    rho = np.asarray(rho, dtype=float)
    return unnormalised(rho / scale) / (total * scale)


def gaussian_radial_density(rho, N: int, sigma: float) -> np.ndarray:
    """Density of :math:`\\|x - y\\|` under :math:`\\mathcal N(y, \\sigma^2 I_N)`: σ χ_N."""
    from scipy.stats import chi

    N = check_int("N", N, low=1)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    return chi.pdf(np.asarray(rho, dtype=float) / sigma, N) / sigma


def kernel_tv_to_gaussian(N: int, D: int, sigma: float = 1.0) -> float:
    """:math:`\\mathrm{TV}(p_{\\sigma\\sqrt D}(\\cdot\\mid y), \\mathcal N(y, \\sigma^2 I_N))`,
    as the TV of the two radial laws (exact for spherically symmetric kernels), by
    adaptive quadrature."""
    from scipy.integrate import quad

    N, D, sigma = _check(N, D, sigma)

    def gap(x):
        return abs(radial_density(x, N, D, sigma) - gaussian_radial_density(x, N, sigma))

    upper = sigma * (np.sqrt(N) + 40.0)
    peak = sigma * np.sqrt(max(N - 1, 0.5))
    parts = [quad(gap, a, b, limit=400, epsabs=1e-14, epsrel=1e-10)[0]
             for a, b in ((0.0, peak), (peak, upper))]
    # the PFGM++ tail beyond ``upper`` (the Gaussian's is below 1e-300 there)
    from scipy.stats import betaprime

    tail = float(betaprime.sf(upper ** 2 / (sigma ** 2 * D), N / 2, D / 2))
    return 0.5 * (sum(parts) + tail)


def log_ratio_variance(N: int, D: int) -> float:
    """:math:`\\mathrm{Var}\\,\\log(R/r) = (\\psi_1(N/2) + \\psi_1(D/2))/4` for R under the
    kernel at norm r (any r)."""
    from scipy.special import polygamma

    N = check_int("N", N, low=1)
    D = check_int("D", D, low=1)
    return float((polygamma(1, N / 2) + polygamma(1, D / 2)) / 4)


def sample_radius(N: int, D: int, sigma: float, n: int, rng) -> np.ndarray:
    """``n`` draws of R by the paper's sampler: :math:`r\\sqrt{B/(1-B)}`, B ~ Beta(N/2, D/2)."""
    N, D, sigma = _check(N, D, sigma)
    n = check_int("n", n, low=1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng: must be a numpy.random.Generator")
    b = rng.beta(N / 2, D / 2, size=n)
    return sigma * np.sqrt(D) * np.sqrt(b / (1.0 - b))


# ---------------------------------------------------------------------- point data: the field
def _check_point_args(x, data, r, D):
    from toytheory._validation import as_float_array

    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != data.shape[1]:
        raise ValueError(f"x: must have {data.shape[1]} columns like data (got {x.shape[1]})")
    r = check_real("r", r, low=0.0, low_open=True)
    D = check_int("D", D, low=1)
    return x, data, r, D


def point_posterior_mean(x, data, r: float, D: int, chunk: int = 4096) -> np.ndarray:
    r""":math:`E[y \mid x]` under the PFGM++ kernel at norm ``r`` for the empirical law of
    ``data`` (points :math:`y_i`, equal weights):

    .. math:: w_i \propto (\|x - y_i\|^2 + r^2)^{-(N+D)/2}, \qquad
              E[y \mid x] = \sum_i w_i y_i .

    The PFGM++ field's direction in the data coordinates is then
    :math:`(x - E[y \mid x])/r` per unit of r (Section 3: :math:`dx/dr = E_x/E_r`).

    Parameters
    ----------
    x : (n, N) array
    data : (m, N) array, m >= 1
    r : float, > 0
    D : int, >= 1
    chunk : int, default 4096
        Queries per block (memory: chunk x m floats).

    Raises
    ------
    ValueError
        ``data`` empty, ``r <= 0``, ``D < 1``, shapes that do not match.
    """
    x, data, r, D = _check_point_args(x, data, r, D)
    chunk = check_int("chunk", chunk, low=1)
    N = data.shape[1]
    y2 = np.sum(data * data, 1)[None, :]
    out = np.empty_like(x)
    for lo in range(0, x.shape[0], chunk):
        xc = x[lo:lo + chunk]
        sq = np.sum(xc * xc, 1)[:, None] + y2 - 2 * xc @ data.T
        logw = -(N + D) / 2 * np.log(np.maximum(sq, 0.0) + r * r)
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        out[lo:lo + chunk] = (w @ data) / w.sum(axis=1, keepdims=True)
    return out


def point_posterior_mean_loop(x, data, r: float, D: int) -> np.ndarray:
    """The same, as a plain numpy loop over the data points (running log-sum-exp): the
    benchmark's baseline and an independent witness of :func:`point_posterior_mean`."""
    x, data, r, D = _check_point_args(x, data, r, D)
    N = data.shape[1]
    top = np.full(x.shape[0], -np.inf)
    total = np.zeros(x.shape[0])
    acc = np.zeros_like(x)
    for y in data:
        lw = -(N + D) / 2 * np.log(np.sum((x - y) ** 2, axis=1) + r * r)
        new_top = np.maximum(top, lw)
        scale = np.exp(top - new_top)
        w = np.exp(lw - new_top)
        total = total * scale + w
        acc = acc * scale[:, None] + w[:, None] * y
        top = new_top
    return acc / total[:, None]


def _torch_power_inplace(u, k2: int):
    """``u ** (k2 / 2)`` for ``u`` in (0, 1], overwriting ``u``: binary powering of the
    integer part (about log2(k2) in-place products) times ``sqrt(u)`` when ``k2`` is odd.
    Exact products in float64 lose about ``k2 * eps`` relatively; weights below the
    smallest normal float underflow to 0, as ``exp`` does."""
    import torch

    e = k2 // 2
    acc = torch.sqrt(u) if k2 % 2 else None
    while e:
        if e & 1:
            acc = u.clone() if acc is None else acc.mul_(u)
        e >>= 1
        if e:
            u.mul_(u)
    return acc if acc is not None else torch.ones_like(u)


def point_posterior_mean_torch(x, data, r: float, D: int, chunk: int | None = None):
    r""":func:`point_posterior_mean` in torch, ``chunk`` queries at a time (on ``x``'s
    device and dtype; numpy inputs are converted to float64 CPU tensors).

    Same weights, computed without a logarithm or an exponential: with
    :math:`s_i = \|x - y_i\|^2 + r^2` (by :math:`\|x\|^2 - 2x\cdot y_i + \|y_i\|^2`, one
    matrix product) and :math:`u_i = \min_j s_j / s_i \in (0, 1]`,
    :math:`w_i \propto u_i^{(N+D)/2}`, a power with a half-integer exponent taken by
    repeated squaring (:func:`_torch_power_inplace`) in place. The largest weight is 1, so
    nothing overflows (the log-sum-exp shift, exactly).

    Parameters
    ----------
    x : (n, N) tensor or array
    data : (m, N) tensor or array, m >= 1
    r : float, > 0
    D : int, >= 1
    chunk : int or None
        Queries per block. None: 32 on CPU (a 32 x m block stays in cache, which is where
        the speed comes from), 65536 on CUDA.
    """
    import torch

    D = check_int("D", D, low=1)
    r = check_real("r", r, low=0.0, low_open=True)
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, float))
    yt = data if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data, float))
    yt = yt.to(device=xt.device, dtype=xt.dtype)
    if yt.ndim != 2 or yt.shape[0] == 0:
        raise ValueError("data: must be a non-empty (m, N) array")
    if xt.ndim != 2 or xt.shape[1] != yt.shape[1]:
        raise ValueError(f"x: must be (n, {yt.shape[1]})")
    if chunk is None:
        chunk = 65536 if xt.device.type == "cuda" else 32
    chunk = check_int("chunk", chunk, low=1)
    N = yt.shape[1]
    r2 = r * r
    y2r = (yt * yt).sum(1) + r2
    ytT = yt.T.contiguous()
    # data transposed with a row of ones: one product gives sum_i w_i y_i and sum_i w_i
    # ((N+1) x m times m x chunk is about twice as fast on CPU as chunk x m times m x N)
    y1T = torch.cat([ytT, torch.ones_like(ytT[:1])])
    out = torch.empty_like(xt)
    for lo in range(0, xt.shape[0], chunk):
        xc = xt[lo:lo + chunk]
        s = torch.addmm(y2r.expand(xc.shape[0], -1), xc, ytT, alpha=-2.0)
        s.add_((xc * xc).sum(1, keepdim=True)).clamp_min_(r2)     # ||x - y||^2 + r^2
        u = torch.reciprocal(s, out=s).mul_(s.amax(1, keepdim=True).reciprocal_())
        w = _torch_power_inplace(u, N + D)
        acc = y1T @ w.T                                        # (N + 1, chunk)
        out[lo:lo + chunk] = (acc[:N] / acc[N:]).T
    return out


def point_ode_velocity(x, data, r: float, D: int) -> np.ndarray:
    r"""The PFGM++ ODE :math:`dx/dr = (x - E[y \mid x])/r` on point data."""
    x, data, r, D = _check_point_args(x, data, r, D)
    return (x - point_posterior_mean(x, data, r, D)) / r


def point_ode_map(x, data, D, sigma_max: float, sigma_min: float, error=None,
                  rtol: float = 1e-11) -> np.ndarray:
    r"""The exact PFGM++ ODE map on point data, :math:`dx/d\log\sigma = x - E[y \mid x]
    - e(x, \sigma)` with :math:`r = \sigma\sqrt D` (Section 4), from ``sigma_max`` to
    ``sigma_min``: scipy's DOP853 at ``rtol`` on :func:`point_posterior_mean`
    (``D = np.inf``: Gaussian weights, EDM), all particles in one solve. ``error``: None or
    ``(a, f, phi)`` for :math:`e = a\sigma\cos(f x + \phi)`, an eps-prediction error of
    fixed size (the robustness claim's family).

    Parameters
    ----------
    x : (n, N) array
    data : (m, N) array, m >= 1
    D : int >= 1 or np.inf
    sigma_max, sigma_min : float, 0 < sigma_min < sigma_max

    Raises
    ------
    ValueError
        empty ``data``, ``D < 1``, ``sigma_min >= sigma_max``, a non-positive sigma, ``x``
        with the wrong number of columns.
    """
    import math

    from scipy.integrate import solve_ivp

    from toytheory._validation import as_float_array

    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    D = _check_d_or_inf(D)
    sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
    sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
    if sigma_min >= sigma_max:
        raise ValueError("sigma_min: must be below sigma_max")
    a, f, phi = (0.0, 0.0, 0.0) if error is None else (float(v) for v in error)
    x = as_float_array("x", x, ndim=2)
    if x.shape[1] != data.shape[1]:
        raise ValueError(f"x: must have {data.shape[1]} columns like data")
    n, N = x.shape

    def rhs(s, flat):
        sig = math.exp(s)
        z = flat.reshape(n, N)
        if D == np.inf:
            sq = ((z[:, None, :] - data[None]) ** 2).sum(-1)
            lw = -sq / (2 * sig * sig)
            w = np.exp(lw - lw.max(1, keepdims=True))
            mean = (w @ data) / w.sum(1, keepdims=True)
        else:
            mean = point_posterior_mean(z, data, sig * math.sqrt(D), D)
        return (z - mean - a * sig * np.cos(f * z + phi)).ravel()

    sol = solve_ivp(rhs, (math.log(sigma_max), math.log(sigma_min)), x.ravel(),
                    method="DOP853", rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    return sol.y[:, -1].reshape(n, N)


# ------------------------------------------------------------ D = 1: PFGM's Poisson field
def kernel_density(x, y, r: float, D: int) -> np.ndarray:
    """The normalised PFGM++ kernel at norm ``r``:

    .. math:: p_r(x \\mid y) = \\frac{\\Gamma((N+D)/2)}{\\pi^{N/2}\\,\\Gamma(D/2)}\\,
              r^D\\,(\\|x - y\\|^2 + r^2)^{-(N+D)/2}

    (the normaliser: :math:`\\int (\\rho^2 + r^2)^{-(N+D)/2} d^N x
    = \\pi^{N/2}\\Gamma(D/2)/\\Gamma((N+D)/2)\\, r^{-D}`).

    Parameters
    ----------
    x : (n, N) array
    y : (N,) array
    r : float, > 0
    D : int, >= 1
    """
    from scipy.special import gammaln

    from toytheory._validation import as_float_array

    x = as_float_array("x", x, ndim=2)
    y = as_float_array("y", y, ndim=1)
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"x: must have {y.shape[0]} columns like y (got {x.shape[1]})")
    r = check_real("r", r, low=0.0, low_open=True)
    D = check_int("D", D, low=1)
    N = y.shape[0]
    log_c = gammaln((N + D) / 2) - N / 2 * np.log(np.pi) - gammaln(D / 2) + D * np.log(r)
    sq = np.sum((x - y) ** 2, axis=1)
    return np.exp(log_c - (N + D) / 2 * np.log(sq + r * r))


def _sphere_area(n: int) -> float:
    """Area of the unit sphere in R^n, 2 pi^(n/2) / Gamma(n/2)."""
    from scipy.special import gamma

    return float(2 * np.pi ** (n / 2) / gamma(n / 2))


def _charges(points, data):
    """Checked ``(points (n, N + 1), data (m, N), N, aug)``, ``aug`` the charges
    :math:`(y_i, 0)` (m, N + 1)."""
    from toytheory._validation import as_float_array

    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    points = as_float_array("points", points, ndim=2)
    N = data.shape[1]
    if points.shape[1] != N + 1:
        raise ValueError(f"points: must have N + 1 = {N + 1} columns (got {points.shape[1]})")
    aug = np.hstack([data, np.zeros((data.shape[0], 1))])
    return points, data, N, aug


def poisson_field(points, data) -> np.ndarray:
    """PFGM's Poisson field in :math:`N + 1` dimensions ("Poisson Flow Generative Models",
    Xu et al. 2022, Eq. 2): unit total charge spread equally on the data, placed at
    :math:`\\tilde y_i = (y_i, 0)`,

    .. math:: E(\\tilde x) = \\frac{1}{m S_N} \\sum_i
              \\frac{\\tilde x - \\tilde y_i}{\\|\\tilde x - \\tilde y_i\\|^{N+1}},

    with :math:`S_N` the area of the unit sphere in :math:`\\mathbb R^{N+1}`
    (so :math:`E = -\\nabla\\varphi` for :func:`poisson_potential`).

    Parameters
    ----------
    points : (n, N + 1) array
        Augmented points :math:`(x, z)`.
    data : (m, N) array, m >= 1
    """
    points, data, N, aug = _charges(points, data)
    diff = points[:, None, :] - aug[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=2))
    return np.sum(diff / dist[:, :, None] ** (N + 1), axis=1) / (data.shape[0]
                                                                  * _sphere_area(N + 1))


def poisson_potential(points, data) -> np.ndarray:
    """The potential whose negative gradient is :func:`poisson_field`: the Green's function
    of the Laplacian in :math:`n = N + 1` dimensions, :math:`\\|u\\|^{2-n}/((n-2) S_N)`
    (:math:`-\\log\\|u\\| / (2\\pi)` for n = 2), averaged over the data."""
    points, data, N, aug = _charges(points, data)
    dist = np.sqrt(np.sum((points[:, None, :] - aug[None, :, :]) ** 2, axis=2))
    n = N + 1
    if n == 2:
        g = -np.log(dist) / (2 * np.pi)
    else:
        g = dist ** (2 - n) / ((n - 2) * _sphere_area(n))
    return g.mean(axis=1)


# ------------------------------------------------- 1-D point data: the ODE's output law
def _line_data(data):
    from toytheory._validation import as_float_array

    data = np.sort(as_float_array("data", data, ndim=1))
    if data.size == 0:
        raise ValueError("data: must not be empty")
    if np.any(np.diff(data) <= 0):
        raise ValueError("data: points must be distinct")
    return data


def _check_d_or_inf(D):
    if D == np.inf:
        return np.inf
    return check_int("D", D, low=1)


def line_posterior_mean(x, data, sigma: float, D) -> np.ndarray:
    """:math:`E[y \\mid x]` for 1-D point data under the PFGM++ kernel at
    :math:`r = \\sigma\\sqrt D` (``D = np.inf``: the Gaussian kernel
    :math:`\\mathcal N(y, \\sigma^2)`, i.e. EDM)."""
    data = _line_data(data)
    D = _check_d_or_inf(D)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    x = np.asarray(x, dtype=float)
    sq = (x[..., None] - data) ** 2
    if D == np.inf:
        logw = -sq / (2 * sigma ** 2)
    else:
        logw = -(1 + D) / 2 * np.log1p(sq / (D * sigma ** 2))
    logw = logw - logw.max(axis=-1, keepdims=True)
    w = np.exp(logw)
    return (w @ data) / w.sum(axis=-1)


def line_prior_cdf(x, data, sigma: float, D) -> np.ndarray:
    """CDF of the PFGM++ perturbed law on 1-D point data at :math:`r = \\sigma\\sqrt D`.
    For N = 1 the kernel is :math:`(\\rho^2 + D\\sigma^2)^{-(1+D)/2}`, so
    :math:`(x - y)/\\sigma` is Student-t with D degrees of freedom (``D = np.inf``:
    standard normal)."""
    from scipy.stats import norm, t

    data = _line_data(data)
    D = _check_d_or_inf(D)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    z = (np.asarray(x, dtype=float)[..., None] - data) / sigma
    cdf = norm.cdf(z) if D == np.inf else t.cdf(z, D)
    return cdf.mean(axis=-1)


def line_marginal_masses(data, sigma: float, D) -> np.ndarray:
    """Masses of the perturbed law at ``sigma`` in the nearest-point cells of ``data``
    (cell boundaries at the midpoints): the law the exact ODE delivers at ``sigma``."""
    data = _line_data(data)
    cuts = np.concatenate([[-np.inf], (data[1:] + data[:-1]) / 2, [np.inf]])
    cdf = np.array([0.0 if np.isinf(c) and c < 0 else 1.0 if np.isinf(c)
                    else float(line_prior_cdf(c, data, sigma, D)) for c in cuts])
    return np.diff(cdf)


def line_basin_masses(data, D, sigma_max: float, sigma_min: float, error=None,
                      rtol: float = 1e-10) -> np.ndarray:
    """Output law of the PFGM++ ODE on 1-D point data, exactly up to the ODE tolerance.

    The ODE in :math:`\\sigma` (with :math:`r = \\sigma\\sqrt D`, Section 4) is
    :math:`dx/d\\log\\sigma = x - \\hat D(x, \\sigma)` with
    :math:`\\hat D = E[y \\mid x] + e(x, \\sigma)` (``error`` is :math:`e`, a modelling
    error; None: the exact denoiser). It starts from the exact perturbed law at
    ``sigma_max`` and stops at ``sigma_min``, where each output is assigned to its nearest
    data point. A 1-D flow preserves order, so the cell of :math:`y_j` is the image of an
    interval whose ends are the midpoints between data points carried back from
    ``sigma_min`` to ``sigma_max`` (backward integration, DOP853); the masses are the
    differences of :func:`line_prior_cdf` there.

    Returns
    -------
    (m,) array : probability of ending nearest to each (sorted) data point.
    """
    from scipy.integrate import solve_ivp

    data = _line_data(data)
    D = _check_d_or_inf(D)
    sigma_max = check_real("sigma_max", sigma_max, low=0.0, low_open=True)
    sigma_min = check_real("sigma_min", sigma_min, low=0.0, low_open=True)
    if sigma_min >= sigma_max:
        raise ValueError("sigma_min: must be below sigma_max")

    def rhs(s, x):  # s = log sigma
        sig = np.exp(s)
        den = line_posterior_mean(x, data, sig, D)
        if error is not None:
            den = den + error(x, sig)
        return x - den

    mids = (data[1:] + data[:-1]) / 2
    if mids.size == 0:
        return np.ones(1)
    # the flow acts on each coordinate alone, so all boundaries travel in one solve
    sol = solve_ivp(rhs, (np.log(sigma_min), np.log(sigma_max)), mids, method="DOP853",
                    rtol=rtol, atol=rtol)
    if not sol.success:
        raise RuntimeError(f"ODE failed: {sol.message}")
    cdf = line_prior_cdf(sol.y[:, -1], data, sigma_max, D)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


# ------------------------------------------- PFGM's large-batch field target and its bias
def _compositions(n: int, m: int):
    """All count vectors of ``m`` non-negative integers summing to ``n``, as an array."""
    from itertools import combinations

    rows = []
    for bars in combinations(range(n + m - 1), m - 1):
        edges = (-1,) + bars + (n + m - 1,)
        rows.append([edges[k + 1] - edges[k] - 1 for k in range(m)])
    return np.array(rows, dtype=int)


def batch_field_target(points, data, n: int):
    """PFGM's large-batch target, exactly: the expected normalised empirical Poisson field of
    a batch of ``n`` i.i.d. draws from the empirical law of ``data``, and the normalised
    field of the whole law it stands in for.

    "Poisson Flow Generative Models" (Xu et al. 2022, Section 3.2) trains on
    :math:`\\hat E_B(\\tilde x)/\\|\\hat E_B(\\tilde x)\\|` with
    :math:`\\hat E_B = \\sum_{b \\in B} (\\tilde x - \\tilde y_b)/\\|\\tilde x - \\tilde y_b\\|^{N+1}`;
    the normalisation is nonlinear, so :math:`E_B[\\hat E_B/\\|\\hat E_B\\|] \\ne E/\\|E\\|`.
    The expectation is a finite sum over the batch's count vectors (multinomial weights),
    so it is exact.

    Parameters
    ----------
    points : (k, N + 1) array
        Augmented query points (x, z).
    data : (m, N) array, 1 <= m <= 6
    n : int, >= 1
        Batch size (the enumeration has C(n + m - 1, m - 1) terms).

    Returns
    -------
    expected : (k, N + 1) array
        :math:`E_B[\\hat E_B/\\|\\hat E_B\\|]`.
    target : (k, N + 1) array
        :math:`E/\\|E\\|` for the field of the whole law.
    """
    from scipy.special import gammaln

    from toytheory._validation import as_float_array

    data = as_float_array("data", data, ndim=2)
    if data.shape[0] == 0:
        raise ValueError("data: must not be empty")
    if data.shape[0] > 6:
        raise ValueError("data: at most 6 points (the enumeration grows like n^(m-1))")
    n = check_int("n", n, low=1)
    m = data.shape[0]
    per_point = np.stack([poisson_field(points, data[i:i + 1]) for i in range(m)], 1)
    counts = _compositions(n, m)
    logp = (gammaln(n + 1) - gammaln(counts + 1).sum(1) - n * np.log(m))
    fields = np.einsum("cm,kmd->ckd", counts.astype(float), per_point)
    unit = fields / np.linalg.norm(fields, axis=2, keepdims=True)
    expected = np.einsum("c,ckd->kd", np.exp(logp), unit)
    full = per_point.mean(1)
    return expected, full / np.linalg.norm(full, axis=1, keepdims=True)
