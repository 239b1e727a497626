"""The epoch loop shared by every stage: optimiser, per-epoch LR schedule, checkpoints, resume, metrics.

A stage hands the engine a `Stage`: an nn.Module whose forward(batch) returns the loss with its
terms (frozen teachers live inside it with requires_grad=False and stay in eval mode) and whose
predict(batch) returns the logits of each prediction head. The engine

  - optimises the parameters that require grad (SGD/Adam/AdamW), steps the LR schedule once per EPOCH;
  - runs on CUDA with bf16 autocast and channels_last when asked, else on the CPU; wraps the
    stage in DistributedDataParallel when torchrun started several processes (gloo or nccl);
  - after each epoch scores val and test, appends one line to metrics.jsonl (and, with tensorboard,
    its numbers to <stage>/tb/), writes last.pt (model, optimiser, scheduler, RNG states, epoch)
    and best.pt (best val accuracy, never test);
  - resumes from last.pt, so an interrupted run ends exactly as an uninterrupted one on the CPU.
"""
from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.autograd.profiler import record_function
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training.data.loaders import Batch, Loader, Needs, SplitData
from training.distill.losses import labelled_cross_entropy
from training.engine.logs import TensorBoardScalars
from training.engine.metrics import Scores, score
from training.models.archs import Arch, TRNArch
from training.options import OptimOptions

METRICS_FILE, LAST, BEST, RESULTS_FILE = "metrics.jsonl", "last.pt", "best.pt", "results.json"


@dataclass
class StepOutput:
    """loss: the scalar optimised; terms: each weighted term (name -> scalar) that makes it up."""

    loss: Tensor
    terms: dict[str, Tensor]
    logits: Tensor


class Stage(nn.Module):
    """Base of a trainable stage: trainable networks + loss (+ frozen teachers, kept in eval mode).

    The contract the engine and the data side read, set by every stage:

        unit               CLIPS or TAKES (training.data.loaders): what one batch row is
        heads              prediction heads; the first one is the stage's headline figure
        arch               the trained network's record (training.models.archs), saved in every checkpoint
        train_needs, eval_needs   what training and evaluation batches carry (training.data.loaders.Needs)
        video_arch         the TRNArch of the network that reads video (segments, crop size, input
                           normalisation), None when no network of the stage reads video
        gaf_size           GAF side the sensor networks read (None: as stored, or no GAF input)
        stream_seconds     the time grid of raw-signal encoders (None: no stream input)
        unused_parameters  DDP's find_unused_parameters, for a forward that skips some parameters
        distils            True when the loss has terms that read no label (a distilled student), so
                           the stage can also learn from paired rows without labels
        label_smoothing    of every cross-entropy against a label (`cross_entropy`); `fit` sets it
                           from the stage's OptimOptions
    """

    unit: str
    heads: tuple[str, ...]
    arch: Arch
    train_needs: Needs
    eval_needs: Needs
    video_arch: TRNArch | None = None
    gaf_size: int | None = None
    stream_seconds: float | None = None
    unused_parameters: bool = False
    distils: bool = False
    label_smoothing: float = 0.0

    def cross_entropy(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Mean CE over the rows with a label (training.distill.losses.labelled_cross_entropy), label-smoothed."""
        return labelled_cross_entropy(logits, labels, self.label_smoothing)

    def compile_targets(self) -> list[nn.Module]:
        """The modules torch.compile wraps: the trainable networks (default: the whole stage)."""
        return [self]

    def frozen_modules(self) -> list[nn.Module]:
        """Modules that never train (teachers); train() leaves them in eval mode."""
        return []

    def train(self, mode: bool = True) -> Stage:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def trainable_state(self) -> dict[str, Tensor]:
        """state_dict without the frozen modules (they are saved by the run that trained them)."""
        frozen = {id(p) for m in self.frozen_modules() for p in list(m.parameters()) + list(m.buffers())}
        return {k: v.detach() for k, v in self.state_dict(keep_vars=True).items() if id(v) not in frozen}

    def load_trainable_state(self, state: dict[str, Tensor]) -> None:
        result = self.load_state_dict(state, strict=False)
        frozen_keys = set(self.state_dict()) - set(self.trainable_state())
        missing = [k for k in result.missing_keys if k not in frozen_keys]
        if missing or result.unexpected_keys:
            raise RuntimeError(f"checkpoint does not fit this stage: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}")

    def forward(self, batch: Batch) -> StepOutput:
        raise TypeError(f"{type(self).__name__} must implement forward(batch) -> StepOutput")

    def predict(self, batch: Batch) -> dict[str, Tensor]:
        raise TypeError(f"{type(self).__name__} must implement predict(batch) -> {{head: logits}}")


@dataclass
class Context:
    """Where and how this process trains."""

    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False  # bf16 autocast (CUDA)
    channels_last: bool = False
    compile: bool = False
    progress: bool = True
    seed: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()


def make_context(device: str = "auto", amp: bool = True, channels_last: bool = True, compile: bool = False,
                 progress: bool = True, seed: int = 0) -> Context:
    """Join the process group when torchrun started us (WORLD_SIZE > 1) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_device = torch.device(device)
    if torch_device.type == "cuda" and torch_device.index is None:
        torch_device = torch.device("cuda", local_rank if world > 1 else torch.cuda.current_device())
    if torch_device.type == "cuda":
        torch.cuda.set_device(torch_device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch_device.type == "cuda" else "gloo")
    cuda = torch_device.type == "cuda"
    return Context(device=torch_device, rank=rank, world=world, amp=amp and cuda, channels_last=channels_last and cuda,
                   compile=compile, progress=progress and rank == 0, seed=seed)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The global generators' states as tensors and plain types (loadable with weights_only=True)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                       "has_gauss": int(has_gauss), "cached": float(cached)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    numpy = state["numpy"]  # a tuple in checkpoints of earlier versions
    if isinstance(numpy, dict):
        numpy = (numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"], numpy["has_gauss"],
                 numpy["cached"])
    np.random.set_state(numpy)
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_optimizer(options: OptimOptions, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if options.optimizer == "sgd":
        return torch.optim.SGD(params, lr=options.lr, momentum=options.momentum, weight_decay=options.weight_decay)
    if options.optimizer == "adam":
        return torch.optim.Adam(params, lr=options.lr, weight_decay=options.weight_decay)
    return torch.optim.AdamW(params, lr=options.lr, weight_decay=options.weight_decay)


def make_scheduler(options: OptimOptions, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """The LR schedule, stepped once per epoch (training.options.SCHEDULES): StepLR(lr_step, lr_gamma),
    or OneCycleLR over epochs + 1 steps: from lr / 25 up to lr at 30 % of them, then cosine down towards
    lr / 1e4 (the extra step keeps the last epoch's rate above zero: one epoch trains at lr / 25)."""
    if options.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=options.lr, total_steps=options.epochs + 1)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=options.lr_step, gamma=options.lr_gamma)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing, truncated, empty, or holding more than tensors and plain types."""


# numpy arrays inside checkpoints of earlier versions (their RNG states): data, not code
_NUMPY_ARRAYS = [np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.UInt32DType]


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """torch.load with weights_only=True: tensors, plain types and numpy arrays only, so a crafted run
    directory cannot run code on evaluate or --resume."""
    try:
        with torch.serialization.safe_globals(_NUMPY_ARRAYS):
            return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ... for unreadable files
        text = str(error).strip()
        code = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if code:
            reason = f"it would call {code.group(1)}, which a checkpoint never needs"
        else:
            reason = text.splitlines()[0].split(". ")[0][:160] if text else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class Predictions:
    """Rows scored, their labels and each head's logits (N, C) float32, in row order."""

    rows: np.ndarray
    labels: np.ndarray
    logits: dict[str, np.ndarray]

    @property
    def preds(self) -> dict[str, np.ndarray]:
        """Each head's predicted class (N,)."""
        return {head: z.argmax(axis=1) for head, z in self.logits.items()}

    def scores(self, num_classes: int) -> dict[str, Scores]:
        return {head: score(self.labels, z.argmax(axis=1), num_classes, z) for head, z in self.logits.items()}


def _gather(arrays: dict[str, np.ndarray], world: int) -> dict[str, np.ndarray]:
    if world == 1:
        return arrays
    parts: list = [None] * world
    dist.all_gather_object(parts, arrays)
    return {k: np.concatenate([p[k] for p in parts]) for k in arrays}


@torch.no_grad()
def predict(stage: Stage, loader: Loader, ctx: Context, epoch: int = 0) -> Predictions:
    """Eval-mode predictions of every head over the loader's rows (all ranks' shards gathered).

    With several views (loader.views, training.data.loaders.Views) a head's logits are the mean over the
    views of each row: the views of one batch are scored one after another and summed in float32,
    so memory holds one view's input at a time. One view gives its logits unchanged.
    """
    stage.eval()
    rows, labels, logits = [], [], {h: [] for h in stage.heads}
    for views in loader.view_epoch(epoch):
        total: dict[str, Tensor] = {}
        for batch in views:
            with ctx.autocast():
                out = stage.predict(batch)
            for head in stage.heads:
                total[head] = total[head] + out[head].float() if head in total else out[head].float()
        rows.append(batch.clip if loader.unit == "clips" else batch.take)
        labels.append(batch.label.cpu().numpy())
        for head in stage.heads:
            logits[head].append((total[head] / loader.views.count).cpu().numpy())
    local = {"rows": _concat(rows), "labels": _concat(labels),
             **{f"logits/{h}": np.concatenate(z) if z else np.zeros((0, 0), np.float32) for h, z in logits.items()}}
    merged = _gather(local, ctx.world)
    order = np.argsort(merged["rows"], kind="stable")
    return Predictions(rows=merged["rows"][order], labels=merged["labels"][order],
                       logits={h: merged[f"logits/{h}"][order] for h in stage.heads})


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def summarise(scores: dict[str, Scores], heads: tuple[str, ...]) -> dict:
    """metrics.jsonl entry of one split: the first head's figures at the top, every head under 'heads'."""
    main = scores[heads[0]]
    entry = main.summary()
    if len(heads) > 1:
        entry["heads"] = {h: scores[h].summary() for h in heads}
    return entry


@dataclass
class EpochStats:
    terms: dict[str, float]
    accuracy: float
    samples: int
    seconds: float
    data_seconds: float
    grad_norms: dict[str, float] = field(default_factory=dict)  # per loss term, on the epoch's first batch

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0

    @property
    def data_wait(self) -> float:
        return self.data_seconds / self.seconds if self.seconds > 0 else 0.0


def _timed(batches: Iterator[Batch], clock: list[float]) -> Iterator[Batch]:
    """Yield batches, adding the time spent waiting for each one to clock[0]."""
    while True:
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return
        clock[0] += time.perf_counter() - start
        yield batch


def term_gradient_norms(terms: dict[str, Tensor], params: list[nn.Parameter]) -> dict[str, float]:
    """||d term / d params||_2 of each (weighted) loss term over the trainable parameters.

    The graph is kept, so the step's own backward still runs after this probe; a term that does not
    reach the parameters (a frozen teacher's output, an inert loss) gets 0.
    """
    norms = {}
    for name, value in terms.items():
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True) if value.requires_grad else ()
        squares = [g.float().pow(2).sum() for g in grads if g is not None]
        norms[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and the terms."""


def _check_finite(loss: float, terms: dict[str, float], epoch: int) -> None:
    if not np.isfinite(loss):
        shown = ", ".join(f"{k} {v:.4g}" for k, v in terms.items())
        raise NonFiniteLossError(f"non-finite training loss in epoch {epoch + 1} (batch means: {shown}); "
                                 "lower --lr or check the loss weights")


def train_epoch(model: nn.Module, stage: Stage, loader: Loader, optimizer: torch.optim.Optimizer,
                options: OptimOptions, ctx: Context, epoch: int, description: str = "",
                log_every: int = 10, probe_gradients: bool = True) -> EpochStats:
    """One pass over the training rows; `model` is the stage or its DDP wrapper.

    Sums stay on the device; the host reads them (one sync) every `log_every` steps for the
    progress bar and the non-finite check, and once at the end of the epoch. The training accuracy
    counts only rows with a label (Batch.labelled); the terms are means over every row. With
    `probe_gradients`, every loss term's gradient norm is probed on the epoch's first batch
    (term_gradient_norms: one backward per term), so an inert or a dominating term shows in metrics.jsonl.
    """
    stage.train()
    totals: dict[str, Tensor] = {}
    correct = torch.zeros((), dtype=torch.float64, device=ctx.device)
    scored = torch.zeros((), dtype=torch.float64, device=ctx.device)  # rows with a label: the accuracy's
    seen = 0
    params = [p for p in stage.parameters() if p.requires_grad]
    clock = [0.0]
    started = time.perf_counter()
    grad_norms: dict[str, float] = {}
    bar = tqdm(total=len(loader), desc=description, leave=False, disable=not ctx.progress, dynamic_ncols=True)
    for step, batch in enumerate(_timed(loader.epoch(epoch), clock), start=1):
        with ctx.autocast():
            out: StepOutput = model(batch)
        if step == 1 and probe_gradients:
            grad_norms = term_gradient_norms(out.terms, params)
        _optimizer_step(out.loss, optimizer, params, options.grad_clip)
        n = len(batch)
        for name, value in {"loss": out.loss, **out.terms}.items():
            totals[name] = totals.get(name, 0.0) + value.detach().double() * n
        labelled = batch.labelled
        correct += ((out.logits.detach().argmax(dim=1) == batch.label) & labelled).sum()
        scored += labelled.sum()
        seen += n
        bar.update(1)
        if step % log_every == 0 or step == len(loader):
            loss = float(totals["loss"]) / seen
            _check_finite(loss, {k: float(v) / seen for k, v in totals.items()}, epoch)
            elapsed = time.perf_counter() - started
            bar.set_postfix(loss=f"{loss:.3f}", sps=f"{seen * ctx.world / max(elapsed, 1e-9):.1f}")
    bar.close()
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    seconds = time.perf_counter() - started
    terms, accuracy, seen_all = _epoch_means(totals, seen, correct, scored, stage, ctx)
    _check_finite(terms.get("loss", 0.0), terms, epoch)
    return EpochStats(terms=terms, accuracy=accuracy, samples=seen_all, seconds=seconds, data_seconds=clock[0],
                      grad_norms=grad_norms)


def _optimizer_step(loss: Tensor, optimizer: torch.optim.Optimizer, params: list[Tensor], grad_clip: float) -> None:
    """Backward and one optimiser step; the global gradient norm clipped to grad_clip when it is > 0."""
    optimizer.zero_grad(set_to_none=True)
    with record_function("backward"):
        loss.backward()
    with record_function("optimizer"):
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        optimizer.step()


def _epoch_means(totals: dict[str, Tensor], seen: int, correct: Tensor, scored: Tensor, stage: Stage, ctx: Context
                 ) -> tuple[dict[str, float], float, int]:
    """Every rank's sums added up (DDP; BN buffers then broadcast from rank 0, so every rank evaluates the
    same model) -> (each term's mean over rows, accuracy over the labelled rows, rows seen). `correct` and
    `scored`: this rank's correctly classified and labelled rows."""
    names = sorted(totals)
    stats = torch.stack([torch.tensor(float(seen), dtype=torch.float64, device=ctx.device), correct, scored,
                         *[totals[k] for k in names]])
    if ctx.world > 1:
        stats = stats if dist.get_backend() == "nccl" else stats.cpu()
        dist.all_reduce(stats)
        for buffer in stage.buffers():
            dist.broadcast(buffer, src=0)
    stats = stats.cpu()
    rows = max(int(stats[0]), 1)  # every rank's
    terms = {k: float(v) / rows for k, v in zip(names, stats[3:].tolist())}
    return terms, float(stats[1]) / max(float(stats[2]), 1.0), rows


@dataclass
class FitResult:
    """What a finished stage reports: final-epoch and best-on-val figures per split and head."""

    stage_dir: Path
    epochs: int
    best_epoch: int | None
    final: dict[str, dict]  # split -> head -> Scores.to_dict()
    best: dict[str, dict]
    selection: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"epochs": self.epochs, "best_epoch": self.best_epoch, "final": self.final,
                "best": self.best, "selection": self.selection}


def _score_dicts(stage: Stage, data: SplitData, ctx: Context, num_classes: int,
                 test: bool = True, val: bool = True) -> dict[str, dict[str, Scores]]:
    out = {"test": predict(stage, data.test, ctx).scores(num_classes)} if test else {}
    if val and data.val is not None:
        out["val"] = predict(stage, data.val, ctx).scores(num_classes)
    return out


def _due(epoch: int, every: int, last: bool) -> bool:
    """Whether a split is scored after 0-based `epoch`: every `every` epochs (0: never) and after the last."""
    return last or (every > 0 and (epoch + 1) % every == 0)


@dataclass
class _Progress:
    """Where a stage's schedule stands: epochs done, and the best validation epoch and accuracy so far."""

    epoch: int = 0
    best_epoch: int | None = None
    best_val: float = -1.0


def place_stage(stage: Stage, ctx: Context) -> None:
    """The stage on the run's device, in channels_last memory format where the run uses it."""
    stage.to(ctx.device)
    if ctx.channels_last:
        stage.to(memory_format=torch.channels_last)


def fit(stage: Stage, data: SplitData, options: OptimOptions, ctx: Context, stage_dir: Path, num_classes: int,
        resume: bool = False, test_every: int = 1, val_every: int = 1, tensorboard: bool = False) -> FitResult:
    """Train `stage` for options.epochs epochs (continuing from last.pt when resume) and score it.

    Validation is scored every `val_every` epochs and after the last one (it picks best.pt among
    those epochs), and the terms' gradient norms are probed on the first epoch and those; the test
    split every `test_every` epochs and after the last one (0: after the last one only). Short epochs
    (a few labelled takes) pay more for scoring and probing than for training: there a larger
    val_every saves most of a run's time. With `tensorboard`, rank 0
    also writes each metrics.jsonl record as TensorBoard scalars (training.engine.logs.TensorBoardScalars).
    """
    stage_dir = Path(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    place_stage(stage, ctx)
    stage.label_smoothing = options.label_smoothing
    optimizer = make_optimizer(options, [p for p in stage.parameters() if p.requires_grad])
    scheduler = make_scheduler(options, optimizer)
    progress = _restore(stage, optimizer, scheduler, ctx, stage_dir, resume)
    model = _wrap(stage, ctx)
    scalars = TensorBoardScalars(stage_dir, progress.epoch + 1) if tensorboard and ctx.is_main else None
    scores: dict[str, dict[str, Scores]] | None = None
    for epoch in range(progress.epoch, options.epochs):
        lr = optimizer.param_groups[0]["lr"]
        last = epoch + 1 == options.epochs
        stats = train_epoch(model, stage, data.train, optimizer, options, ctx, epoch,
                            description=f"{stage_dir.name} {epoch + 1}/{options.epochs}",
                            probe_gradients=epoch == 0 or _due(epoch, val_every, last))
        scheduler.step()
        scores = _score_dicts(stage, data, ctx, num_classes, test=_due(epoch, test_every, last),
                              val=_due(epoch, val_every, last))
        record = {
            "epoch": epoch + 1, "lr": lr,
            "train": {**stats.terms, "accuracy": stats.accuracy},
            "grad_norm": stats.grad_norms, "grad_ratio": _relative_to_ce(stats.grad_norms),
            **{split: summarise(s, stage.heads) for split, s in scores.items()},
            "samples_per_s": stats.samples_per_s, "data_wait": stats.data_wait, "seconds": stats.seconds,
        }
        val_accuracy = scores["val"][stage.heads[0]].accuracy if "val" in scores else None
        improved = val_accuracy is not None and val_accuracy > progress.best_val
        progress.epoch = epoch + 1
        if improved:
            progress.best_val, progress.best_epoch = val_accuracy, epoch + 1
        _save_epoch(stage, optimizer, scheduler, ctx, stage_dir, record, progress, improved, scalars)
    if scalars is not None:
        scalars.close()
    final = scores if scores is not None else _score_dicts(stage, data, ctx, num_classes)
    best = _best_scores(stage, data, ctx, num_classes, stage_dir / BEST, progress, options.epochs)
    best = final if best is None else best
    result = FitResult(
        stage_dir=stage_dir, epochs=options.epochs, best_epoch=progress.best_epoch,
        final={split: {h: s.to_dict() for h, s in scores.items()} for split, scores in final.items()},
        best={split: {h: s.to_dict() for h, s in scores.items()} for split, scores in best.items()},
        selection=data.selection.summary(),
    )
    if ctx.is_main:
        (stage_dir / RESULTS_FILE).write_text(json.dumps(result.to_dict(), indent=1))
    return result


def _restore(stage: Stage, optimizer: torch.optim.Optimizer, scheduler, ctx: Context, stage_dir: Path,
             resume: bool) -> _Progress:
    """With `resume` and a last.pt: its weights, optimiser, schedule and this rank's RNG state, and
    metrics.jsonl cut to its epochs. Otherwise a fresh start (an old metrics.jsonl removed)."""
    last_path, metrics_path = stage_dir / LAST, stage_dir / METRICS_FILE
    if not (resume and last_path.exists()):
        if ctx.is_main and metrics_path.exists():
            metrics_path.unlink()
        return _Progress()
    checkpoint = load_checkpoint(last_path, ctx.device)
    stage.load_trainable_state(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    set_rng_state(checkpoint["rng"][min(ctx.rank, len(checkpoint["rng"]) - 1)])
    if ctx.is_main:
        _truncate_metrics(metrics_path, checkpoint["epoch"])
    return _Progress(checkpoint["epoch"], checkpoint["best_epoch"], checkpoint["best_val"])


def _wrap(stage: Stage, ctx: Context) -> nn.Module:
    """The module the step calls: the stage with its compile targets compiled, in DDP across ranks."""
    if ctx.compile:
        for module in stage.compile_targets():
            module.compile()
    if ctx.world == 1:
        return stage
    return DistributedDataParallel(stage, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
                                   find_unused_parameters=stage.unused_parameters)


def _save_epoch(stage: Stage, optimizer: torch.optim.Optimizer, scheduler, ctx: Context, stage_dir: Path,
                record: dict, progress: _Progress, improved: bool, scalars: TensorBoardScalars | None) -> None:
    """After an epoch, on rank 0: its metrics.jsonl line (and scalars), best.pt when validation
    improved, then last.pt with every rank's RNG state (gathered on all ranks)."""
    rngs = _gather_rng(ctx)
    if not ctx.is_main:
        return
    with open(stage_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(record) + "\n")
    if scalars is not None:
        scalars.write(record)
    arch, model = stage.arch.to_dict(), stage.trainable_state()
    if improved:
        _atomic_save({"epoch": progress.epoch, "arch": arch, "model": model, "val": progress.best_val},
                     stage_dir / BEST)
    _atomic_save({"epoch": progress.epoch, "arch": arch, "model": model, "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "rng": rngs, "best_epoch": progress.best_epoch,
                  "best_val": progress.best_val}, stage_dir / LAST)
    if ctx.progress:
        tqdm.write(_epoch_line(stage_dir.name, record))


def _best_scores(stage: Stage, data: SplitData, ctx: Context, num_classes: int, best_path: Path, progress: _Progress,
                 epochs: int) -> dict[str, dict[str, Scores]] | None:
    """The scores of best.pt when validation chose an epoch before the last (None: the final scores
    are the best ones); the stage keeps its final weights."""
    if progress.best_epoch is None or progress.best_epoch == epochs:
        return None
    if ctx.world > 1:
        dist.barrier()
    state = load_checkpoint(best_path, ctx.device)["model"]
    current = {k: v.detach().clone() for k, v in stage.trainable_state().items()}
    stage.load_trainable_state(state)
    best = _score_dicts(stage, data, ctx, num_classes)
    stage.load_trainable_state(current)
    return best


def _relative_to_ce(norms: dict[str, float]) -> dict[str, float]:
    """Each term's gradient norm / cross-entropy's (None without a usable CE term)."""
    ce = norms.get("ce", 0.0)
    return {name: (value / ce if ce > 0 else None) for name, value in norms.items()}


def _gather_rng(ctx: Context) -> list[dict]:
    state = rng_state()
    if ctx.world == 1:
        return [state]
    parts: list = [None] * ctx.world
    dist.all_gather_object(parts, state)
    return parts


def _truncate_metrics(path: Path, epochs: int) -> None:
    """Keep the first `epochs` lines (an interrupted epoch may have logged nothing or a partial line)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()][:epochs]
    path.write_text("".join(line + "\n" for line in lines))


def _epoch_line(name: str, record: dict) -> str:
    parts = [f"{name} epoch {record['epoch']}", f"loss {record['train']['loss']:.4f}",
             f"train acc {record['train']['accuracy']:.3f}"]
    for split in ("val", "test"):
        if split in record:
            parts.append(f"{split} acc {record[split]['accuracy']:.3f} f1 {record[split]['macro_f1']:.3f}")
    parts.append(f"{record['samples_per_s']:.1f} samples/s, data wait {100 * record['data_wait']:.1f}%")
    return " | ".join(parts)
