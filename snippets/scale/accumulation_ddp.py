"""no_sync under DDP: one all-reduce per optimizer step, same gradient."""

from __future__ import annotations

import contextlib
import queue
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

WORLD, M, ROWS = 2, 4, 8  # ranks, micro-batches per rank, rows per micro-batch
MODES = ("forward and backward", "backward only", "nowhere")


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch: WORLD * M * ROWS rows, rank r takes the r-th slice."""
    torch.manual_seed(1)
    x = torch.randn(WORLD * M * ROWS, 8, dtype=torch.float64)
    return x, torch.randn(WORLD * M * ROWS, 1, dtype=torch.float64)


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    return model.double()


def full_batch_grad() -> torch.Tensor:
    """The reference: one process, the whole global batch, mean loss."""
    model, (x, y) = make_model(), make_data()
    nn.functional.mse_loss(model(x), y).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def counting_hook(counter: list[int]):
    """A comm hook that averages like DDP's default and counts its calls."""

    # No annotations: DDP checks them, and this file's are strings.
    def hook(state, bucket):
        counter[0] += 1
        tensor = bucket.buffer().div_(dist.get_world_size())
        work = dist.all_reduce(tensor, async_op=True)
        return work.get_future().then(lambda fut: fut.value()[0])

    return hook


# --8<-- [start:accumulate]
def accumulate(ddp: DDP, x: torch.Tensor, y: torch.Tensor, mode: str) -> None:
    """mode: where no_sync wraps the first M - 1 micro-batches: 'forward
    and backward', 'backward only' or 'nowhere'."""
    for i, (xb, yb) in enumerate(zip(x.chunk(M), y.chunk(M), strict=True)):
        last = i == M - 1
        outer = mode == "forward and backward" and not last
        inner = mode == "backward only" and not last
        with ddp.no_sync() if outer else contextlib.nullcontext():
            loss = nn.functional.mse_loss(ddp(xb), yb) / M
            with ddp.no_sync() if inner else contextlib.nullcontext():
                loss.backward()
# --8<-- [end:accumulate]


def worker(rank: int, port: int, results) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}",
        rank=rank, world_size=WORLD,
    )
    x, y = make_data()
    x, y = x.chunk(WORLD)[rank], y.chunk(WORLD)[rank]
    reference = full_batch_grad()
    lines = []
    for mode in MODES:
        counter = [0]
        ddp = DDP(make_model())
        ddp.register_comm_hook(None, counting_hook(counter))
        accumulate(ddp, x, y, mode)
        g = torch.cat([p.grad.flatten() for p in ddp.parameters()])
        err = ((g - reference).norm() / reference.norm()).item()
        # rounding-level, so it prints as a bound: its last bits vary by CPU
        lines.append(
            f"rank {rank}, no_sync {mode + ':':21s} all-reduces {counter[0]}, "
            f"error < 1e-12: {err < 1e-12}"
        )
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
    print(f"{WORLD} ranks (gloo), {M} micro-batches of {ROWS} rows per rank;")
    print("error: |grad - full-batch grad| / |full-batch grad| after the step")
    for line in run_ranks():
        print(line)


if __name__ == "__main__":
    main()
