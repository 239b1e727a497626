"""Frame sampling positions and clip decoding (decord files, frame folders, the real MMAct sample)."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pipeline.records import SourceError
from pipeline.sampling import centre_candidates, random_candidates, segment_candidate_indices
from pipeline.video import _DECORD_LOG, decode_video_frames, read_folder_frames, resize_frame

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-samples"


def write_gray_video(path: Path, nframes: int, size=(48, 64), step: int = 10) -> Path:
    """mpeg4 video whose frame i is uniformly grey at level step*i mod 256 (a frame-index code)."""
    import av

    height, width = size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(nframes):
            image = np.full((height, width, 3), (step * i) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_indices_hand_computed():
    assert segment_candidate_indices(24, 8, 3).ravel().tolist() == list(range(24))
    assert segment_candidate_indices(10, 2, 2).tolist() == [[1, 3], [6, 8]]
    # fewer frames than slots: frames repeat, never out of range
    assert segment_candidate_indices(2, 3, 1).ravel().tolist() == [0, 1, 1]


def test_candidates_stay_inside_their_segment():
    n, segments, candidates = 97, 8, 3
    idx = segment_candidate_indices(n, segments, candidates)
    for s in range(segments):
        assert np.all(idx[s] >= s * n / segments) and np.all(idx[s] < (s + 1) * n / segments)
        assert np.all(np.diff(idx[s]) > 0)


def test_centre_and_random_slots():
    assert centre_candidates(3, 3).tolist() == [1, 4, 7]
    assert centre_candidates(8, 1).tolist() == list(range(8))
    slots = random_candidates(np.random.default_rng(0), 500, 8, 3)
    assert slots.shape == (500, 8)
    segment = slots // 3
    assert np.all(segment == np.arange(8))
    assert set(np.unique(slots % 3)) == {0, 1, 2}


def test_bad_sampling_arguments():
    with pytest.raises(ValueError):
        segment_candidate_indices(0, 8, 3)
    with pytest.raises(ValueError):
        segment_candidate_indices(10, 0, 3)


def test_decode_picks_the_candidate_frames_in_slot_order(tmp_path):
    path = write_gray_video(tmp_path / "v.mp4", nframes=24)
    frames, nframes = decode_video_frames(path, segments=4, candidates=2, frame_size=(24, 32))
    assert nframes == 24
    assert frames.shape == (8, 24, 32, 3) and frames.dtype == np.uint8
    expected = 10 * segment_candidate_indices(24, 4, 2).ravel()
    assert np.abs(frames.reshape(8, -1).mean(axis=1) - expected).max() < 4


def test_decode_native_size(tmp_path):
    path = write_gray_video(tmp_path / "v.mp4", nframes=5, size=(32, 48))
    frames, nframes = decode_video_frames(path, segments=2, candidates=1, frame_size=None)
    assert nframes == 5 and frames.shape == (2, 32, 48, 3)


def test_corrupt_video_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(SourceError, match="broken.mp4"):
        decode_video_frames(bad, 3, 3, (16, 16))


def test_broken_video_prints_nothing_but_the_error(tmp_path, capfd):
    """A truncated video (the synthetic corrupt-video quirk) fails with the project's one SourceError
    line and nothing on stderr: decord's own 'video_reader.cc: ERROR opening' line is filtered out,
    and stderr is restored afterwards."""
    data = write_gray_video(tmp_path / "v.mp4", nframes=30).read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3] + bytes(range(256)) * 2)
    stderr_before = os.fstat(2)
    with pytest.raises(SourceError, match=r"broken\.mp4: cannot decode video \(Invalid data"):
        decode_video_frames(broken, 3, 3, (16, 16))
    assert capfd.readouterr().err == ""
    assert os.fstat(2).st_ino == stderr_before.st_ino
    print("after", file=sys.stderr)
    assert capfd.readouterr().err == "after\n"


def test_other_stderr_passes_while_decord_runs(tmp_path, capfd):
    """While clips decode in threads, whatever else reaches stderr passes through unchanged (a progress
    bar's '\\r' update, a message, a line that only starts with '['); only decord's log lines are dropped."""
    good = write_gray_video(tmp_path / "good.mp4", nframes=12)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)

    def decode(path: Path) -> int:
        try:
            return decode_video_frames(path, 2, 1, (16, 16))[1]
        except SourceError:
            return -1

    with ThreadPoolExecutor(4) as pool, _DECORD_LOG.active():
        counts = list(pool.map(decode, [broken, good, broken, good]))
        os.write(2, b"[12:00:00] /src/video/video_reader.cc:83: ERROR opening: x.mp4\n\rbar 50%")
        os.write(2, b"\n[note] kept\n")
        os.write(2, b"message\n")  # what sys.stderr writes outside pytest's capture
    assert counts == [-1, 12, -1, 12]
    assert capfd.readouterr().err == "\rbar 50%\n[note] kept\nmessage\n"


def test_folder_reads_only_the_needed_frames(tmp_path):
    files = []
    for i in range(40):
        files.append(tmp_path / f"f{i:03d}.npy")
        np.save(files[-1], np.full((30, 40, 3), i, dtype=np.uint8))
    read = []

    def read_frame(path: Path) -> np.ndarray:
        read.append(path)
        return np.load(path)

    frames, nframes = read_folder_frames(files, read_frame, segments=4, candidates=3, frame_size=(15, 20))
    wanted = segment_candidate_indices(40, 4, 3).ravel()
    assert nframes == 40 and frames.shape == (12, 15, 20, 3)
    assert sorted(read) == sorted(files[i] for i in np.unique(wanted))
    assert frames[:, 0, 0, 0].tolist() == wanted.tolist()


def test_resize_frame_shapes():
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    frame[:, 320:] = 200
    small = resize_frame(frame, (120, 160))
    assert small.shape == (120, 160, 3) and small[:, :70].max() == 0 and small[:, 90:].min() == 200
    assert resize_frame(frame, None) is frame


def test_real_mmact_clip_decodes_268_full_hd_frames():
    path = REAL_SAMPLES / "carrying.mp4"
    if not path.exists():
        pytest.skip("real samples absent")
    frames, nframes = decode_video_frames(path, segments=8, candidates=3, frame_size=None)
    assert nframes == 268
    assert frames.shape == (24, 1080, 1920, 3)
    assert frames.std() > 10  # real image content, not a blank decode
    small, n_small = decode_video_frames(path, segments=3, candidates=3, frame_size=(112, 200))
    assert n_small == 268 and small.shape == (9, 112, 200, 3)
