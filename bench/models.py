"""Training throughput (forward + backward, images/s) of the networks in training.models.

CPU part: VGG16BN, ResNet18, ResNet50 students, BN-Inception and TRN over BN-Inception (8 segments)
at 64 and 224 px, small batches, best of `--iters` timed steps after one warm-up (TRN counts
every segment frame as an image). CUDA part (when a GPU is present): the SAKDN video student,
TRN BN-Inception, 8 segments, 224 px, batch 16, fp32 against bf16 autocast + channels_last,
printed as a speed-up ratio measured side by side in one run.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.models import TRN, VGG16BN, BNInception, ResNetStudent  # noqa: E402

NUM_CLASSES = 11
SEGMENTS = 8

NETWORKS: dict[str, Callable[[], nn.Module]] = {
    "VGG16BN": lambda: VGG16BN(NUM_CLASSES, embed_dim=300),
    "ResNet18": lambda: ResNetStudent(18, NUM_CLASSES, embed_dim=300),
    "ResNet50": lambda: ResNetStudent(50, NUM_CLASSES, embed_dim=300),
    "BNInception": lambda: BNInception(num_classes=NUM_CLASSES),
    "TRN-BNInception-8seg": lambda: TRN(NUM_CLASSES, SEGMENTS, backbone="bninception", embed_dim=300),
}


def make_input(name: str, batch: int, size: int, device: torch.device) -> torch.Tensor:
    if name.startswith("TRN"):
        return torch.randn(batch, SEGMENTS, 3, size, size, device=device)
    return torch.randn(batch, 3, size, size, device=device)


def train_step(net: nn.Module, x: torch.Tensor, labels: torch.Tensor, autocast: bool) -> None:
    net.zero_grad(set_to_none=True)
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=autocast):
        out = net(x)
        loss = F.cross_entropy(out.logits.float(), labels) + out.embedding.float().square().mean()
    loss.backward()


def step_seconds(net: nn.Module, x: torch.Tensor, iters: int, autocast: bool = False, warmup: int = 1) -> float:
    """Best wall time of one forward + backward step."""
    labels = torch.randint(0, NUM_CLASSES, (x.shape[0],), device=x.device)
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        train_step(net, x, labels, autocast)
    sync()
    best = float("inf")
    for _ in range(iters):
        start = time.perf_counter()
        train_step(net, x, labels, autocast)
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_table(iters: int, threads: int) -> None:
    torch.set_num_threads(threads)
    batches = {64: 8, 224: 2}
    print(f"CPU, {threads} threads, forward+backward, best of {iters} after 1 warm-up")
    print(f"{'network':<22}{'px':>5}{'batch':>7}{'images':>8}{'s/step':>9}{'images/s':>10}")
    for name, build in NETWORKS.items():
        net = build().train()
        for size, batch in batches.items():
            if name.startswith("TRN"):
                batch = 1 if size == 224 else 2
            x = make_input(name, batch, size, torch.device("cpu"))
            images = x.shape[0] * (x.shape[1] if x.dim() == 5 else 1)
            seconds = step_seconds(net, x, iters)
            print(f"{name:<22}{size:>5}{batch:>7}{images:>8}{seconds:>9.3f}{images / seconds:>10.1f}", flush=True)


def cuda_ratio(iters: int, batch: int) -> None:
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"\n{torch.cuda.get_device_name(device)}: TRN BN-Inception, {SEGMENTS} segments, 224 px, batch {batch}")
    x = make_input("TRN", batch, 224, device)
    net = NETWORKS["TRN-BNInception-8seg"]().to(device).train()
    fp32 = step_seconds(net, x, iters, autocast=False, warmup=3)
    net = net.to(memory_format=torch.channels_last)
    x_cl = x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, x.shape[:2])
    bf16 = step_seconds(net, x_cl, iters, autocast=True, warmup=3)
    frames = batch * SEGMENTS
    print(f"fp32                      {fp32 * 1e3:8.1f} ms/step {frames / fp32:8.0f} frames/s")
    print(f"bf16 autocast + NHWC      {bf16 * 1e3:8.1f} ms/step {frames / bf16:8.0f} frames/s")
    print(f"speed-up (fp32 / bf16)    {fp32 / bf16:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2, help="timed CPU steps per case")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cuda-iters", type=int, default=10)
    parser.add_argument("--cuda-batch", type=int, default=16)
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    if not args.skip_cpu:
        cpu_table(args.iters, args.threads)
    if torch.cuda.is_available():
        cuda_ratio(args.cuda_iters, args.cuda_batch)
    else:
        print("\nno CUDA device: fp32 vs bf16 + channels_last ratio not measured")


if __name__ == "__main__":
    main()
