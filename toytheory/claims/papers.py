"""The papers a claim may cite.

SEED_PAPERS are the exact titles of the papers in the seed digest
(``shared/seeds/000_b1e78cd451da2d1b.txt``); a claim about a seed paper must cite
one of them verbatim. REFERENCE_PAPERS are the few other works toytheory
checks for its own methodology (the closed forms and statistics its witnesses
stand on); they are reported in sections of their own.
"""

from __future__ import annotations

SEED_PAPERS: tuple[str, ...] = (
    'Free from Bellman Completeness: Trajectory Stitching via Model-based Return-conditioned Supervised Learning',
    'Region-Adaptive Sampling for Diffusion Transformers',
    'Diffusion with Forward Models: Solving Stochastic Inverse Problems Without Direct Supervision',
    'Forward-Backward Reasoning in Large Language Models for Mathematical Verification',
    'The Surprising Effectiveness of Skip-Tuning in Diffusion Sampling',
    'ProNeRF: Learning Efficient Projection-Aware Ray Sampling for Fine-Grained Implicit Neural Radiance Fields',
    'ViBiDSampler: Enhancing Video Interpolation Using Bidirectional Diffusion Sampler',
    'Efficient Massive Black Hole Binary parameter estimation for LISA using Sequential Neural Likelihood',
    'Post-training Quantization on Diffusion Models',
    'RAGDiffusion: Faithful Cloth Generation via External Knowledge Assimilation',
    'OptMATH: A Scalable Bidirectional Data Synthesis Framework for Optimization Modeling',
    'NViST: In the Wild New View Synthesis from a Single Image with Transformers',
    'On gauge freedom, conservativity and intrinsic dimensionality estimation in diffusion models',
    'DynaMo: In-Domain Dynamics Pretraining for Visuo-Motor Control',
    'VideoMV: Consistent Multi-View Generation Based on Large Video Generative Model',
    'BoostDream: Efficient Refining for High-Quality Text-to-3D Generation from Multi-View Diffusion',
    'Solving 3D Inverse Problems using Pre-trained 2D Diffusion Models',
    'Efficient Neural Music Generation',
    'A Unified Sampling Framework for Solver Searching of Diffusion Probabilistic Models',
    'Masked Diffusion Models are Secretly Time-Agnostic Masked Models and Exploit Inaccurate Categorical Sampling',
    'DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic Models',
    'DualFast: Dual-Speedup Framework for Fast Sampling of Diffusion Models',
    'An Overview of Diffusion Models: Applications, Guided Generation, Statistical Rates and Optimization',
    'Alleviating Exposure Bias in Diffusion Models through Sampling with Shifted Time Steps',
    'SpecTr: Fast Speculative Decoding via Optimal Transport',
    'DC-Solver: Improving Predictor-Corrector Diffusion Sampler via Dynamic Compensation',
    'DPM-Solver-v3: Improved Diffusion ODE Solver with Empirical Model Statistics',
    'Weighted least-squares approximation with determinantal point processes and generalized volume sampling',
    'Sharper Bounds for ell_p Sensitivity Sampling',
    'The Unreasonable Effectiveness of Gaussian Score Approximation for Diffusion Models and its Applications',
    'Consistent3D: Towards Consistent High-Fidelity Text-to-3D Generation with Deterministic Sampling Prior',
    'AutoDiffusion: Training-Free Optimization of Time Steps and Architectures for Automated Diffusion Model Acceleration',
    'Fast Sampling of Diffusion Models with Exponential Integrator',
    'Diffusion Sampling with Momentum for Mitigating Divergence Artifacts',
    'Adaptive Sampling Strategies to Construct Equitable Training Datasets',
    'Understanding Hallucinations in Diffusion Models through Mode Interpolation',
    "Don't Play Favorites: Minority Guidance for Diffusion Models",
    'MIG: Automatic Data Selection for Instruction Tuning by Maximizing Information Gain in Semantic Space',
    'Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and Product of Experts',
    'Cautious Next Token Prediction',
    'Active Diffusion Subsampling',
    'Derivative-Free Guidance in Continuous and Discrete Diffusion Models with Soft Value-Based Decoding',
    'Diversify and Conquer: Diversity-Centric Data Selection with Iterative Refinement',
    'Large Language Monkeys: Scaling Inference Compute with Repeated Sampling',
    'Treasure Hunt: Real-time Targeting of the Long Tail using Training-Time Markers',
    'Preserving Statistical Validity in Adaptive Data Analysis',
    'ProDiff: Progressive Fast Diffusion Model For High-Quality Text-to-Speech',
    'PFGM++: Unlocking the Potential of Physics-Inspired Generative Models',
    'Multi-marginal Schrödinger Bridges with Iterative Reference Refinement',
    'Learning to Actively Learn: A Robust Approach',
    'On-Policy Policy Gradient Reinforcement Learning Without On-Policy Sampling',
    'Self-Rectifying Diffusion Sampling with Perturbed-Attention Guidance',
    'Diverse Data Augmentation with Diffusions for Effective Test-time Prompt Tuning',
)

REFERENCE_PAPERS: tuple[str, ...] = (
    "Gelbrich (1990): On a formula for the L2 Wasserstein metric between measures on "
    "Euclidean and Hilbert spaces",
    "DPPy: DPP Sampling with Python (Gautier, Polito, Bardenet and Valko, JMLR MLOSS 2019)",
    "toytheory: calibration of its own statistical tests",
    "Stanczuk, Batzolis, Deveney and Schönlieb: Your diffusion model secretly knows the "
    "dimension of the data manifold",
    "Karras, Aittala, Aila and Laine: Elucidating the Design Space of Diffusion-Based "
    "Generative Models",
    "Lu, Zhou, Bao, Chen, Li and Zhu: DPM-Solver: A Fast ODE Solver for Diffusion "
    "Probabilistic Model Sampling in Around 10 Steps",
    "Zhao, Bai, Rao, Zhou and Lu: UniPC: A Unified Predictor-Corrector Framework for Fast "
    "Sampling of Diffusion Models",
    "Song, Meng and Ermon: Denoising Diffusion Implicit Models",
    "Dwork, Feldman, Hardt, Pitassi, Reingold and Roth: The reusable holdout: Preserving "
    "validity in adaptive data analysis",
    "Bassily, Nissim, Smith, Steinke, Stemmer and Ullman: Algorithmic Stability for Adaptive "
    "Data Analysis",
    "Jung, Ligett, Neel, Roth, Sharifi-Malvajerdi and Shenfeld: A New Analysis of "
    "Differential Privacy's Generalization Guarantees",
    "Derezinski and Warmuth: Unbiased estimates for linear regression via volume sampling "
    "(NeurIPS 2017)",
    "Hough, Krishnapur, Peres and Virag: Determinantal processes and independence "
    "(Probability Surveys 2006)",
)

KNOWN_PAPERS = frozenset(SEED_PAPERS + REFERENCE_PAPERS)


def closest_papers(title: str, n: int = 3) -> list[str]:
    """The known titles closest to ``title`` (for error messages)."""
    import difflib

    return difflib.get_close_matches(title, sorted(KNOWN_PAPERS), n=n, cutoff=0.3)


NO_HONEST_TOY: dict[str, str] = {}
"""Seed papers for which no honest toy exists, each with the written reason (shown in
the report's per-paper table as "no honest toy"). A paper listed here has no ``paper``
claim; the reason says what about its claims no toy can reach (real-world data, a
specific architecture, human evaluation)."""


def register_no_toy(title: str, reason: str) -> None:
    """Record that seed paper ``title`` has no honest toy, and why.

    Raises
    ------
    ValueError
        If ``title`` is not a seed paper, or ``reason`` is empty.
    """
    if title not in SEED_PAPERS:
        hint = closest_papers(title)
        raise ValueError(f"title: must be a seed paper title (got {title!r}"
                         + (f"; closest: {hint}" if hint else "") + ")")
    if not isinstance(reason, str) or len(reason.strip()) < 20:
        raise ValueError(f"reason: {title!r} needs a written reason (a sentence or more)")
    NO_HONEST_TOY[title] = reason.strip()


_ABSTRACTS: dict[str, str] | None = None


def seed_abstract(title: str) -> str:
    """The abstract of seed paper ``title``, as the seed digest gives it.

    The digest (``seed_abstracts.txt`` beside this module: a title line, its abstract
    on the next line, a blank line) is a copy of the project's seed file, so that a
    ``paper`` claim's ``source`` can be checked against the paper's own words.

    Raises
    ------
    ValueError
        If ``title`` is not a seed paper.
    """
    global _ABSTRACTS
    if title not in SEED_PAPERS:
        hint = closest_papers(title)
        raise ValueError(f"title: must be a seed paper title (got {title!r}"
                         + (f"; closest: {hint}" if hint else "") + ")")
    if _ABSTRACTS is None:
        from importlib.resources import files

        text = files("toytheory.claims").joinpath("seed_abstracts.txt").read_text("utf-8")
        blocks = [b.split("\n", 1) for b in text.strip().split("\n\n")]
        _ABSTRACTS = {t.strip(): a.strip() for t, a in blocks}
    return _ABSTRACTS[title]
