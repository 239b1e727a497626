"""prepare end to end on small synthetic trees: every layout, failures, resume, locking, schedulers."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import cli
from pipeline import store as zstore
from pipeline.gaf import gaf_images
from pipeline.prepare import PrepareError, PrepareOptions, prepare
from pipeline.store import StoreLock
from pipeline.synthetic import write_dataset

REPO = Path(__file__).resolve().parents[2]
RAW_SIZE = (48, 64)  # frame size of the synthetic raw videos
FRAME_SIZE = (24, 32)  # stored frame size


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """Raw synthetic trees: layout -> (root, SynthSummary); MMAct twice, with and without quirks."""
    base = tmp_path_factory.mktemp("raw")
    specs = {
        "utd-mhad": ("utd-mhad", dict(subjects=2, takes=2, classes=[0, 1], quirks=False)),
        "berkeley-mhad": ("berkeley-mhad", dict(subjects=2, takes=1, classes=[0, 1], quirks=False)),
        "mmact": ("mmact", dict(subjects=1, takes=2, classes=[0, 1], quirks=False)),
        "mmact-quirks": ("mmact", dict(subjects=1, takes=2, classes=[0, 1], quirks=True)),
    }
    return {name: write_dataset(layout, base / name, seed=1, frame_size=RAW_SIZE, **kw)
            for name, (layout, kw) in specs.items()}


def options(dataset, root, cache, **kw) -> PrepareOptions:
    kw.setdefault("frame_size", FRAME_SIZE)
    return PrepareOptions(dataset=dataset, root=root, cache=cache, progress=False, **kw)


def assert_stores_equal(a: Path, b: Path) -> None:
    """Same arrays (values, dtypes, chunks) and the same attrs, group and per array."""
    sa, sb = zstore.open_store(a), zstore.open_store(b)
    assert sa.attrs == sb.attrs
    assert sa.array_names() == sb.array_names()
    for name in sa.array_names():
        xa, xb = sa.array(name), sb.array(name)
        assert (xa.shape, xa.chunks, str(xa.dtype)) == (xb.shape, xb.chunks, str(xb.dtype)), name
        assert dict(xa.attrs) == dict(xb.attrs), name
        va, vb = xa[...], xb[...]
        if va.dtype.kind == "T":
            assert va.tolist() == vb.tolist(), name
        else:
            np.testing.assert_array_equal(va, vb, err_msg=name)


def test_utd_end_to_end(trees, tmp_path):
    summary = trees["utd-mhad"]
    result = CliRunner().invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(summary.root),
                                      "--cache", str(tmp_path), "--frame-size", "24x32", "--quiet",
                                      "--scheduler", "synchronous"])
    assert result.exit_code == 0, result.output
    store = zstore.open_store(tmp_path / "synthetic-utd-mhad.zarr")
    assert store.num_takes == summary.n_takes == 8 and store.num_clips == summary.n_clips == 8
    assert (store.takes["status"] == "ok").all() and (store.clips["status"] == "ok").all()
    assert store.modalities == ["acc", "gyro"] and store.attrs["complete"]
    assert sorted(set(store.takes["label"])) == [0, 1] and sorted(set(store.takes["trial"])) == [1, 2]
    gaf = store.gaf("acc")
    assert gaf.shape == (8, 3, 64, 64) and gaf.dtype == np.float16
    assert np.abs(gaf).max() <= 1.001 and gaf.std() > 0.1
    assert store.signal("gyro").shape == (8, 192, 3)
    info = store.sensor_info("acc")
    assert info["present"].all() and (info["nsamples"] > 10).all() and (info["duration_s"] > 0.5).all()
    frames = store.frames()
    assert frames.shape == (8, 24, 24, 32, 3) and frames.dtype == np.uint8
    assert (store.clips["nframes"] > 24).all() and frames.std() > 5
    assert store.class_embedding.shape == (27, 50) and np.abs(store.class_embedding).sum(axis=1).min() > 0
    assert store.embedding_attrs["tokens"][0] == ["right", "arm", "swipe", "to", "the", "left"]


def test_berkeley_end_to_end(trees, tmp_path):
    summary = trees["berkeley-mhad"]
    report = prepare(options("synthetic-berkeley-mhad", summary.root, tmp_path, workers=2))
    store = zstore.open_store(report.store_path)
    assert store.num_takes == summary.n_takes and store.num_clips == summary.n_clips >= store.num_takes
    assert not report.failed and (store.clips["status"] == "ok").all()
    assert store.modalities == [f"acc_h{i:02d}" for i in range(1, 7)]
    assert set(store.clips["camera"]) <= set(range(1, 13))
    assert store.frames([0]).shape == (1, 24, 24, 32, 3) and store.frames([0]).std() > 5
    assert store.gaf("acc_h03").shape == (store.num_takes, 3, 64, 64)


def test_a_bad_berkeley_frame_fails_its_clip_only(trees, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(trees["berkeley-mhad"].root, root)
    broken = sorted(root.glob("Camera/Cluster*/Cam*/S*/A*/R*"))[0]
    for frame in broken.glob("*.pgm"):
        frame.write_bytes(frame.read_bytes()[:6])  # the header cut inside the frame size
    report = prepare(options("synthetic-berkeley-mhad", root, tmp_path))
    store = zstore.open_store(report.store_path)
    failed = store.clips["status"] == "failed"
    assert failed.sum() == 1 and (store.clips["status"][~failed] == "ok").all()
    assert (store.takes["status"] == "ok").all()
    reason = store.clips["error"][failed][0]
    assert reason.startswith(str(broken)) and ".pgm: malformed PGM header" in reason and "\n" not in reason


def test_mmact_quirks_are_recorded_not_fatal(trees, tmp_path):
    summary = trees["mmact-quirks"]
    args = ["prepare", "--dataset", "synthetic-mmact", "--root", str(summary.root), "--cache", str(tmp_path),
            "--frame-size", "24x32", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    store = zstore.open_store(tmp_path / "synthetic-mmact.zarr")
    failed_clips = store.clips["status"] == "failed"
    assert failed_clips.sum() == 1, store.clips["error"]
    reason = store.clips["error"][failed_clips][0]
    assert ".mp4" in reason and "\n" not in reason and "cannot decode" in reason
    assert (store.clips["status"][~failed_clips] == "ok").all()
    assert (store.clips["nframes"][~failed_clips] > 0).all()
    assert "recordings failed" in result.output and reason in result.output
    # the empty CSV is marked failed with its reason in the store
    empty = [q.split()[-1] for q in summary.quirks if q.startswith("empty CSV")][0]
    failed_takes = store.takes["status"] == "failed"
    assert failed_takes.sum() == 1, store.takes["error"]
    assert empty in store.takes["error"][failed_takes][0] and "empty file" in store.takes["error"][failed_takes][0]
    # a take with an empty stream for one modality keeps its other modalities
    assert store.sensor_info("acc_phone")["present"].all()
    assert store.sensor_info("orientation")["present"].sum() == store.num_takes - 1

    strict = CliRunner().invoke(cli, args + ["--strict"])
    assert strict.exit_code != 0 and "--strict" in strict.output


def test_limit_takes_the_first_takes(trees, tmp_path):
    summary = trees["mmact"]
    report = prepare(options("synthetic-mmact", summary.root, tmp_path, limit=2))
    store = zstore.open_store(report.store_path)
    assert store.num_takes == 2 and report.takes == 2
    assert set(store.clips["take"]) == {0, 1}
    full = prepare(options("synthetic-mmact", summary.root, tmp_path / "full"))
    assert zstore.open_store(full.store_path).takes["key"][:2].tolist() == store.takes["key"].tolist()


def test_modality_subset(trees, tmp_path):
    report = prepare(options("synthetic-utd-mhad", trees["utd-mhad"].root, tmp_path, modalities=("acc",)))
    store = zstore.open_store(report.store_path)
    assert store.modalities == ["acc"] and not store.has_video and store.num_clips == 0
    with pytest.raises(KeyError):
        store.gaf("gyro")
    report = prepare(options("synthetic-utd-mhad", trees["utd-mhad"].root, tmp_path / "v", modalities=("gyro", "video")))
    store = zstore.open_store(report.store_path)
    assert store.modalities == ["gyro"] and store.has_video and store.num_clips == 8


SHARED_EMBEDDINGS = REPO.parent / "shared" / "class-embeddings"


def test_class_embedding_table_becomes_the_store_embedding(trees, tmp_path):
    table_path = SHARED_EMBEDDINGS / "UTD_Glove.npy"
    if not table_path.exists():
        pytest.skip("../shared/class-embeddings is absent")
    result = CliRunner().invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(trees["utd-mhad"].root),
                                      "--cache", str(tmp_path), "--quiet", "--modalities", "acc",
                                      "--class-embedding", str(table_path)])
    assert result.exit_code == 0, result.output
    store = zstore.open_store(tmp_path / "synthetic-utd-mhad.zarr")
    np.testing.assert_allclose(store.class_embedding, np.load(table_path).astype(np.float32))
    assert store.class_embedding.shape == (27, 300)
    assert "class-table:UTD_Glove.npy" in store.attrs["config"]["embedding_source"]
    with pytest.raises(PrepareError, match="other settings.*embedding_source"):
        prepare(options("synthetic-utd-mhad", trees["utd-mhad"].root, tmp_path, modalities=("acc",)))


@pytest.mark.parametrize("table, problem", [(np.zeros((5, 8)), "shape"), (np.full((27, 4), np.nan), "non-finite")])
def test_bad_class_embedding_table_is_one_line_error(trees, tmp_path, table, problem):
    path = tmp_path / "vectors.npy"
    np.save(path, table)
    result = CliRunner().invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(trees["utd-mhad"].root),
                                      "--cache", str(tmp_path), "--quiet", "--class-embedding", str(path)])
    assert result.exit_code != 0 and "vectors.npy" in result.output and problem in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "synthetic-utd-mhad.zarr").exists()


def test_berkeley_accelerometer_only_tree(trees, tmp_path):
    root = tmp_path / "raw"
    shutil.copytree(trees["berkeley-mhad"].root / "Accelerometer", root / "Accelerometer")
    result = CliRunner().invoke(cli, ["prepare", "--dataset", "synthetic-berkeley-mhad", "--root", str(root),
                                      "--cache", str(tmp_path), "--quiet", "--modalities", "acc_h01,acc_h02,video"])
    assert result.exit_code == 0, result.output
    assert "missing in the raw tree" in result.output and "video" in result.output
    store = zstore.open_store(tmp_path / "synthetic-berkeley-mhad.zarr")
    assert store.modalities == ["acc_h01", "acc_h02"] and not store.has_video
    assert store.num_takes == trees["berkeley-mhad"].n_takes


def test_log_scaling_stores_the_images_of_the_stored_streams_within_the_sensor_range(trees, tmp_path):
    result = prepare(options("synthetic-utd-mhad", trees["utd-mhad"].root, tmp_path, modalities=("acc",), gaf_size=32,
                             scaling="log"))
    store = zstore.open_store(result.store_path)
    ranges = store.attrs["config"]["sensor_ranges"]["acc"]
    expected = gaf_images(store.signal("acc").astype(np.float64), 32, "summation", "log", ranges)
    np.testing.assert_allclose(store.gaf("acc").astype(np.float32), expected, atol=2e-3)


def test_other_settings_refused_and_force_rebuilds(trees, tmp_path):
    root = trees["utd-mhad"].root
    prepare(options("synthetic-utd-mhad", root, tmp_path, modalities=("acc",)))
    with pytest.raises(PrepareError, match="other settings.*gaf_size 64 -> 32.*--force"):
        prepare(options("synthetic-utd-mhad", root, tmp_path, modalities=("acc",), gaf_size=32))
    with pytest.raises(PrepareError, match="scaling"):
        prepare(options("synthetic-utd-mhad", root, tmp_path, modalities=("acc",), scaling="range"))
    again = prepare(options("synthetic-utd-mhad", root, tmp_path, modalities=("acc",)))
    assert again.blocks_run == 0 and again.blocks_skipped == 1
    rebuilt = prepare(options("synthetic-utd-mhad", root, tmp_path, modalities=("acc",), gaf_size=32, force=True))
    assert rebuilt.blocks_run == 1
    assert zstore.open_store(rebuilt.store_path).gaf("acc").shape[-1] == 32


def test_second_prepare_on_a_store_being_written_is_refused(trees, tmp_path):
    opts = options("synthetic-utd-mhad", trees["utd-mhad"].root, tmp_path, modalities=("acc",))
    with StoreLock(tmp_path / "synthetic-utd-mhad.zarr"):
        with pytest.raises(PrepareError, match=f"being written by pid {os.getpid()}"):
            prepare(opts)
    # a lock left by a dead process on this host is taken over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Path(tmp_path / "synthetic-utd-mhad.zarr.lock").write_text(f"{dead.pid}\n{os.uname().nodename}\n")
    assert prepare(opts).takes == 8
    assert not (tmp_path / "synthetic-utd-mhad.zarr.lock").exists()


def test_resume_after_sigkill_matches_uninterrupted_run(trees, tmp_path):
    root = trees["mmact"].root
    args = [sys.executable, str(REPO / "cli.py"), "prepare", "--dataset", "synthetic-mmact", "--root", str(root),
            "--cache", str(tmp_path / "killed"), "--frame-size", "24x32", "--take-block", "1", "--clip-block", "1",
            "--scheduler", "synchronous", "--quiet"]
    killed = tmp_path / "killed" / "synthetic-mmact.zarr"
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if zstore.read_attrs(killed) is not None and zstore.finished_blocks(killed, "clips", 1).any():
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    done = zstore.finished_blocks(killed, "clips", 1)
    assert done.any() and not done.all() and not zstore.read_attrs(killed)["complete"]

    resumed = prepare(options("synthetic-mmact", root, tmp_path / "killed", take_block=1, clip_block=1))
    assert resumed.blocks_skipped >= int(done.sum())
    straight = prepare(options("synthetic-mmact", root, tmp_path / "straight", take_block=1, clip_block=1))
    assert_stores_equal(killed, straight.store_path)


def test_distributed_scheduler_matches_synchronous(trees, tmp_path):
    from distributed import LocalCluster

    root = trees["mmact"].root
    local = prepare(options("synthetic-mmact", root, tmp_path / "local", scheduler="synchronous", take_block=2,
                            clip_block=4))
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote = prepare(options("synthetic-mmact", root, tmp_path / "remote", scheduler=cluster.scheduler_address,
                                 take_block=2, clip_block=4))
    assert remote.blocks_run == local.blocks_run > 2
    assert_stores_equal(local.store_path, remote.store_path)


def test_bad_requests_are_one_line_errors(trees, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(tmp_path / "nowhere"),
                                 "--cache", str(tmp_path)])
    assert result.exit_code != 0 and "nowhere" in result.output and "not found" in result.output
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(trees["utd-mhad"].root),
                                 "--cache", str(tmp_path), "--modalities", "acc,magnetometer"])
    assert result.exit_code != 0 and "magnetometer" in result.output
    result = runner.invoke(cli, ["prepare", "--dataset", "no-such-set"])
    assert result.exit_code != 0 and "no-such-set" in result.output
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--frame-size", "big"])
    assert result.exit_code != 0 and "HxW" in result.output
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(trees["utd-mhad"].root),
                                 "--cache", str(tmp_path), "--scheduler", "fastest"])
    assert result.exit_code != 0 and "--scheduler" in result.output


def test_synth_command_writes_a_tree_prepare_reads(tmp_path):
    out = tmp_path / "raw"
    result = CliRunner().invoke(cli, ["synth", "--layout", "utd-mhad", "--out", str(out), "--subjects", "1",
                                      "--takes", "1", "--classes", "0,3", "--seed", "2", "--frame-size", "32x48"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 takes, 2 clips" in result.output
    report = prepare(options("synthetic-utd-mhad", out, tmp_path))
    assert report.takes == 2 and not report.failed
    assert sorted(zstore.open_store(report.store_path).takes["label"].tolist()) == [0, 3]
    bad = CliRunner().invoke(cli, ["synth", "--layout", "utd-mhad", "--out", str(out), "--classes", "a,b"])
    assert bad.exit_code != 0 and "--classes" in bad.output


REAL_SAMPLES = REPO.parent / "shared" / "real-samples"


def test_real_samples_prepare(tmp_path):
    """The real MMAct clip (268 frames of 1920x1080) and the real sensor files, through prepare."""
    if not (REAL_SAMPLES / "carrying.mp4").exists():
        pytest.skip("real samples absent")
    mmact = tmp_path / "mmact"
    video = mmact / "subject1" / "cam2" / "scene1" / "session1" / "carrying.mp4"
    video.parent.mkdir(parents=True)
    shutil.copyfile(REAL_SAMPLES / "carrying.mp4", video)
    for sensor in ("acc_phone", "acc_watch"):
        csv = mmact / f"{sensor}_clip" / "subject1" / "scene1" / "session1" / "carrying.csv"
        csv.parent.mkdir(parents=True)
        shutil.copyfile(REAL_SAMPLES / "carrying.csv", csv)
    report = prepare(PrepareOptions(dataset="mmact", root=mmact, cache=tmp_path, progress=False))
    store = zstore.open_store(report.store_path)
    assert not report.failed and report.missing_modalities == ["gyro", "orientation"]
    assert store.clips["nframes"].tolist() == [268] and store.clips["camera"].tolist() == [2]
    assert store.frames().shape == (1, 9, 224, 398, 3) and store.frames().std() > 10
    info = store.sensor_info("acc_watch")
    assert info["duration_s"][0] == pytest.approx(8.9, abs=0.1) and info["nsamples"][0] > 800

    utd = tmp_path / "utd" / "Inertial"
    utd.mkdir(parents=True)
    shutil.copyfile(REAL_SAMPLES / "a10_s1_t1_inertial.mat", utd / "a10_s1_t1_inertial.mat")
    berkeley = tmp_path / "berkeley" / "Accelerometer" / "Shimmer01"
    berkeley.mkdir(parents=True)
    shutil.copyfile(REAL_SAMPLES / "berkeley-mhad" / "acc_h01_s01_a01_r01.txt", berkeley / "acc_h01_s01_a01_r01.txt")
    real_trees = (("utd-mhad", utd.parent, "gyro", 9), ("berkeley-mhad", berkeley.parents[1], "acc_h01", 0))
    for dataset, root, modality, label in real_trees:
        report = prepare(PrepareOptions(dataset=dataset, root=root, cache=tmp_path, progress=False))
        store = zstore.open_store(report.store_path)
        assert not report.failed and store.takes["label"].tolist() == [label] and not store.has_video
        assert store.sensor_info(modality)["present"].all() and store.gaf(modality).std() > 0.05


def test_a_file_as_cache_or_root_and_a_missing_word_are_one_line_each(trees, tmp_path):
    runner = CliRunner()
    root = str(trees["utd-mhad"].root)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", root, "--cache", str(a_file)])
    assert result.exit_code == 1 and result.output.strip() == f"Error: {a_file}: --cache must be a folder, and this is a file"
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", str(a_file),
                                 "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 1 and "--root must be the raw dataset folder" in result.output
    glove = tmp_path / "few.txt"
    glove.write_text("walk 1.0 2.0\n")
    result = runner.invoke(cli, ["prepare", "--dataset", "synthetic-utd-mhad", "--root", root, "--glove", str(glove),
                                 "--cache", str(tmp_path / "cache")])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].count("add an alias") == 1
    assert not (tmp_path / "cache" / "synthetic-utd-mhad.zarr").exists()


@pytest.mark.parametrize("text, problem", [
    ("utd: [unclosed\n", "not valid YAML at line 2"),
    ("- just\n- a list\n", "must map each dataset name"),
    ("BROKEN", "lacks the field"),
    ("RANGE", "a sensor range is a number or one [lo, hi] pair per axis (3), got 'big'"),
])
def test_a_malformed_datasets_yaml_is_one_line(tmp_path, monkeypatch, text, problem):
    import yaml

    shipped = yaml.safe_load((REPO / "datasets.yaml").read_text())
    entry = dict(shipped["synthetic-utd-mhad"])
    if text == "BROKEN":
        parent = {k: v for k, v in shipped["utd-mhad"].items() if k != "signal_length"}
        text = yaml.safe_dump({**shipped, "utd-mhad": parent})
    elif text == "RANGE":
        entry = {**shipped, "synthetic-utd-mhad": {**entry, "sensors": {
            m: {**s, "range": "big"} for m, s in shipped["utd-mhad"]["sensors"].items()}}}
        text = yaml.safe_dump(entry)
    mine = tmp_path / "datasets.yaml"
    mine.write_text(text)
    monkeypatch.setenv("CROSSMODAL_KD_DATASETS", str(mine))
    for command in (["prepare", "--dataset", "synthetic-utd-mhad", "--cache", str(tmp_path / "cache")],
                    ["train", "--mode", "vision2sensor", "--dataset", "synthetic-utd-mhad", "--runs-dir",
                     str(tmp_path / "runs")]):
        result = CliRunner().invoke(cli, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and str(mine) in lines[0], result.output
        assert problem in lines[0]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_a_bad_csv_line_costs_a_line_and_a_garbage_csv_its_take(trees, tmp_path):
    """Sensors only, the clean tree and a copy with one garbage line in one take's watch CSV and a
    mostly-garbage phone CSV in another take: the first take stays ok with the same signal and GAF
    as from the clean tree and the skipped line recorded in takes/warning (and shown by inspect); the
    second fails with a one-line error naming its file and first bad line; the other takes are kept."""
    from pipeline.inspect import format_summary, summarise

    sensors = Path("trimmed/sensors")
    root = tmp_path / "raw"
    shutil.copytree(trees["mmact"].root / sensors, root / sensors)
    watch = root / sensors / "acc_watch_clip/subject1/scene1/session1/carrying.csv"
    lines = watch.read_bytes().splitlines(keepends=True)
    watch.write_bytes(b"".join(lines[:5] + [b"20181016_09:\x00\x00\x00,,\n"] + lines[5:]))
    phone = root / sensors / "acc_phone_clip/subject1/scene2/session2/carrying_heavy.csv"
    phone_lines = phone.read_bytes().splitlines(keepends=True)
    phone.write_bytes(b"".join(line if i % 2 else b"#" + line for i, line in enumerate(phone_lines)))
    modalities = ("acc_phone", "acc_watch")
    clean = zstore.open_store(prepare(options("synthetic-mmact", trees["mmact"].root, tmp_path / "clean",
                                              modalities=modalities)).store_path)
    store = zstore.open_store(prepare(options("synthetic-mmact", root, tmp_path / "damaged",
                                              modalities=modalities)).store_path)
    keys = store.takes["key"].tolist()
    kept = keys.index("subject1/scene1/session1/carrying")
    failed = keys.index("subject1/scene2/session2/carrying_heavy")
    assert store.takes["status"].tolist() == ["failed" if i == failed else "ok" for i in range(len(keys))]
    assert store.takes["warning"].tolist() == [
        f"acc_watch: skipped 1 malformed line of {len(lines) + 1} in {watch} (first: line 6)" if i == kept else ""
        for i in range(len(keys))]
    np.testing.assert_array_equal(store.signal("acc_watch", [kept]), clean.signal("acc_watch", [kept]))
    np.testing.assert_array_equal(store.gaf("acc_watch", [kept]), clean.gaf("acc_watch", [kept]))
    first = ("#" + phone_lines[0].decode().strip())[:60]
    assert store.takes["error"][failed] == f"{phone}: line 1 is not 'YYYYMMDD_HH:MM:SS[.ffffff],x,y,z': {first!r}"
    text = format_summary(summarise(store))
    assert "1 with skipped lines" in text and f"take {keys[kept]}: {store.takes['warning'][kept]}" in text
