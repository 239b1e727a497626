"""Cost of SPAMFM fusion and of the GSDM loss, measured side by side in one run (CPU or GPU).

    .venv/bin/python bench/losses_overhead.py [--batch 16] [--size 64] [--modalities 2] [--steps 3]

Prints seconds per training step of SensorTeachers with fuse=False / gate=paper / gate=code, and
the GSDM loss time against one student-sized forward+backward, with their ratios.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.distill.gsdm import GSDMLoss, ablated_forward  # noqa: E402
from training.models.fusion import SensorTeachers  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(fns: dict, steps: int, device: torch.device) -> dict[str, tuple[float, float]]:
    """Median (wall s, process CPU s) per call of each fn, calls interleaved so load drift hits all alike."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(steps):
        for label, fn in fns.items():
            _sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            _sync(device)
            samples[label].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--modalities", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    names = [f"m{k}" for k in range(args.modalities)]
    x = {m: torch.randn(args.batch, 3, args.size, args.size, device=device) for m in names}
    y = torch.randint(0, 10, (args.batch,), device=device)

    def train_step(model):
        def step():
            model.zero_grad(set_to_none=True)
            out = model(x)
            F.cross_entropy(out.logits, y).backward()
        return step

    variants = {"no fusion": {"fuse": False}, "SPAMFM paper": {"gate": "paper"}, "SPAMFM code": {"gate": "code"}}
    models = {k: SensorTeachers(names, num_classes=10, embed_dim=300, **kw).to(device) for k, kw in variants.items()}
    results = time_steps({k: train_step(m) for k, m in models.items()}, args.steps, device)
    base_wall, base_cpu = results["no fusion"]
    print(f"device {device}, batch {args.batch}, {args.size} px, {args.modalities} modalities, median of {args.steps}")
    for label, (wall, cpu) in results.items():
        print(f"  teacher step {label:13s} wall {wall:7.3f} s (x{wall / base_wall:4.2f})  cpu {cpu:7.3f} s (x{cpu / base_cpu:4.2f})")

    teacher = SensorTeachers(names, num_classes=10, embed_dim=300).to(device).eval()
    with torch.no_grad():
        t_out = teacher(x)
    t_abl = ablated_forward(teacher, x)
    gsdm = GSDMLoss(torch.randn(10, 300), graph=True).to(device)
    t_taps = [[t_out.taps[f"{m}.block{k}"] for k in range(1, 6)] for m in names]
    s_taps = [t.detach().clone().requires_grad_(True) for t in t_taps[0]]
    s_logits = torch.randn(args.batch, 10, device=device)
    t_logits = [t_out.extras["per_modality_logits"][m] for m in names]
    t_abl_logits = [t_abl.extras["per_modality_logits"][m] for m in names]

    def gsdm_step():
        gsdm(s_taps, s_logits, torch.zeros_like(s_logits), t_taps, t_logits, t_abl_logits).backward()

    loss_wall, loss_cpu = time_steps({"gsdm": gsdm_step}, args.steps, device)["gsdm"]
    print(f"  GSDM loss fwd+bwd ({args.modalities} teachers x 5 layers) wall {loss_wall:7.4f} s"
          f" (x{loss_wall / base_wall:5.3f} of a no-fusion teacher step)  cpu {loss_cpu:7.4f} s")


if __name__ == "__main__":
    main()
