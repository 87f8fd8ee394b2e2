"""Checks for hf_trainer_grad_norm.py: what transformers.Trainer logs as grad_norm."""

from __future__ import annotations

import math
import tempfile

import pytest
import torch

transformers = pytest.importorskip("transformers")
import hf_trainer_grad_norm as hf  # noqa: E402

pytestmark = pytest.mark.trajectory  # a claim about a run: test_kernels.py repeats it


def test_max_grad_norm_defaults_to_one(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default output_dir is ./trainer_output
    assert transformers.TrainingArguments().max_grad_norm == 1.0


def test_logged_step_one_values_equal_an_independent_full_batch_computation() -> None:
    """With one batch holding every example, step 1's log is the plain loss and its total norm."""
    logs, _, args = hf.train_tiny_llama(steps=1, batch_size=128)
    model = hf.tiny_llama(seed=0)
    ids = hf.counting_sequences(128, 16, 32, torch.Generator().manual_seed(0))
    loss = model(input_ids=ids, labels=ids).loss  # mean over the 128 * 15 predicted tokens
    loss.backward()
    total = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters())).item()
    assert logs[0]["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert logs[0]["grad_norm"] == pytest.approx(total, rel=1e-4)
    assert args.max_grad_norm == 1.0


def test_grad_norm_is_before_clipping_and_callback_sees_after() -> None:
    logs, callback, args = hf.train_tiny_llama()
    assert len(logs) == len(callback.history) == 40
    clipped = 0
    for entry, row in zip(logs, callback.history, strict=True):
        g = entry["grad_norm"]
        seen = math.sqrt(sum(v**2 for v in row.values()))
        # torch's clip_grad_norm_: coefficient max_norm / (total + 1e-6), clamped at 1
        expected = g * min(1.0, args.max_grad_norm / (g + 1e-6))
        assert seen == pytest.approx(expected, rel=1e-4)
        clipped += g > args.max_grad_norm
    assert clipped >= 3  # the run does clip, so the two quantities really differ
    assert set(callback.history[0]) == {
        "model.embed_tokens",
        "layer 0",
        "layer 1",
        "model.norm",
        "lm_head",
    }


def test_gradients_exist_at_optimizer_callbacks_but_not_at_step_end() -> None:
    class Probe(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.events: list[tuple[str, bool]] = []

        def _has_grads(self, model) -> bool:
            return all(p.grad is not None for p in model.parameters())

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            self.events.append(("pre_optimizer_step", self._has_grads(model)))

        def on_optimizer_step(self, args, state, control, model=None, **kwargs):
            self.events.append(("optimizer_step", self._has_grads(model)))

        def on_step_end(self, args, state, control, model=None, **kwargs):
            self.events.append(("step_end", any(p.grad is not None for p in model.parameters())))

    probe = Probe()
    ids = hf.counting_sequences(16, 16, 32, torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as out_dir:
        args = transformers.TrainingArguments(
            output_dir=out_dir,
            max_steps=2,
            per_device_train_batch_size=8,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            logging_steps=1,
        )
        trainer = transformers.Trainer(
            model=hf.tiny_llama(seed=0),
            args=args,
            train_dataset=hf.TokenDataset(ids),
            callbacks=[probe],
        )
        trainer.remove_callback(transformers.PrinterCallback)
        trainer.train()
    assert (
        probe.events
        == [("pre_optimizer_step", True), ("optimizer_step", True), ("step_end", False)] * 2
    )


def test_group_of_and_data() -> None:
    assert hf.group_of("model.layers.1.mlp.up_proj.weight") == "layer 1"
    assert hf.group_of("model.embed_tokens.weight") == "model.embed_tokens"
    assert hf.group_of("lm_head.weight") == "lm_head"
    ids = hf.counting_sequences(10, 16, 32, torch.Generator().manual_seed(0))
    step = (ids[:, 1] - ids[:, 0]) % 32
    assert ((step >= 1) & (step <= 3)).all()
    assert torch.equal((ids[:, 1:] - ids[:, :-1]) % 32, step[:, None].expand(10, 15))


def _trainer(model, ids, out_dir, callbacks=(), **overrides):
    kwargs = {
        "output_dir": out_dir,
        "max_steps": 1,
        "per_device_train_batch_size": len(ids),
        "learning_rate": 1e-2,
        "logging_steps": 1,
        "seed": 0,
        "use_cpu": True,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
    }
    kwargs.update(overrides)
    trainer = transformers.Trainer(
        model=model,
        args=transformers.TrainingArguments(**kwargs),
        train_dataset=hf.TokenDataset(ids),
        callbacks=list(callbacks),
    )
    trainer.remove_callback(transformers.PrinterCallback)
    return trainer


def test_with_logging_steps_the_grad_norm_is_the_last_steps_not_a_mean() -> None:
    ids = hf.counting_sequences(64, 16, 32, torch.Generator().manual_seed(0))
    callback = hf.LayerGradNorms()
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = _trainer(
            hf.tiny_llama(seed=0),
            ids,
            out_dir,
            [callback],
            max_steps=8,
            per_device_train_batch_size=8,
            logging_steps=4,
            max_grad_norm=1e6,
        )
        trainer.train()
    logged = [e["grad_norm"] for e in trainer.state.log_history if "grad_norm" in e]
    seen = [math.sqrt(sum(v**2 for v in row.values())) for row in callback.history]
    assert logged == [pytest.approx(seen[3], rel=1e-4), pytest.approx(seen[7], rel=1e-4)]
    assert seen[3] != pytest.approx(sum(seen[:4]) / 4, rel=1e-3)


def test_gpt2_loss_is_scaled_by_t_minus_one_over_t() -> None:
    """transformers 5.x counts every GPT-2 label, also position 0, which is never predicted."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=32,
        n_positions=16,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(config)
    ids = hf.counting_sequences(32, 16, 32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        mean_loss = model(input_ids=ids, labels=ids).loss.item()
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = _trainer(model, ids, out_dir)
        trainer.train()
    logged = trainer.state.log_history[0]["loss"]
    assert logged == pytest.approx(mean_loss * 15 / 16, rel=1e-5)
