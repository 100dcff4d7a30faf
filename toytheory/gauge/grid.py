r"""Regular node grids on a box, and the edges between neighbouring nodes.

The weighted Poisson problem of :mod:`toytheory.gauge.decomposition` lives on
a grid of :math:`n_0 \times \dots \times n_{d-1}` nodes
:math:`x_i = \ell + i\,h` (both faces of the box included). A vector field is
represented by its normal components on the *edges*: component ``a`` of the
field lives on the edges along axis ``a``, at their midpoints
:math:`x_i + \tfrac12 h_a e_a` (a staggered, finite-volume layout). The
difference of a node function along an edge is then a second-order accurate
derivative at the midpoint, and the discrete divergence is the transpose of
the discrete gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A box :math:`\\prod_a [\\ell_a, u_a]` with ``shape[a]`` equally spaced nodes per axis.

    Parameters
    ----------
    lower, upper : sequence of float, length d
        The box corners, ``lower < upper`` on every axis.
    shape : sequence of int, length d
        Nodes per axis (at least 3 each).

    Examples
    --------
    >>> g = Grid.cube(-4.0, 4.0, 2, 65)
    >>> g.spacing
    (0.125, 0.125)
    >>> g.edge_midpoints(0).shape
    (4160, 2)
    """

    lower: tuple
    upper: tuple
    shape: tuple

    def __post_init__(self):
        lo = as_float_array("lower", self.lower, ndim=1)
        hi = as_float_array("upper", self.upper, ndim=1)
        if lo.size < 1:
            raise ValueError("lower: must have at least one entry (one per axis)")
        if hi.shape != lo.shape:
            raise ValueError(f"upper: must have {lo.size} entries like lower (got {hi.size})")
        if np.any(hi <= lo):
            raise ValueError(f"upper: must exceed lower on every axis (got lower={lo.tolist()}, "
                             f"upper={hi.tolist()})")
        try:
            shape = tuple(int(check_int("shape", s, low=3)) for s in self.shape)
        except TypeError as exc:
            raise ValueError("shape: must be a sequence of integers") from exc
        if len(shape) != lo.size:
            raise ValueError(f"shape: must have {lo.size} entries, one per axis "
                             f"(got {len(shape)})")
        object.__setattr__(self, "lower", tuple(float(v) for v in lo))
        object.__setattr__(self, "upper", tuple(float(v) for v in hi))
        object.__setattr__(self, "shape", shape)

    @classmethod
    def cube(cls, low: float, high: float, ndim: int, n: int) -> "Grid":
        """The cube :math:`[low, high]^d` with ``n`` nodes per axis."""
        ndim = check_int("ndim", ndim, low=1)
        return cls((low,) * ndim, (high,) * ndim, (n,) * ndim)

    # ------------------------------------------------------------------ geometry
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of nodes."""
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> tuple:
        """:math:`h_a = (u_a - \\ell_a)/(n_a - 1)`."""
        return tuple((u - l) / (n - 1) for l, u, n in zip(self.lower, self.upper, self.shape))

    @property
    def cell_volume(self) -> float:
        """:math:`\\prod_a h_a`."""
        return float(np.prod(self.spacing))

    def axis_coordinates(self, axis: int) -> np.ndarray:
        """The node coordinates along ``axis``, shape (n_axis,)."""
        axis = check_int("axis", axis, low=0, high=self.ndim - 1)
        return np.linspace(self.lower[axis], self.upper[axis], self.shape[axis])

    def nodes(self) -> np.ndarray:
        """All nodes, shape ``(*shape, d)`` (``indexing="ij"``)."""
        axes = [self.axis_coordinates(a) for a in range(self.ndim)]
        return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)

    def edge_shape(self, axis: int) -> tuple:
        """Shape of the array of edges along ``axis``: ``shape`` with ``n_axis - 1`` there."""
        axis = check_int("axis", axis, low=0, high=self.ndim - 1)
        s = list(self.shape)
        s[axis] -= 1
        return tuple(s)

    def edge_midpoints(self, axis: int) -> np.ndarray:
        """Midpoints of the edges along ``axis``, flattened: shape ``(prod(edge_shape), d)``."""
        axis = check_int("axis", axis, low=0, high=self.ndim - 1)
        axes = [self.axis_coordinates(a) for a in range(self.ndim)]
        axes[axis] = 0.5 * (axes[axis][1:] + axes[axis][:-1])
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.reshape(-1) for m in mesh], axis=-1)

    def refined(self, factor: int = 2) -> "Grid":
        """The same box with the spacing divided by ``factor``."""
        factor = check_int("factor", factor, low=1)
        return Grid(self.lower, self.upper, tuple((n - 1) * factor + 1 for n in self.shape))

    def check_same(self, name: str, other: "Grid") -> None:
        """Raise ``ValueError`` naming ``name`` unless ``other`` is this grid."""
        if not isinstance(other, Grid):
            raise ValueError(f"{name}: must be a Grid (got {type(other).__name__})")
        if other != self:
            raise ValueError(f"{name}: must be defined on the same grid {self} (got {other})")
