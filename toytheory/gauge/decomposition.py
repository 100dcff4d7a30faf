r"""The split :math:`s = \nabla\phi + r` of a vector field into a conservative part and a
density-weighted divergence-free (gauge) part, on a grid in any dimension.

Given a density :math:`p` and a field :math:`s` in :math:`L^2(p)`, the
conservative part is the :math:`L^2(p)`-orthogonal projection of :math:`s`
onto gradients:

.. math::

    \phi = \arg\min_\phi \int p\,\|s - \nabla\phi\|^2
    \iff \nabla\cdot(p\nabla\phi) = \nabla\cdot(p\,s),
    \qquad r = s - \nabla\phi,\quad \nabla\cdot(p\,r) = 0,

so :math:`\langle\nabla\phi, r\rangle_p = 0` and
:math:`E_p\|s\|^2 = E_p\|\nabla\phi\|^2 + E_p\|r\|^2` (Horvat & Pfister, "On gauge
freedom, conservativity and intrinsic dimensionality estimation in diffusion
models", the orthogonal decomposition of the vector field; REFERENCE.md §4).

Boundary condition. On a box :math:`\Omega` the minimisation above has the
*natural* (zero-flux Neumann) condition :math:`p\,(\nabla\phi - s)\cdot n = 0`,
i.e. :math:`p\,r\cdot n = 0` on :math:`\partial\Omega`: no probability flux of
the gauge part leaves the box, which is what :math:`\nabla\cdot(p r) = 0` on
:math:`\mathbb{R}^d` means for a density that is negligible outside
:math:`\Omega`. It needs no boundary data, it makes the problem compatible
(:math:`\int_\Omega \nabla\cdot(ps) = \oint p\,s\cdot n` holds automatically), and it
keeps the split orthogonal in :math:`L^2(p\,1_\Omega)`. :math:`\phi` is fixed up
to a constant (we return the one with zero mean over the nodes). A Dirichlet
condition would instead force flux through the boundary and break the
orthogonality. The box must be large enough that :math:`p` is negligible on
its faces; :attr:`Decomposition.boundary_density` reports the largest
relative density there.

Discretisation. Component ``a`` of a field lives on the edges along axis ``a``
(see :class:`toytheory.gauge.grid.Grid`); the weighted least-squares problem
:math:`\min_\phi \sum_a\sum_e w_e\,((D_a\phi)_e - s_{a,e})^2`, with
:math:`w_e = p(\text{midpoint})\,\prod_b h_b / Z`, has the normal equations
:math:`L\phi = \sum_a D_a^T W_a s_a`, :math:`L = \sum_a D_a^T W_a D_a`. Edges on the
box faces are simply absent, which *is* the zero-flux condition. The
discrete split is exactly orthogonal in the weights :math:`w` (to the solver
tolerance), and second-order accurate in :math:`h` for smooth :math:`p` and
:math:`s` (:func:`refinement_study` measures the order).

Vanishing densities. Where :math:`p = 0` on an edge the weighted problem
decouples and :math:`\phi` is undetermined there (the operator is singular
beyond the constants). By default such input is refused with a
``ValueError`` naming the density argument. With ``density_floor = eps`` the
solver uses :math:`p_\varepsilon = \max(p, \varepsilon\max p)` instead: the
result is the :math:`L^2(p_\varepsilon)` split, which differs from the
:math:`L^2(p)` split only where :math:`p < \varepsilon\max p` (each
:math:`E_p` diagnostic moves by at most :math:`\varepsilon\max p\,|\Omega|` times the
squared field there). Conjugate gradients itself is insensitive to the
dynamic range of a positive :math:`p` (1e-48 has been seen to converge as
fast as 1e-3), so no floor is applied unless asked for.

Solvers. Both run preconditioned conjugate gradients on the same discrete
operator :math:`L`, which is singular: with the zero-flux (Neumann) condition
its null space is the constants, and the right-hand side is orthogonal to them
(the compatibility condition above). CG is therefore run on the complement of
the constants: after every update the residual is projected back onto
:math:`\mathbf 1^T r = 0` and the returned :math:`\phi` has zero mean
(:func:`toytheory.gauge._sparse.projected_cg`). An unprojected CG, such as
:func:`scipy.sparse.linalg.cg`, lets rounding feed a constant component into its
recursive residual that no preconditioner removes (and stagnates near
:math:`10^{-10}` relative residual on 257 x 257 grids); hence the projected
recursion.

``"scipy"``
    :math:`L` assembled as a :mod:`scipy.sparse` CSR matrix and solved by
    :func:`toytheory.gauge._sparse.projected_cg` (our own projected PCG, not
    :func:`scipy.sparse.linalg.cg`), with the ``"multigrid"`` V-cycle or the
    ``"jacobi"`` preconditioner of :mod:`toytheory.gauge._sparse`.
``"torch"``
    The same projected recursion with :math:`L` applied matrix-free in
    float64 (:mod:`toytheory.gauge._torch_cg`), on ``device="cuda"`` when a
    GPU is present.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .._validation import as_float_array, check_int, check_real
from . import _sparse
from .grid import Grid

__all__ = ["Decomposition", "decompose", "edge_field", "edge_weights", "convergence_order",
           "refinement_study", "RefinementStudy", "loss_split"]

SOLVERS = ("scipy", "torch")
PRECONDITIONERS = ("multigrid", "jacobi")


# --------------------------------------------------------------------------- inputs

def _check_grid(grid) -> Grid:
    if not isinstance(grid, Grid):
        raise ValueError(f"grid: must be a toytheory.gauge.grid.Grid (got {type(grid).__name__})")
    return grid


def _check_device(device, solver: str):
    """Validate ``device`` for ``solver`` and return it (a ``torch.device`` for torch).

    Raises
    ------
    ValueError
        ``device: ...`` for anything but a CPU with the scipy solver, and for an
        unknown device name, a device type other than cpu/cuda, or a CUDA device
        that is not present, with the torch solver.
    """
    if solver == "scipy":
        if str(device) != "cpu":
            raise ValueError(f"device: must be 'cpu' for the scipy solver, which runs on the "
                             f"CPU only; use solver='torch' for a GPU (got {device!r})")
        return "cpu"
    import torch

    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device: must be a device name such as 'cpu' or 'cuda' "
                         f"(got {type(device).__name__})")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device: must be a torch device name such as 'cpu', 'cuda' or "
                         f"'cuda:0' (got {device!r})") from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: must be a 'cpu' or 'cuda' device (got {device!r})")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: CUDA requested but no CUDA device is available "
                             f"(got {device!r})")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device: must be one of the {torch.cuda.device_count()} CUDA "
                             f"device(s) present (got {device!r})")
    return dev


def _node_to_edges(values, axis):
    lo = [slice(None)] * values.ndim
    hi = [slice(None)] * values.ndim
    lo[axis] = slice(0, -1)
    hi[axis] = slice(1, None)
    return 0.5 * (values[tuple(lo)] + values[tuple(hi)])


def edge_field(field, grid: Grid, name: str = "field") -> tuple:
    """The normal components of a vector field on the edges of ``grid``.

    Parameters
    ----------
    field : callable or array
        A callable ``field(x)`` with ``x`` of shape (m, d) returning (m, d),
        evaluated exactly at the edge midpoints; or the values at the nodes,
        shape ``(*grid.shape, d)``, averaged onto the edges (second order).
    grid : Grid
    name : str
        The argument name used in error messages.

    Returns
    -------
    tuple of d arrays
        Entry ``a`` has shape ``grid.edge_shape(a)``.

    Raises
    ------
    ValueError
        ``grid: ...`` when ``grid`` is not a :class:`Grid`; ``<name>: ...`` when the
        field has the wrong shape or a value that is not finite.
    """
    grid = _check_grid(grid)
    if not isinstance(name, str):
        raise ValueError(f"name: must be a str (got {type(name).__name__})")
    d = grid.ndim
    if callable(field):
        out = []
        for a in range(d):
            pts = grid.edge_midpoints(a)
            vals = as_float_array(name, field(pts), ndim=2)
            if vals.shape != (pts.shape[0], d):
                raise ValueError(f"{name}: must return shape (m, {d}) for m points "
                                 f"(got {vals.shape} for m = {pts.shape[0]})")
            out.append(vals[:, a].reshape(grid.edge_shape(a)))
        return tuple(out)
    vals = as_float_array(name, field)
    if vals.shape != tuple(grid.shape) + (d,):
        raise ValueError(f"{name}: node values must have shape {tuple(grid.shape) + (d,)} "
                         f"matching the grid (got {vals.shape})")
    return tuple(_node_to_edges(vals[..., a], a) for a in range(d))


def _relative_density(grid, log_density, density):
    """Node and edge densities divided by their maximum: (nodes, [edges per axis])."""
    if (log_density is None) == (density is None):
        raise ValueError("log_density, density: give exactly one of them")
    name = "log_density" if density is None else "density"
    given = log_density if density is None else density
    d = grid.ndim
    if callable(given):
        def evaluate(points):
            vals = as_float_array(name, given(points), ndim=1, finite=False)
            if vals.shape != (points.shape[0],):
                raise ValueError(f"{name}: must return shape (m,) for m points "
                                 f"(got {vals.shape})")
            if np.any(np.isnan(vals)):
                raise ValueError(f"{name}: must contain only finite values (NaN present)")
            return vals
        node_vals = evaluate(grid.nodes().reshape(-1, d)).reshape(grid.shape)
        edge_vals = [evaluate(grid.edge_midpoints(a)).reshape(grid.edge_shape(a))
                     for a in range(d)]
    else:
        node_vals = as_float_array(name, given, finite=False)
        if node_vals.shape != tuple(grid.shape):
            raise ValueError(f"{name}: node values must have shape {tuple(grid.shape)} "
                             f"matching the grid (got {node_vals.shape})")
        if np.any(np.isnan(node_vals)):
            raise ValueError(f"{name}: must contain only finite values (NaN present)")
        edge_vals = None
    if density is None:
        if np.any(node_vals == np.inf) or (edge_vals is not None
                                           and any(np.any(e == np.inf) for e in edge_vals)):
            raise ValueError("log_density: must be < +inf everywhere")
        top = float(np.max(node_vals))
        if edge_vals is not None:
            top = max(top, max(float(np.max(e)) for e in edge_vals))
        if not math.isfinite(top):
            raise ValueError("log_density: the density vanishes on the whole grid")
        if edge_vals is None:
            edge_vals = [_node_to_edges(node_vals, a) for a in range(d)]
        with np.errstate(under="ignore"):
            nodes = np.exp(node_vals - top)
            edges = [np.exp(e - top) for e in edge_vals]
    else:
        if np.any(~np.isfinite(node_vals)) or (edge_vals is not None and any(
                np.any(~np.isfinite(e)) for e in edge_vals)):
            raise ValueError("density: must contain only finite values")
        if np.any(node_vals < 0) or (edge_vals is not None and any(np.any(e < 0)
                                                                  for e in edge_vals)):
            raise ValueError("density: must be non-negative")
        if edge_vals is None:
            edge_vals = [_node_to_edges(node_vals, a) for a in range(d)]
        top = max(float(np.max(node_vals)), max(float(np.max(e)) for e in edge_vals))
        if top <= 0:
            raise ValueError("density: vanishes on the whole grid")
        nodes = node_vals / top
        edges = [e / top for e in edge_vals]
    return name, nodes, edges


def edge_weights(grid: Grid, *, log_density=None, density=None, density_floor: float = 0.0):
    """Quadrature weights :math:`w_e = p(m_e)\\prod_b h_b / Z` on the edges of ``grid``.

    :math:`Z = \\prod_b h_b\\sum_{\\text{nodes}} p`, so :math:`\\sum_e w_e f(m_e)` approximates
    :math:`E_p f` along each axis (second order for smooth :math:`p f`).

    Parameters
    ----------
    grid : Grid
    log_density : callable or array, optional
        :math:`\\log p` (up to a constant): a callable on (m, d) points, or node
        values of shape ``grid.shape``.
    density : callable or array, optional
        :math:`p` (up to a constant), likewise. Give exactly one of the two.
    density_floor : float, default 0
        Relative floor :math:`\\varepsilon`: :math:`p \\to \\max(p, \\varepsilon\\max p)`.

    Returns
    -------
    weights : tuple of d edge arrays
    boundary_density : float
        The largest :math:`p/\\max p` on the faces of the box.

    Raises
    ------
    ValueError
        Naming the density argument when :math:`p` vanishes (or underflows) on
        an edge and no floor is given: the weighted Poisson problem is singular
        there; ``grid: ...`` when ``grid`` is not a :class:`Grid`.
    """
    grid = _check_grid(grid)
    floor = check_real("density_floor", density_floor, low=0.0, high=1.0)
    name, nodes, edges = _relative_density(grid, log_density, density)
    if floor > 0:
        nodes = np.maximum(nodes, floor)
        edges = [np.maximum(e, floor) for e in edges]
    zero = sum(int(np.count_nonzero(e == 0)) for e in edges)
    if zero:
        raise ValueError(
            f"{name}: must be positive on every edge of the grid, but vanishes (or underflows "
            f"below 1e-308 of its maximum) on {zero} edge(s); there the weighted problem "
            f"div(p grad phi) = div(p s) is singular (nodes decouple and phi is undetermined). "
            f"Use a smaller box or pass density_floor > 0")
    z = float(np.sum(nodes))
    weights = tuple(e / z for e in edges)
    faces = []
    for a in range(grid.ndim):
        faces += [np.take(nodes, 0, axis=a), np.take(nodes, -1, axis=a)]
    boundary = max(float(np.max(f)) for f in faces)
    return weights, boundary


# --------------------------------------------------------------------------- result

@dataclass
class Decomposition:
    """The discrete split :math:`s = \\nabla\\phi + r` on the edges of a grid.

    Attributes
    ----------
    grid : Grid
    weights : tuple of arrays
        Edge quadrature weights of :math:`p` (sum over one axis :math:`\\approx 1`).
    field, gradient, remainder : tuple of arrays
        :math:`s`, :math:`\\nabla\\phi` and :math:`r = s - \\nabla\\phi` on the edges
        (entry ``a`` has shape ``grid.edge_shape(a)``).
    potential : array of shape ``grid.shape``
        :math:`\\phi` at the nodes (zero mean).
    iterations : int
    solver, preconditioner : str
    boundary_density : float
        Largest :math:`p/\\max p` on the faces of the box.
    seconds : float
        Wall time of the solve (assembly included).
    """

    grid: Grid
    weights: tuple
    field: tuple
    gradient: tuple
    remainder: tuple
    potential: np.ndarray
    iterations: int
    solver: str
    preconditioner: str
    boundary_density: float
    seconds: float = 0.0
    info: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ algebra
    def _check_edges(self, name, f):
        if not isinstance(f, (tuple, list)) or len(f) != self.grid.ndim:
            raise ValueError(f"{name}: must be a tuple of {self.grid.ndim} edge arrays")
        out = []
        for a, comp in enumerate(f):
            arr = as_float_array(name, comp)
            if arr.shape != self.grid.edge_shape(a):
                raise ValueError(f"{name}: component {a} must have the edge shape "
                                 f"{self.grid.edge_shape(a)} of this grid (got {arr.shape})")
            out.append(arr)
        return out

    def inner(self, f, g) -> float:
        """:math:`\\langle f, g\\rangle_p \\approx \\sum_a\\sum_e w_e f_{a,e} g_{a,e}`."""
        f = self._check_edges("f", f)
        g = self._check_edges("g", g)
        return float(sum(np.sum(w * fa * ga) for w, fa, ga in zip(self.weights, f, g)))

    def sample(self, fn: Callable) -> tuple:
        """An exact field ``fn(x) -> (m, d)`` on this grid's edges (for comparisons)."""
        return edge_field(fn, self.grid, "fn")

    # ------------------------------------------------------------------ diagnostics
    @property
    def inner_product(self) -> float:
        """:math:`\\langle\\nabla\\phi, r\\rangle_p` (zero up to the solver tolerance)."""
        return self.inner(self.gradient, self.remainder)

    @property
    def energy_field(self) -> float:
        """:math:`E_p\\|s\\|^2`."""
        return self.inner(self.field, self.field)

    @property
    def energy_gradient(self) -> float:
        """:math:`E_p\\|\\nabla\\phi\\|^2`."""
        return self.inner(self.gradient, self.gradient)

    @property
    def energy_remainder(self) -> float:
        """:math:`E_p\\|r\\|^2`."""
        return self.inner(self.remainder, self.remainder)

    @property
    def energy_gap(self) -> float:
        """:math:`E\\|s\\|^2 - E\\|\\nabla\\phi\\|^2 - E\\|r\\|^2` (zero when the split is orthogonal)."""
        return self.energy_field - self.energy_gradient - self.energy_remainder

    def divergence_of_flux(self, f) -> np.ndarray:
        """The discrete :math:`-\\nabla\\cdot(p f)` at the nodes, shape ``grid.shape``."""
        f = self._check_edges("f", f)
        return _sparse.divergence_of_flux(self.grid.shape, self.grid.spacing, self.weights, f)

    @property
    def relative_residual(self) -> float:
        """:math:`\\|\\nabla\\cdot(p r)\\| / \\|\\nabla\\cdot(p s)\\|` (discrete, Euclidean over nodes)."""
        top = np.linalg.norm(self.divergence_of_flux(self.remainder))
        bottom = np.linalg.norm(self.divergence_of_flux(self.field))
        return float(top / bottom) if bottom > 0 else float(top)

    def at_nodes(self, f) -> np.ndarray:
        """Average an edge field onto the nodes (for plots): shape ``(*grid.shape, d)``."""
        f = self._check_edges("f", f)
        out = np.zeros(tuple(self.grid.shape) + (self.grid.ndim,))
        for a, comp in enumerate(f):
            pad = [(0, 0)] * self.grid.ndim
            pad[a] = (1, 1)
            padded = np.pad(comp, pad, mode="edge")
            lo = [slice(None)] * self.grid.ndim
            hi = [slice(None)] * self.grid.ndim
            lo[a] = slice(0, -1)
            hi[a] = slice(1, None)
            out[..., a] = 0.5 * (padded[tuple(lo)] + padded[tuple(hi)])
        return out

    def summary(self) -> dict:
        return {"grid": self.grid.shape, "solver": self.solver,
                "preconditioner": self.preconditioner, "iterations": self.iterations,
                "seconds": self.seconds, "inner_product": self.inner_product,
                "energy_field": self.energy_field, "energy_gradient": self.energy_gradient,
                "energy_remainder": self.energy_remainder,
                "relative_residual": self.relative_residual,
                "boundary_density": self.boundary_density}


# --------------------------------------------------------------------------- solve

def decompose(field, grid: Grid, *, log_density=None, density=None, solver: str = "scipy",
              preconditioner: str = "multigrid", tol: float = 1e-10, maxiter: int | None = None,
              density_floor: float = 0.0, device: str = "cpu") -> Decomposition:
    """Split ``field`` into :math:`\\nabla\\phi + r` with :math:`\\nabla\\cdot(p r) = 0` on ``grid``.

    Solves :math:`\\nabla\\cdot(p\\nabla\\phi) = \\nabla\\cdot(p s)` with the zero-flux
    condition :math:`p(\\nabla\\phi - s)\\cdot n = 0` (module notes).

    Parameters
    ----------
    field : callable or array
        :math:`s`: ``field(x)`` on (m, d) points returning (m, d), or node
        values of shape ``(*grid.shape, d)`` (see :func:`edge_field`).
    grid : Grid
    log_density, density : callable or array
        :math:`\\log p` or :math:`p`, up to a constant (exactly one).
    solver : {"scipy", "torch"}
        Projected preconditioned CG on a scipy sparse matrix, or matrix-free in
        torch (module notes).
    preconditioner : {"multigrid", "jacobi"}
    tol : float, default 1e-10
        Relative residual :math:`\\|b - L\\phi\\|/\\|b\\|` at which CG stops.
    maxiter : int, optional
    density_floor : float, default 0
        See the module notes; 0 refuses densities that vanish on the grid.
    device : str or torch.device, default "cpu"
        For ``solver="torch"``: ``"cpu"``, ``"cuda"`` or ``"cuda:<i>"`` (a CUDA
        device must be present). The scipy solver runs on the CPU only and
        accepts only ``"cpu"``.

    Returns
    -------
    Decomposition

    Raises
    ------
    ValueError
        Naming the argument: a ``grid`` that is not a :class:`Grid`, an unknown
        ``solver`` or ``preconditioner``, a ``device`` that is unknown or absent,
        a ``tol`` outside (0, 1], a ``maxiter`` below 1, fields or densities
        that do not match the grid or are not finite, and a density that
        vanishes on an edge (see :func:`edge_weights`).
    RuntimeError
        When CG does not reach ``tol`` within ``maxiter`` iterations.

    Examples
    --------
    >>> import numpy as np
    >>> g = Grid.cube(-6.0, 6.0, 2, 65)
    >>> rot = np.array([[0.0, 1.0], [-1.0, 0.0]])
    >>> dec = decompose(lambda x: -x + x @ rot.T, g, log_density=lambda x: -0.5 * (x**2).sum(1))
    >>> bool(abs(dec.inner_product) < 1e-8 and dec.energy_remainder > 0.9)
    True
    """
    grid = _check_grid(grid)
    if solver not in SOLVERS:
        raise ValueError(f"solver: must be one of {SOLVERS} (got {solver!r})")
    if preconditioner not in PRECONDITIONERS:
        raise ValueError(f"preconditioner: must be one of {PRECONDITIONERS} "
                         f"(got {preconditioner!r})")
    tol = check_real("tol", tol, low=0.0, high=1.0, low_open=True)
    if maxiter is not None:
        maxiter = check_int("maxiter", maxiter, low=1)
    device = _check_device(device, solver)
    start = time.perf_counter()
    weights, boundary = edge_weights(grid, log_density=log_density, density=density,
                                     density_floor=density_floor)
    s = edge_field(field, grid, "field")
    rhs = _sparse.divergence_of_flux(grid.shape, grid.spacing, weights, s)
    matrix = None
    if solver == "scipy" or preconditioner == "multigrid":
        matrix = _sparse.weighted_laplacian(grid.shape, grid.spacing, weights)
    if solver == "scipy":
        if preconditioner == "multigrid":
            precond = _sparse.MultigridPreconditioner(matrix, grid.shape)
            default_maxiter = 200
        else:
            precond = _sparse.jacobi_preconditioner(matrix)
            default_maxiter = 20 * max(grid.shape) + 100
        phi, iterations = _sparse.projected_cg(matrix, rhs.reshape(-1), precond, tol=tol,
                                               maxiter=maxiter or default_maxiter)
        phi = phi.reshape(grid.shape)
    else:
        from ._torch_cg import torch_weighted_poisson_cg

        phi, iterations, _ = torch_weighted_poisson_cg(
            grid.shape, grid.spacing, weights, rhs, tol=tol, maxiter=maxiter,
            preconditioner=preconditioner, device=device, scipy_matrix=matrix)
    gradient = tuple(np.diff(phi, axis=a) / h for a, h in enumerate(grid.spacing))
    remainder = tuple(sa - ga for sa, ga in zip(s, gradient))
    seconds = time.perf_counter() - start
    dec = Decomposition(grid, weights, s, gradient, remainder, phi, int(iterations), solver,
                        preconditioner, boundary, seconds)
    residual = dec.relative_residual
    dec.info["relative_residual"] = residual
    if not residual <= max(100 * tol, 1e-12):
        raise RuntimeError(f"decompose: CG did not reach tol={tol:g} in {iterations} iterations "
                           f"(relative residual {residual:.3g}); raise maxiter")
    return dec


# --------------------------------------------------------------------------- diagnostics

def loss_split(dec: Decomposition, score: Callable) -> dict:
    """The score-matching loss split :math:`E\\|\\nabla\\log p - s\\|^2 = E\\|\\nabla\\log p - \\nabla\\phi\\|^2 + E\\|r\\|^2`.

    Parameters
    ----------
    dec : Decomposition
        Of the model field :math:`s` under :math:`p`.
    score : callable
        The true :math:`\\nabla\\log p`, ``score(x) -> (m, d)``, sampled exactly on the edges.

    Returns
    -------
    dict
        ``loss`` (:math:`E\\|\\nabla\\log p - s\\|^2`), ``conservative_loss``
        (:math:`E\\|\\nabla\\log p-\\nabla\\phi\\|^2`), ``gauge_energy`` (:math:`E\\|r\\|^2`),
        ``gap`` (loss minus the two), ``relative_gap`` (gap / loss).

    Raises
    ------
    ValueError
        ``dec: ...`` when ``dec`` is not a :class:`Decomposition`; ``score: ...``
        when ``score`` is not callable or returns values of the wrong shape or
        that are not finite.

    Notes
    -----
    With the exact score on the edges the identity holds up to
    :math:`2\\langle\\nabla\\log p - D\\log p, r\\rangle_p = O(h^2)`, because the
    discrete split is orthogonal to *discrete* gradients.
    """
    if not isinstance(dec, Decomposition):
        raise ValueError(f"dec: must be a Decomposition, as returned by decompose "
                         f"(got {type(dec).__name__})")
    if not callable(score):
        raise ValueError(f"score: must be a callable score(x) -> (m, d) "
                         f"(got {type(score).__name__})")
    true = edge_field(score, dec.grid, "score")
    diff_s = tuple(t - s for t, s in zip(true, dec.field))
    diff_g = tuple(t - g for t, g in zip(true, dec.gradient))
    loss = dec.inner(diff_s, diff_s)
    cons = dec.inner(diff_g, diff_g)
    gauge = dec.energy_remainder
    gap = loss - cons - gauge
    return {"loss": loss, "conservative_loss": cons, "gauge_energy": gauge, "gap": gap,
            "relative_gap": gap / loss if loss > 0 else gap}


def convergence_order(spacings, errors) -> float:
    """Least-squares slope of :math:`\\log(\\text{error})` against :math:`\\log h`.

    Parameters
    ----------
    spacings, errors : (m,) arrays, m >= 2, positive
    """
    h = as_float_array("spacings", spacings, ndim=1)
    e = as_float_array("errors", errors, ndim=1)
    if h.shape != e.shape or h.size < 2:
        raise ValueError(f"errors: must have the shape of spacings with at least two entries "
                         f"(got {e.shape} and {h.shape})")
    if np.any(h <= 0) or np.any(e <= 0):
        raise ValueError("spacings, errors: must be positive")
    slope, _ = np.polyfit(np.log(h), np.log(e), 1)
    return float(slope)


@dataclass
class RefinementStudy:
    """Errors of the grid split against a known exact split, per grid.

    Attributes
    ----------
    sizes : list of int
        Nodes per axis.
    spacings : list of float
    gradient_errors, remainder_errors : list of float
        :math:`\\|\\nabla\\phi_h - \\nabla\\phi\\|_{L^2(p)} / \\|s\\|_{L^2(p)}` and the same for r.
    order_gradient, order_remainder : float
        Fitted slopes (:func:`convergence_order`).
    decompositions : list of Decomposition
    """

    sizes: list
    spacings: list
    gradient_errors: list
    remainder_errors: list
    order_gradient: float
    order_remainder: float
    decompositions: list


def refinement_study(field, exact_gradient: Callable, lower, upper, sizes, *,
                     log_density=None, density=None, exact_remainder: Callable | None = None,
                     **solve_kwargs) -> RefinementStudy:
    """Decompose on grids of ``sizes`` nodes per axis and measure the error and its order.

    Parameters
    ----------
    field : callable
        :math:`s(x)`.
    exact_gradient : callable
        The exact conservative part :math:`\\nabla\\phi(x)`.
    lower, upper : sequence of float
        The box.
    sizes : sequence of int
        Nodes per axis on each grid (increasing).
    log_density, density : callable
    exact_remainder : callable, optional
        The exact gauge part (default ``field - exact_gradient``).
    **solve_kwargs
        Passed to :func:`decompose`.
    """
    if not callable(field):
        raise ValueError("field: must be a callable for a refinement study")
    if not callable(exact_gradient):
        raise ValueError("exact_gradient: must be a callable")
    sizes = [check_int("sizes", n, low=3) for n in sizes]
    if len(sizes) < 2 or any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"sizes: must be at least two increasing grid sizes (got {sizes})")
    if exact_remainder is None:
        def exact_remainder(x):
            return np.asarray(field(x)) - np.asarray(exact_gradient(x))
    decs, spacings, eg, er = [], [], [], []
    d = np.asarray(lower).size
    for n in sizes:
        grid = Grid(tuple(lower), tuple(upper), (n,) * d)
        dec = decompose(field, grid, log_density=log_density, density=density, **solve_kwargs)
        g_exact = dec.sample(exact_gradient)
        r_exact = dec.sample(exact_remainder)
        scale = math.sqrt(dec.energy_field)
        dg = tuple(a - b for a, b in zip(dec.gradient, g_exact))
        dr = tuple(a - b for a, b in zip(dec.remainder, r_exact))
        eg.append(math.sqrt(dec.inner(dg, dg)) / scale)
        er.append(math.sqrt(dec.inner(dr, dr)) / scale)
        spacings.append(max(grid.spacing))
        decs.append(dec)
    return RefinementStudy(sizes, spacings, eg, er, convergence_order(spacings, eg),
                           convergence_order(spacings, er), decs)
