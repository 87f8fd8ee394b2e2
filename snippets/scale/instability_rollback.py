"""Rollback-and-skip: restore a checkpoint on a loss spike, skip its batches."""

from __future__ import annotations

import copy

import torch
from instability_logits import Config, get_batch, start, train_step
from torch import Tensor

CFG = Config(lr=0.03)  # a stable rate: the spike comes from the data
BAD = range(43, 46)  # indices of the corrupted batches in the stream
EVERY, FACTOR, WINDOW = 10, 1.5, 10  # checkpoint interval, spike rule


def batch_stream(
    cfg: Config, n: int, bad: range, seed: int = 0
) -> list[tuple[Tensor, Tensor]]:
    """n batches of text; those at `bad` hold random characters instead."""
    ids, _, _, gens = start(cfg, (seed,))
    batches = [get_batch(ids, cfg, gens) for _ in range(n)]
    noise = torch.Generator().manual_seed(seed)
    vocab = int(ids.max()) + 1
    for i in bad:
        x = batches[i][0]
        batches[i] = tuple(
            torch.randint(vocab, x.shape, generator=noise) for _ in range(2)
        )
    return batches


# --8<-- [start:rollback]
def train_with_rollback(
    cfg: Config,
    batches: list[tuple[Tensor, Tensor]],
    every: int = EVERY,
    factor: float = FACTOR,
    window: int = WINDOW,
    protect: bool = True,
    seed: int = 0,
) -> dict[str, object]:
    """cfg.steps optimizer steps through `batches`. A checkpoint every
    `every` steps; a loss above `factor` times the mean of the last `window`
    losses restores it and skips the batches since it, spike included."""
    _, params, opt, _ = start(cfg, (seed,))

    def snapshot(step: int) -> tuple:
        saved = [p.detach().clone() for p in params]
        return step, saved, copy.deepcopy(opt.state_dict())

    checkpoint = snapshot(0)
    losses: list[float] = []
    used: list[int] = []  # the batch behind each kept step
    skipped: list[int] = []
    lost = rollbacks = 0
    for position, batch in enumerate(batches):
        if len(losses) == cfg.steps:
            break
        step = len(losses)
        loss = train_step(params, opt, batch, cfg, step)["loss"]
        recent = losses[-window:]
        spike = len(recent) == window and loss > factor * sum(recent) / window
        if protect and spike:
            back_to, saved, state = checkpoint
            with torch.no_grad():
                for p, s in zip(params, saved, strict=True):
                    p.copy_(s)
            opt.load_state_dict(copy.deepcopy(state))
            skipped += [*used[back_to:], position]
            lost += step + 1 - back_to
            rollbacks += 1
            del losses[back_to:], used[back_to:]
        else:
            losses.append(loss.item())
            used.append(position)
            if len(losses) % every == 0:
                checkpoint = snapshot(len(losses))
    return {"losses": losses, "skipped": skipped, "lost": lost,
            "rollbacks": rollbacks}
# --8<-- [end:rollback]


def main() -> None:
    torch.manual_seed(0)
    n = CFG.steps + 20  # spare batches for the ones a rollback skips
    runs = {
        "clean data": train_with_rollback(CFG, batch_stream(CFG, n, range(0))),
        "bad batches": train_with_rollback(
            CFG, batch_stream(CFG, n, BAD), protect=False
        ),
        "rollback+skip": train_with_rollback(CFG, batch_stream(CFG, n, BAD)),
    }
    print(f"lr {CFG.lr:g}, {CFG.steps} steps; batches {BAD.start} to "
          f"{BAD.stop - 1} hold random characters")
    print(f"checkpoint every {EVERY} steps; a spike: loss > {FACTOR:g} x the "
          f"mean of the last {WINDOW}")
    for name, run in runs.items():
        losses = run["losses"]
        print(f"{name:<14} peak {max(losses[20:]):.2f}"
              f"  end {sum(losses[-20:]) / 20:.2f}"
              f"  rollbacks {run['rollbacks']}"
              f"  steps lost {run['lost']}")
    print("(peak: highest loss after step 20; end: mean of the last 20 losses)")
    print("batches skipped:", runs["rollback+skip"]["skipped"])


if __name__ == "__main__":
    main()
