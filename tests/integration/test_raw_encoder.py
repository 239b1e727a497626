"""The raw-signal encoder: the shared time grid and its augmentation, the ResNet-1D, and every recipe
that reads a sensor (SAKDN teachers, VSKD student, sensor2sensor) trained with --sensor-encoder raw."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli import cli
from pipeline.config import load_dataset
from pipeline.store import open_store
from training.data.loaders import build_data
from training.data.streams import augment_streams, grid_seconds, time_grid
from training.models.archs import arch_from_dict
from training.models.fusion import SensorTeachers
from training.models.raw1d import LogDynamics, RawEncoder
from training.recipes import build_stage
from training.recipes.common import stream_seconds
from training.run.config import resolve_options
from training.run.evaluate import evaluate_run
from training.run.train import run_training

UTD = "synthetic-utd-mhad"
TINY = dict(epochs=1, batch_size=4, lr=1e-3, optimizer="adam", crop_size=32, segments=2, backbone="resnet18",
            device="cpu", progress=False, baseline=False, overwrite=True, loader_workers=0, sensor_encoder="raw")
RANGES = np.array([[-2.0, 2.0]] * 3)


def _ramps(durations, samples=50):
    """Takes whose axis c rises linearly from 0 to (c + 1) * 0.5 g over the take's duration."""
    signal = np.stack([np.linspace(0.0, 1.0, samples)[:, None] * (np.arange(3) + 1) * 0.5 for _ in durations])
    return signal.astype(np.float32), np.asarray(durations, dtype=np.float32)


def test_time_grid_keeps_duration_and_the_physical_scale():
    signal, durations = _ramps([2.05, 5.05, 10.0])
    grid = time_grid(signal, durations, seconds=8.0, length=80, axis_ranges=RANGES)   # 0.1 s per point
    assert grid.shape == (3, 4, 80) and grid.dtype == np.float32
    assert grid[:, 3].sum(axis=1).tolist() == [21, 51, 80]       # points with t <= d; 10 s is cut at 8 s
    t = np.arange(80) * 0.1
    for n, d in enumerate(durations):
        inside = t <= d
        for c in range(3):
            value_g = (c + 1) * 0.5 * t[inside] / d                   # the ramp at the grid times, in g
            np.testing.assert_allclose(grid[n, c, inside], value_g / 2.0, atol=1e-5)   # [-2, 2] g -> [-1, 1]
            assert not grid[n, c, ~inside].any()
    assert grid_seconds(np.array([3.2, 12.01])) == 13.0


def test_augmentation_shifts_forward_and_scales_each_axis_within_bounds():
    signal, durations = _ramps([2.05, 4.05, 6.05, 3.05])
    grid = torch.from_numpy(time_grid(signal, durations, 8.0, 80, RANGES))
    out = augment_streams(grid, np.random.default_rng(0), scale=0.1, shift=0.25)
    starts = []
    for n in range(4):
        start = int(torch.nonzero(out[n, 3])[0])
        length = int(grid[n, 3].sum())
        starts.append(start)
        assert 0 <= start <= 20 and not out[n, :, :start].any()
        assert torch.equal(out[n, 3, start:start + length], torch.ones(length))
        ratio = out[n, :3, start + 1:start + length] / grid[n, :3, 1:length]
        assert torch.all((ratio >= 0.9 - 1e-6) & (ratio <= 1.1 + 1e-6))
        assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))  # one factor per take and axis
    assert len(set(starts)) > 1


def test_rotation_turns_each_take_rigidly_by_at_most_the_angle_and_keeps_the_padding():
    signal = np.random.default_rng(0).uniform(-1.5, 1.5, size=(4, 50, 3)).astype(np.float32)
    grid = torch.from_numpy(time_grid(signal, np.array([2.05, 4.05, 6.05, 3.05]), 8.0, 80, RANGES)).double()
    out = augment_streams(grid, np.random.default_rng(1), scale=0.0, shift=0.0, rotation=30.0)
    assert torch.equal(out[:, 3], grid[:, 3]) and not (out[:, :3] * (1 - grid[:, 3:4])).any()
    for n in range(4):
        inside = grid[n, 3] > 0
        before, after = grid[n, :3, inside], out[n, :3, inside]
        matrix = torch.linalg.lstsq(before.T, after.T).solution.T  # after = R before, one R per take
        assert torch.allclose(matrix @ matrix.T, torch.eye(3, dtype=matrix.dtype), atol=1e-6)
        angle = torch.rad2deg(torch.arccos(((torch.trace(matrix) - 1) / 2).clamp(-1, 1)))
        assert 0 < angle <= 30 + 1e-4
    assert torch.equal(augment_streams(grid, np.random.default_rng(1), scale=0.0, shift=0.0), grid)


def test_raw_encoder_taps_follow_time_and_both_input_forms_agree():
    net = RawEncoder(num_classes=5, embed_dim=16).eval()
    x = torch.randn(2, 4, 64)
    out = net(x)
    assert out.logits.shape == (2, 5) and out.embedding.shape == (2, 16)
    assert {k: tuple(v.shape) for k, v in out.taps.items()} == {
        "block1": (2, 32, 1, 32), "block2": (2, 64, 1, 16), "block3": (2, 128, 1, 8), "block4": (2, 256, 1, 4)}
    assert torch.equal(net(x.unsqueeze(2)).logits, out.logits)
    with pytest.raises(ValueError, match="T >= 16"):
        net(torch.randn(2, 4, 8))


def test_log_dynamics_adds_each_axis_motion_about_its_take_mean_on_a_log_scale_and_keeps_the_padding():
    rng = np.random.default_rng(0)
    lengths = (40, 64)
    x = np.zeros((2, 4, 1, 64), dtype=np.float32)
    for n, length in enumerate(lengths):
        x[n, :3, 0, :length] = 0.5 + 0.01 * rng.normal(size=(3, length))
        x[n, 3, 0, :length] = 1.0
    out = LogDynamics(eps=0.0025)(torch.from_numpy(x)).numpy()
    assert out.shape == (2, 7, 1, 64) and np.array_equal(out[:, :4], x)
    for n, length in enumerate(lengths):
        motion = x[n, :3, 0, :length] - x[n, :3, 0, :length].mean(axis=1, keepdims=True)
        expected = np.sign(motion) * np.log1p(np.abs(motion) / 0.0025)
        np.testing.assert_allclose(out[n, 4:, 0, :length], expected, rtol=1e-4, atol=1e-4)
        assert not out[n, 4:, 0, length:].any()


def test_an_encoder_with_log_dynamics_reads_seven_channels_from_the_same_stream():
    x = torch.randn(2, 4, 64)
    net = RawEncoder(num_classes=5, embed_dim=16, log_dynamics=True)
    assert isinstance(net.stages["block1"][0][1], LogDynamics) and net.stages["block1"][0][2].in_channels == 7
    assert net(x).logits.shape == (2, 5) and RawEncoder(5, 16).stages["block1"][0][1].in_channels == 4
    teachers = SensorTeachers(["acc", "gyro"], num_classes=3, embed_dim=8, encoder="raw", log_dynamics=True)
    assert all(t.log_dynamics for t in teachers.nets.values())


def test_raw_teachers_fuse_with_spamfm_at_every_stage():
    teachers = SensorTeachers(["acc", "gyro"], num_classes=3, embed_dim=8, encoder="raw")
    assert teachers.fusion_stages == ["block1", "block2", "block3", "block4", "fc6", "fc7"]
    out = teachers({"acc": torch.randn(4, 4, 64), "gyro": torch.randn(4, 4, 64)})
    assert out.logits.shape == (4, 3) and out.taps["gyro.block4"].shape == (4, 256, 1, 4)


def test_spamfm_stages_choose_where_the_teachers_fuse_and_travel_with_the_checkpoint(trainer_utd_store):
    from training.recipes.common import RecipeError

    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    options = resolve_options(UTD, "sensor2vision", stage="teachers", store=trainer_utd_store,
                              spamfm_stages=("fc7",), **TINY)
    stage = build_stage("teachers", store, spec, options, None)
    assert stage.net.fusion_stages == ["fc7"] and list(stage.net.fusion) == ["fc7"]
    assert arch_from_dict(stage.arch.to_dict()).build().fusion_stages == ["fc7"]
    assert arch_from_dict({**stage.arch.to_dict(), "fusion_stages": []}).build().fusion_stages[0] == "block1"
    wrong = resolve_options(UTD, "sensor2vision", stage="teachers", store=trainer_utd_store,
                            spamfm_stages=("block5",), **TINY)
    with pytest.raises(RecipeError, match="--spamfm-stages: unknown fusion stages .'block5'."):
        build_stage("teachers", store, spec, wrong, None)


def test_log_dynamics_reaches_the_raw_teachers_and_students_of_the_recipes_and_not_the_gaf_ones(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    teachers = build_stage("teachers", store, spec, resolve_options(UTD, "sensor2vision", stage="teachers",
                                                                    store=trainer_utd_store, log_dynamics=True,
                                                                    **TINY), None)
    assert teachers.arch.log_dynamics and all(net.log_dynamics for net in teachers.net.nets.values())
    assert arch_from_dict(teachers.arch.to_dict()).build().nets["acc"].log_dynamics
    student = build_stage("student", store, spec, resolve_options(UTD, "vision2sensor", kd="none",
                                                                  store=trainer_utd_store, log_dynamics=True,
                                                                  **TINY), None)
    assert student.arch.log_dynamics and student.net.log_dynamics
    gaf = build_stage("student", store, spec, resolve_options(UTD, "vision2sensor", kd="none", store=trainer_utd_store,
                                                              log_dynamics=True, **{**TINY, "sensor_encoder": "gaf"}),
                      None)
    assert not gaf.arch.log_dynamics


@pytest.mark.parametrize("rate", [None, 10.0])
def test_the_loader_feeds_streams_of_the_same_takes(trainer_utd_store, rate):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    options = resolve_options(UTD, "vision2sensor", kd="none", store=trainer_utd_store, stream_rate=rate, **TINY)
    stage = build_stage("student", store, spec, options, None)
    seconds = stage.stream_seconds
    durations = [store.sensor_info(m)["duration_s"] for m in store.modalities]  # one grid for the whole store
    assert seconds == stream_seconds(store) == grid_seconds(np.concatenate(durations))
    data = build_data(store, spec, dataclasses.replace(options.data, stream_seconds=seconds), stage.unit,
                      stage.train_needs, stage.eval_needs, 4, torch.device("cpu"))
    batch = next(iter(data.test.epoch(0)))
    info = store.sensor_info("acc")
    length = store.layout.signal_length if rate is None else round(seconds * rate)  # --stream-rate: points per s
    expected = time_grid(store.signal("acc", batch.take), info["duration_s"][batch.take], seconds,
                         length, np.asarray(spec.sensors["acc"].range))
    assert torch.equal(batch.sensors["acc"], torch.from_numpy(expected))
    train = next(iter(data.train.epoch(0)))
    stored = time_grid(store.signal("acc", train.take), info["duration_s"][train.take], seconds,
                       length, np.asarray(spec.sensors["acc"].range))
    assert not torch.equal(train.sensors["acc"], torch.from_numpy(stored))              # augmented
    assert torch.equal(train.sensors["acc"][:, 3].sum(1), torch.from_numpy(stored[:, 3].sum(1)))


def _train(store, runs, mode, name, **overrides):
    options = resolve_options(UTD, mode, name=name, runs_dir=runs, store=store, **{**TINY, **overrides})
    run_training(options)
    return options.run_dir


def _record(stage_dir):
    return json.loads((stage_dir / "metrics.jsonl").read_text().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("raw-runs")


def test_sakdn_distils_raw_teachers_into_the_video_student_with_every_term(trainer_utd_store, runs):
    run = _train(trainer_utd_store, runs, "sensor2vision", "sakdn-raw")
    arch = torch.load(run / "teachers" / "best.pt", map_location="cpu", weights_only=False)["arch"]
    assert arch["encoder"] == "raw" and arch["stream_seconds"] > 0
    terms = _record(run / "student")["train"]
    assert {"ce", "st", "gsdm", "semantic"} <= set(terms) and all(np.isfinite(terms[t]) for t in ("st", "gsdm", "semantic"))


def test_vskd_distils_the_video_teacher_into_a_raw_student(trainer_utd_store, runs):
    run = _train(trainer_utd_store, runs, "vision2sensor", "vskd-raw", student_modality="gyro")
    assert torch.load(run / "student" / "best.pt", map_location="cpu", weights_only=False)["arch"]["kind"] == "raw1d"
    assert set(_record(run / "student")["train"]) - {"loss", "accuracy"} == {"ce", "st", "distance", "angle", "semantic"}


def test_sensor2sensor_raw_student_evaluates_as_trained_and_refuses_gaf_teachers(trainer_utd_store, runs):
    run = _train(trainer_utd_store, runs, "sensor2sensor", "s2s-raw", student_modality="gyro")
    final = json.loads((run / "student" / "results.json").read_text())["final"]["test"]["gyro"]["accuracy"]
    evaluated = {e.stage: e for e in evaluate_run(run, checkpoint="last")}["student"]
    assert evaluated.scores["gyro"].accuracy == pytest.approx(final)
    gaf = _train(trainer_utd_store, runs, "sensor2sensor", "s2s-gaf", stage="teachers", sensor_encoder="gaf")
    result = CliRunner().invoke(cli, ["train", "--mode", "sensor2sensor", "--dataset", UTD, "--stage", "student",
                                      "--store", str(trainer_utd_store), "--runs-dir", str(runs), "--teachers",
                                      str(gaf), "--sensor-encoder", "raw", "--device", "cpu", "--quiet",
                                      "--no-baseline", "--epochs", "1"])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        f"Error: {gaf}: teachers read gaf sensor inputs, the student --sensor-encoder raw; train both with one encoder"]
