"""Read a jupytext percent-format notebook for myst-nb, with the Python kernel and lexer
named (the sources carry no kernelspec)."""

from __future__ import annotations


def read_percent(text: str):
    import jupytext

    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    return nb
