"""DDP on two gloo ranks: averaged .grad, local vs global norm, clipping."""

from __future__ import annotations

import queue
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import (
    allreduce_hook,
)
from torch.func import functional_call, grad, vmap
from torch.nn.parallel import DistributedDataParallel as DDP

WORLD, ROWS, N = 2, 8, 512  # ranks, rows per rank and step, population
STEPS, CLIP = 100, 0.5  # steps for the mean squared norms; clip threshold


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed population of N rows; every batch is drawn from it."""
    torch.manual_seed(1)
    x = torch.randn(N, 8, dtype=torch.float64)
    y = torch.tanh(x[:, :1] - x[:, 1:2]) + torch.randn(N, 1).double()
    return x, y


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    return model.double()


def draw(step: int) -> torch.Tensor:
    """The global batch of a step: WORLD * ROWS indices, with replacement;
    rank r takes the r-th slice."""
    gen = torch.Generator().manual_seed(step)
    return torch.randint(N, (WORLD * ROWS,), generator=gen)


def flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def one_process_grad(idx: torch.Tensor) -> torch.Tensor:
    """The reference: the gradient of the mean loss over the rows idx."""
    model, (x, y) = make_model(), make_data()
    nn.functional.mse_loss(model(x[idx]), y[idx]).backward()
    return flat_grad(model)


def signal_and_noise() -> tuple[float, float]:
    """|G|^2 and tr(Sigma) of the population, from per-example gradients."""
    model, (x, y) = make_model(), make_data()
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p, xi, yi):
        out = functional_call(model, p, (xi[None],))
        return nn.functional.mse_loss(out, yi[None])

    per_example = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    g = torch.cat([v.flatten(1) for v in per_example.values()], dim=1)
    mean = g.mean(0)
    return (mean @ mean).item(), (g - mean).pow(2).sum(1).mean().item()


# --8<-- [start:hook]
def local_norm_hook(state, bucket):
    """DDP's all-reduce, after adding this rank's own squared norm of the
    bucket to state (no annotations: DDP inspects them)."""
    state.append(bucket.buffer().pow(2).sum())  # a tensor: no device sync
    return allreduce_hook(None, bucket)
# --8<-- [end:hook]


def two_norm_estimate(
    sq_small: float, sq_big: float, b_small: int, b_big: int
) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) from the mean |g_B|^2 at two batch sizes (the
    noise-scale page's estimator)."""
    g2 = (b_big * sq_big - b_small * sq_small) / (b_big - b_small)
    return g2, (sq_small - sq_big) / (1 / b_small - 1 / b_big)


def average(value: float) -> float:
    """One all-reduce of one number: its mean over the ranks."""
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return t.item() / dist.get_world_size()


# --8<-- [start:step]
def averaged_step(rank: int) -> list[str]:
    x, y = make_data()
    idx = draw(0)
    mine = idx.chunk(WORLD)[rank]
    local: list[torch.Tensor] = []
    ddp = DDP(make_model())
    ddp.register_comm_hook(local, local_norm_hook)
    with ddp.no_sync():  # the same rows without the all-reduce
        nn.functional.mse_loss(ddp(x[mine]), y[mine]).backward()
    no_sync_norm = flat_grad(ddp).norm().item()
    ddp.zero_grad()
    nn.functional.mse_loss(ddp(x[mine]), y[mine]).backward()
    g = flat_grad(ddp)
    ref = one_process_grad(idx)
    err = ((g - ref).norm() / ref.norm()).item()
    total = nn.utils.clip_grad_norm_(ddp.parameters(), CLIP).item()
    torch.optim.SGD(ddp.parameters(), lr=0.1).step()
    w = torch.cat([p.detach().flatten() for p in ddp.parameters()])
    w0 = w.clone()
    dist.broadcast(w0, src=0)
    return [
        f"rank {rank}: local |g| {sum(local).sqrt():.4f} (hook), "
        f"{no_sync_norm:.4f} (no_sync); all-reduced |g| {g.norm():.4f}",
        f"rank {rank}: error vs one process < 1e-12: {err < 1e-12}; "
        f"clip_grad_norm_ returns {total:.4f}",
        f"rank {rank}: weights after the step equal rank 0's: "
        f"{torch.equal(w, w0)}",
    ]
# --8<-- [end:step]


def mean_squared_norms(rank: int) -> list[str]:
    """Mean |g|^2 over STEPS batches at the same weights: the hook's local
    one (B = ROWS) and the all-reduced one (B = WORLD * ROWS)."""
    x, y = make_data()
    local: list[torch.Tensor] = []
    ddp = DDP(make_model())
    ddp.register_comm_hook(local, local_norm_hook)
    small = big = 0.0
    for step in range(STEPS):
        mine = draw(step).chunk(WORLD)[rank]
        local.clear()
        ddp.zero_grad()
        nn.functional.mse_loss(ddp(x[mine]), y[mine]).backward()
        small += sum(local).item() / STEPS
        big += flat_grad(ddp).pow(2).sum().item() / STEPS
    small_mean = average(small)  # every rank joins the all-reduce
    lines = [
        f"rank {rank}: mean |g|^2 local {small:.4f}, all-reduced {big:.4f}"
    ]
    if rank == WORLD - 1:  # printed once, after every rank's own line
        g2, tr = two_norm_estimate(small_mean, big, ROWS, WORLD * ROWS)
        lines += [
            f"mean over ranks: local {small_mean:.4f}, all-reduced {big:.4f}",
            f"two-norm estimate: |G|^2 {g2:.4f}, tr(Sigma) {tr:.4f}",
        ]
    return lines


def worker(rank: int, port: int, results) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}",
        rank=rank, world_size=WORLD,
    )
    lines = averaged_step(rank) + mean_squared_norms(rank)
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
    print(f"{WORLD} ranks (gloo), {ROWS} rows per rank and step")
    for line in run_ranks():
        print(line)
    g2, tr = signal_and_noise()
    print(f"population: |G|^2 {g2:.4f}, tr(Sigma) {tr:.4f}")
    print(f"expected |G_B|^2 = |G|^2 + tr(Sigma)/B, {ROWS} rows per rank:")
    for world in (1, WORLD, 2 * WORLD):
        b = world * ROWS
        print(f"  world size {world} (B = {b:2d}): {g2 + tr / b:.4f}")


if __name__ == "__main__":
    main()
