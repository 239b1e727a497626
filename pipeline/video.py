"""Decode the TSN candidate frames of one clip: an encoded video file (decord) or a folder of frames.

Both readers return `(frames, nframes)`: frames (segments*candidates, H, W, 3) uint8 RGB in the
order of `segment_candidate_indices(...).ravel()` (slot s*candidates + k is candidate k of
segment s), and the clip's frame count. Encoded files are decoded in frame order with decord's
own resize (H.264 seeks to a keyframe for every jump, so a sorted batch costs one pass); PyAV
decodes the files decord cannot.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.records import SourceError
from pipeline.sampling import segment_candidate_indices


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text[:200]


def decode_video_frames(
    path: Path,
    segments: int,
    candidates: int,
    frame_size: tuple[int, int] | None,
    num_threads: int = 0,
) -> tuple[np.ndarray, int]:
    """Candidate frames of an encoded video, (segments*candidates, H, W, 3) uint8, and its frame count.

    frame_size (H, W) resizes inside the decoder; None keeps the native size. num_threads is
    decord's decoder thread count (0 = its default).
    """
    import decord

    decord.logging.set_level(decord.logging.QUIET)  # failures are reported through SourceError
    height, width = frame_size if frame_size is not None else (-1, -1)
    try:
        reader = decord.VideoReader(str(path), width=width, height=height, num_threads=num_threads)
        nframes = len(reader)
        slots = segment_candidate_indices(nframes, segments, candidates).ravel()
        unique, inverse = np.unique(slots, return_inverse=True)
        decoded = reader.get_batch(unique.tolist()).asnumpy()
    except Exception:
        # decord fails on some frame sizes and on containers that overstate their frame count, and
        # hides ffmpeg's reason when it cannot open a file: PyAV decodes it or says why it cannot.
        return _decode_with_pyav(path, segments, candidates, frame_size)
    return np.ascontiguousarray(decoded[inverse]), nframes


def _decode_with_pyav(
    path: Path, segments: int, candidates: int, frame_size: tuple[int, int] | None
) -> tuple[np.ndarray, int]:
    """Fallback decoder: every frame in order with PyAV, then the candidate slots."""
    import av

    try:
        with av.open(str(path)) as container:
            frames = [
                frame.to_ndarray(format="rgb24", **({} if frame_size is None else
                                                    {"height": frame_size[0], "width": frame_size[1]}))
                for frame in container.decode(video=0)
            ]
    except Exception as error:  # PyAV raises FFmpegError subclasses (with strerror), ValueError, ...
        reason = getattr(error, "strerror", None) or _one_line(error)
        raise SourceError(f"{path}: cannot decode video ({reason})") from None
    if not frames:
        raise SourceError(f"{path}: video has no decodable frames")
    slots = segment_candidate_indices(len(frames), segments, candidates).ravel()
    return np.stack([frames[i] for i in slots]), len(frames)


def resize_frame(frame: np.ndarray, frame_size: tuple[int, int] | None) -> np.ndarray:
    """(h, w, 3) uint8 -> (H, W, 3) uint8, bilinear with antialiasing (PIL); None keeps the size."""
    if frame_size is None or tuple(frame.shape[:2]) == tuple(frame_size):
        return frame
    from PIL import Image

    height, width = frame_size
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def read_folder_frames(
    files: Sequence[Path],
    read_frame: Callable[[Path], np.ndarray],
    segments: int,
    candidates: int,
    frame_size: tuple[int, int] | None,
) -> tuple[np.ndarray, int]:
    """Candidate frames of a clip stored as one image per frame, reading only the needed files.

    files: the clip's frame files in frame order; read_frame: file -> (h, w, 3) uint8 RGB.
    """
    nframes = len(files)
    if nframes < 1:
        raise SourceError("frame folder holds no frames")
    slots = segment_candidate_indices(nframes, segments, candidates).ravel()
    cache: dict[int, np.ndarray] = {}
    for index in np.unique(slots):
        try:
            cache[int(index)] = resize_frame(read_frame(files[index]), frame_size)
        except SourceError:
            raise
        except Exception as error:
            raise SourceError(f"{files[index]}: cannot read frame ({_one_line(error)})") from None
    return np.stack([cache[int(i)] for i in slots]), nframes
