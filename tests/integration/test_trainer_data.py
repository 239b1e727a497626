"""training/data/loaders.py and training/data/augment.py on tiny prepared synthetic stores."""
from __future__ import annotations

import dataclasses
from pathlib import PurePosixPath

import numpy as np
import pytest
import torch

from pipeline.config import load_dataset
from pipeline.store import open_store
from training.data.augment import centre_boxes, crop_affine, crop_resize, multiscale_boxes
from training.data.loaders import CLIPS, TAKES, DataError, Needs, build_data, select
from training.options import DataOptions

UTD, MMACT = "synthetic-utd-mhad", "synthetic-mmact"


def _take_key_of_video(path: str) -> str:
    """UTD video files are RGB/a{A}_s{S}_t{T}_color.avi: the key of the take they record."""
    return PurePosixPath(path).name.removesuffix("_color.avi")


def test_batches_pair_the_modalities_of_one_recording(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    data = build_data(store, spec, DataOptions(crop_size=32, segments=4, loader_workers=1), CLIPS,
                      Needs(video=True, modalities=("acc", "gyro")), Needs(video=True), batch_size=5,
                      device=torch.device("cpu"))
    seen = 0
    for batch in data.train.epoch(0):
        assert np.array_equal(batch.take, store.clips["take"][batch.clip])
        assert np.array_equal(batch.label.numpy(), store.takes["label"][batch.take])
        assert [_take_key_of_video(v) for v in store.clips["video"][batch.clip]] == list(store.takes["key"][batch.take])
        for modality in ("acc", "gyro"):
            expected = torch.from_numpy(store.gaf(modality, batch.take).astype(np.float32))
            assert torch.equal(batch.sensors[modality], expected)
        assert batch.video.shape == (len(batch), 4, 3, 32, 32)
        seen += len(batch)
    assert seen == (len(data.selection.train) // 5) * 5


def test_tsn_sampling_random_in_training_centre_in_evaluation(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    data = build_data(store, spec, DataOptions(crop_size=32, segments=4), CLIPS, Needs(video=True),
                      Needs(video=True), batch_size=4, device=torch.device("cpu"))
    segments, candidates = 4, store.candidates
    train_slots = data.train.frame_slots(500, np.random.default_rng(0))
    assert np.array_equal(train_slots // candidates, np.tile(np.arange(segments), (500, 1)))
    assert set(np.unique(train_slots % candidates)) == set(range(candidates))
    eval_slots = data.test.frame_slots(7, np.random.default_rng(0))
    assert np.all(eval_slots == np.arange(segments) * candidates + candidates // 2)
    first = [b.video for b in data.test.epoch(0)]
    again = [b.video for b in data.test.epoch(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    train_a = next(iter(data.train.epoch(0))).video
    train_b = next(iter(data.train.epoch(1))).video
    assert not torch.equal(train_a, train_b)


def test_resident_frames_are_the_stored_frames_of_the_chosen_segments(trainer_utd_store):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    data = build_data(store, spec, DataOptions(crop_size=32, segments=4), CLIPS, Needs(video=True),
                      Needs(video=True), batch_size=4, device=torch.device("cpu"))
    clips = data.selection.test[:3]
    slots = data.test.frame_slots(3, np.random.default_rng(0))
    got = data.source.frames_of(clips, slots).numpy()
    stored_segments = (np.arange(4) * store.segments) // 4 + store.segments // 8  # evenly spaced of 8: 1, 3, 5, 7
    stored_slots = stored_segments * store.candidates + store.candidates // 2
    assert np.array_equal(got, store.frames(clips)[:, stored_slots])


def test_protocols_select_by_clip_columns(trainer_mmact_store):
    store, spec = open_store(trainer_mmact_store), load_dataset(MMACT)
    view = select(store, spec, "cross-view", CLIPS, Needs(video=True), Needs(video=True), val_fraction=0.0)
    assert set(store.clips["camera"][view.train]) == {1, 2, 3}
    assert set(store.clips["camera"][view.test]) == {4}
    spec = dataclasses.replace(spec, protocols={**spec.protocols, "by-subject": {"train": {"subject": [1]},
                                                                                 "test": {"subject": [2]}}})
    subject = select(store, spec, "by-subject", CLIPS, Needs(video=True), Needs(video=True), val_fraction=0.0)
    assert set(store.takes["subject"][store.clips["take"][subject.train]]).isdisjoint(
        store.takes["subject"][store.clips["take"][subject.test]])
    with pytest.raises(DataError, match="camera"):
        select(store, spec, "cross-view", TAKES, Needs(modalities=("acc_phone",)), Needs(modalities=("acc_phone",)))


def test_failed_recordings_are_excluded_and_counted(trainer_mmact_store):
    store, spec = open_store(trainer_mmact_store), load_dataset(MMACT)
    failed_clips = int((store.clips["status"] != "ok").sum())
    absent = int((~store.sensor_info("orientation")["present"]).sum())
    assert failed_clips == 1 and absent == 1
    protocol = {"train": {"subject": [1]}, "test": {"subject": [2]}}
    spec = dataclasses.replace(spec, protocols={"all": protocol})
    clips = select(store, spec, "all", CLIPS, Needs(video=True), Needs(video=True), val_fraction=0.0)
    counted = sum(c.get("video failed", 0) for c in clips.excluded.values())
    assert counted == failed_clips
    assert len(clips.train) + len(clips.test) == store.num_clips - failed_clips
    assert np.all(store.clips["status"][np.concatenate([clips.train, clips.test])] == "ok")
    takes = select(store, spec, "all", TAKES, Needs(modalities=("orientation",)), Needs(modalities=("orientation",)),
                   val_fraction=0.0)
    assert sum(c.get("orientation absent", 0) for c in takes.excluded.values()) == absent
    assert len(takes.train) + len(takes.test) == store.num_takes - absent
    # the take whose orientation stream failed is marked failed, yet still serves acc_phone
    assert (store.takes["status"] == "failed").sum() == absent
    phone = select(store, spec, "all", TAKES, Needs(modalities=("acc_phone",)), Needs(modalities=("acc_phone",)),
                   val_fraction=0.0)
    assert len(phone.train) + len(phone.test) == store.num_takes


@pytest.mark.parametrize("protocol", ["trial", "subject"])
def test_validation_subjects_come_from_training_and_are_disjoint(trainer_utd_store, protocol):
    store, spec = open_store(trainer_utd_store), load_dataset(UTD)
    protocol_spec = spec.protocols[protocol] if protocol == "trial" else {"train": {"subject": [1, 2]},
                                                                          "test": {"subject": [3]}}
    spec = dataclasses.replace(spec, protocols={protocol: protocol_spec})
    needs = Needs(modalities=("acc",))
    selection = select(store, spec, protocol, TAKES, needs, needs, val_fraction=0.4, seed=3)
    subject = store.takes["subject"]
    assert len(selection.val) > 0 and len(selection.val_subjects) >= 1
    assert set(subject[selection.val]) == set(selection.val_subjects)
    assert set(subject[selection.train]).isdisjoint(selection.val_subjects)
    assert set(selection.val).isdisjoint(selection.test)
    train_side = set(np.flatnonzero(np.isin(store.takes["trial"], protocol_spec["train"].get("trial", [1, 2, 3, 4]))
                                    & np.isin(subject, protocol_spec["train"].get("subject", [1, 2, 3]))))
    assert set(selection.val) | set(selection.train) == train_side
    again = select(store, spec, protocol, TAKES, needs, needs, val_fraction=0.4, seed=3)
    assert again.val_subjects == selection.val_subjects


def test_crop_resize_full_box_is_identity_and_flip_mirrors():
    frames = torch.randint(0, 256, (2, 3, 16, 16, 3), dtype=torch.uint8)
    boxes = np.array([[0, 0, 16, 16], [0, 0, 16, 16]], dtype=np.float64)
    out = crop_resize(frames, torch.from_numpy(crop_affine(boxes, np.array([False, True]), 16, 16)), 16)
    reference = frames.permute(0, 1, 4, 2, 3).float()
    assert torch.allclose(out[0], reference[0], atol=1e-3)
    assert torch.allclose(out[1], reference[1].flip(-1), atol=1e-3)


def test_crop_boxes_stay_inside_the_frame():
    rng = np.random.default_rng(0)
    boxes = multiscale_boxes(rng, 1000, 60, 80)
    x0, y0, w, h = boxes.T
    assert np.all(x0 >= 0) and np.all(y0 >= 0) and np.all(x0 + w <= 80) and np.all(y0 + h <= 60)
    assert len(np.unique(np.round(w))) > 1
    centre = centre_boxes(1, 60, 80)[0]
    assert np.allclose(centre, [(80 - 60 * 224 / 256) / 2, (60 - 60 * 224 / 256) / 2, 60 * 224 / 256, 60 * 224 / 256])


def test_berkeley_dev_protocol_stays_inside_the_official_training_subjects():
    from pipeline.config import load_dataset

    protocols = load_dataset("berkeley-mhad").protocols
    official = set(protocols["subject"]["train"]["subject"])
    dev_train, dev_test = (set(protocols["dev"][side]["subject"]) for side in ("train", "test"))
    assert dev_train | dev_test <= official and not dev_train & dev_test


def test_loso_folds_leave_each_official_training_subject_out_once():
    from pipeline.config import load_dataset

    spec = load_dataset("berkeley-mhad")
    official = spec.protocols["subject"]["train"]["subject"]
    folds = spec.protocol_folds("loso")
    assert folds == tuple(f"loso-{s}" for s in official)
    for fold, subject in zip(folds, official):
        train, test = (spec.protocols[fold][side]["subject"] for side in ("train", "test"))
        assert test == [subject] and sorted(train + test) == sorted(official)
    assert spec.protocol_folds("dev") == ("dev",)


def test_a_protocol_family_is_not_trained_as_one_protocol(tmp_path):
    from pipeline.config import DatasetsError, load_dataset

    spec = load_dataset("berkeley-mhad")
    spec.check_protocol("loso-3")
    with pytest.raises(DatasetsError, match="family of 7 folds .loso-1 ... loso-7."):
        spec.check_protocol("loso")
    with pytest.raises(DatasetsError, match="'nope' is not declared .* loso"):
        spec.protocol_folds("nope")
