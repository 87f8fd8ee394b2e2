"""Per-token loss over a whole optimizer step vs per-micro-batch means."""

from __future__ import annotations

import torch
from torch import nn

VOCAB, DIM = 50, 16
# Eight sequences of very different lengths, two per micro-batch.
LENGTHS = [3, 40, 5, 9, 60, 2, 12, 7]
M = 4


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(VOCAB, DIM), nn.Linear(DIM, VOCAB))
    return model.double()


def make_batch() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) per sequence; every position predicts one token."""
    torch.manual_seed(1)
    return [
        (torch.randint(VOCAB, (n,)), torch.randint(VOCAB, (n,)))
        for n in LENGTHS
    ]


def micro_batches(batch: list, m: int) -> list[tuple[torch.Tensor, ...]]:
    """Split the sequences into m micro-batches of concatenated tokens."""
    per = len(batch) // m
    groups = [batch[i * per : (i + 1) * per] for i in range(m)]
    return [
        (torch.cat([x for x, _ in g]), torch.cat([y for _, y in g]))
        for g in groups
    ]


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def full_batch_grad(model: nn.Module, batch: list) -> torch.Tensor:
    """The reference: mean token loss over every token of the step."""
    model.zero_grad()
    x, y = micro_batches(batch, 1)[0]
    nn.functional.cross_entropy(model(x), y).backward()
    return flat_grad(model)


# --8<-- [start:accumulate]
def accumulated_grad(
    model: nn.Module, batch: list, m: int, per_token: bool
) -> torch.Tensor:
    model.zero_grad()
    parts = micro_batches(batch, m)
    n_tokens = sum(len(y) for _, y in parts)  # counted before any backward
    for x, y in parts:
        if per_token:  # summed token loss / tokens in the whole step
            loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
            loss = loss / n_tokens
        else:  # the common loop: micro-batch mean / M
            loss = nn.functional.cross_entropy(model(x), y) / m
        loss.backward()
    return flat_grad(model)
# --8<-- [end:accumulate]


def relative_error(g: torch.Tensor, ref: torch.Tensor) -> float:
    return ((g - ref).norm() / ref.norm()).item()


def token_weights(m: int) -> list[tuple[int, float]]:
    """Tokens per micro-batch and the weight a token gets under mean / M,
    relative to its weight 1 / N in the full batch."""
    sizes = [len(y) for _, y in micro_batches(make_batch(), m)]
    total = sum(sizes)
    return [(n, total / (m * n)) for n in sizes]


def main() -> None:
    torch.manual_seed(0)
    model, batch = make_model(), make_batch()
    ref = full_batch_grad(model, batch)
    right = accumulated_grad(model, batch, M, per_token=True)
    wrong = accumulated_grad(model, batch, M, per_token=False)
    print(f"{len(LENGTHS)} sequences, {sum(LENGTHS)} tokens, M = {M}")
    # Rounding-level errors differ in their last bits between CPU kernels,
    # so the exact one prints as a bound
    print(f"relative error vs full batch, per-token / N below 1e-12: "
          f"{relative_error(right, ref) < 1e-12}")
    print(f"relative error vs full batch, mean / M: "
          f"{relative_error(wrong, ref):.3g}")
    print("weight of each token under mean / M, full batch = 1:")
    for i, (n, w) in enumerate(token_weights(M)):
        print(f"micro-batch {i + 1}: {n:3d} tokens, weight {w:.3g}")


if __name__ == "__main__":
    main()
