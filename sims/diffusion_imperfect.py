"""Simulation: the trained 1-D DDPM's mass between modes against training-set size and steps.

Each (n_train, steps) pair trains (or loads from the on-disk cache) the eps-MLP of
:mod:`toytheory.diffusion.learned` on the paper's 1-D mixture (means 1, 2, 3, std 0.05),
samples it with DDPM's ancestral sampler and counts the samples farther than ``width``
from every mode ("Understanding Hallucinations in Diffusion Models through Mode
Interpolation", their dependence on the training set and on training). Nothing here uses
the exact law except to draw the training set.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_int, check_real
from toytheory.diffusion.hallucination import (QUICK_TRAIN, between_modes, ddpm_sample,
                                               paper_1d_law, trained_1d_model)

__all__ = ["between_mass_vs_training"]


def between_mass_vs_training(settings, n_samples: int, seed: int, *, width: float = 0.25,
                             base=None, cache_dir=None) -> list[dict]:
    """For each ``(n_train, steps)`` in ``settings``: the count of samples between modes.

    Returns
    -------
    list of dict
        ``n_train``, ``steps``, ``final_loss``, ``between`` (count), ``n`` (samples).
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    width = check_real("width", width, low=0.0, low_open=True)
    law = paper_1d_law()
    rows = []
    for i, (n_train, steps) in enumerate(settings):
        train = dict(base or QUICK_TRAIN, n_train=check_int("n_train", n_train, low=1),
                     steps=check_int("steps", steps, low=1))
        model = trained_1d_model(train, cache_dir=cache_dir)
        x, _ = ddpm_sample(model.eps, model.schedule, n_samples, 1,
                           np.random.default_rng([seed, i]), last=1)
        rows.append({"n_train": n_train, "steps": steps, "final_loss": model.final_loss,
                     "between": int(between_modes(x, law.means, width).sum()),
                     "n": n_samples})
    return rows
