"""inspect: text and JSON summaries of a prepared store, and the PNG rendering of one take."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from pipeline.prepare import PrepareOptions, prepare
from pipeline.synthetic import write_dataset


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache holding a synthetic UTD store (trials 1-4) and a synthetic MMAct store with quirks."""
    base = tmp_path_factory.mktemp("inspect")
    utd = write_dataset("utd-mhad", base / "utd", subjects=2, takes=4, classes=[0, 2], seed=3, frame_size=(48, 64))
    mmact = write_dataset("mmact", base / "mmact", subjects=1, takes=2, classes=[0, 1], seed=3, quirks=True,
                          frame_size=(48, 64))
    for dataset, summary in (("synthetic-utd-mhad", utd), ("synthetic-mmact", mmact)):
        prepare(PrepareOptions(dataset=dataset, root=summary.root, cache=base / "cache", frame_size=(24, 32),
                               progress=False))
    return base / "cache"


def run(*args):
    result = CliRunner().invoke(cli, ["inspect", *args])
    return result.exit_code, result.output


def test_text_summary(cache):
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache))
    assert code == 0, out
    assert "takes 16 (ok 16, failed 0, pending 0)" in out
    for name in ("video/frames", "sensors/acc/gaf", "sensors/gyro/signal", "takes/subject", "classes/embedding"):
        assert name in out
    assert "(16, 24, 24, 32, 3)" in out and "float16" in out
    assert "right arm swipe to the left" in out and "right hand wave" in out
    assert "trial" in out and "subject" in out
    code, as_json = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--json")
    stored = json.loads(as_json)["stored_bytes"]
    number, unit = re.search(r"on disk (\d+\.\d) (KiB|MiB|GiB)\n", out).groups()  # binary units, one decimal
    scale = 1024 ** ("KMG".index(unit[0]) + 1)
    assert abs(float(number) * scale - stored) <= 0.05 * scale
    assert not re.search(r"\d [KMG]B\b", out)


def test_json_summary_counts(cache, tmp_path):
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--json")
    assert code == 0, out
    moved = tmp_path / "elsewhere.zarr"  # named with --store, as train and evaluate name a store
    (cache / "synthetic-utd-mhad.zarr").rename(moved)
    try:
        code, elsewhere = run("--dataset", "synthetic-utd-mhad", "--store", str(moved), "--json")
        assert code == 0 and out.replace(str(cache / "synthetic-utd-mhad.zarr"), str(moved)) == elsewhere
    finally:
        moved.rename(cache / "synthetic-utd-mhad.zarr")
    summary = json.loads(out)
    arrays = {a["name"]: a for a in summary["arrays"]}
    assert arrays["sensors/acc/gaf"]["shape"] == [16, 3, 64, 64] and arrays["sensors/acc/gaf"]["dtype"] == "float16"
    frames = arrays["video/frames"]
    assert frames["chunks"] == [1, 1, 24, 32, 3] and frames["stored_bytes"] > 0  # one slot per chunk
    assert frames["ratio"] == pytest.approx(frames["raw_bytes"] / frames["stored_bytes"], rel=0.01)
    assert summary["stored_bytes"] >= sum(a["stored_bytes"] for a in summary["arrays"])
    # trial protocol: trials 1-2 train, 3-4 test; 2 subjects x 2 classes x 4 trials
    assert summary["protocols"]["trial"] == {"train_takes": 8, "test_takes": 8, "train_clips": 8, "test_clips": 8}
    assert summary["protocols"]["subject"]["train_takes"] == 8  # subject 1 train, subject 2 test
    per_class = {c["name"]: c["takes"] for c in summary["classes"] if c["takes"]}
    assert per_class == {"right arm swipe to the left": 8, "right hand wave": 8}
    assert summary["failed"] == [] and summary["complete"]


def test_failures_and_clip_protocols_listed(cache):
    code, out = run("--dataset", "synthetic-mmact", "--cache", str(cache), "--json")
    summary = json.loads(out)
    kinds = [f["kind"] for f in summary["failed"]]
    assert kinds.count("clip") == 1 and kinds.count("take") == 1  # the corrupt video, the empty CSV
    assert any("empty file" in f["reason"] for f in summary["failed"] if f["kind"] == "take")
    assert ".mp4" in summary["failed"][-1]["reason"]
    view = summary["protocols"]["cross-view"]
    assert view["train_takes"] is None  # cameras are a clip column
    assert view["train_clips"] + view["test_clips"] == summary["clips"]["ok"]
    code, text = run("--dataset", "synthetic-mmact", "--cache", str(cache))
    assert "2 failed recordings" in text and summary["failed"][-1]["reason"] in text


def test_takes_with_skipped_lines_listed(cache):
    """The synthetic MMAct watch CSV with a row cut short keeps its take: inspect counts it and lists the
    note on the skipped line (JSON and text); the UTD store has none."""
    code, out = run("--dataset", "synthetic-mmact", "--cache", str(cache), "--json")
    summary = json.loads(out)
    assert summary["takes"]["with_skipped_lines"] == 1 and len(summary["skipped_lines"]) == 1
    entry = summary["skipped_lines"][0]
    assert entry["key"] == "subject1/scene1/session1/carrying_heavy"
    assert re.fullmatch(r"acc_watch: skipped 1 malformed line of \d+ in \S+/acc_watch_clip/subject1/scene1/session1/"
                        r"carrying_heavy\.csv \(first: line \d+\)", entry["warning"]), entry["warning"]
    assert entry["key"] not in [f["key"] for f in summary["failed"]]
    code, text = run("--dataset", "synthetic-mmact", "--cache", str(cache))
    assert "), 1 with skipped lines;" in text
    assert f"1 take kept with skipped lines:\n  take {entry['key']}: {entry['warning']}" in text
    code, text = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache))
    assert "), 0 with skipped lines;" in text and "kept with skipped lines" not in text


def test_png_of_one_take(cache, tmp_path):
    png = tmp_path / "take.png"
    code, out = run("--dataset", "synthetic-mmact", "--cache", str(cache), "--id",
                    "subject1/scene1/session1/carrying", "--png", str(png))
    assert code == 0, out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    from PIL import Image

    image = np.asarray(Image.open(png))
    assert image.shape[0] > 400 and image.std() > 10
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--take", "3", "--png",
                    str(tmp_path / "t3.png"), "--json")
    assert code == 0 and json.loads(out)["take"]["index"] == 3 and (tmp_path / "t3.png").exists()


def test_bad_requests(cache, tmp_path):
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--id", "a9_s9_t9")
    assert code != 0 and "a9_s9_t9" in out
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--take", "99")
    assert code != 0 and "out of range" in out
    code, out = run("--dataset", "synthetic-utd-mhad", "--cache", str(cache), "--png", str(tmp_path / "x.png"))
    assert code != 0 and "--take" in out
    code, out = run("--dataset", "synthetic-berkeley-mhad", "--cache", str(tmp_path))
    assert code != 0 and "prepare" in out
