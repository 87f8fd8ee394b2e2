"""Gradient norms of sharded (FSDP2) and tensor-parallel parameters."""

from __future__ import annotations

import queue
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.fsdp import fully_shard

WORLD, ROWS, CLIP = 2, 16, 0.5  # ranks, rows in the global batch, threshold


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    x = torch.randn(ROWS, 8, dtype=torch.float64)
    return x, torch.randn(ROWS, 1, dtype=torch.float64)


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.LayerNorm(8), nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)
    )
    return model.double()


def reference() -> tuple[float, torch.Tensor]:
    """One process, whole batch: clip_grad_norm_'s total norm and the
    clipped gradient."""
    model, (x, y) = make_model(), make_data()
    nn.functional.mse_loss(model(x), y).backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), CLIP).item()
    return norm, torch.cat([p.grad.flatten() for p in model.parameters()])


def sum_over_ranks(value: torch.Tensor | float) -> float:
    """One all-reduce of one number."""
    t = torch.as_tensor(value, dtype=torch.float64).reshape(1).clone()
    dist.all_reduce(t)
    return t.item()


# --8<-- [start:fsdp]
def fsdp_clip(rank: int) -> list[str]:
    x, y = make_data()
    model = fully_shard(make_model())  # each parameter: a DTensor shard
    mine = slice(rank * ROWS // WORLD, (rank + 1) * ROWS // WORLD)
    nn.functional.mse_loss(model(x[mine]), y[mine]).backward()
    grads = [p.grad for p in model.parameters()]
    shard_sq = sum(g.to_local().pow(2).sum() for g in grads)
    by_hand = sum_over_ranks(shard_sq) ** 0.5
    # wrong: plain tensors holding the local shards, as FSDP1 leaves them
    shards = [nn.Parameter(p.to_local().detach()) for p in model.parameters()]
    for s, g in zip(shards, grads, strict=True):
        s.grad = g.to_local().clone()
    local_norm = nn.utils.clip_grad_norm_(shards, CLIP).item()
    # right: the norm over all shards (one scalar all-reduce inside)
    total = nn.utils.get_total_norm(grads)
    nn.utils.clip_grads_with_norm_(model.parameters(), CLIP, total)
    _, ref = reference()
    g = torch.cat([g.full_tensor().flatten() for g in grads])
    wrong_sq = sum(
        (s.grad - g.to_local()).pow(2).sum()
        for s, g in zip(shards, grads, strict=True)
    )
    wrong = sum_over_ranks(wrong_sq) ** 0.5 / ref.norm().item()
    return [
        f"rank {rank}: shard |g|^2 {shard_sq:.4f}; all-reduced |g| "
        f"{by_hand:.4f}, get_total_norm {total.full_tensor():.4f}",
        f"rank {rank}: clipped gradient vs one process, error < 1e-12: "
        f"{(g - ref).norm() / ref.norm() < 1e-12}",
        f"rank {rank}: clip_grad_norm_ on the local shards returns "
        f"{local_norm:.4f}, error {wrong:.3f}",
    ]
# --8<-- [end:fsdp]


class Copy(torch.autograd.Function):
    """Identity forward; backward sums the ranks' input gradients."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        dist.all_reduce(g)
        return g


class Reduce(torch.autograd.Function):
    """Forward sums the ranks' partial outputs; identity backward."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g


# --8<-- [start:tp]
def tensor_parallel_norms(rank: int) -> list[str]:
    """LayerNorm and the last bias replicated; the first Linear split by
    rows (output features), the second by columns (input features)."""
    x, y = make_data()
    full = make_model()
    ln, lin1, lin2 = full[0], full[1], full[3]
    w1 = nn.Parameter(lin1.weight.detach().chunk(WORLD, 0)[rank].clone())
    b1 = nn.Parameter(lin1.bias.detach().chunk(WORLD, 0)[rank].clone())
    w2 = nn.Parameter(lin2.weight.detach().chunk(WORLD, 1)[rank].clone())
    sharded = [w1, b1, w2]
    replicated = [ln.weight, ln.bias, lin2.bias]
    h = Copy.apply(ln(x))
    out = Reduce.apply(torch.tanh(h @ w1.T + b1) @ w2.T) + lin2.bias
    nn.functional.mse_loss(out, y).backward()
    shard_sq = sum(p.grad.pow(2).sum() for p in sharded)
    repl_sq = sum(p.grad.pow(2).sum() for p in replicated)
    naive = sum_over_ranks(shard_sq + repl_sq) ** 0.5
    right = (sum_over_ranks(shard_sq) + repl_sq) ** 0.5
    return [
        f"rank {rank}: |g|^2 of its shards {shard_sq:.4f}, "
        f"of the replicas {repl_sq:.4f}",
        f"rank {rank}: every rank's sum {naive:.4f}, replicas once "
        f"{right:.4f}",
    ]
# --8<-- [end:tp]


def worker(rank: int, port: int, results) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}",
        rank=rank, world_size=WORLD,
    )
    lines = fsdp_clip(rank) + tensor_parallel_norms(rank)
    dist.destroy_process_group()
    results.put((rank, lines))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks() -> list[str]:
    """Start WORLD processes, return their printed lines in rank order."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(target=worker, args=(r, port, results))
        for r in range(WORLD)
    ]
    for p in procs:
        p.start()
    gathered = {}
    while len(gathered) < WORLD:
        try:
            rank, lines = results.get(timeout=1.0)
            gathered[rank] = lines
        except queue.Empty:  # a rank that died never reports: stop
            failed = [p.exitcode for p in procs if p.exitcode]
            if failed:
                for p in procs:
                    p.kill()
                raise RuntimeError(f"a rank exited with {failed[0]}") from None
    for p in procs:
        p.join()
    return [line for r in sorted(gathered) for line in gathered[r]]


def main() -> None:
    torch.manual_seed(0)
    print(f"{WORLD} ranks (gloo), {ROWS} rows in the global batch")
    for line in run_ranks():
        print(line)
    norm, _ = reference()
    print(f"one process, unsplit model: clip_grad_norm_ returns {norm:.4f}")


if __name__ == "__main__":
    main()
