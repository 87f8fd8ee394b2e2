"""HF Trainer on a tiny random Llama: its grad_norm and a per-layer callback."""

import os
import tempfile

import matplotlib.pyplot as plt
import torch
from torch import Tensor

os.environ.setdefault(
    "HF_HUB_OFFLINE", "1"
)  # nothing is fetched: the model is built from a config
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.utils import logging


def counting_sequences(
    n: int, length: int, vocab: int, gen: torch.Generator
) -> Tensor:
    """Token rows start, start+k, start+2k, ... (mod vocab): random start, step
    k in {1, 2, 3}."""
    start = torch.randint(0, vocab, (n, 1), generator=gen)
    step = torch.randint(1, 4, (n, 1), generator=gen)
    return (start + step * torch.arange(length)) % vocab


class TokenDataset(torch.utils.data.Dataset):
    """Causal-LM examples: the labels are the inputs (the model shifts them by
    one)."""

    def __init__(self, ids: Tensor) -> None:
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_llama(seed: int, vocab: int = 32) -> LlamaForCausalLM:
    """A 2-layer Llama with hidden size 32, randomly initialised from a config
    (no download)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=16,
    )
    return LlamaForCausalLM(config)


# --8<-- [start:callback]
def group_of(name: str) -> str:
    """'model.layers.1.mlp.up_proj.weight' -> 'layer 1'; other parameters by
    module name."""
    parts = name.split(".")
    return (
        f"layer {parts[2]}" if parts[1] == "layers" else name.rsplit(".", 1)[0]
    )


class LayerGradNorms(TrainerCallback):
    """Per-layer gradient norms at on_pre_optimizer_step: after clipping, before
    the update."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_pre_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module,
        **kwargs,
    ) -> None:
        squares: dict[str, float] = {}
        for name, p in model.named_parameters():
            if p.grad is not None:
                squares[group_of(name)] = (
                    squares.get(group_of(name), 0.0) + p.grad.norm() ** 2
                )
        self.history.append({g: float(s) ** 0.5 for g, s in squares.items()})
# --8<-- [end:callback]


# --8<-- [start:train]
def train_tiny_llama(
    steps: int = 40, batch_size: int = 16, lr: float = 1e-2
) -> tuple[list[dict], LayerGradNorms, TrainingArguments]:
    """Train with Trainer on CPU, logging every step; returns the logs, the
    callback, the args."""
    logging.set_verbosity_error()
    ids = counting_sequences(128, 16, 32, torch.Generator().manual_seed(0))
    model = tiny_llama(seed=0)
    callback = LayerGradNorms()
    with tempfile.TemporaryDirectory() as out_dir:
        args = TrainingArguments(
            output_dir=out_dir,
            max_steps=steps,
            per_device_train_batch_size=batch_size,
            learning_rate=lr,
            logging_steps=1,
            seed=0,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
        )  # max_grad_norm is left at its default
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=TokenDataset(ids),
            callbacks=[callback],
        )
        trainer.remove_callback(PrinterCallback)  # it prints raw log dicts
        trainer.train()
    logs = [
        entry for entry in trainer.state.log_history if "grad_norm" in entry
    ]
    return logs, callback, args
# --8<-- [end:train]


def main() -> None:
    torch.manual_seed(0)
    logs, callback, args = train_tiny_llama()
    print(f"TrainingArguments.max_grad_norm = {args.max_grad_norm}")
    logged = [entry["grad_norm"] for entry in logs]
    seen = [sum(v**2 for v in row.values()) ** 0.5 for row in callback.history]
    print("step   loss    logged grad_norm   norm seen by callback")
    for entry, after in zip(logs, seen, strict=True):
        if entry["step"] % 5 == 0 or entry["step"] == 1:
            print(
                f"{entry['step']:>4}  {entry['loss']:.4f}   "
                f"{entry['grad_norm']:.4f}             {after:.4f}"
            )
    clipped = sum(g > args.max_grad_norm for g in logged)
    print(
        "steps with logged grad_norm > max_grad_norm: "
        f"{clipped} of {len(logged)}"
    )
    print(
        f"grad_norm logged over {len(logged)} steps: "
        f"lowest {min(logged):.4f}, highest {max(logged):.4f}"
    )
    final_norm = [row["model.norm"] for row in callback.history]
    print(
        f"callback, model.norm: {final_norm[0]:.4f} at step 1, "
        f"{final_norm[-1]:.4f} at step {len(final_norm)}"
    )
    others = [
        v
        for row in callback.history
        for k, v in row.items()
        if k != "model.norm"
    ]
    print(
        f"callback, other groups: all between {min(others):.4f} "
        f"and {max(others):.4f}"
    )

    steps = [entry["step"] for entry in logs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax1.plot(
        steps,
        logged,
        "o-",
        color="C0",
        label="logged grad_norm (before clipping)",
    )
    ax1.plot(
        steps,
        seen,
        "s--",
        color="C1",
        markersize=4,
        label="seen in on_pre_optimizer_step",
    )
    ax1.axhline(
        args.max_grad_norm, color="C3", linestyle=":", label="max_grad_norm"
    )
    ax1.set(
        title="Trainer's grad_norm vs the clipped gradient",
        xlabel="optimizer step",
        ylabel=r"total norm $\|g\|_2$",
    )
    ax1.set_ylim(top=1.3 * max(logged))
    ax1.legend(loc="upper left")
    groups = list(callback.history[0])
    for i, group in enumerate(groups):
        ax2.plot(
            steps,
            [row[group] for row in callback.history],
            color=f"C{i}",
            linestyle=["-", "--", "-.", ":"][i % 4],
            label=group,
        )
    ax2.set(
        title="Per-layer norms from a TrainerCallback",
        xlabel="optimizer step",
        ylabel=r"$\|g_{\mathrm{group}}\|_2$ (after clipping)",
        yscale="log",
    )
    ax2.legend()
    fig.suptitle(
        "Tiny random Llama (2 layers, hidden 32) trained with "
        "transformers.Trainer"
    )
    plt.show()


if __name__ == "__main__":
    main()
