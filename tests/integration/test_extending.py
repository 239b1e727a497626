"""docs/extending.md: a new distillation loss, a new video backbone, a new sensor encoder and a new mode,
each one class (or builder) and one registry entry, train and evaluate from the command line like the
shipped ones."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch.nn.functional as F
from click.testing import CliRunner
from torch import Tensor, nn

from cli import cli
from training.distill.losses import KD_BASELINES, KDBaseline
from training.models.archs import OneSensorArch, Raw1DArch, ResNetArch
from training.models.encoders import SENSOR_ENCODERS, SensorEncoder
from training.models.output import NetOutput
from training.models.trn import VIDEO_BACKBONES, VideoBackbone
from training.models.vgg import VGG16BN
from training.options import KD_NONE
from training.recipes import RECIPES, Recipe
from training.recipes.classifiers import SensorClassifier
from training.recipes.common import load_frozen, teachers_run
from training.recipes.vskd import student_network

from trainer_helpers import SensorFromSensor


UTD = "synthetic-utd-mhad"


class CosineEmbedding(nn.Module):
    """L = mean_b (1 - cos(s_b, t_b)) between the student's and the (detached) teacher's embeddings."""

    def forward(self, student: NetOutput, teacher: NetOutput, **context) -> Tensor:
        return (1 - F.cosine_similarity(student.embedding, teacher.embedding.detach(), dim=1)).mean()


class TinyFrames(nn.Module):
    """Five conv stages, each halving the side: (N, 3, H, W) -> ((N, 16) pooled, {stage: (N, 16, h, w)})."""

    stage_names = ("s1", "s2", "s3", "s4", "s5")
    out_dim = 16

    def __init__(self):
        super().__init__()
        self.stages = nn.ModuleList(nn.Sequential(nn.Conv2d(3 if i == 0 else 16, 16, 3, stride=2, padding=1), nn.ReLU())
                                    for i in range(len(self.stage_names)))

    def features(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        maps = {}
        for name, stage in zip(self.stage_names, self.stages):
            x = maps[name] = stage(x)
        return x.mean(dim=(2, 3)), maps


def resnet50_on_gaf(num_classes: int, embed_dim: int, modality: str, gaf_size: int | None,
                    stream_seconds: float | None) -> OneSensorArch:
    """The student arch of the "gaf50" encoder: a ResNet50 on the GAF images."""
    return ResNetArch(num_classes=num_classes, embed_dim=embed_dim, modality=modality, gaf_size=gaf_size, depth=50)


def one_sensor_teacher(store, spec, options) -> SensorClassifier:
    """Stage 1 of "sensor2one": a CE network on the first --teacher-modalities sensor."""
    return student_network(store, spec, dataclasses.replace(options, student_modality=options.modalities[0]))


def one_sensor_student(store, spec, options, teachers_dir) -> SensorClassifier:
    """Stage 2 of "sensor2one": the --student-modality network, distilled unless --kd none."""
    baseline = student_network(store, spec, options)
    if options.kd == KD_NONE:
        return baseline
    teacher, _ = load_frozen(teachers_run(teachers_dir), Raw1DArch, spec, store)
    return SensorFromSensor(baseline, teacher, options.modalities[0], options)


SENSOR2ONE = Recipe(one_sensor_teacher, one_sensor_student,
                    teachers_title=lambda stage, options: f"one-sensor teacher ({stage.arch.modality})",
                    student_title=lambda stage, options: f"one-sensor student ({stage.arch.modality})",
                    ablatable=("st",), optimizers={"teacher": ("adam", 0.0), "student": ("adam", 0.0)})


@pytest.fixture
def extended(monkeypatch):
    """The registry entries docs/extending.md adds (removed again after the test)."""
    monkeypatch.setitem(RECIPES, "sensor2one", SENSOR2ONE)
    monkeypatch.setitem(SENSOR_ENCODERS, "gaf50", SensorEncoder(VGG16BN, resnet50_on_gaf, reads_stream=False,
                                                                teacher_name="VGG16-BN", student_name="ResNet50",
                                                                input_name="GAF"))
    monkeypatch.setitem(KD_BASELINES, "cosine", KDBaseline(lambda inputs: CosineEmbedding(), weight=2.0))
    monkeypatch.setitem(VIDEO_BACKBONES, "tiny", VideoBackbone(TinyFrames, gsdm_taps=TinyFrames.stage_names,
                                                              normalization="imagenet"))


def _invoke(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_new_backbone_and_a_new_loss_train_and_evaluate_from_the_command_line(extended, trainer_utd_store,
                                                                                tmp_path):
    assert "tiny" in _invoke(["train", "--help"]) and "cosine" in _invoke(["train", "--help"])
    common = ["--mode", "vision2sensor", "--dataset", UTD, "--store", str(trainer_utd_store), "--runs-dir",
              str(tmp_path), "--epochs", "1", "--batch-size", "4", "--crop-size", "32", "--segments", "2",
              "--device", "cpu", "--quiet", "--no-baseline"]
    _invoke(["train", *common, "--stage", "teachers", "--backbone", "tiny", "--name", "tiny-video"])
    scored = _invoke(["evaluate", "--run", str(tmp_path / "tiny-video")])
    assert "TRN-tiny" in (tmp_path / "tiny-video" / "results.md").read_text() and "video" in scored

    _invoke(["train", *common, "--stage", "student", "--kd", "cosine", "--teachers", str(tmp_path / "tiny-video"),
             "--student-modality", "acc", "--name", "cosine"])
    record = json.loads((tmp_path / "cosine" / "student" / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0 < record["train"]["kd_cosine"] <= 2.0 * 2 and record["grad_norm"]["kd_cosine"] > 0
    assert "KD cosine" in (tmp_path / "cosine" / "results.md").read_text()


def test_a_new_sensor_encoder_trains_and_evaluates_from_the_command_line(extended, trainer_utd_store, tmp_path):
    assert "gaf50" in _invoke(["train", "--help"])
    _invoke(["train", "--mode", "vision2sensor", "--dataset", UTD, "--store", str(trainer_utd_store), "--runs-dir",
             str(tmp_path), "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--quiet", "--no-baseline",
             "--stage", "student", "--kd", "none", "--sensor-encoder", "gaf50", "--student-modality", "acc",
             "--name", "gaf50"])
    assert "ResNet50" in (tmp_path / "gaf50" / "results.md").read_text()
    assert "acc" in _invoke(["evaluate", "--run", str(tmp_path / "gaf50")])


def test_a_new_mode_trains_both_stages_and_evaluates_from_the_command_line(extended, trainer_utd_store, tmp_path):
    assert "sensor2one" in _invoke(["train", "--help"])
    _invoke(["train", "--mode", "sensor2one", "--dataset", UTD, "--store", str(trainer_utd_store), "--runs-dir",
             str(tmp_path), "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--quiet", "--no-baseline",
             "--sensor-encoder", "raw", "--teacher-modalities", "acc", "--student-modality", "gyro",
             "--weight", "st=2", "--name", "one"])
    results = (tmp_path / "one" / "results.md").read_text()
    assert "one-sensor teacher (acc)" in results and "one-sensor student (gyro)" in results
    record = json.loads((tmp_path / "one" / "student" / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(record["train"]) == {"loss", "accuracy", "ce", "st"} and record["train"]["st"] > 0
    assert "gyro" in _invoke(["evaluate", "--run", str(tmp_path / "one")])


def test_without_the_entries_the_names_are_refused(trainer_utd_store, tmp_path):
    result = CliRunner().invoke(cli, ["train", "--mode", "vision2sensor", "--dataset", UTD, "--kd", "cosine"])
    assert result.exit_code == 2 and "'cosine' is not one of" in result.output
