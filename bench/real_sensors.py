"""Real Berkeley-MHAD accelerometers: every sensor network of the project beside the classical baseline.

    python bench/real_sensors.py --root DIR [--protocol dev] [--sensors acc_h01,...] --json FILE
                                 [--work DIR] [--seed 0]

Prepares DIR (a Berkeley-MHAD accelerometer tree, e.g. ../shared/real-data/berkeley-mhad-dev) into
a store under --work, then trains each network with the dataset's `cpu` preset (datasets.yaml: the
recommended 2-core CPU recipe, every training subject of the protocol trained on, the final epoch
reported as the papers do) and scores it on the protocol's test subjects:

    per sensor  vgg16bn_teacher   SAKDN's teacher on that sensor alone (VGG16-BN on GAF, CE + semantic)
                resnet18_gaf      VSKD's student baseline (ResNet18 on GAF, CE)
                raw_encoder       the raw-signal ResNet-1D on the stream (CE)
                random_forest     the classical baseline (training.baseline)
    fused       teachers_fused    SAKDN's VGG16-BN teachers of every sensor, SPAMFM-fused
                raw_encoder       raw-signal teachers of every sensor, logits averaged (SPAMFM ablated:
                                  it costs these teachers 21 points, README)
                random_forest

Writes {"protocol", "rows": [{"network", "sensor", "accuracy", "macro_f1"}], "seconds"} to --json
and prints the Markdown table (accuracy / macro-F1 in %), one progress line per trained network.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import load_dataset  # noqa: E402
from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from training.baseline import run_baseline  # noqa: E402
from training.options import resolve_options  # noqa: E402
from training.recipes import open_checked_store, run_training  # noqa: E402

DATASET = "berkeley-mhad"
PRESET = "cpu"
GAF_SIZE = 32
FUSED = "fused"
# network -> (mode, options); every run trains the "teachers" stage of sensor2vision or the "student"
# stage of vision2sensor with --kd none, so no video is needed
SENSOR_NETWORKS = {
    "vgg16bn_teacher": ("sensor2vision", {"stage": "teachers", "ablate": ("spamfm",)}),
    "resnet18_gaf": ("vision2sensor", {"stage": "student", "kd": "none"}),
    "raw_encoder": ("vision2sensor", {"stage": "student", "kd": "none", "sensor_encoder": "raw"}),
}
FUSED_NETWORKS = {
    "teachers_fused": ("sensor2vision", {"stage": "teachers"}),
    "raw_encoder": ("sensor2vision", {"stage": "teachers", "sensor_encoder": "raw", "ablate": ("spamfm",)}),
}


def train_row(network: str, sensor: str, mode: str, overrides: dict, store: Path, runs: Path, protocol: str,
              sensors: tuple[str, ...], seed: int) -> dict:
    """Train one network with the preset and return its final test figures on head `sensor`."""
    on = {"modalities": sensors} if sensor == FUSED else {"modalities": (sensor,), "student_modality": sensor}
    options = resolve_options(DATASET, mode, preset=PRESET, store=store, runs_dir=runs, protocol=protocol,
                              name=f"{network}-{sensor}-s{seed}", seed=seed, device="cpu", progress=False,
                              baseline=False, overwrite=True, **on, **overrides)
    run_training(options)
    test = json.loads((options.run_dir / overrides["stage"] / "results.json").read_text())["final"]["test"]
    return {"network": network, "sensor": sensor, "accuracy": test[sensor]["accuracy"],
            "macro_f1": test[sensor]["macro_f1"]}


def forest_rows(store_path: Path, protocol: str, sensors: tuple[str, ...], seed: int) -> list[dict]:
    results = run_baseline(open_checked_store(store_path), load_dataset(DATASET), protocol, seed, modalities=sensors,
                           models=("random forest",))
    return [{"network": "random_forest", "sensor": r.input, "accuracy": r.scores.accuracy,
             "macro_f1": r.scores.macro_f1} for r in results]


def markdown(rows: list[dict], sensors: tuple[str, ...]) -> str:
    """One line per network, one column per sensor and fused: accuracy / macro-F1 in %."""
    columns = [*sensors, FUSED]
    cells = {(r["network"], r["sensor"]): f"{100 * r['accuracy']:.1f} / {100 * r['macro_f1']:.1f}" for r in rows}
    networks = list(dict.fromkeys(r["network"] for r in rows))
    lines = ["| network | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {n} | " + " | ".join(cells.get((n, c), "") for c in columns) + " |" for n in networks]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="Berkeley-MHAD accelerometer tree")
    parser.add_argument("--protocol", default=None, help="protocol of datasets.yaml [default: the dataset's]")
    parser.add_argument("--sensors", default=None, help="comma list [default: all six]")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="store and runs go here [default: a temporary folder]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    spec = load_dataset(DATASET)
    protocol = args.protocol or spec.default_protocol
    sensors = tuple(args.sensors.split(",")) if args.sensors else spec.modalities
    work = args.work or Path(tempfile.mkdtemp(prefix="real-sensors-"))
    start = time.perf_counter()
    store = prepare(PrepareOptions(dataset=DATASET, root=args.root, cache=work / "cache", gaf_size=GAF_SIZE,
                                   scaling="range", modalities=sensors, progress=False)).store_path
    rows = forest_rows(store, protocol, sensors, args.seed)
    jobs = [(n, s, *SENSOR_NETWORKS[n]) for s in sensors for n in SENSOR_NETWORKS]
    jobs += [(n, FUSED, *FUSED_NETWORKS[n]) for n in FUSED_NETWORKS] if len(sensors) > 1 else []
    for k, (network, sensor, mode, overrides) in enumerate(jobs, 1):
        rows.append(train_row(network, sensor, mode, overrides, store, work / "runs", protocol, sensors, args.seed))
        print(f"[{k}/{len(jobs)}] {network} on {sensor}: {100 * rows[-1]['accuracy']:.1f}% "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"protocol": protocol, "rows": rows, "seconds": seconds}, indent=1))
    print(f"\nBerkeley-MHAD protocol {protocol}, seed {args.seed}, {seconds / 60:.1f} min\n")
    print(markdown(rows, sensors))


if __name__ == "__main__":
    main()
