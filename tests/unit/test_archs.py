"""Typed network records: plain-type round trip, the registry, records of older checkpoints."""
from __future__ import annotations

import pytest
import torch

from training.models import TRN, RawEncoder, ResNetStudent
from training.models.archs import ARCHS, Raw1DArch, ResNetArch, SensorTeachersArch, TRNArch, arch_from_dict
from training.models.fusion import SensorTeachers

RECORDS = [
    TRNArch(num_classes=5, embed_dim=8, segments=3, backbone="resnet18", dropout=0.5, crop_size=32,
            video_input="motion"),
    ResNetArch(num_classes=5, embed_dim=8, modality="acc", gaf_size=32),
    Raw1DArch(num_classes=5, embed_dim=8, modality="acc", stream_seconds=4.5, log_dynamics=True),
    SensorTeachersArch(num_classes=5, embed_dim=8, modalities=("acc", "gyro"), fuse=True, gate="code",
                       eval_descriptor="running", gaf_size=32),
]
NETWORKS = {TRNArch: TRN, ResNetArch: ResNetStudent, Raw1DArch: RawEncoder, SensorTeachersArch: SensorTeachers}


@pytest.mark.parametrize("arch", RECORDS, ids=lambda a: a.kind)
def test_a_record_survives_a_weights_only_checkpoint_and_builds_its_network(arch, tmp_path):
    torch.save({"arch": arch.to_dict()}, tmp_path / "c.pt")
    saved = torch.load(tmp_path / "c.pt", weights_only=True)["arch"]
    assert saved["kind"] == arch.kind and arch_from_dict(saved) == arch
    net = arch.build()
    assert isinstance(net, NETWORKS[type(arch)]) and net.num_classes == arch.num_classes


def test_every_record_kind_is_registered_once():
    assert {cls.kind for cls in ARCHS.values()} == set(ARCHS) == {a.kind for a in RECORDS}


def test_records_of_older_checkpoints_still_read():
    old_trn = {"kind": "trn", "num_classes": 5, "segments": 3, "backbone": "resnet18", "embed_dim": 8,
               "dropout": 0.5, "frame_size": 32, "video_input": "rgb"}
    assert arch_from_dict(old_trn).crop_size == 32
    old_raw = {"kind": "raw1d", "num_classes": 5, "embed_dim": 8, "modality": "acc", "stream_seconds": 4.5}
    assert arch_from_dict(old_raw).log_dynamics is False
    assert arch_from_dict(old_raw).build().stages["block1"][0][1].in_channels == 4
    old_teachers = {"kind": "sensor_teachers", "num_classes": 5, "modalities": ["acc"], "embed_dim": 8, "fuse": True,
                    "gaf_size": 32, "gate": "code", "eval_descriptor": "running"}
    assert arch_from_dict(old_teachers) == SensorTeachersArch(num_classes=5, embed_dim=8, modalities=("acc",),
                                                              fuse=True, gate="code", eval_descriptor="running",
                                                              encoder="gaf", gaf_size=32)


def test_unknown_kinds_and_missing_fields_are_value_errors():
    with pytest.raises(ValueError, match="unknown network kind 'mlp'"):
        arch_from_dict({"kind": "mlp"})
    with pytest.raises(ValueError, match="'resnet' record lacks a field"):
        arch_from_dict({"kind": "resnet", "num_classes": 5})
