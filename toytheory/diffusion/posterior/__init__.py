"""Posterior sampling with diffusion priors, held to the exact posterior (issue 17).

Modules
-------
gmm
    The exact posterior of a Gaussian-mixture prior under ``y = A x + noise`` and
    its diffused path: component laws of ``x0 | x_t``, ``log p(y | x_t)``, the
    denoiser's Jacobian.
samplers
    The VE reverse SDE (Euler-Maruyama) with any score; the exact conditional
    score, DPS's (Chung et al. 2023) and PiGDM's (Song et al. 2023) approximate ones; the
    projection (replacement) sampler; half-plane masses.
active
    Active coordinate subsampling: the exact maximum-entropy policy against
    fixed masks (the toy of "Active Diffusion Subsampling").
linear
    Gaussian conditioning; linear-Gaussian diffusion samplers whose output law is
    propagated exactly (mean and covariance through affine steps).
bridge
    Keyframe interpolation on Gaussian frame processes: the exact bridge against
    one-sided, parallel-fusion and bidirectional (ViBiDSampler) sampling.
forward_models
    A Gaussian prior learned only through masked observations (Diffusion with Forward
    Models): the exact observation-space objective, the moment fit, identifiability.
forward_models_mlp
    The Gaussian-mixture case: an MLP denoiser trained only on 1-D projections with the
    paper's rendered objective; projected laws, W2, the product-of-marginals alternative.
volume_tv
    The TV prior across slices: MAP by ADMM (and L-BFGS), posterior samples by MALA.
volume
    3-D reconstruction from 2-D slice priors: exact posteriors and errors under
    independent slices, slices + cross-slice smoothness, and the true 3-D prior.
multiview
    Multi-view generation given one view: independent per-view denoising against
    denoising through a shared least-squares reconstruction (VideoMV's 3D-aware sampling).
snl
    Sequential Neural Likelihood with a conditional Gaussian estimator, rejection ABC and
    Metropolis on a linear-Gaussian simulator, counted in simulator calls.
snl_flow
    SNL with a conditional affine-coupling flow (batched runs), the surrogate posterior
    read by tempered adaptive importance sampling.
"""
