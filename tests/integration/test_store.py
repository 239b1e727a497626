"""Store layout round trip, block bookkeeping, and split masks."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline import store as zstore
from pipeline.splits import split_masks

LAYOUT = zstore.StoreLayout(dataset="synthetic-mmact", modalities=("acc", "gyro"), signal_length=16, gaf_size=8,
                            segments=2, candidates=3, frame_size=(6, 10), take_block=4, clip_block=3)


def make_store(path, layout=LAYOUT, n_takes=6):
    takes = {"key": [f"t{i}" for i in range(n_takes)], "label": np.arange(n_takes) % 3,
             "subject": np.arange(n_takes) + 1, "trial": np.ones(n_takes), "scene": np.arange(n_takes) % 2 + 1,
             "session": np.full(n_takes, 5)}
    clip_take = np.repeat(np.arange(n_takes), 2)[:-1]  # the last take has one camera only
    clips = {"take": clip_take, "camera": np.tile([1, 2], n_takes)[:-1], "video": [f"v{i}.mp4" for i in range(len(clip_take))]}
    embedding = np.arange(15, dtype=np.float32).reshape(5, 3)
    zstore.create_store(path, layout, takes, clips, ["a", "b", "c", "d", "e"], embedding,
                        {"source": "test", "dim": 3, "tokens": [["a"], ["b"], ["c"], ["d"], ["e"]]},
                        {"schema_version": zstore.SCHEMA_VERSION, "dataset": layout.dataset, "config": {"x": 1},
                         "config_digest": zstore.config_digest({"x": 1}), "records_digest": "r"})
    return takes, clips


def take_block(start, n, layout=LAYOUT, failed_row=None, warned_row=None):
    rng = np.random.default_rng(start)
    status = np.array([zstore.OK] * n, dtype=object)
    error = np.array([""] * n, dtype=object)
    warning = np.array([""] * n, dtype=object)
    if failed_row is not None:
        status[failed_row], error[failed_row] = zstore.FAILED, "x.csv: empty file"
    if warned_row is not None:
        warning[warned_row] = "acc: skipped 1 malformed line of 40 in y.csv (first: line 6)"
    sensors = {m: {"signal": rng.normal(size=(n, layout.signal_length, 3)).astype(np.float32),
                   "gaf": rng.uniform(-1, 1, size=(n, 3, layout.gaf_size, layout.gaf_size)).astype(np.float16),
                   "present": np.ones(n, dtype=bool), "duration_s": np.full(n, 2.5, dtype=np.float32),
                   "nsamples": np.full(n, 40, dtype=np.int32)} for m in layout.modalities}
    return zstore.TakeBlock(start=start, status=status.astype(str), error=error.astype(str),
                            warning=warning.astype(str), sensors=sensors)


def clip_block(start, n, layout=LAYOUT):
    frames = np.zeros((n, layout.frames_per_clip, *layout.frame_size, 3), dtype=np.uint8)
    for i in range(n):
        frames[i] = (start + i) * 10 + np.arange(layout.frames_per_clip)[:, None, None, None]
    return zstore.ClipBlock(start=start, status=np.array([zstore.OK] * n), error=np.array([""] * n),
                            nframes=np.full(n, 50 + start), frames=frames)


def test_round_trip(tmp_path):
    path = tmp_path / "s.zarr"
    takes, clips = make_store(path)
    blocks = [take_block(0, 4, failed_row=1), take_block(4, 2, warned_row=1)]
    assert zstore.finished_blocks(path, "takes", 4).tolist() == [False, False]
    zstore.write_take_block(path, blocks[0])
    assert zstore.finished_blocks(path, "takes", 4).tolist() == [True, False]
    zstore.write_take_block(path, blocks[1])
    for start in range(0, 11, 3):
        zstore.write_clip_block(path, clip_block(start, min(3, 11 - start)))
    assert zstore.finished_blocks(path, "clips", 3).all()

    store = zstore.open_store(path)
    assert store.dataset == "synthetic-mmact" and store.modalities == ["acc", "gyro"]
    assert store.segments == 2 and store.candidates == 3 and store.has_video
    assert store.class_names == ["a", "b", "c", "d", "e"]
    assert store.class_embedding.dtype == np.float32 and store.class_embedding[4, 2] == 14
    assert store.embedding_attrs["tokens"][1] == ["b"]
    assert store.takes["key"].tolist() == takes["key"]
    assert store.takes["status"].tolist() == ["ok", "failed", "ok", "ok", "ok", "ok"]
    assert store.takes["error"][1] == "x.csv: empty file"
    assert store.takes["warning"][5] == "acc: skipped 1 malformed line of 40 in y.csv (first: line 6)"
    assert not store.takes["warning"][:5].any()
    assert store.takes["subject"].dtype == np.int64 and store.takes["session"].tolist() == [5] * 6
    assert store.clips["take"].tolist() == clips["take"].tolist()
    assert store.clips["nframes"].tolist() == [50] * 3 + [53] * 3 + [56] * 3 + [59] * 2

    all_gaf = np.concatenate([b.sensors["gyro"]["gaf"] for b in blocks])
    assert store.gaf("gyro").dtype == np.float16
    np.testing.assert_array_equal(store.gaf("gyro"), all_gaf)
    np.testing.assert_array_equal(store.gaf("gyro", [5, 0, 5]), all_gaf[[5, 0, 5]])
    all_signal = np.concatenate([b.sensors["acc"]["signal"] for b in blocks])
    np.testing.assert_array_equal(store.signal("acc", np.array([3, 2])), all_signal[[3, 2]])
    info = store.sensor_info("acc")
    assert info["present"].all() and info["nsamples"].dtype == np.int32

    frames = store.frames([7, 2, 7])
    assert frames.shape == (3, 6, 6, 10, 3) and frames.dtype == np.uint8
    assert frames[:, :, 0, 0, 0].tolist() == [[70 + k for k in range(6)], [20 + k for k in range(6)],
                                              [70 + k for k in range(6)]]
    assert store.frames(np.zeros(0, dtype=int)).shape == (0, 6, 6, 10, 3)

    joined = store.clip_columns()
    assert joined["subject"].tolist() == (takes["subject"][clips["take"]]).tolist()
    assert joined["camera"].tolist() == clips["camera"].tolist()
    assert "warning" not in joined  # a take's outcome, not a clip column
    with pytest.raises(KeyError, match="orientation"):
        store.gaf("orientation")


def test_frames_are_chunked_per_slot_and_read_per_slot_equal_whole_clips(tmp_path):
    """Schema 2 stores one frame (slot) per chunk; reading chosen slots, shared by every clip or one
    row per clip, gives exactly the frames of the whole-clip read (schema 1's only read)."""
    path = tmp_path / "s.zarr"
    make_store(path)
    for start in range(0, 11, 3):
        zstore.write_clip_block(path, clip_block(start, min(3, 11 - start)))
    store = zstore.open_store(path)
    assert store.array("video/frames").chunks == (1, 1, 6, 10, 3)
    clips = np.array([9, 3, 4, 5, 3])
    whole = store.frames(clips)
    np.testing.assert_array_equal(whole, np.stack([clip_block(c, 1).frames[0] for c in clips]))
    np.testing.assert_array_equal(store.frames(clips, np.array([4, 1])), whole[:, [4, 1]])
    own = np.random.default_rng(0).integers(0, 6, size=(len(clips), 2))
    np.testing.assert_array_equal(store.frames(clips, own), whole[np.arange(len(clips))[:, None], own])
    with pytest.raises(IndexError, match="clip index out of range"):
        store.frames([11])


def test_a_store_of_another_schema_is_refused_in_one_line_naming_prepare_force(tmp_path):
    import zarr

    path = tmp_path / "s.zarr"
    make_store(path)
    zarr.open_group(str(path), mode="r+").attrs["schema_version"] = 1
    with pytest.raises(ValueError) as error:
        zstore.open_store(path)
    message = str(error.value)
    assert "\n" not in message and "schema 1" in message
    assert "prepare --dataset synthetic-mmact --force" in message


def test_store_without_video(tmp_path):
    layout = zstore.StoreLayout(dataset="d", modalities=("acc",), signal_length=8, gaf_size=4, segments=8,
                                candidates=3, frame_size=None, take_block=2, clip_block=2)
    path = tmp_path / "s.zarr"
    make_store(path, layout, n_takes=3)
    store = zstore.open_store(path)
    assert not store.has_video and "video/frames" not in store.array_names()
    with pytest.raises(ValueError, match="no video"):
        store.frames()


def test_half_created_store_is_not_a_store(tmp_path):
    import zarr

    zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    assert zstore.read_attrs(tmp_path / "s.zarr") is None
    assert zstore.read_attrs(tmp_path / "absent.zarr") is None
    with pytest.raises(ValueError, match="not a prepared store"):
        zstore.open_store(tmp_path / "s.zarr")
    with pytest.raises(FileNotFoundError, match="prepare"):
        zstore.open_store(tmp_path / "absent.zarr")


def test_config_digest_is_order_free_and_value_sensitive():
    assert zstore.config_digest({"a": 1, "b": [2, 3]}) == zstore.config_digest({"b": [2, 3], "a": 1})
    assert zstore.config_digest({"a": 1}) != zstore.config_digest({"a": 2})


def test_split_masks():
    columns = {"subject": np.array([1, 2, 3, 4, 1]), "camera": np.array([1, 4, 2, 4, 3])}
    train, test = split_masks(columns, {"train": {"subject": [1, 2]}, "test": {"subject": [3, 4]}})
    assert train.tolist() == [True, True, False, False, True]
    assert test.tolist() == [False, False, True, True, False]
    train, test = split_masks(columns, {"train": {"subject": [1, 2, 3], "camera": [1, 2, 3]}, "test": {"camera": [4]}})
    assert train.tolist() == [True, False, True, False, True] and test.tolist() == [False, True, False, True, False]
    with pytest.raises(ValueError, match="scene"):
        split_masks(columns, {"train": {"scene": [1]}, "test": {"scene": [2]}})
    with pytest.raises(ValueError, match="test"):
        split_masks(columns, {"train": {"subject": [1]}})
