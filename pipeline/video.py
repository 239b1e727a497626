"""Decode the TSN candidate frames of one clip: an encoded video file (decord) or a folder of frames.

Both readers return `(frames, nframes)`: frames (segments*candidates, H, W, 3) uint8 RGB in the
order of `segment_candidate_indices(...).ravel()` (slot s*candidates + k is candidate k of
segment s), and the clip's frame count. Encoded files are decoded in frame order with decord's
own resize (H.264 seeks to a keyframe for every jump, so a sorted batch costs one pass); PyAV
decodes the files decord cannot. A file neither can read is one SourceError line, and the only
line: decord's own log lines are filtered out of stderr (`_DecordLogFilter`).
"""
from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pipeline.records import SourceError
from pipeline.sampling import segment_candidate_indices


# decord's own log line (dmlc LOG(WARNING) through std::cerr), e.g.
# "[14:53:50] /github/workspace/src/video/video_reader.cc:83: ERROR opening: x.mp4, Invalid data ..."
DECORD_LOG_LINE = re.compile(rb"\[\d{2}:\d{2}:\d{2}\] [^\n]*?\.(?:cc|h):\d+: ")


def _forward(pipe: int, out: int) -> None:
    """Copy what arrives on `pipe` to `out` as it comes, minus decord's log lines; closes both.

    A partial line is held back only while it may still become one of them (it starts with `[`), so
    a progress bar's `\r` updates pass at once.
    """
    held = b""
    with open(pipe, "rb", buffering=0) as source, open(out, "wb") as sink:
        while chunk := source.read(65536):
            *lines, held = re.split(rb"(?<=[\r\n])", held + chunk)
            passed = b"".join(line for line in lines if not DECORD_LOG_LINE.match(line))
            if not held.startswith(b"["):
                passed, held = passed + held, b""
            sink.write(passed)
            sink.flush()
        if not DECORD_LOG_LINE.match(held):
            sink.write(held)


class _DecordLogFilter:
    """Keeps decord's own log lines off stderr while decord runs; everything else passes at once.

    decord.logging.set_level quiets ffmpeg only: decord writes its own warnings (a file it cannot
    open, a failed seek, broken metadata) to file descriptor 2 through std::cerr, beside the
    SourceError that already says what went wrong. While any thread is inside `active()`, fd 2 is
    a pipe that a reader thread copies to the real stderr without those lines, so the progress
    bars and messages of other threads are neither lost nor held back. fd 2 is process-wide: the
    first thread in redirects it, the last one out restores it (a lock and a count, as dask's
    threaded scheduler decodes several clips at once).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = -1
        self._pump: threading.Thread | None = None

    @contextmanager
    def active(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._redirect()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._restore()

    def _redirect(self) -> None:
        if sys.stderr is not None:
            sys.stderr.flush()
        self._saved = os.dup(2)
        pipe, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._pump = threading.Thread(target=_forward, args=(pipe, os.dup(self._saved)),
                                      name="decord-log-filter", daemon=True)
        self._pump.start()

    def _restore(self) -> None:
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(self._saved, 2)  # the pipe's last write end closes: the pump drains it and ends
        os.close(self._saved)
        self._pump.join(timeout=5)


_DECORD_LOG = _DecordLogFilter()


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
        with _DECORD_LOG.active():
            reader = decord.VideoReader(str(path), width=width, height=height, num_threads=num_threads)
            try:
                nframes = len(reader)
                slots = segment_candidate_indices(nframes, segments, candidates).ravel()
                unique, inverse = np.unique(slots, return_inverse=True)
                decoded = reader.get_batch(unique.tolist()).asnumpy()
            finally:
                del reader  # freed inside the filter: its decoder thread may log as it stops
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
