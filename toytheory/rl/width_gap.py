"""The width gap on Linearq(u): Bellman completeness needs width ~u, RCSL needs width 2.

Bellman completeness of a class ``F`` of action-value functions asks that the
Bellman backup ``T f (s, a) = r(s, a) + max_a' f(next(s, a), a')`` lies in ``F``
for every ``f`` in ``F``. The zero network is in every class of two-layer ReLU
networks, and ``T 0 = r``; so a Bellman-complete class of networks of width
``w`` (one network per action, input the state) must fit ``r(., a)`` at every
state. By :mod:`toytheory.rl.interpolation`,

.. math::

    w \\;\\ge\\; \\max_a m^*\\bigl(r(\\cdot, a)\\bigr),

and on Linearq(u) that is ``u + 2`` for even ``u`` and ``u + 3`` for odd
``u >= 3`` (3 for ``u = 1``): ``w >= u + 2 = |S|/3 + 1`` for every ``u``.
Meanwhile ``Q*`` itself has width 1 per action, and RCSL's target, the optimal
action ``1[s >= u + 1]``, is ``ReLU(s - u) - ReLU(s - u - 1)`` on the integers:
width 2 for every ``u``.

Paper: "Free from Bellman Completeness: Trajectory Stitching via Model-based
Return-conditioned Supervised Learning", Theorem 1 (section 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .._validation import check_int
from .exact import as_fraction, exact_trajectory
from .interpolation import interpolating_network, interpolation_width
from .linearq_mdp import linearq, linearq_rewards
from .piecewise import TwoLayerReLU, relu

__all__ = ["BellmanWidth", "bellman_completeness_width", "linearq_reward_networks",
           "q_star_networks", "ReturnConditionedReLU", "rcsl_threshold_network",
           "rcsl_network_return", "predicted_min_width"]


@dataclass(frozen=True)
class BellmanWidth:
    """Width bounds for a Bellman-complete class of two-layer ReLU networks on Linearq(u).

    Attributes
    ----------
    u : int
    n_states : int
    per_action : tuple of InterpolationWidth
        Bounds for fitting ``r(., a)``, ``a = 0, 1``.
    """

    u: int
    n_states: int
    per_action: tuple

    @property
    def lower(self) -> int:
        """No Bellman-complete class of width below this exists."""
        return max(w.lower for w in self.per_action)

    @property
    def upper(self) -> int:
        """Width of explicit networks that fit ``T 0 = r`` exactly."""
        return max(w.upper for w in self.per_action)

    @property
    def naive_lower(self) -> int:
        return max(w.naive_lower for w in self.per_action)


def bellman_completeness_width(u: int) -> BellmanWidth:
    """Exact width bounds forced by Bellman completeness on Linearq(u) (via ``T 0 = r``)."""
    u = check_int("u", u, low=1)
    r = linearq_rewards(u)
    per_action = tuple(interpolation_width(list(r[:, a])) for a in range(2))
    return BellmanWidth(u, r.shape[0], per_action)


def predicted_min_width(u: int) -> int:
    """The closed form ``max_a m*(r(., a))``: 3 for ``u = 1``, ``2 ceil(u/2) + 2`` for ``u >= 2``.

    Proved for general ``u`` in :mod:`proofs.rl_breakpoints`.
    """
    u = check_int("u", u, low=1)
    return 3 if u == 1 else 2 * ((u + 1) // 2) + 2


def linearq_reward_networks(u: int) -> tuple[TwoLayerReLU, TwoLayerReLU]:
    """Two-layer ReLU networks (one per action) equal to ``r(s, a)`` at every state."""
    r = linearq_rewards(check_int("u", u, low=1))
    return tuple(interpolating_network(list(r[:, a])) for a in range(2))


def q_star_networks(u: int) -> tuple[TwoLayerReLU, TwoLayerReLU]:
    """``Q*(., 0) = 2 ReLU(2u + 1 - s)`` and ``Q*(., 1) = ReLU(3u + 3/2 - s)``: width 1 each."""
    u = check_int("u", u, low=1)
    return (TwoLayerReLU((-1,), (2 * u + 1,), (2,)),
            TwoLayerReLU((-1,), (3 * u + Fraction(3, 2),), (1,)))


@dataclass(frozen=True)
class ReturnConditionedReLU:
    """An exact two-layer ReLU network on the RCSL input ``(s, g)`` (state, return-to-go).

    .. math::

        f(s, g) = c + \\sum_i a_i\\, \\mathrm{ReLU}(w^s_i s + w^g_i g + b_i),

    read as a policy by ``action = 1[f(s, g) >= 1/2]``.
    """

    w_state: tuple
    w_return: tuple
    b: tuple
    a: tuple
    c: Fraction = Fraction(0)

    def __post_init__(self):
        for name in ("w_state", "w_return", "b", "a"):
            vals = tuple(as_fraction(name, x) for x in getattr(self, name))
            object.__setattr__(self, name, vals)
        if not len(self.w_state) == len(self.w_return) == len(self.b) == len(self.a):
            raise ValueError("w_state, w_return, b, a: must have equal lengths")
        object.__setattr__(self, "c", as_fraction("c", self.c))

    @property
    def width(self) -> int:
        return len(self.a)

    def __call__(self, s, g) -> Fraction:
        s, g = as_fraction("s", s), as_fraction("g", g)
        return self.c + sum((ai * relu(ws * s + wg * g + bi) for ws, wg, bi, ai in
                             zip(self.w_state, self.w_return, self.b, self.a)), Fraction(0))

    def action(self, s, g) -> int:
        return int(self(s, g) >= Fraction(1, 2))


def rcsl_threshold_network(u: int) -> ReturnConditionedReLU:
    """``ReLU(s - u) - ReLU(s - u - 1)``: equals ``1[s >= u + 1]`` at every integer state."""
    u = check_int("u", u, low=1)
    return ReturnConditionedReLU((1, 1), (0, 0), (-u, -u - 1), (1, -1))


def rcsl_network_return(u: int, network: ReturnConditionedReLU | None = None,
                        target_return=None) -> Fraction:
    """Exact return on Linearq(u) of the RCSL policy read from ``network``.

    The policy conditions on the desired return ``g_0`` (default ``4u + 2``) and
    updates it by ``g_{h+1} = g_h - r(s_h, a_h)``, as RCSL does at test time.
    """
    u = check_int("u", u, low=1)
    net = rcsl_threshold_network(u) if network is None else network
    mdp = linearq(u)
    g = [as_fraction("target_return", 4 * u + 2 if target_return is None else target_return)]

    def policy(h, s):
        a = net.action(s, g[0])
        g[0] -= mdp.r[s, a]
        return a

    return sum(exact_trajectory(mdp, policy)[2], Fraction(0))

