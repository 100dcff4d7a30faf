"""toytheory's pytest plugin: one suite seed, a level, exact-problem fixtures, a marker.

Installed with toytheory, pytest loads it through the ``pytest11`` entry point
(``toytheory``; ``-p no:toytheory`` turns it off). It provides:

Options
    ``--toytheory-seed S`` (else ``$TOYTHEORY_TEST_SEED``, else 0): the suite seed. Every
    ``test_seed``/``rng`` fixture and every statistical check of
    :mod:`toytheory.conformance` called without ``seed=`` derives its seed from it and
    the test's node id, so one option reseeds them all and the same seed repeats them.
    ``--toytheory-level L`` (else 1e-6): the level of every conformance check called
    without ``level=`` (also the ``toytheory_level`` fixture).
Fixtures
    ``test_seed`` (int), ``rng`` (numpy Generator), ``seeded_globals`` (seeds Python's
    ``random``, numpy's global state and, when imported, torch and Numba from
    ``test_seed``), ``toytheory_level``; exact problems: ``exact_gaussian`` (3-D),
    ``exact_gmm`` (2-D, two components), ``exact_model`` (the exact eps-prediction model
    of ``exact_gmm`` on VP-linear), ``vp_schedule``, ``toy_mdp`` (a 4-state, 2-action,
    horizon-5 tabular MDP), ``design_matrix`` (a 40 x 3 heavy-tailed design),
    ``dpp_features`` (7 x 3 orthonormal columns). The problems are fixed (the same on
    every run), so that a failure names a problem one can rebuild.
Marker
    ``@pytest.mark.toytheory``: a test that holds an implementation to toytheory's exact
    answers (select them with ``-m toytheory``).
Hypothesis
    the profiles ``ci`` (derandomized, 50 examples), ``ci-seeded``, ``dev`` and
    ``thorough`` are registered (``--hypothesis-profile ci``);
    :func:`select_hypothesis_profile` is what toytheory's own suite uses to pick one
    from the suite seed.
"""

from __future__ import annotations

import os

import pytest

SEED_ENV = "TOYTHEORY_TEST_SEED"
LEVEL_ENV = "TOYTHEORY_TEST_LEVEL"
PLUGIN_NAME = "toytheory"

try:  # register the profiles early, so that --hypothesis-profile ci works
    from .profiles import register_profiles

    register_profiles()
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass


def ensure_registered(pluginmanager) -> None:
    """Register this plugin unless it is already (by its entry point, or blocked).

    For a conftest that must work with and without the installed entry point::

        def pytest_addoption(parser, pluginmanager):
            from toytheory.testing.pytest_plugin import ensure_registered
            ensure_registered(pluginmanager)
    """
    import sys

    module = sys.modules[__name__]
    if pluginmanager.is_registered(module) or pluginmanager.is_blocked(PLUGIN_NAME):
        return
    if pluginmanager.has_plugin(PLUGIN_NAME):
        return
    pluginmanager.register(module, PLUGIN_NAME)


def pytest_addoption(parser):
    group = parser.getgroup("toytheory")
    group.addoption("--toytheory-seed", action="store", default=None, type=int,
                    help=f"suite seed every random test and statistical check derives from "
                         f"(default ${SEED_ENV} or 0)")
    group.addoption("--toytheory-level", action="store", default=None, type=float,
                    help="level of every toytheory.conformance check called without level= "
                         "(default 1e-6)")


def suite_seed(config) -> int:
    """The suite seed: the option, else the environment variable, else 0."""
    value = config.getoption("--toytheory-seed")
    if value is None:
        raw = os.environ.get(SEED_ENV, "0")
        try:
            value = int(raw)
        except ValueError:
            raise pytest.UsageError(f"{SEED_ENV}: must be a non-negative integer (got {raw!r})")
    if value < 0:
        raise pytest.UsageError(f"--toytheory-seed: must be non-negative (got {value})")
    return value


def suite_level(config) -> float:
    """The level: ``--toytheory-level``, else 1e-6; outside (0, 1) is a usage error."""
    value = config.getoption("--toytheory-level")
    if value is None:
        return 1e-6
    if not 0.0 < value < 1.0:
        raise pytest.UsageError(f"--toytheory-level: must be in (0, 1) (got {value})")
    return float(value)


def select_hypothesis_profile(config) -> str:
    """Pick the hypothesis profile: derandomized ``ci`` unless a seed must decide the examples.

    Call it from a ``pytest_configure`` that runs before hypothesis's own plugin
    (``@pytest.hookimpl(tryfirst=True)``): it hands hypothesis the chosen profile and
    seed (``--hypothesis-profile``/``--hypothesis-seed``), so that its verbosity options
    stack on top and its seed reaches every property test. ``--hypothesis-seed S`` turns
    ``ci`` into ``ci-seeded``; so does a non-zero suite seed, which then also seeds
    hypothesis.
    """
    from .profiles import load_profile

    opt = config.option
    explicit = getattr(opt, "hypothesis_seed", None)
    seed = suite_seed(config)
    seeded = explicit is not None or seed != 0
    name = load_profile(getattr(opt, "hypothesis_profile", None), seeded=seeded)
    if hasattr(opt, "hypothesis_profile"):
        opt.hypothesis_profile = name
        if explicit is None and seed != 0:
            opt.hypothesis_seed = str(seed)
    elif seed != 0:  # hypothesis's pytest plugin is off (-p no:hypothesispytest)
        from hypothesis import core

        core.global_force_seed = seed
    return name


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "toytheory: holds an implementation to toytheory's exact answers "
                   "(conformance checks)")
    from toytheory.conformance._defaults import configure

    config._toytheory_previous = configure(level=suite_level(config), seed=suite_seed(config),
                                           context="")


def pytest_unconfigure(config):
    previous = getattr(config, "_toytheory_previous", None)
    if previous is not None:
        from toytheory.conformance._defaults import configure

        configure(**previous)


def pytest_report_header(config):
    return f"toytheory suite seed: {suite_seed(config)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Conformance checks called without ``seed=`` draw from (suite seed, this test's id)."""
    from toytheory.conformance._defaults import configure

    previous = configure(context=item.nodeid)
    try:
        return (yield)
    finally:
        configure(context=previous["context"])


# ---------------------------------------------------------------------- seeds
@pytest.fixture
def test_seed(request) -> int:
    """A 32-bit seed for this test: derived from the suite seed and the test's node id."""
    from toytheory._random import derive_seed

    return derive_seed(suite_seed(request.config), request.node.nodeid)


@pytest.fixture
def rng(test_seed):
    """A numpy Generator seeded from ``test_seed``."""
    import numpy as np

    return np.random.default_rng(test_seed)


@pytest.fixture
def seeded_globals(test_seed):
    """Seed the global generators (random, numpy, and torch/Numba when imported) from
    ``test_seed``; returns the names of those seeded."""
    from .seeding import seed_global_generators

    return seed_global_generators(test_seed)


@pytest.fixture
def toytheory_level(request) -> float:
    """The level conformance checks run at in this session (``--toytheory-level``)."""
    return suite_level(request.config)


# ---------------------------------------------------------------------- exact problems
@pytest.fixture(scope="session")
def exact_gaussian():
    """:math:`N(\\mu, \\Sigma)` in d = 3, eigenvalues (0.05, 0.3, 1), a fixed rotation."""
    from toytheory.conformance.solver_order import gaussian_problem

    return gaussian_problem()


@pytest.fixture(scope="session")
def exact_gmm():
    """2-D mixture: weights (0.3, 0.7), means (-1, 0.5), (1, -0.2), variances 0.1, 0.2."""
    from toytheory.conformance.solver_order import gmm_problem

    return gmm_problem()


@pytest.fixture(scope="session")
def vp_schedule():
    """The VP-linear schedule (beta from 0.1 to 20)."""
    from toytheory.diffusion import VPLinear

    return VPLinear()


@pytest.fixture
def exact_model(exact_gmm, vp_schedule):
    """The exact eps-prediction model ``model(x, t)`` of ``exact_gmm`` on ``vp_schedule``."""
    from toytheory.diffusion import ExactModel

    return ExactModel(exact_gmm, vp_schedule, prediction="eps")


@pytest.fixture(scope="session")
def toy_mdp():
    """A tabular MDP: 4 states, 2 actions, horizon 5, start 0 (fixed transitions, rewards)."""
    import numpy as np

    from toytheory.rl.mdp import TabularMDP

    gen = np.random.default_rng(11)
    p = gen.dirichlet(np.ones(4), size=(4, 2))
    r = gen.uniform(0.0, 1.0, size=(4, 2))
    return TabularMDP(p, r, 5, 0)


@pytest.fixture(scope="session")
def design_matrix():
    """A full-rank 40 x 3 design with heavy-tailed row scales (fixed)."""
    import numpy as np

    gen = np.random.default_rng(12)
    return gen.standard_normal((40, 3)) * (gen.pareto(1.5, size=(40, 1)) + 1.0)


@pytest.fixture(scope="session")
def dpp_features():
    """7 x 3 orthonormal columns with uneven row norms: the projection DPP ``V V^T``."""
    import numpy as np

    gen = np.random.default_rng(13)
    v, _ = np.linalg.qr(gen.standard_normal((7, 3)) * gen.uniform(0.3, 2, (7, 1)))
    return v
