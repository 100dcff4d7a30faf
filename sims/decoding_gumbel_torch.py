"""Gumbel-max draws the way the reference samplers make them, batched in torch.

SEDD (``catsample.sample_categorical``) and MDLM (``_sample_categorical``), the samplers
"Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit Inaccurate
Categorical Sampling" studies, draw a token as::

    gumbel_norm = 1e-10 - (torch.rand_like(probs) + 1e-10).log()
    token = (probs / gumbel_norm).argmax(dim=-1)

in float32. :func:`reference_gumbel_counts` does exactly that, in float32, on the CPU or a
GPU, ``batch`` draws at a time (``offset`` is the 1e-10; 0 gives ``argmax p / -log u``, the
same token as ``argmax log p - log(-log u)``). With ``bits < 24`` each uniform is first
floored to the ``bits``-bit grid (``floor(u 2^bits) 2^-bits``, exact in float32): the same
float32 arithmetic on a coarser grid, where the truncation is large enough to test with few
draws. Nothing here uses :mod:`toytheory.decoding.gumbel_grid`.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_real

__all__ = ["reference_gumbel_counts"]


def reference_gumbel_counts(p, n: int, seed: int, bits: int = 24, offset: float = 1e-10,
                            device: str = "cpu", batch: int | None = None) -> np.ndarray:
    """Counts of ``n`` tokens drawn by float32 Gumbel-max from ``p``.

    Parameters
    ----------
    p : array_like, shape (V,)
        The categorical law (cast to float32, as a model's softmax output would be).
    n : int, >= 1
    seed : int, >= 0
        Seeds a ``torch.Generator`` on ``device``.
    bits : int, 1..24
        The uniforms' grid (24: ``torch.rand`` itself).
    offset : float, >= 0
    device : str
    batch : int, optional
        Draws per batch (default: about 2^26 uniforms per batch).

    Returns
    -------
    ndarray of int64, shape (V,)
    """
    import torch

    w = np.asarray(p, dtype=float)
    if w.ndim != 1 or w.size == 0 or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
        raise ValueError("p: must be a probability vector (non-negative, summing to one)")
    n = check_int("n", n, low=1)
    seed = check_int("seed", seed, low=0)
    bits = check_int("bits", bits, low=1, high=24)
    offset = check_real("offset", offset, low=0.0)
    batch = check_int("batch", batch or max(1, (1 << 26) // w.size), low=1)
    gen = torch.Generator(device=device).manual_seed(seed)
    probs = torch.tensor(w, dtype=torch.float32, device=device)
    counts = torch.zeros(w.size, dtype=torch.int64, device=device)
    scale = float(2 ** bits)
    done = 0
    while done < n:
        m = min(batch, n - done)
        u = torch.rand((m, w.size), generator=gen, device=device, dtype=torch.float32)
        if bits < 24:
            u = torch.floor(u * scale) / scale
        gumbel_norm = offset - (u + offset).log()
        counts += torch.bincount((probs / gumbel_norm).argmax(dim=-1), minlength=w.size)
        done += m
    return counts.cpu().numpy()
