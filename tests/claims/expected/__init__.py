"""Expected quick-tier verdicts, one module per area, each with a dict ``EXPECTED``.

A claim's expected verdict is what the toy shows when toytheory works; the
catalog test holds every claim to it, so a refuted claim that starts to hold
(or the reverse) is noticed. Every registered claim must appear here.
"""
