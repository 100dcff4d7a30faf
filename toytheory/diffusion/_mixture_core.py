r"""Backend-generic kernel for diffused Gaussian mixtures (numpy and torch alike).

For data :math:`x_0 \sim \sum_k \pi_k N(\mu_k, \Sigma_k)` with
:math:`\Sigma_k = U_k \operatorname{diag}(\lambda_k) U_k^T` and
:math:`x_t = \alpha x_0 + \sigma \varepsilon`, component :math:`k` of the
marginal is :math:`N(\alpha\mu_k, C_k)`, :math:`C_k = U_k \operatorname{diag}(D_k) U_k^T`,
:math:`D_k = \alpha^2\lambda_k + \sigma^2`. With :math:`r_k = x - \alpha\mu_k`:

.. math::

    \log N_k(x) &= -\tfrac12 r_k^T C_k^{-1} r_k - \tfrac12 \sum_i \log(2\pi D_{ki}) \\
    w_k(x) &= \operatorname{softmax}_k(\log\pi_k + \log N_k(x)) \\
    \nabla \log p_t(x) &= -\sum_k w_k\, C_k^{-1} r_k \\
    E[x_0 \mid x_t = x] &= \sum_k w_k \big(\mu_k + \alpha \Sigma_k C_k^{-1} r_k\big)

(REFERENCE.md section 1; the per-component posterior mean is the Gaussian
conditional expectation.) Nothing is inverted: the eigendecomposition is made
once per law and every noise level reuses it, singular covariances included
(:math:`D > 0` whenever :math:`\sigma > 0`). The log-sum-exp keeps the weights
finite for points far in the tails.

Three evaluation paths, chosen once per call (never per chunk, so numpy and
torch always take the same one):

``"precision"``
    full covariances, one noise level for all points, at least ``d`` points:
    the precision matrices :math:`P_k = C_k^{-1} = U_k\operatorname{diag}(1/D_k)U_k^T`
    are formed once and stacked side by side, so :math:`Y_k = P_k r_k` for all
    components is *one* matrix product ``x @ [P_1 ... P_K] - [P_k alpha mu_k]``
    (:math:`2Kd^2` flops a point, half of projecting onto the eigenvectors and
    back). The quadratic form is :math:`r_k\cdot Y_k = x\cdot Y_k - \alpha\mu_k\cdot Y_k`
    (for :math:`d \le 4` summed coordinate by coordinate as
    :math:`\sum_j Y_{kj}(x_j - \alpha\mu_{kj})`) with every product taken against the
    same computed :math:`Y_k`, so its rounding error is
    :math:`O(\epsilon |r_k||P_k||x|)`, the same order as the eigenvector route.
``"diagonal"``
    diagonal covariances (and delta mixtures): elementwise in an (n, K, d)
    layout, contractions by ``einsum``.
``"eigen"``
    full covariances with one noise level per point (or fewer points than
    dimensions): coordinates :math:`c_k = U_k^T r_k` in a (K, n, d) layout.

The functions take an array namespace ``xp`` (from ``array_api_compat``) and
only use operations that numpy and torch share (``einsum`` included), so the
two backends run the same algorithm.
"""

from __future__ import annotations

import math

LOG_2PI = math.log(2 * math.pi)
PREDICTIONS = ("x0", "eps", "v", "score")  # what a denoiser may predict (laws, torch_laws)
_SMALL_D = 4   # up to this dimension the precision path contracts one coordinate at a time


def component_coordinates(xp, x, alpha, means_proj, eigvecs):
    """:math:`c_k = U_k^T x - \\alpha U_k^T\\mu_k`, shape (K, n, d).

    ``x`` is (n, d); ``alpha`` broadcasts as (1, n or 1, 1); ``means_proj`` is
    (K, d) (:math:`U_k^T\\mu_k`, or :math:`\\mu_k` when ``eigvecs`` is None,
    i.e. diagonal covariances).
    """
    if eigvecs is None:
        return x[None, :, :] - alpha * means_proj[:, None, :]
    return xp.matmul(x[None, :, :], eigvecs) - alpha * means_proj[:, None, :]


def back_project(xp, v, eigvecs):
    """:math:`U_k v_k`, shape (K, n, d) (identity when ``eigvecs`` is None)."""
    if eigvecs is None:
        return v
    return xp.matmul(v, xp.permute_dims(eigvecs, (0, 2, 1)))


def _is_scalar(v) -> bool:
    return int(v.shape[1]) == 1


def make_plan(xp, n, alpha, sigma, log_weights, means, means_proj, eigvals, eigvecs,
              want=("log_prob",)):
    """Choose the evaluation path for ``n`` points and precompute what it shares.

    ``alpha`` and ``sigma`` have shape (1, n or 1, 1). The returned dict is
    passed to :func:`evaluate_chunk` with consecutive slices of the points
    (and of ``alpha``/``sigma`` when they are per point).
    """
    k, d = means.shape
    base = dict(log_weights=log_weights, means=means, means_proj=means_proj,
                eigvals=eigvals, eigvecs=eigvecs, want=tuple(want))
    scalar = _is_scalar(alpha) and _is_scalar(sigma)
    if eigvecs is None:
        base["path"] = "diagonal"
        if scalar:
            a = alpha[0, 0, 0]
            var = a * a * eigvals + sigma[0, 0, 0] ** 2                     # (K, d)
            base.update(scalar=True, alpha=a, inv_var=1.0 / var,
                        logdet=xp.sum(xp.log(var), axis=-1))
        else:
            base["scalar"] = False
        return base
    if scalar and n >= d:
        a = alpha[0, 0, 0]
        var = a * a * eigvals + sigma[0, 0, 0] ** 2                         # (K, d)
        # P_k = U_k diag(1/D_k) U_k^T, stacked as columns: (d, K d)
        prec = xp.matmul(eigvecs / var[:, None, :], xp.permute_dims(eigvecs, (0, 2, 1)))
        prec = 0.5 * (prec + xp.permute_dims(prec, (0, 2, 1)))
        stacked = xp.reshape(xp.permute_dims(prec, (1, 0, 2)), (d, k * d))
        o = a * xp.matmul(prec, means[:, :, None])[:, :, 0]                   # (K, d)
        offset = xp.reshape(o, (k * d,))
        # one product gives Y_k = P_k x - P_k a mu_k for every k and, in K more columns,
        # a mu_k . Y_k = o_k . x - a mu_k . o_k (o_k = a P_k mu_k): x with a column of ones
        # times [[P_1 ... P_K, o_1 ... o_K], [-o_1 ... -o_K, -a mu_k . o_k]], (d + 1, K d + K)
        top = xp.concat([stacked, xp.permute_dims(o, (1, 0))], axis=1)
        bottom = xp.concat([-offset, -a * xp.sum(means * o, axis=1)], axis=0)
        logdet = xp.sum(xp.log(var), axis=-1)
        base.update(path="precision", alpha=a, precision=stacked, offset=offset,
                    augmented=xp.concat([top, bottom[None, :]], axis=0),
                    # log pi_k - (log det C_k + d log 2 pi)/2, once per call, not per point
                    log_norm=log_weights - 0.5 * (logdet + d * LOG_2PI))
        if d <= _SMALL_D and "x0" not in want:
            base["quadratic"] = _quadratic_plan(xp, a * means, prec, base["log_norm"])
        if "x0" in want:
            # alpha Sigma_k P_k = U_k diag(alpha lambda_k / D_k) U_k^T
            gain = xp.matmul(eigvecs * (a * eigvals / var)[:, None, :],
                             xp.permute_dims(eigvecs, (0, 2, 1)))
            gain = 0.5 * (gain + xp.permute_dims(gain, (0, 2, 1)))
            base["gain"] = xp.reshape(xp.permute_dims(gain, (1, 0, 2)), (d, k * d))
            base["gain_offset"] = xp.reshape(
                a * xp.matmul(gain, means[:, :, None])[:, :, 0], (k * d,))
        return base
    base["path"] = "eigen"
    return base


def _pairs(d):
    return [(i, j) for i in range(d) for j in range(i, d)]


def _quadratic_plan(xp, centres, prec, log_norm):
    r"""Small ``d``: every component's logit is a quadratic polynomial in the point.

    With :math:`c` the average of the component centres :math:`m_k = \alpha\mu_k`,
    :math:`z = x - c` and :math:`\nu_k = m_k - c`,

    .. math:: \log\pi_k + \log N_k(x) = \ell_k - \tfrac12\big(z^TP_kz - 2z^TP_k\nu_k
              + \nu_k^TP_k\nu_k\big),\qquad
              \nabla\log p_t(x) = -\Big(\sum_k w_kP_k\Big)z + \sum_k w_kP_k\nu_k,

    so the (K, n) logits are one product of a (K, features) matrix ``Qt`` with the
    features :math:`(z_iz_j)_{i\le j}, z, 1`, and the score needs only the weighted sums
    of the entries of :math:`P_k` and :math:`P_k\nu_k`: one (d(d+1)/2 + d, K) by (K, n)
    product ``Mt``. No (n, K, d) array is formed. Rounding: the logits carry an absolute
    error of order :math:`\epsilon\,\|P_k\|\,(\|z\| + \|\nu_k\|)^2`, against
    :math:`\epsilon\|P_k\|\|x\|\|x - m_k\|` for the stacked-precision contraction;
    centring at :math:`c` keeps both small where the mixture has its mass.
    """
    k, d = centres.shape
    centre = xp.mean(centres, axis=0)                                        # (d,)
    nu = centres - centre                                                    # (K, d)
    pnu = xp.matmul(prec, nu[:, :, None])[:, :, 0]                           # (K, d)
    pairs = _pairs(d)
    q_cols = [-0.5 * (1.0 if i == j else 2.0) * prec[:, i, j] for i, j in pairs]
    q_cols += [pnu[:, i] for i in range(d)]
    q_cols.append(log_norm - 0.5 * xp.sum(nu * pnu, axis=1))
    m_cols = [prec[:, i, j] for i, j in pairs] + [pnu[:, i] for i in range(d)]
    return dict(centre=centre, Qt=xp.stack(q_cols, axis=1), Mt=xp.stack(m_cols, axis=0),
                pairs=pairs)


def _quadratic_chunk(xp, x, quad, want):
    """The ``quadratic`` plan of :func:`_quadratic_plan` at the points ``x`` (n, d).

    Laid out (features, n) and (K, n), so the log-sum-exp reduces over the leading axis
    (whole rows at a time; measured in torch float64 at n = 16384, K = 8: 0.50 ms against
    0.80 ms reducing over a length-8 trailing axis).
    """
    n, d = x.shape
    zt = xp.permute_dims(x - quad["centre"], (1, 0))                         # (d, n)
    pairs = quad["pairs"]
    rows = [zt[i] * zt[j] for i, j in pairs] + [zt[i] for i in range(d)]
    rows.append(xp.ones_like(zt[0]))
    logits = xp.matmul(quad["Qt"], xp.stack(rows, axis=0))                  # (K, n)
    top = xp.max(logits, axis=0)                                             # (n,)
    shifted = xp.exp(logits - top)
    total = xp.sum(shifted, axis=0)
    out = {}
    if "log_prob" in want:
        out["log_prob"] = top + xp.log(total)
    wt = shifted / total                                                     # (K, n)
    if "weights" in want:
        out["weights"] = xp.permute_dims(wt, (1, 0))
    if "score" in want:
        g = xp.matmul(quad["Mt"], wt)   # rows: sum_k w_k P_k[i, j], then sum_k w_k P_k nu_k
        index = {pair: c for c, pair in enumerate(pairs)}
        score = []
        for i in range(d):
            s = g[len(pairs) + i]
            for j in range(d):
                s = s - g[index[(min(i, j), max(i, j))]] * zt[j]
            score.append(s)
        out["score"] = xp.stack(score, axis=1)
    return out


def _finish(xp, logits, want, out):
    """Log-sum-exp over components; returns the (n, K) weights."""
    top = xp.max(logits, axis=1)                                             # (n,)
    shifted = xp.exp(logits - top[:, None])
    total = xp.sum(shifted, axis=1)
    if "log_prob" in want:
        out["log_prob"] = top + xp.log(total)
    w = shifted / total[:, None]                                             # (n, K)
    if "weights" in want:
        out["weights"] = w
    return w


def evaluate_chunk(xp, x, alpha, sigma, plan, out=None):
    """Evaluate the quantities in ``plan["want"]`` at the points ``x`` (n, d).

    ``alpha``, ``sigma``: (1, n or 1, 1), the slices matching ``x``.

    ``out`` (numpy only): a dict holding, for every wanted quantity, the array of this
    chunk's rows to write it into (views of the caller's result, so the chunks' results
    are neither kept alive nor concatenated: at K = 8, d = 64 and 512-point chunks that
    saved about a tenth of the CPU time, most of it page faults on 100 MB of fresh
    memory). The stacked-precision path writes its score straight there; the others copy.

    Returns
    -------
    dict
        ``log_prob`` (n,), ``weights`` (n, K), ``score`` (n, d), ``x0`` (n, d) (``out``
        itself when given).
    """
    result = _evaluate_chunk(xp, x, alpha, sigma, plan, out)
    if out is None:
        return result
    for key in plan["want"]:
        if result[key] is not out[key]:
            out[key][...] = result[key]
    return out


def _evaluate_chunk(xp, x, alpha, sigma, plan, dest):
    path = plan["path"]
    want = plan["want"]
    means = plan["means"]
    log_weights = plan["log_weights"]
    n, d = x.shape
    k = means.shape[0]
    out = {}
    if path == "precision":
        if "quadratic" in plan:
            return _quadratic_chunk(xp, x, plan["quadratic"], want)
        a = plan["alpha"]
        if d <= _SMALL_D:
            y = xp.matmul(x, plan["precision"])
            y -= plan["offset"]                   # in place: one (n, K d) array, not two
            y = xp.reshape(y, (n, k, d))
            # r_k . Y_k one coordinate at a time: einsum over a length-2 axis becomes a
            # batched product of n tiny matrices (measured at d = 2, 16384 points, K = 8:
            # 521 us against 247 us this way; from d = 6 on einsum is faster)
            am = a * means
            quad = None
            for j in range(d):
                term = y[:, :, j] * (x[:, j:j + 1] - am[:, j])
                quad = term if quad is None else quad + term                 # (n, K)
        else:
            # one (n, d + 1) by (d + 1, K d + K) product: Y and a mu_k . Y_k together (the
            # offset folded in saves a pass over the (n, K d) array)
            big = xp.matmul(xp.concat([x, xp.ones_like(x[:, :1])], axis=1), plan["augmented"])
            y = xp.reshape(big[:, :k * d], (n, k, d))
            quad = xp.einsum("nkd,nd->nk", y, x) - big[:, k * d:]           # (n, K)
        logits = plan["log_norm"] - 0.5 * quad
        w = _finish(xp, logits, want, out)
        if "score" in want:
            # numpy >= 2.2's vecmat: the batched product's sums (bit-identical with numpy
            # 2.4), less overhead, and written straight into the caller's rows
            vecmat = getattr(xp, "vecmat", None)
            if vecmat is not None and dest is not None:
                out["score"] = vecmat(-w, y, out=dest["score"])             # (-w): (n, K)
            elif vecmat is not None:
                out["score"] = vecmat(-w, y)
            else:
                out["score"] = xp.matmul(-w[:, None, :], y)[:, 0, :]
        if "x0" in want:
            z = xp.matmul(x, plan["gain"])
            z -= plan["gain_offset"]
            z = xp.reshape(z, (n, k, d))
            out["x0"] = xp.matmul(w, means) + xp.einsum("nk,nkd->nd", w, z)
        return out
    if path == "diagonal":
        eigvals = plan["eigvals"]
        if plan["scalar"]:
            a = plan["alpha"]
            inv_var = plan["inv_var"][None, :, :]                            # (1, K, d)
            logdet = plan["logdet"]                                          # (K,)
        else:
            a = xp.reshape(alpha, (-1, 1, 1))                                # (n|1, 1, 1)
            s = xp.reshape(sigma, (-1, 1, 1))
            var = a * a * eigvals[None, :, :] + s * s                        # (n|1, K, d)
            inv_var = 1.0 / var
            logdet = xp.sum(xp.log(var), axis=-1)                            # (n|1, K)
        r = x[:, None, :] - a * means[None, :, :]                            # (n, K, d)
        v = r * inv_var
        quad = xp.einsum("nkd,nkd->nk", r, v)
        logits = log_weights - 0.5 * (quad + logdet + d * LOG_2PI)
        w = _finish(xp, logits, want, out)
        if "score" in want:
            out["score"] = -xp.einsum("nk,nkd->nd", w, v)
        if "x0" in want:
            a2 = a if plan["scalar"] else xp.reshape(a, (-1, 1))
            out["x0"] = xp.matmul(w, means) + a2 * xp.einsum("nk,nkd->nd", w,
                                                             v * eigvals[None, :, :])
        return out
    # "eigen": (K, n, d) layout, one noise level per point allowed
    eigvals, eigvecs = plan["eigvals"], plan["eigvecs"]
    c = component_coordinates(xp, x, alpha, plan["means_proj"], eigvecs)    # (K, n, d)
    var = alpha * alpha * eigvals[:, None, :] + sigma * sigma               # (K, n|1, d)
    quad = xp.sum(c * c / var, axis=-1)                                     # (K, n)
    logdet = xp.sum(xp.log(var), axis=-1)                                   # (K, n|1)
    logits = xp.permute_dims(log_weights[:, None] - 0.5 * (quad + logdet + d * LOG_2PI),
                             (1, 0))                                         # (n, K)
    w = _finish(xp, logits, want, out)
    wk = xp.permute_dims(w, (1, 0))                                          # (K, n)
    if "score" in want:
        comp = back_project(xp, c / var, eigvecs)                           # (K, n, d)
        out["score"] = -xp.sum(wk[:, :, None] * comp, axis=0)
    if "x0" in want:
        comp = back_project(xp, alpha * eigvals[:, None, :] * c / var, eigvecs)
        out["x0"] = xp.sum(wk[:, :, None] * (comp + means[:, None, :]), axis=0)
    return out


def evaluate(xp, x, alpha, sigma, log_weights, means, means_proj, eigvals, eigvecs,
             want=("log_prob",)):
    """Evaluate the requested quantities of the diffused mixture at ``x`` (one chunk).

    Parameters
    ----------
    xp : array namespace
    x : (n, d) array
    alpha, sigma : arrays of shape (1, n or 1, 1)
    log_weights : (K,) array
    means : (K, d) array
    means_proj : (K, d) array
    eigvals : (K, d) array
    eigvecs : (K, d, d) array or None
    want : tuple of {"log_prob", "weights", "score", "x0"}

    Returns
    -------
    dict
        ``log_prob`` (n,), ``weights`` (n, K), ``score`` (n, d), ``x0`` (n, d).
    """
    plan = make_plan(xp, x.shape[0], alpha, sigma, log_weights, means, means_proj, eigvals,
                     eigvecs, want)
    return evaluate_chunk(xp, x, alpha, sigma, plan)


def chunk_size(n_components: int, dim: int, elements: int) -> int:
    """Points per chunk so that a chunk's (n, K, d) intermediates hold ``elements`` numbers."""
    return max(1, int(elements) // max(n_components * dim, 1))
