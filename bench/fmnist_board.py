"""Fashion-mnist for a 64 KiB / 1 MiB board (issue 15 item 4): train a ViT, resumably, with
optional distillation from a float CNN teacher; writes an edgeformer run directory.

Slow on 2 cores (minutes per epoch): a benchmark, not a test. Every epoch is checkpointed
(OUT/resume.pt, written atomically), so a killed run continues where it stopped when the
same command is given again. The student is trained with train.py's schedule (AdamW,
warmup + cosine, label smoothing, its augmentation); with --teacher-epochs N a small CNN is
trained first (float only, never exported) and the student's loss becomes
(1 - alpha) * CE(labels) + alpha * T^2 * KL(teacher || student at temperature T).

    nice -n 19 .venv/bin/python bench/fmnist_board.py --out runs/fm64 --spec spec.json \
        --epochs 24 --teacher-epochs 4
A second cycle from a finished run (lower peak lr, a stronger teacher trained once):
    .venv/bin/python bench/fmnist_board.py --out runs/t12 --spec spec.json --epochs 0 --teacher-epochs 12
    .venv/bin/python bench/fmnist_board.py --out runs/fm64b --spec spec.json --epochs 8 --lr 5e-4 \
        --init runs/fm64 --teacher-from runs/t12 --teacher-epochs 12
Measured (p4 d64 L4 h4 mlp2, 2-core VM, one thread): 30 epochs with a 5-epoch teacher (0.887) gave
float 0.8998 (int8 host C 0.8999 on 10,000); 8 more at lr 5e-4 with a 12-epoch teacher (0.904)
float 0.9058, int8 host C 0.9052 on 10,000, emulated M7 0.900 on 500; ~3-9 min an epoch.
Then the on-board figures (the commands it prints at the end):
    edgeformer export runs/fm64 --quantize int8 --out art  (see `edgeformer export --help`)
    edgeformer verify art --target host ...   (the int8 C build on the 10,000 test images)
    edgeformer run art --board stm32f746g-disco --inputs 500
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from edgeformer.checkpoint import save_run
from edgeformer.data import load_dataset
from edgeformer.fsio import write_atomic
from edgeformer.models import build, count_params, macs
from edgeformer.specs import spec_from_dict
from edgeformer.train import TrainConfig, batches, evaluate, param_groups, seed_everything


class Teacher(torch.nn.Module):
    """A float CNN (about 93% on fashion-mnist after a few epochs): only a source of soft labels."""

    def __init__(self) -> None:
        super().__init__()
        c = torch.nn.Conv2d
        self.body = torch.nn.Sequential(
            c(1, 32, 3, padding=1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            c(32, 64, 3, padding=1), torch.nn.BatchNorm2d(64), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            c(64, 128, 3, padding=1), torch.nn.BatchNorm2d(128), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(128, 10))

    def forward(self, x):
        return self.body(x)


def _save(path: Path, blob: dict) -> None:
    write_atomic(path, lambda fh: torch.save(blob, fh), mode="wb")


def _train(model, ds, cfg: TrainConfig, state_path: Path, label: str, teacher=None, alpha=0.5, temp=2.0):
    """Train `model` with train.py's schedule; resumes from state_path after the last whole epoch."""
    opt = torch.optim.AdamW(param_groups(model.named_parameters(), cfg.weight_decay), lr=cfg.lr)
    done = 0
    if state_path.is_file():
        blob = torch.load(state_path, weights_only=False)
        model.load_state_dict(blob["model"])
        opt.load_state_dict(blob["opt"])
        done = blob["epochs_done"]
        print(f"{label}: resuming after epoch {done}/{cfg.epochs}", flush=True)
    if done >= cfg.epochs:
        return model.eval()
    # The schedule is a generator over all epochs: replay the skipped ones' RNG draws so a
    # resumed run sees the same shuffles and augmentations as an uninterrupted one.
    gen = seed_everything(cfg.seed)
    model.train()
    t0, seen = time.perf_counter(), 0
    for epoch, b, steps, lr, xb, yb in batches(ds.x_train, ds.y_train, cfg, gen, True, True):
        if epoch < done:
            continue
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
        if teacher is not None:
            with torch.no_grad():
                soft = F.log_softmax(teacher(xb) / temp, -1)
            kd = F.kl_div(F.log_softmax(logits / temp, -1), soft, log_target=True, reduction="batchmean")
            loss = (1 - alpha) * loss + alpha * temp * temp * kd
        if not math.isfinite(loss.item()):
            raise SystemExit(f"{label}: loss became {loss.item()} at epoch {epoch + 1}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += len(xb)
        if b == steps - 1:
            model.eval()
            acc = evaluate(model, ds.x_test, ds.y_test)
            model.train()
            _save(state_path, {"model": model.state_dict(), "opt": opt.state_dict(), "epochs_done": epoch + 1})
            print(f"{label}: epoch {epoch + 1}/{cfg.epochs} test {acc:.4f} "
                  f"({seen / (time.perf_counter() - t0):.0f} img/s)", flush=True)
    return model.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", required=True, help="ViT spec JSON (fashion-mnist shaped)")
    ap.add_argument("--out", required=True, help="run directory (created; resumed if it holds resume.pt)")
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=0, help="first N training images only (0: all 60,000)")
    ap.add_argument("--teacher-epochs", type=int, default=0, help="train a CNN teacher first (0: no distillation)")
    ap.add_argument("--alpha", type=float, default=0.5, help="weight of the distillation term")
    ap.add_argument("--temp", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--init", help="start the student from this finished run's weights (a second cycle "
                                   "of the schedule, e.g. a lower --lr and a stronger teacher)")
    ap.add_argument("--teacher-from", help="reuse the teacher of this output folder (its teacher.pt, trained "
                                           "to --teacher-epochs) instead of training one here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = spec_from_dict(json.loads(Path(args.spec).read_text()))
    ds = load_dataset("fashion-mnist")
    if args.max_train:
        import dataclasses
        ds = dataclasses.replace(ds, x_train=ds.x_train[:args.max_train], y_train=ds.y_train[:args.max_train])
    teacher = None
    if args.teacher_epochs:
        torch.manual_seed(args.seed)
        teacher_dir = Path(args.teacher_from) if args.teacher_from else out
        if args.teacher_from:   # read only: a teacher still to train is trained in its own --out
            done = torch.load(teacher_dir / "teacher.pt", weights_only=False)["epochs_done"] \
                if (teacher_dir / "teacher.pt").is_file() else 0
            if done < args.teacher_epochs:
                raise SystemExit(f"--teacher-from {teacher_dir}: no teacher.pt trained to --teacher-epochs "
                                 f"{args.teacher_epochs} there (found {done}); train it with --out {teacher_dir} first")
        teacher = _train(Teacher(), ds, TrainConfig(epochs=args.teacher_epochs, seed=args.seed, batch_size=128,
                                                     lr=3e-3, label_smoothing=0.0),
                         teacher_dir / "teacher.pt", "teacher")
        for p in teacher.parameters():
            p.requires_grad_(False)
    seed_everything(args.seed)
    student = build(spec)
    if args.init:
        from edgeformer.checkpoint import load_run
        init_spec, init_model, _ = load_run(args.init)
        if init_spec != spec:
            raise SystemExit(f"--init {args.init}: its spec differs from --spec")
        student.load_state_dict(init_model.state_dict())
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr)
    t0 = time.perf_counter()
    student = _train(student, ds, cfg, out / "resume.pt", "student", teacher, args.alpha, args.temp)
    acc = evaluate(student, ds.x_test, ds.y_test)
    metrics = {"test_accuracy": acc, "params": count_params(student), "macs": macs(spec), "dataset": ds.name,
               "epochs": args.epochs, "seed": args.seed, "family": spec.family,
               "train_seconds_last_leg": round(time.perf_counter() - t0, 1),
               "teacher_epochs": args.teacher_epochs, "alpha": args.alpha, "temp": args.temp,
               "teacher_accuracy": evaluate(teacher, ds.x_test, ds.y_test) if teacher is not None else None,
               "max_train": args.max_train or len(ds.x_train), "init": args.init, "lr": args.lr}
    save_run(out, spec, student, metrics, ds.name)
    print(json.dumps(metrics), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
