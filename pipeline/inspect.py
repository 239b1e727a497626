"""Look inside a prepared store: arrays and their compression, counts per class and split, failures
and the takes kept with skipped lines.

`summarise(store)` returns a JSON-ready dict, `format_summary` prints it as text, and
`render_take(store, index, png)` draws one take: per modality its resampled signal and the GAF
image of each axis, then the centre candidate frame of every segment of each of its clips.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import CACHE_DIR, load_dataset
from pipeline.sampling import centre_candidates
from pipeline.splits import split_masks
from pipeline.store import FAILED, OK, PENDING, Store, StoreLocation, open_store, store_location, store_path
from pipeline.units import format_bytes


class InspectError(Exception):
    """An inspect request that cannot be answered (no store, unknown take); one line."""


@dataclass(frozen=True)
class InspectOptions:
    dataset: str
    cache: StoreLocation = CACHE_DIR  # a folder or an fsspec URL, as prepare --cache takes it
    as_json: bool = False
    take_index: int | None = None
    take_key: str | None = None
    png: Path | None = None
    store: StoreLocation | None = None  # the store itself, as train / evaluate / baseline name it (wins over cache)


def array_table(store: Store) -> list[dict]:
    """One row per array: name, shape, dtype, chunks, stored bytes, raw bytes and their ratio."""
    rows = []
    for name in store.array_names():
        array = store.array(name)
        stored = array.nbytes_stored()
        kind = np.dtype(array.dtype).kind
        itemsize = np.dtype(array.dtype).itemsize if kind not in "OTU" else None
        raw = int(np.prod(array.shape)) * itemsize if itemsize else None
        rows.append({
            "name": name, "shape": list(array.shape), "dtype": "str" if itemsize is None else str(array.dtype),
            "chunks": list(array.chunks),
            "stored_bytes": stored, "raw_bytes": raw,
            "ratio": round(raw / stored, 2) if raw and stored else None,
        })
    return rows


def _status_counts(status: np.ndarray) -> dict[str, int]:
    return {s: int((status == s).sum()) for s in (OK, FAILED, PENDING)}


def protocol_counts(store: Store) -> dict[str, dict]:
    """Train/test counts of every protocol of the dataset's datasets.yaml entry (ok rows only).

    Take counts are None for a protocol filtering on a clip column (camera).
    """
    protocols = load_dataset(store.dataset).protocols
    take_ok = store.takes["status"] == OK
    clip_columns = store.clip_columns()
    clip_ok = store.clips["status"] == OK
    counts = {}
    for name, protocol in protocols.items():
        entry: dict = {}
        try:
            train, test = split_masks(store.takes, protocol)
            entry["train_takes"], entry["test_takes"] = int((train & take_ok).sum()), int((test & take_ok).sum())
        except ValueError:
            entry["train_takes"] = entry["test_takes"] = None
        train, test = split_masks(clip_columns, protocol)
        entry["train_clips"], entry["test_clips"] = int((train & clip_ok).sum()), int((test & clip_ok).sum())
        counts[name] = entry
    return counts


def summarise(store: Store) -> dict:
    """JSON-ready summary of a store."""
    labels = store.takes["label"]
    clip_labels = labels[store.clips["take"]] if store.num_clips else np.zeros(0, dtype=np.int64)
    modalities = {}
    for modality in store.modalities:
        info = store.sensor_info(modality)
        present = info["present"]
        modalities[modality] = {
            "present": int(present.sum()),
            "duration_s_median": float(np.median(info["duration_s"][present])) if present.any() else None,
            "nsamples_median": float(np.median(info["nsamples"][present])) if present.any() else None,
        }
    failed = [{"kind": "take", "key": str(k), "reason": str(e)}
              for k, s, e in zip(store.takes["key"], store.takes["status"], store.takes["error"]) if s == FAILED]
    failed += [{"kind": "clip", "key": f"{store.takes['key'][t]} cam{c}", "reason": str(e)}
               for t, c, s, e in zip(store.clips["take"], store.clips["camera"], store.clips["status"],
                                     store.clips["error"]) if s == FAILED]
    skipped_lines = [{"key": str(k), "warning": str(w)}
                     for k, w in zip(store.takes["key"], store.takes["warning"]) if w]
    return {
        "store": str(store.path),
        "dataset": store.dataset,
        "complete": bool(store.attrs.get("complete", False)),
        "config_digest": store.attrs["config_digest"],
        "config": store.attrs["config"],
        "embedding": {k: v for k, v in store.embedding_attrs.items() if k != "tokens"},
        "takes": {"total": store.num_takes, **_status_counts(store.takes["status"]),
                  "with_skipped_lines": len(skipped_lines)},
        "clips": {"total": store.num_clips, **_status_counts(store.clips["status"])},
        "modalities": modalities,
        "has_video": store.has_video,
        "arrays": array_table(store),
        "stored_bytes": store.stored_bytes(),
        "classes": [
            {"label": i, "name": name, "takes": int((labels == i).sum()), "clips": int((clip_labels == i).sum())}
            for i, name in enumerate(store.class_names)
        ],
        "protocols": protocol_counts(store),
        "failed": failed,
        "skipped_lines": skipped_lines,
        "scan_problems": list(store.attrs.get("scan_problems", [])),
    }


def format_summary(summary: dict) -> str:
    """Plain-text rendering of `summarise`."""
    lines = [
        f"{summary['store']}  dataset {summary['dataset']}  digest {summary['config_digest']}"
        f"{'' if summary['complete'] else '  (INCOMPLETE: prepare again to finish)'}",
        f"takes {summary['takes']['total']} (ok {summary['takes']['ok']}, failed {summary['takes']['failed']}, "
        f"pending {summary['takes']['pending']}), {summary['takes']['with_skipped_lines']} with skipped lines;  "
        f"clips {summary['clips']['total']} (ok {summary['clips']['ok']}, "
        f"failed {summary['clips']['failed']}, pending {summary['clips']['pending']});  on disk {format_bytes(summary['stored_bytes'])}",
        "",
        f"{'array':<28} {'shape':<26} {'dtype':<10} {'chunks':<26} {'on disk':>10} {'ratio':>6}",
    ]
    for row in summary["arrays"]:
        lines.append(
            f"{row['name']:<28} {str(tuple(row['shape'])):<26} {row['dtype']:<10} {str(tuple(row['chunks'])):<26} "
            f"{format_bytes(row['stored_bytes']):>10} {row['ratio'] if row['ratio'] is not None else '-':>6}"
        )
    lines += ["", f"{'modality':<14} {'present':>8} {'median s':>9} {'median n':>9}"]
    for name, m in summary["modalities"].items():
        med_s = f"{m['duration_s_median']:.2f}" if m["duration_s_median"] is not None else "-"
        med_n = f"{m['nsamples_median']:.0f}" if m["nsamples_median"] is not None else "-"
        lines.append(f"{name:<14} {m['present']:>8} {med_s:>9} {med_n:>9}")
    lines += ["", f"{'label':>5} {'class':<40} {'takes':>6} {'clips':>6}"]
    for c in summary["classes"]:
        if c["takes"] or c["clips"]:
            lines.append(f"{c['label']:>5} {c['name'][:40]:<40} {c['takes']:>6} {c['clips']:>6}")
    lines += ["", f"{'protocol':<16} {'train takes':>11} {'test takes':>10} {'train clips':>11} {'test clips':>10}"]
    for name, p in summary["protocols"].items():
        cells = [p[k] if p[k] is not None else "-" for k in ("train_takes", "test_takes", "train_clips", "test_clips")]
        lines.append(f"{name:<16} {cells[0]:>11} {cells[1]:>10} {cells[2]:>11} {cells[3]:>10}")
    if summary["failed"]:
        lines += ["", f"{len(summary['failed'])} failed recordings:"]
        lines += [f"  {f['kind']} {f['key']}: {f['reason']}" for f in summary["failed"]]
    if summary["skipped_lines"]:
        count = len(summary["skipped_lines"])
        lines += ["", f"{count} take{'s' if count > 1 else ''} kept with skipped lines:"]
        lines += [f"  take {t['key']}: {t['warning']}" for t in summary["skipped_lines"]]
    if summary["scan_problems"]:
        lines += ["", f"{len(summary['scan_problems'])} files skipped while scanning the raw tree:"]
        lines += [f"  {line}" for line in summary["scan_problems"]]
    return "\n".join(lines)


def render_take(store: Store, take: int, png: Path) -> Path:
    """Draw take `take` (row index) into `png`: signals, GAF per axis, segment frames of its clips.

    A bare matplotlib Figure (no pyplot) renders headless without switching the global backend."""
    from matplotlib.figure import Figure
    from matplotlib.gridspec import GridSpec

    clips = np.flatnonzero(store.clips["take"] == take) if store.has_video else np.zeros(0, dtype=np.int64)
    segments = store.segments
    ncols = max(5, segments)  # the signal plot spans the columns left of the three GAF images
    if not store.modalities and not len(clips):
        raise InspectError(f"{store.path}: take {take} has nothing to draw")
    frame_aspect = store.layout.frame_size[0] / store.layout.frame_size[1] if store.has_video else 1.0
    heights = [1.0] * len(store.modalities) + [frame_aspect] * len(clips)
    fig = Figure(figsize=(2.2 * ncols, 2.2 * sum(heights) + 0.6), dpi=80)
    grid = GridSpec(len(heights), ncols, figure=fig, height_ratios=heights)
    key, label = store.takes["key"][take], store.takes["label"][take]
    fig.suptitle(f"{store.dataset} take {take}: {key}  ({store.class_names[label]}, {store.takes['status'][take]})")
    row = 0
    for modality in store.modalities:
        signal = store.signal(modality, [take])[0]
        gaf = store.gaf(modality, [take])[0].astype(np.float32)
        ax = fig.add_subplot(grid[row, : ncols - 3])
        for axis, colour in zip(range(3), ("tab:red", "tab:green", "tab:blue")):
            ax.plot(signal[:, axis], color=colour, linewidth=0.8, label="xyz"[axis])
        ax.set_title(f"{modality} resampled", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6, loc="upper right")
        for axis in range(3):
            image_ax = fig.add_subplot(grid[row, ncols - 3 + axis])
            image_ax.imshow(gaf[axis], cmap="rainbow", vmin=-1, vmax=1)
            image_ax.set_title(f"GAF {'xyz'[axis]}", fontsize=8)
            image_ax.axis("off")
        row += 1
    if len(clips):
        slots = centre_candidates(store.segments, store.candidates)
        frames = store.frames(clips, slots)
        for clip, clip_frames in zip(clips, frames):
            for s in range(segments):
                ax = fig.add_subplot(grid[row, s])
                ax.imshow(clip_frames[s])
                ax.set_title(f"cam{store.clips['camera'][clip]} seg {s}", fontsize=8)
                ax.axis("off")
            row += 1
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    return png


def inspect_store(options: InspectOptions) -> str:
    """Summary text (or JSON) of <cache>/<dataset>.zarr; renders one take when --png is given."""
    path = store_location(options.store) if options.store else store_path(options.cache, options.dataset)
    try:
        store = open_store(path)
    except (FileNotFoundError, ValueError) as error:
        raise InspectError(str(error)) from None
    take = options.take_index
    if options.take_key is not None:
        matches = np.flatnonzero(store.takes["key"] == options.take_key)
        if not len(matches):
            raise InspectError(f"{path}: no take with key {options.take_key!r}")
        take = int(matches[0])
    if take is not None and not 0 <= take < store.num_takes:
        raise InspectError(f"{path}: take {take} out of range (store holds {store.num_takes} takes)")
    if options.png is not None and take is None:
        raise InspectError("--png needs --take I or --id KEY")
    summary = summarise(store)
    if take is not None:
        summary["take"] = {
            "index": take,
            **{k: (v[take].item() if hasattr(v[take], "item") else str(v[take])) for k, v in store.takes.items()},
        }
        if options.png is not None:
            summary["png"] = str(render_take(store, take, options.png))
    if options.as_json:
        return json.dumps(summary, indent=2)
    text = format_summary(summary)
    if take is not None:
        text += "\n\ntake " + ", ".join(f"{k}={v}" for k, v in summary["take"].items())
        if "png" in summary:
            text += f"\nwrote {summary['png']}"
    return text
