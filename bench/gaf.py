"""Speed of pipeline.gaf.gaf_images against pyts' batched GramianAngularField.transform.

Both get the same float64 batch (B series x C axes x L samples; pyts as one (B*C, L) matrix);
times are the best of `--repeats` runs after one warm-up, pyts' import excluded.
Target: ratio (pyts / ours) >= 5 at 64 and 128 px.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.gaf import gaf_images  # noqa: E402
from timing import best_time  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--axes", type=int, default=3)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--method", choices=["summation", "difference"], default="summation")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from pyts.image import GramianAngularField

    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(args.batch, args.length, args.axes)), axis=1)
    rows = np.ascontiguousarray(series.transpose(0, 2, 1).reshape(-1, args.length))

    print(f"GAF {args.method}: {args.batch} series x {args.axes} axes x {args.length} samples")
    for size in args.sizes:
        field = GramianAngularField(image_size=size, method=args.method, sample_range=(-1, 1))
        reference = field.transform(rows).reshape(args.batch, args.axes, size, size)
        ours = gaf_images(series, size, args.method)
        error = float(np.abs(ours - reference).max())
        t_pyts = best_time(lambda: field.transform(rows), args.repeats)
        t_ours = best_time(lambda: gaf_images(series, size, args.method), args.repeats)
        print(
            f"  {size:4d} px  pyts {t_pyts * 1e3:8.1f} ms  ours {t_ours * 1e3:8.1f} ms  "
            f"ratio {t_pyts / t_ours:5.1f}x  max |diff| {error:.1e}"
        )


if __name__ == "__main__":
    main()
