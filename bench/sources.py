"""Speed of the raw readers against the obvious alternatives, side by side in one run.

- GRBG demosaic of a 640x480 Berkeley frame: shifted-slice integer sums vs scipy.ndimage.convolve.
- MMAct CSV (rows like the real sample): one regex pass + numpy vs a per-line split + datetime.strptime.
Times are the best of `--repeats` runs after one warm-up. Target: ratio (alternative / ours) >= 1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.sources import berkeley_mhad, mmact  # noqa: E402
from timing import best_time  # noqa: E402


def demosaic_by_convolution(raw: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[0 : raw.shape[0], 0 : raw.shape[1]]
    masks = [(rows % 2 == 0) & (cols % 2 == 1), (rows + cols) % 2 == 0, (rows % 2 == 1) & (cols % 2 == 0)]
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 4
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / 4
    planes = [ndimage.convolve(raw.astype(np.float32) * m, k, mode="mirror") for m, k in zip(masks, (k_rb, k_g, k_rb))]
    return np.clip(np.floor(np.stack(planes, axis=-1) + 0.5), 0, 255).astype(np.uint8)


def csv_by_lines(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    times, values = [], []
    for line in data.decode().splitlines():
        stamp, x, y, z = line.split(",")
        fmt = "%Y%m%d_%H:%M:%S.%f" if "." in stamp else "%Y%m%d_%H:%M:%S"
        times.append(dt.datetime.strptime(stamp, fmt).replace(tzinfo=dt.timezone.utc).timestamp())
        values.append((float(x), float(y), float(z)))
    return np.array(times), np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=900, help="rows per synthetic sensor file")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    raw = rng.integers(0, 256, size=(480, 640), dtype=np.uint8)
    ours = berkeley_mhad.demosaic_grbg(raw)
    error = int(np.abs(ours.astype(int) - demosaic_by_convolution(raw)).max())
    t_conv = best_time(lambda: demosaic_by_convolution(raw), args.repeats)
    t_ours = best_time(lambda: berkeley_mhad.demosaic_grbg(raw), args.repeats)
    print(f"demosaic 640x480   convolve {t_conv * 1e3:7.2f} ms  ours {t_ours * 1e3:7.2f} ms  "
          f"ratio {t_conv / t_ours:5.1f}x  max |diff| {error}")

    start = dt.datetime(2018, 10, 16, 13, 37, 28, 612000)
    stamps = [(start + dt.timedelta(milliseconds=10 * i)).strftime("%Y%m%d_%H:%M:%S.%f") for i in range(args.rows)]
    xyz = rng.normal(size=(args.rows, 3))
    data = "".join(f"{s},{x:.7g},{y:.7g},{z:.7g}\n" for s, (x, y, z) in zip(stamps, xyz)).encode()
    path = Path("bench.csv")
    stream = mmact.parse_sensor_csv(path, data)
    times, values = csv_by_lines(data)
    error_t = float(np.abs(stream.times - times).max())
    t_lines = best_time(lambda: csv_by_lines(data), args.repeats)
    t_ours = best_time(lambda: mmact.parse_sensor_csv(path, data), args.repeats)
    print(f"MMAct CSV {args.rows} rows  per-line {t_lines * 1e3:7.2f} ms  ours {t_ours * 1e3:7.2f} ms  "
          f"ratio {t_lines / t_ours:5.1f}x  max |dt| {error_t:.1e} s")


if __name__ == "__main__":
    main()
