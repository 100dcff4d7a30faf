"""The claims ledger: registry, runner and report.

Public API
----------
claim
    Decorator that registers a check (see :mod:`toytheory.claims.registry`).
Evidence, Number
    What a check returns (see :mod:`toytheory.claims.evidence`).
Context
    What a check receives.
load_catalog, REGISTRY, select
    Discover and select claims.
run_claims, execute_claim
    Run them (serially, process pool, Dask).
build_results, write_report, load_results
    The report files.
"""

from .evidence import VERDICTS, Evidence, Number
from .registry import REGISTRY, Claim, Context, Registry, claim, load_catalog, select
from .report import SCHEMA_VERSION, build_results, load_results, write_report
from .runner import ClaimTimeout, RunnerError, execute_claim, run_claims

__all__ = [
    "VERDICTS", "Evidence", "Number", "REGISTRY", "Claim", "Context", "Registry", "claim",
    "load_catalog", "select", "SCHEMA_VERSION", "build_results", "load_results",
    "write_report", "ClaimTimeout", "RunnerError", "execute_claim", "run_claims",
]
