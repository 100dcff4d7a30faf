"""Density estimation: the change of variables along the flow of s gives log p_0 exactly iff the
conservative part of s is the score (gauge fields allowed, wrong gradients not)."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim

from toytheory.claims.catalog.gauge_common import ABSTRACT_EXACT, PAPER


def gaussian_pushforward_log_prob(law, schedule, chi_matrix, chi_shift, x, t_end=1.0):
    """Exact :math:`\\log q_0(x)` for Gaussian data and s = score + (K x + b) (a quadratic chi).

    The flow is affine, :math:`\\dot x = M(t)x + c(t)`; transporting
    :math:`q_T = N(m_T, \\Sigma_T)` backwards gives a Gaussian whose mean and
    covariance solve :math:`\\dot\\mu = M\\mu + c`, :math:`\\dot S = MS + SM^T` from T to
    0 (scipy's DOP853, tolerance 1e-12) - independent of the RK4 change of
    variables it checks.
    """
    from scipy.integrate import solve_ivp
    from scipy.stats import multivariate_normal

    d = law.dim

    def coeffs(t):
        a, s = (float(v) for v in schedule.marginal(t))
        mean, cov = law.marginal_moments(a, s)
        prec = np.linalg.inv(cov)
        f = float(schedule.drift(t))
        g2 = float(schedule.diffusion_sq(t))
        m = f * np.eye(d) + 0.5 * g2 * prec - 0.5 * g2 * chi_matrix
        c = -0.5 * g2 * prec @ mean - 0.5 * g2 * chi_shift
        return m, c

    def rhs(t, y):
        mu, cov = y[:d], y[d:].reshape(d, d)
        m, c = coeffs(t)
        return np.concatenate([m @ mu + c, (m @ cov + cov @ m.T).ravel()])

    a, s = (float(v) for v in schedule.marginal(t_end))
    mean_t, cov_t = law.marginal_moments(a, s)
    sol = solve_ivp(rhs, (t_end, 0.0), np.concatenate([mean_t, cov_t.ravel()]),
                    method="DOP853", rtol=1e-12, atol=1e-13)
    mu0, cov0 = sol.y[:d, -1], sol.y[d:, -1].reshape(d, d)
    return multivariate_normal(mu0, 0.5 * (cov0 + cov0.T)).logpdf(x)


@claim(
    "gauge.likelihood.exact_iff_conservative_part_is_score",
    paper=PAPER,
    kind="paper",
    source=ABSTRACT_EXACT,
    reading=("'Exact density estimation is achieved when the conservative component equals the "
             "true score', with or without a gauge part, and not otherwise: the instantaneous "
             "change of variables along the flow of score + gauge field must return log p_0 to "
             "1e-5 nats (the RK4 error of the exact-score run, measured beside it), and along "
             "score + grad chi it must miss log p_0 by at least 0.05 nats on average. Exact "
             "fields stand in for the paper's learned ones; one wrong conservative part is one "
             "counterexample, which is what 'not sufficient' asserts."),
    statement=("The instantaneous change of variables along the flow of s = grad phi_t + r_t "
               "gives the exact log p_0 when grad phi_t = grad log p_t (whatever the gauge field "
               "r_t), and a wrong log-density when the conservative part is wrong."),
    witnesses=("exact", "simulated"),
    quick={"n": 12, "steps": 160},
    full={"n": 200, "steps": 400},
)
def exact_density_estimation(ctx, n, steps):
    from toytheory.gauge import toys
    from toytheory.gauge.fields import ModelField, Potential
    from toytheory.gauge.functions import Quadratic
    from toytheory.gauge.likelihood import change_of_variables_log_prob

    ev = ctx.evidence()
    sched = toys.schedule()
    law = toys.gmm_2d()
    x0 = law.sample_data(n, ctx.rng("points"))
    truth = law.log_prob(x0, 1.0, 0.0)
    grid = np.linspace(0.0, float(sched.t_max), steps + 1)
    exact = change_of_variables_log_prob(ModelField(law, sched), x0, grid)
    gauged = ModelField(law, sched, gauges=toys.gauge_fields_2d(law, sched))
    grid_mid = np.linspace(0.0, float(sched.t_max), 2 * steps + 1)
    gauge_coarse = change_of_variables_log_prob(gauged, x0, grid_mid)
    grid_fine = np.linspace(0.0, float(sched.t_max), 4 * steps + 1)
    gauge = change_of_variables_log_prob(gauged, x0, grid_fine)
    wrong = change_of_variables_log_prob(
        ModelField(law, sched, potentials=[toys.wrong_potential(2)]), x0, grid)
    ev.at_most("exact score: max |CoV log p_0 - log p_0| (nats)",
               np.max(np.abs(exact.log_prob - truth)), 1e-5,
               note=f"RK4, {steps} steps, exact divergence; the integrator's own error")
    # Gaussian witness: the wrong field's estimate is the exact log-density of its own samples
    gauss = toys.gaussian_3d()
    k_mat = np.array([[0.4, 0.1, 0.0], [0.1, -0.3, 0.05], [0.0, 0.05, 0.2]])
    b = np.array([0.2, -0.1, 0.3])
    chi = Potential(Quadratic(k_mat, b))
    xg = gauss.sample_data(n, ctx.rng("gauss"))
    cov_est = change_of_variables_log_prob(ModelField(gauss, sched, potentials=[chi]), xg, grid)
    exact_q0 = gaussian_pushforward_log_prob(gauss, sched, k_mat, b, xg, float(sched.t_max))
    ev.at_most("Gaussian data, s = score + (Kx + b): max |CoV - exact log q_0| (nats)",
               np.max(np.abs(cov_est.log_prob - exact_q0)), 1e-5,
               note="q_0 = the law of the wrong field's samples, from the mean/covariance ODE "
                    "solved by scipy DOP853 (independent of the RK4 CoV)")
    err_gauge = np.abs(gauge.log_prob - truth)
    err_coarse = np.abs(gauge_coarse.log_prob - truth)
    ev.at_most("score + gauge field: max |CoV log p_0 - log p_0| (nats)", np.max(err_gauge), 1e-5,
               role="statement", headline=True,
               note=f"RK4 with {4 * steps} steps (the gauge field makes the flow rougher: at "
                    f"{2 * steps} steps its RK4 error reached 1.2e-5 nats on run seed 10, at "
                    f"{4 * steps} at most 7.5e-7 over run seeds 0..19, 13x inside); the "
                    "density transported by the gauged flow is p_t at every t")
    ev.record("score + gauge field: observed order of the error, steps "
              f"{2 * steps} -> {4 * steps}",
              float(np.log2(np.max(err_coarse) / np.max(err_gauge))),
              note=f"max errors {np.max(err_coarse):.3g} -> {np.max(err_gauge):.3g} nats: "
                   "RK4 discretisation error (order 4), not a bias")
    ev.record("score + gauge field: mean |x_T(gauge) - x_T(exact)|",
              float(np.mean(np.linalg.norm(gauge.endpoint - exact.endpoint, axis=1))),
              note="different end points ...")
    ev.record("score + gauge field: mean |integrated divergence (gauge) - (exact)| (nats)",
              float(np.mean(np.abs(gauge.integrated_divergence - exact.integrated_divergence))),
              note="... and different divergence integrals, whose sum with log p_T(x_T) is the "
                   "same log p_0(x)")
    err_wrong = np.abs(wrong.log_prob - truth)
    ev.at_least("score + grad chi (wrong conservative part): mean |CoV log p_0 - log p_0| "
                "(nats)", np.mean(err_wrong), 0.05, role="statement",
                note=f"max {np.max(err_wrong):.3g} nats; the estimate is log q_0 of the wrong "
                     "model, not log p_0")

    ev.record("Gaussian data, s = score + (Kx + b): mean |log q_0 - log p_0| (nats)",
              float(np.mean(np.abs(exact_q0 - gauss.log_prob(xg, 1.0, 0.0)))))
    ev.note("The subtlety: with a gauge field the flow is different (other end points x_T, "
            "another divergence integral) but the continuity equation is the same, so the "
            "density it transports from q_T = p_T is p_t at every t, and the change of "
            "variables returns log p_0(x) exactly. With a wrong conservative part it returns "
            "log q_0(x), the log-density of that model's samples (checked exactly on Gaussian "
            "data), which is not log p_0.")
    return ev
