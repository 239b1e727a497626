"""The multi-view test of `evaluate` (--test-clips / --test-crops): its pure view functions, and the
saved logits against an oracle that scores every view separately from the store's frames."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from pipeline.sampling import centre_candidates, view_candidates
from pipeline.store import open_store
from training.data.augment import centre_boxes, crop_affine, crop_resize, view_boxes
from training.data.loaders import CLIPS, Needs, Views, build_data, segment_slots
from training.engine.trainer import load_checkpoint
from training.models.archs import arch_from_dict
from training.models.normalize import input_normalizer
from training.options import DataOptions, RunOptions
from training.recipes.classifiers import classifier_stage
from training.run.config import read_config, resolve_options
from training.run.train import run_training

UTD = "synthetic-utd-mhad"
TINY = dict(epochs=1, batch_size=4, lr=1e-3, optimizer="adam", crop_size=32, segments=2, backbone="resnet18",
            device="cpu", progress=False, baseline=False, overwrite=True, loader_workers=0)


@pytest.mark.parametrize("candidates", range(1, 9))
def test_clip_views_spread_evenly_over_the_stored_candidates(candidates):
    segments = 3
    for views in range(1, candidates + 1):
        slots = np.stack([view_candidates(v, views, segments, candidates) for v in range(views)])  # (views, segments)
        assert np.array_equal(slots // candidates, np.tile(np.arange(segments), (views, 1)))  # own segment each
        k = slots[:, 0] % candidates
        assert np.all(slots % candidates == k[:, None]) and np.all((k >= 0) & (k < candidates))
        assert np.all(np.diff(k) > 0)  # distinct views, in order
        assert set(np.diff(k)) <= {candidates // views, -(-candidates // views)}  # even gaps
        assert k[0] <= candidates / (2 * views) and abs(k[0] - (candidates - 1 - k[-1])) <= 1  # centred
        if views == candidates:
            assert k.tolist() == list(range(candidates))
    assert np.array_equal(view_candidates(0, 1, segments, candidates), centre_candidates(segments, candidates))


def test_more_clip_views_than_candidates_is_refused():
    with pytest.raises(ValueError) as raised:
        view_candidates(0, 4, 2, 3)
    assert "3" in str(raised.value) and len(str(raised.value).splitlines()) == 1


@pytest.mark.parametrize("height, width", [(32, 40), (48, 30), (36, 36)])
def test_three_crops_run_along_the_longer_side(height, width):
    side = 224 / 256 * min(height, width)
    boxes = np.stack([view_boxes(2, c, 3, height, width) for c in range(3)])  # (crops, n, 4)
    assert np.all(boxes[:, 0] == boxes[:, 1])  # one box per view for every row
    x0, y0, w, h = boxes[:, 0].T
    assert np.allclose(w, side) and np.allclose(h, side)  # each is the crop size
    start, across = (x0, y0) if width >= height else (y0, x0)
    longer, shorter = max(height, width), min(height, width)
    assert np.allclose(start, [0, (longer - side) / 2, longer - side])  # left / centre / right (or top / ... / bottom)
    assert np.allclose(across, (shorter - side) / 2)
    assert np.array_equal(boxes[1], centre_boxes(2, height, width))
    assert np.array_equal(view_boxes(2, 0, 1, height, width), centre_boxes(2, height, width))
    with pytest.raises(ValueError):
        view_boxes(2, 0, 2, height, width)


def test_a_batch_is_read_once_and_cropped_per_view_wherever_its_arrays_live(trainer_utd_store):
    store, spec, views = open_store(trainer_utd_store), load_dataset(UTD), Views(2, 3)
    videos = {}
    for residency in ("ram", "stream"):
        data = build_data(store, spec, DataOptions(crop_size=32, segments=2, residency=residency, loader_workers=0), CLIPS,
                          Needs(video=True), Needs(video=True), batch_size=5, device=torch.device("cpu"),
                          splits=("test",), views=views)
        videos[residency] = [[b.video for b in batch] for batch in data.test.view_epoch(0)]
        plan = data.test.plan(data.test.rows[:5], np.random.default_rng(0))
        assert plan.slots.shape == (5, views.clips * 2) and plan.boxes.shape == (views.crops, 5, 4)
    assert len(videos["ram"]) == len(data.test) and all(len(b) == views.count for b in videos["ram"])
    assert all(torch.equal(a, b) for ra, rb in zip(videos["ram"], videos["stream"]) for a, b in zip(ra, rb))
    first = videos["ram"][0]
    assert all(not torch.equal(first[i], first[j]) for i in range(len(first)) for j in range(i))


@pytest.fixture(scope="module")
def vskd_run(trainer_utd_store, tmp_path_factory):
    """One epoch of VSKD: a TRN video teacher (stage 'teachers') and a GAF sensor student ('student')."""
    options = resolve_options(UTD, "vision2sensor", name="views", runs_dir=tmp_path_factory.mktemp("views"),
                              store=trainer_utd_store, stage="all", **TINY)
    run_training(options)
    return options.run_dir


def _evaluate(run, out, *views):
    result = CliRunner().invoke(cli, ["evaluate", "--run", str(run), "--save-predictions", str(out), *views])
    assert result.exit_code == 0, result.output
    return result.output, dict(np.load(out))


@torch.no_grad()
def _oracle_logits(run, store_path, clips, slot_of_view, box_of_view):
    """The video teacher's logits of `clips` on one view, from the store's frames, its network and the crop code."""
    best = run / "teachers" / "best.pt"
    saved = load_checkpoint(best if best.exists() else run / "teachers" / "last.pt")
    arch = arch_from_dict(saved["arch"])
    teacher = classifier_stage(arch)
    teacher.net.load_state_dict({k[len("net."):]: v for k, v in saved["model"].items() if k.startswith("net.")})
    teacher.eval()
    store = open_store(store_path)
    loaded = segment_slots(store.segments, store.candidates, arch.segments)
    frames = torch.from_numpy(store.frames(clips)[:, loaded[slot_of_view(arch.segments, store.candidates)]])
    height, width = store.layout.frame_size
    boxes = box_of_view(len(clips), height, width)
    theta = torch.from_numpy(crop_affine(boxes, np.zeros(len(clips), dtype=bool), height, width))
    video = input_normalizer(arch.backbone)(crop_resize(frames, theta, arch.crop_size))
    return teacher.net(video).logits.numpy()


def test_one_view_is_todays_evaluation(vskd_run, trainer_utd_store, tmp_path):
    output, saved = _evaluate(vskd_run, tmp_path / "one.npz", "--test-clips", "1", "--test-crops", "1")
    default_output, default = _evaluate(vskd_run, tmp_path / "default.npz")
    assert output == default_output and "views" not in output
    assert saved.keys() == default.keys() and all(np.array_equal(saved[k], default[k]) for k in saved)
    eval_crop = RunOptions.from_dict(read_config(vskd_run)["options"]).data.eval_crop
    today = _oracle_logits(vskd_run, trainer_utd_store, saved["teachers/rows"], centre_candidates,
                           lambda n, h, w: centre_boxes(n, h, w, eval_crop))  # the centre candidate and crop
    assert np.array_equal(saved["teachers/logits/video"], today)
    assert not any(p.name.endswith("views.json") for p in vskd_run.iterdir())


def test_views_average_the_logits_of_each_view(vskd_run, trainer_utd_store, tmp_path):
    clips, crops = 2, 3
    output, saved = _evaluate(vskd_run, tmp_path / "views.npz", "--test-clips", str(clips), "--test-crops", str(crops))
    _, single = _evaluate(vskd_run, tmp_path / "single.npz")
    rows = saved["teachers/rows"]
    assert np.array_equal(rows, single["teachers/rows"])
    eval_crop = RunOptions.from_dict(read_config(vskd_run)["options"]).data.eval_crop
    per_view = [_oracle_logits(vskd_run, trainer_utd_store, rows,
                               lambda s, k, v=v: view_candidates(v, clips, s, k),
                               lambda n, h, w, c=c: view_boxes(n, c, crops, h, w, eval_crop))
                for v in range(clips) for c in range(crops)]
    for i in range(len(per_view)):
        for j in range(i):
            assert not np.allclose(per_view[i], per_view[j], atol=1e-3)  # every view sees other pixels
    averaged = saved["teachers/logits/video"]
    assert np.allclose(averaged, np.mean(per_view, axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(averaged, single["teachers/logits/video"], atol=1e-3)
    teacher_lines = [line for line in output.splitlines() if line.startswith("teachers [video]")]
    assert len(teacher_lines) == 1 and teacher_lines[0].endswith(f"views {clips} clips x {crops} crops)")
    # the sensor student has no video: one line says so, and it is scored on its one input as before
    notes = [line for line in output.splitlines() if "do not apply" in line]
    assert len(notes) == 1 and notes[0].startswith("student: no video")
    assert np.array_equal(saved["student/logits/acc"], single["student/logits/acc"])
    summary = json.loads((vskd_run / f"evaluation-trial-best-{clips}x{crops}views.json").read_text())
    assert summary["teachers"]["views"] == {"clips": clips, "crops": crops}
    assert summary["student"]["views"] == {"clips": 1, "crops": 1}


def test_more_test_clips_than_stored_candidates_is_one_line(vskd_run, trainer_utd_store):
    candidates = open_store(trainer_utd_store).candidates
    result = CliRunner().invoke(cli, ["evaluate", "--run", str(vskd_run), "--test-clips", str(candidates + 1)])
    assert result.exit_code == 1 and (result.exception is None or isinstance(result.exception, SystemExit))
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {trainer_utd_store}")
    assert f"{candidates} candidate frames" in lines[0]
