"""Read a jupytext percent-format notebook for myst-nb and for the executed .ipynb files:
the Python kernel and lexer named (the sources carry no kernelspec), and a first, hidden
cell ``%matplotlib inline`` so that the figures the notebooks return (matplotlib
``Figure`` objects made without pyplot) are rendered as images."""

from __future__ import annotations


def with_inline_figures(nb):
    import nbformat

    cell = nbformat.v4.new_code_cell("%matplotlib inline")
    cell.metadata["tags"] = ["remove-cell"]
    nb.cells.insert(0, cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    return nb


def read_percent(text: str):
    import jupytext

    return with_inline_figures(jupytext.reads(text, fmt="py:percent"))
