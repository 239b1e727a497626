"""The study: paired gains with a Student-t interval, stratified training fractions, and a real
two-seed study on a tiny store whose rows, gains and JSON are what the table reports."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats
from trainer_helpers import train_sensor_baseline

from cli import cli
from pipeline.store import open_store
from training.data.loaders import stratified_subset
from training.run.study import paired_gain

UTD = "synthetic-utd-mhad"


def test_paired_gain_is_the_t_interval_of_the_per_seed_differences():
    student, baseline = [0.80, 0.76, 0.90, 0.85], [0.70, 0.72, 0.81, 0.80]
    gain = paired_gain(student, baseline)
    d = np.subtract(student, baseline)
    low, high = stats.ttest_rel(student, baseline).confidence_interval(0.95)
    assert gain["difference"] == pytest.approx(d.tolist())
    assert gain["mean"] == pytest.approx(d.mean()) and gain["ci95"] == pytest.approx([low, high])
    assert gain["ci95"][0] > 0                              # a consistent gain excludes zero
    assert paired_gain([0.5], [0.4])["ci95"] is None        # one seed gives no interval


def test_stratified_subset_keeps_each_class_and_is_nested():
    takes = np.repeat(np.arange(40), 2)                     # two clips per take
    labels = np.repeat(np.arange(40) % 4, 2)
    half = stratified_subset(takes, labels, 0.5, seed=3)
    quarter = stratified_subset(takes, labels, 0.25, seed=3)
    for mask, per_class in ((half, 5), (quarter, 2)):       # 10 takes per class: round(5), round(2.5) = 2
        kept = np.unique(takes[mask])
        assert all((np.unique(kept % 4, return_counts=True)[1] == per_class))
        assert np.array_equal(np.isin(takes, kept), mask)   # every clip of a kept take is kept
    assert not (quarter & ~half).any()                      # 1/4 lies inside 1/2
    assert not np.array_equal(stratified_subset(takes, labels, 0.5, seed=4), half)
    assert stratified_subset(takes, labels, 1.0, seed=3).all()


def test_train_fraction_reaches_the_selection(trainer_sensor_store, tmp_path):
    run = train_sensor_baseline(trainer_sensor_store, tmp_path, "half", "--epochs", "1", "--batch-size", "2",
                                "--train-fraction", "0.5")
    selection = json.loads((run / "student" / "results.json").read_text())["selection"]
    store = open_store(trainer_sensor_store)
    full = int((np.isin(store.takes["trial"], [1, 2])).sum())
    assert selection["rows"]["train"] + selection["rows"]["val"] < full     # half of the non-val training takes


@pytest.mark.slow
def test_two_seed_study_reports_rows_and_paired_gains(trainer_utd_store, tmp_path):
    out = tmp_path / "study.json"
    result = CliRunner().invoke(cli, [
        "study", "--dataset", UTD, "--seeds", "2", "--runs-dir", str(tmp_path), "--json", str(out), "--quiet",
        "--ablate", "st", "--set", f"store={trainer_utd_store}", "--set", "epochs=1", "--set", "batch_size=4",
        "--set", "crop_size=32", "--set", "segments=2", "--set", "backbone=resnet18", "--set", "device=cpu",
        "--set", "modalities=[acc, gyro]"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {r["key"]: r for r in report["rows"]}
    for key in ("sakdn.teachers_fused", "sakdn.video_baseline", "sakdn.student", "sakdn.student-st",
                "vskd.video_teacher", "vskd.sensor_baseline", "vskd.student", "classical.fused", "classical.acc"):
        assert len(rows[key]["accuracy"]) == 2 and len(rows[key]["macro_f1"]) == 2, key
    gains = {(g["student"], g["baseline"]): g for g in report["gains"]}
    sakdn = gains[("sakdn.student", "sakdn.video_baseline")]
    expected = np.subtract(rows["sakdn.student"]["accuracy"], rows["sakdn.video_baseline"]["accuracy"])
    assert sakdn["difference"] == pytest.approx(expected.tolist()) and len(sakdn["ci95"]) == 2
    assert ("vskd.student", "vskd.sensor_baseline") in gains and ("sakdn.student-st", "sakdn.video_baseline") in gains
    assert "gain sakdn.student over sakdn.video_baseline" in result.output and report["seconds"] > 0
    again = CliRunner().invoke(cli, ["study", "--dataset", UTD, "--seeds", "2", "--runs-dir", str(tmp_path), "--quiet",
                                     "--ablate", "st", "--set", f"store={trainer_utd_store}", "--set", "epochs=1",
                                     "--set", "batch_size=4", "--set", "crop_size=32", "--set", "segments=2",
                                     "--set", "backbone=resnet18", "--set", "device=cpu",
                                     "--set", "modalities=[acc, gyro]"])
    assert again.exit_code == 0 and "training" not in again.output and "reusing" in again.output


@pytest.mark.slow
def test_sensor2sensor_study_gives_each_sensor_a_paired_gain(trainer_utd_store, tmp_path):
    out = tmp_path / "s2s.json"
    result = CliRunner().invoke(cli, [
        "study", "--dataset", UTD, "--methods", "sensor2sensor", "--student-modalities", "acc,gyro", "--seeds", "2",
        "--train-fractions", "1,0.5", "--runs-dir", str(tmp_path), "--json", str(out), "--quiet",
        "--set", f"store={trainer_utd_store}", "--set", "epochs=1", "--set", "batch_size=4", "--set", "device=cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {r["key"]: r for r in report["rows"]}
    for m in ("acc", "gyro"):
        for key in (f"s2s.{m}.baseline", f"s2s.{m}.student", f"s2s.{m}.student@0.5", f"classical.{m}"):
            assert len(rows[key]["accuracy"]) == 2, key
    assert not any(k.startswith(("vskd.", "sakdn.video", "sakdn.student")) for k in rows)
    gains = {g["student"]: g["baseline"] for g in report["gains"]}
    assert gains == {f"s2s.{m}.student{f}": f"s2s.{m}.baseline{f}" for m in ("acc", "gyro") for f in ("", "@0.5")}


def test_set_values_parse_numbers_lists_and_paths():
    from training.options import OptionsError, parse_settings, parse_variant

    parsed = parse_settings(("teacher_lr=3e-4", "epochs=2", "modalities=[acc, gyro]", "store=/tmp/x.zarr", "flip=false"))
    assert parsed == {"teacher_lr": 3e-4, "epochs": 2, "modalities": ("acc", "gyro"), "store": "/tmp/x.zarr",
                      "flip": False}
    assert parse_variant("kd1:alpha=1,modalities=[acc, gyro]") == ("kd1", {"alpha": 1, "modalities": ("acc", "gyro")})
    for bad in ("kd1", "kd1:", ":alpha=1", "kd1:alpha"):
        with pytest.raises(OptionsError, match="expected"):
            parse_variant(bad)


def test_a_raw_signal_study_names_its_networks_runs_variants_and_reuses_runs(trainer_utd_store, tmp_path):
    out = tmp_path / "raw.json"
    args = ["study", "--dataset", UTD, "--methods", "sensor2sensor", "--student-modalities", "gyro", "--seeds", "1",
            "--runs-dir", str(tmp_path), "--json", str(out), "--quiet", "--set", f"store={trainer_utd_store}",
            "--set", "epochs=1", "--set", "batch_size=4", "--set", "device=cpu", "--set", "sensor_encoder=raw",
            "--set", "ablate=[spamfm]", "--variant", "kd1:alpha=1,gamma=0,modalities=[acc, gyro]"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["sakdn.teachers_fused"]["model"] == "SAKDN sensor teachers (raw-signal ResNet-1D, logits averaged, fused)"
    variant = yaml.safe_load((tmp_path / "study" / "s2s-student-gyro-kd1-s0" / "config.yaml").read_text())["options"]
    assert (variant["weights"]["st"], variant["weights"]["semantic"]) == (1, 0) and variant["student_modality"] == "gyro"
    assert rows["s2s.gyro.student-kd1"]["model"].endswith("(raw-signal ResNet-1D + DASK) (kd1)")
    assert {g["student"]: g["baseline"] for g in report["gains"]}["s2s.gyro.student-kd1"] == "s2s.gyro.baseline"
    config_path = tmp_path / "study" / "s2s-baseline-gyro-s0" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    del config["options"]["data"]["shuffle"]  # as a run trained before the field existed
    config_path.write_text(yaml.safe_dump(config))
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "training" not in again.output and "reusing" in again.output
    bad = CliRunner().invoke(cli, ["study", "--dataset", UTD, "--methods", "sensor2sensor", "--variant", "x:no_such=1"])
    assert bad.exit_code != 0 and "no_such" in bad.output
    assert rows["s2s.gyro.baseline"]["input"] == rows["s2s.gyro.student"]["input"] == "gyro stream"
    assert "ResNet-1D + DASK" in rows["s2s.gyro.student"]["model"] and "classical.gyro" in rows


def test_a_study_on_a_protocol_family_runs_every_fold_and_pairs_by_fold(trainer_utd_store, tmp_path, monkeypatch):
    from pipeline.config import DATASETS_ENV, datasets_file

    entries = yaml.safe_load(datasets_file().read_text())
    entries[UTD]["protocols"] = {"loso": {"leave_one_out": "subject", "over": [1, 2, 3]}}
    entries[UTD]["default_protocol"] = "loso"
    (tmp_path / "datasets.yaml").write_text(yaml.safe_dump(entries))
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "datasets.yaml"))
    out = tmp_path / "loso.json"
    result = CliRunner().invoke(cli, [
        "study", "--dataset", UTD, "--methods", "sensor2sensor", "--student-modalities", "gyro", "--seeds", "1",
        "--runs-dir", str(tmp_path), "--json", str(out), "--markdown", str(tmp_path / "loso.md"), "--quiet",
        "--set", f"store={trainer_utd_store}", "--set", "epochs=1", "--set", "batch_size=4", "--set", "device=cpu",
        "--set", "sensor_encoder=raw", "--set", "ablate=[spamfm]"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["folds"] == ["loso-1", "loso-2", "loso-3"]
    rows = {r["key"]: r for r in report["rows"]}
    for key in ("sakdn.teachers_fused", "s2s.gyro.baseline", "s2s.gyro.student", "classical.gyro"):
        assert len(rows[key]["accuracy"]) == 3, key
    for fold in report["folds"]:
        options = yaml.safe_load((tmp_path / "study" / f"s2s-student-gyro-{fold}-s0" / "config.yaml").read_text())
        assert options["options"]["data"]["protocol"] == fold
        assert options["options"]["teachers"].endswith(f"sakdn-teachers-{fold}-s0")
    gain = next(g for g in report["gains"] if g["student"] == "s2s.gyro.student")
    assert len(gain["difference"]) == 3
    assert "3 folds (loso-1 ... loso-3) x 1 seeds" in (tmp_path / "loso.md").read_text()
    assert "per fold and seed" in (tmp_path / "loso.md").read_text()
