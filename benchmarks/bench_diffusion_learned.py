"""Training the 1-D hallucination MLP (issue 19): time to the quick tier's loss target.

Contenders (same data, same architecture and optimiser, one process,
``benchmarks/_timing.py``):

- ``toytheory train_eps_mlp``: :func:`toytheory.diffusion.learned.train_eps_mlp` with
  ``cache_dir=False`` (deterministic: one thread, deterministic algorithms);
- ``plain torch loop``: the same DDPM loop written directly, torch's default threads, no
  determinism settings (what one would write without toytheory).

Configuration: :data:`toytheory.diffusion.hallucination.QUICK_TRAIN` (4000 Adam steps,
batch 256, width-32 depth-3 MLP, T = 1000). The loss reached (mean of the last 10% of
steps) is printed next to the times; the goal is under 30 s on two CPU cores.

Run: ``.venv/bin/python -m benchmarks.bench_diffusion_learned [--quick]`` (``--quick``:
1000 steps, one round).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_learned.json"


def plain_torch_loop(config):
    import torch

    from toytheory.diffusion.learned import _build_net

    data = torch.as_tensor(config.training_set(), dtype=torch.float32)
    acp = torch.as_tensor(config.schedule.alphas_cumprod, dtype=torch.float32)
    torch.manual_seed(config.seed)
    net = _build_net(1, config.width, config.depth)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    T = config.num_timesteps
    tail, total = max(1, config.steps // 10), 0.0
    for step in range(config.steps):
        idx = torch.randint(0, data.shape[0], (config.batch,))
        t = torch.randint(0, T, (config.batch,))
        noise = torch.randn(config.batch, 1)
        xt = acp[t].sqrt()[:, None] * data[idx] + (1 - acp[t]).sqrt()[:, None] * noise
        loss = ((net(xt, t.float() / T) - noise) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step >= config.steps - tail:
            total += float(loss.detach())
    return total / tail


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1000 steps, one round")
    args = parser.parse_args(argv)
    from toytheory.diffusion.hallucination import QUICK_TRAIN, paper_1d_law
    from toytheory.diffusion.learned import TrainConfig, train_eps_mlp

    train = dict(QUICK_TRAIN, steps=1000) if args.quick else QUICK_TRAIN
    config = TrainConfig.for_law(paper_1d_law(), **train)
    losses = {}

    def ours():
        losses["toytheory"] = train_eps_mlp(config, cache_dir=False).final_loss

    def peer():
        losses["plain torch"] = plain_torch_loop(config)

    t0 = time.perf_counter()
    table = compare(f"DDPM training of the 1-D MLP, {config.steps} steps, batch {config.batch}",
                    [Contender("toytheory train_eps_mlp", ours),
                     Contender("plain torch loop", peer)],
                    repeat=1 if args.quick else 3, baseline="toytheory train_eps_mlp",
                    work=config.steps, work_unit="steps")
    table.print()
    print(f"final loss: toytheory {losses['toytheory']:.4f}, plain torch "
          f"{losses['plain torch']:.4f}; wall {time.perf_counter() - t0:.1f} s")
    if not args.quick:
        table.save(RESULTS)
    assert all(math.isfinite(v) for v in losses.values())
    return table


if __name__ == "__main__":
    main()
