"""The claim registry.

A claim is a paper's statement held as an executable check::

    from toytheory.claims import claim

    @claim(
        "foundation.gaussian.w2_closed_form",
        paper="Gelbrich (1990): ...",
        statement="W2 between Gaussians is the Bures-Wasserstein formula.",
        witnesses=("exact", "simulated"),
        quick={"n": 20_000},
        full={"n": 2_000_000},
    )
    def w2_closed_form(ctx, n):
        ev = ctx.evidence()
        ...
        return ev

The keyword dictionaries ``quick`` and ``full`` are the tiers: the check is
called as ``check(ctx, **params)`` with the tier's parameters (sizes, seeds).
A claim without a ``quick`` dictionary runs only in the full tier. A claim
given ``quick`` but not ``full`` runs the same parameters in both.

Claim modules live in :mod:`toytheory.claims.catalog` (one module per paper
or topic) and are discovered by :func:`load_catalog`. They should import
heavy libraries (torch, numba) inside the check, not at module level, so that
listing claims stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .evidence import WITNESS_KINDS, Evidence
from .papers import KNOWN_PAPERS, SEED_PAPERS, closest_papers

TIERS = ("quick", "full")
KINDS = ("paper", "derived", "library", "background")
"""Claim kinds: ``paper`` (a statement the cited seed paper makes: ``source`` quotes
it, ``reading`` says how the toy reads it, never sharper), ``derived`` (a
consequence toytheory derives: an exact law, an identity, a detectability limit),
``library`` (the behaviour of a named, versioned implementation, attributed to it and
never to a paper), ``background`` (a textbook result, cited to its real source)."""
DEFAULT_TIMEOUT = {"quick": 90.0, "full": 3600.0}
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){2,}$")


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    Attributes
    ----------
    id : str
        ``area.topic.name`` (lower case, dot separated, at least three parts).
    paper : str
        The exact title of the seed paper (or a reference in
        :data:`toytheory.claims.papers.REFERENCE_PAPERS`).
    statement : str
        One sentence: what the paper says, as checked.
    check : callable
        ``check(ctx, **params) -> Evidence``.
    witnesses : tuple of str
        Which of ``exact``, ``symbolic``, ``simulated`` the check uses.
    tiers : dict
        Tier name to the parameters passed to ``check``.
    timeout : dict
        Tier name to the wall-clock limit in seconds.
    kind : {"paper", "derived", "library", "background"}
        What the claim is (see :data:`KINDS`). Only ``paper`` claims count for
        or against the paper.
    source : str
        ``paper``: the paper's own words (sentence, theorem, equation or
        table, with where it is). ``background``: the citation of the result.
        ``library``: the code the behaviour was read in.
    reading : str
        ``paper``: how the toy reads ``source`` (metric, threshold, and why).
    library : str
        ``library``: the implementation and its version, e.g.
        ``"diffusers 0.32.2, DPMSolverMultistepScheduler"``.
    """

    id: str
    paper: str
    statement: str
    check: Callable[..., Evidence]
    witnesses: tuple[str, ...]
    tiers: dict = field(default_factory=dict)
    timeout: dict = field(default_factory=dict)
    kind: str = "paper"
    source: str = ""
    reading: str = ""
    library: str = ""

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    def in_tier(self, tier: str) -> bool:
        return tier in self.tiers

    def with_params(self, tier: str = "quick", **params) -> "Claim":
        """This claim with ``params`` overriding its ``tier`` parameters (the others kept).

        Tests use it to shrink a tier or plant a failure:
        ``execute_claim(claim.with_params(n=1000), "quick", seed)``.
        """
        from dataclasses import replace

        if tier not in self.tiers:
            raise ValueError(f"tier: claim {self.id} has no {tier!r} tier")
        return replace(self, tiers={**self.tiers, tier: {**self.tiers[tier], **params}})

    def params(self, tier: str) -> dict:
        if tier not in self.tiers:
            raise ValueError(f"tier: claim {self.id} has no {tier!r} tier")
        return dict(self.tiers[tier])


def _same_source(f, g) -> bool:
    code_f, code_g = getattr(f, "__code__", None), getattr(g, "__code__", None)
    if code_f is None or code_g is None:
        return False
    return (f.__qualname__ == g.__qualname__ and code_f.co_filename == code_g.co_filename
            and code_f.co_firstlineno == code_g.co_firstlineno)


class Registry:
    """An ordered mapping from claim id to :class:`Claim`."""

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}

    def add(self, claim_: Claim) -> Claim:
        if claim_.id in self._claims:
            existing = self._claims[claim_.id]
            if existing.check is claim_.check or _same_source(existing.check, claim_.check):
                # the same definition imported twice (e.g. by path and by name)
                return existing
            raise ValueError(f"id: claim {claim_.id!r} is already registered")
        self._claims[claim_.id] = claim_
        return claim_

    def __contains__(self, claim_id: str) -> bool:
        return claim_id in self._claims

    def __getitem__(self, claim_id: str) -> Claim:
        return self._claims[claim_id]

    def __iter__(self):
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def ids(self) -> list[str]:
        return list(self._claims)


REGISTRY = Registry()


def claim(id: str, *, paper: str, statement: str, witnesses: tuple[str, ...] | list[str],
          kind: str | None = None, source: str = "", reading: str = "", library: str = "",
          quick: dict | None = None, full: dict | None = None,
          timeout: dict | None = None, registry: Registry | None = None):
    """Register the decorated function as the check of a claim.

    Parameters
    ----------
    id : str
        ``area.topic.name``.
    paper : str
        Exact title of the paper the claim is listed under (see
        :mod:`toytheory.claims.papers`): a seed paper for ``kind="paper"``.
    statement : str
        One sentence, never sharper than ``source``.
    kind : {"paper", "derived", "library", "background"}
        Required (see :data:`KINDS`).
    source : str
        Required for ``paper`` (the paper's own words, and where they are) and
        ``background`` (the citation).
    reading : str
        Required for ``paper``: how the toy reads ``source``.
    library : str
        Required for ``library``: the implementation and its version.
    witnesses : sequence of str
        Subset of ``("exact", "symbolic", "simulated")``, non-empty.
    quick, full : dict, optional
        Tier parameters. At least one must be given; ``full`` defaults to
        ``quick``.
    timeout : dict, optional
        Per-tier wall-clock limits in seconds (defaults: quick 90 s, full 1 h).
    registry : Registry, optional
        Where to register (the global :data:`REGISTRY` by default; tests pass
        their own).
    """
    if not isinstance(id, str) or not _ID_PATTERN.match(id):
        raise ValueError(f"id: must look like 'area.topic.name' in lower case (got {id!r})")
    label = f"claim {id!r}"
    if kind is None:
        raise ValueError(f"kind: {label} must declare its kind, one of {KINDS}")
    if kind not in KINDS:
        raise ValueError(f"kind: {label} has kind {kind!r}; must be one of {KINDS}")
    if kind == "paper":
        if paper not in SEED_PAPERS:
            raise ValueError(f"paper: {label} is a 'paper' claim, so it must cite a seed "
                             f"paper (got {paper!r})")
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"source: {label} is a 'paper' claim and must quote the "
                             "paper's own words")
        if not isinstance(reading, str) or not reading.strip():
            raise ValueError(f"reading: {label} is a 'paper' claim and must say how the toy "
                             "reads its source")
    if kind == "library" and (not isinstance(library, str) or not library.strip()):
        raise ValueError(f"library: {label} is a 'library' claim and must name the "
                         "implementation and its version")
    if kind == "background" and (not isinstance(source, str) or not source.strip()):
        raise ValueError(f"source: {label} is a 'background' claim and must cite its source")
    if paper not in KNOWN_PAPERS:
        hint = closest_papers(paper)
        raise ValueError(f"paper: must be a known paper title (got {paper!r}"
                         + (f"; closest: {hint}" if hint else "") + ")")
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("statement: must be a non-empty sentence")
    witnesses = tuple(witnesses)
    if not witnesses or any(w not in WITNESS_KINDS for w in witnesses):
        raise ValueError(f"witnesses: must be a non-empty subset of {WITNESS_KINDS} "
                         f"(got {witnesses})")
    if quick is None and full is None:
        raise ValueError("quick, full: at least one tier must be given")
    tiers: dict[str, dict] = {}
    if quick is not None:
        tiers["quick"] = dict(quick)
        tiers["full"] = dict(full) if full is not None else dict(quick)
    else:
        tiers["full"] = dict(full)
    limits = dict(DEFAULT_TIMEOUT)
    if timeout:
        unknown = set(timeout) - set(TIERS)
        if unknown:
            raise ValueError(f"timeout: unknown tier(s) {sorted(unknown)}")
        limits.update({k: float(v) for k, v in timeout.items()})

    def decorate(fn: Callable[..., Evidence]) -> Callable[..., Evidence]:
        (registry if registry is not None else REGISTRY).add(
            Claim(id, paper, statement.strip(), fn, witnesses, tiers, limits, kind,
                  source.strip(), reading.strip(), library.strip()))
        fn.claim_id = id
        return fn

    return decorate


_CATALOG_LOADED = False


def load_catalog(package: str = "toytheory.claims.catalog") -> Registry:
    """Import every claim module under ``package`` and return the global registry."""
    global _CATALOG_LOADED
    if package == "toytheory.claims.catalog" and _CATALOG_LOADED:
        return REGISTRY
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."),
                       key=lambda i: i.name):
        importlib.import_module(info.name)
    if package == "toytheory.claims.catalog":
        _CATALOG_LOADED = True
    return REGISTRY


def id_matches(name: str, pattern: str) -> bool:
    """Whether ``name`` matches ``pattern``: a glob when the pattern has ``*``, ``?`` or
    ``[``, otherwise a substring (the rule of ``-k`` for claims and figures)."""
    import fnmatch

    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def closest_names(names, pattern: str, n: int = 5) -> list[str]:
    """The ``n`` names closest to ``pattern`` (whole name or one dotted part), best first."""
    import difflib

    def score(name: str) -> float:
        whole = difflib.SequenceMatcher(None, pattern, name).ratio()
        best_part = max((difflib.SequenceMatcher(None, pattern, part).ratio()
                         for part in name.split(".")), default=0.0)
        return max(whole, best_part)

    return sorted(names, key=lambda i: (-score(i), i))[:n]


def select(registry: Registry, tier: str, patterns: list[str] | None = None) -> list[Claim]:
    """The claims of ``tier`` whose id matches any of ``patterns``.

    A pattern with ``*``, ``?`` or ``[`` is a glob on the id; otherwise it is
    a substring of the id. No pattern selects every claim of the tier.
    """
    import fnmatch

    chosen = []
    for c in registry:
        if not c.in_tier(tier):
            continue
        if patterns:
            ok = False
            for p in patterns:
                if any(ch in p for ch in "*?["):
                    ok = ok or fnmatch.fnmatchcase(c.id, p)
                else:
                    ok = ok or p in c.id
            if not ok:
                continue
        chosen.append(c)
    return chosen


def closest_ids(registry: Registry, pattern: str, n: int = 5) -> list[str]:
    """Claim ids closest to ``pattern`` (for a pattern that matched nothing), best first."""
    return closest_names(registry.ids(), pattern, n)


@dataclass
class Context:
    """What a check receives: the tier, the seed, the device.

    Attributes
    ----------
    claim_id : str
    tier : str
    seed : int
        The claim's own seed (derived from the run seed and the claim id).
    device : str
        ``"cpu"`` or ``"cuda"``: where torch witnesses run.
    """

    claim_id: str
    tier: str
    seed: int
    device: str = "cpu"
    witnesses: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> Evidence:
        """A fresh :class:`Evidence` carrying this check's id, seed and witnesses."""
        return Evidence(self.claim_id, self.seed, self.witnesses)

    def rng(self, *labels: str):
        """A numpy Generator seeded from the claim seed and ``labels``."""
        import numpy as np

        from .._random import derive_seed

        return np.random.default_rng(derive_seed(self.seed, *labels) if labels else self.seed)

    def seed_for(self, *labels: str) -> int:
        """An integer seed derived from the claim seed and ``labels``."""
        from .._random import derive_seed

        return derive_seed(self.seed, *labels)
