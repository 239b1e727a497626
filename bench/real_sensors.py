"""Real Berkeley-MHAD accelerometers: every sensor network of the project beside the classical baseline.

    python bench/real_sensors.py --root DIR | --store STORE [--protocol dev|loso|loso-3] [--sensors acc_h01,...]
                                 [--networks raw_encoder,...] [--folds loso-1,...] [--seeds 1 [--ensemble]]
                                 [--variant NAME:KEY=VALUE,...] [--scaling range|log|minmax] [--gaf-size 32]
                                 --json FILE [--work DIR] [--seed 0] [--device cuda]
    python bench/real_sensors.py --table A.json B.json ... [--json POOLED.json] [--page PAGE.md]
                                 (one table of several jobs' rows; the page is written from the pooled JSON)

Prepares DIR (a Berkeley-MHAD accelerometer tree, e.g. ../shared/real-data/berkeley-mhad-dev) into
a store under --work, then trains each network with the dataset's `cpu` preset (datasets.yaml: the
recommended 2-core CPU recipe, every training subject of the protocol trained on, the final epoch
reported as the papers do) and scores it on the protocol's test subjects:

    per sensor  vgg16bn_teacher   SAKDN's teacher on that sensor alone (VGG16-BN on GAF, CE + semantic)
                resnet18_gaf      VSKD's student baseline (ResNet18 on GAF, CE)
                raw_encoder       the raw-signal ResNet-1D on the stream (CE)
                random_forest     the classical baseline (training.run.baseline)
    fused       teachers_fused    SAKDN's VGG16-BN teachers of every sensor, SPAMFM-fused (after fc7
                                  only, as the preset says: bench/spamfm_fusion.py)
                raw_encoder       raw-signal teachers of every sensor, logits averaged (SPAMFM ablated)
                raw_teachers_spamfm  the same teachers SPAMFM-fused (after fc7, as the preset says)
                random_forest

A protocol family (`loso`: leave one of the official training subjects out, 7 folds) runs every
network on every fold (or the --folds given: one job per few folds runs them in parallel; --table
joins their JSONs), each cell then the mean +- std over folds and seeds: the tuning signal that
predicts subjects never trained on, where the 2-subject `dev` split moved figures by up to 22 points.

Each --variant NAME:KEY=VALUE,... (options of `train`, e.g. `recipe:stream_rate=30,schedule=onecycle`)
adds a row `<network>:<NAME>` per network trained with those options on top of the preset: one row per
recipe finding, measured on the same folds and seeds. With --seeds N --ensemble, each network also gets
a row `<network>:ensN` per fold: its N seeds' runs as one classifier (the mean of their softmax
probabilities on the test takes), paired with the forest and with the first seed's single run.
The GAF networks read the store's images: 32 px GASF of the series on --scaling (default `log`, the
motion on a log scale: pipeline.gaf.scaled_series); a row says how its images differ from 32 px GASF
of the range-scaled series, e.g. `resnet18_gaf:log` (store_suffix), and pairs with `resnet18_gaf`.

Writes {"protocol", "jobs": [{"command", "commit", "date", "seconds"}], "rows": [{"network", "sensor",
"fold", "seed", "accuracy", "macro_f1"}]} to --json and prints the Markdown table (accuracy / macro-F1
in %), one progress line per trained network. `--page` writes a results page from such a JSON: the
table, each network's paired difference to the forest (same fold and seed), each fused network
against the best single sensor of its own kind on the same fold and seed (and against the best of its
own per-sensor heads, rows `<network>/heads`, recorded by every fused run), and the papers' figures
(their official split) beside the GAF networks'.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.config import load_dataset  # noqa: E402
from pipeline.gaf import METHODS as GAF_METHODS  # noqa: E402
from pipeline.gaf import SCALINGS  # noqa: E402
from pipeline.prepare import PrepareOptions, prepare  # noqa: E402
from training.engine.metrics import score  # noqa: E402
from training.models.encoders import sensor_encoder  # noqa: E402
from training.options import RunOptions, parse_variant  # noqa: E402
from training.run.baseline import run_baseline  # noqa: E402
from training.run.config import resolve_options  # noqa: E402
from training.run.evaluate import evaluate_run  # noqa: E402
from training.run.study import format_gain, paired_gain  # noqa: E402
from training.run.study import provenance as study_provenance  # noqa: E402
from training.run.train import open_checked_store, run_training  # noqa: E402

DATASET = "berkeley-mhad"
PRESET = "cpu"
GAF_SIZE = 32
# GAF rows are named after their images relative to 32 px GASF of the range-scaled series (store_suffix),
# the bench's first images; it now prepares "log" images, chosen on loso (docs/results/README.md): the
# ResNet18 gained 10.7-18.2 points on the hips and ankles over "range", ahead on 6-7 of 7 folds each
NAMING_SCALING = "range"
SCALING = "log"
FUSED = "fused"
FOREST = "random_forest"
# The papers' accuracies (%) on the official split (train S01-07, test S08-12), per sensor and fused:
# VSKD's Table 2 student baseline (ImageNet-pretrained ResNet18 on 224 px GAF) and SAKDN's Table V
# teachers (ImageNet-pretrained VGG16, SPAMFM-fused); each with the networks of this bench that it
# compares with (per sensor, fused).
PAPERS = {
    "VSKD Table 2, ResNet18 on GAF": (("resnet18_gaf", None), {
        "acc_h01": 89.09, "acc_h02": 86.54, "acc_h03": 83.27, "acc_h04": 81.09, "acc_h05": 65.09, "acc_h06": 62.91}),
    "SAKDN Table V, VGG16 teachers": (("vgg16bn_teacher", "teachers_fused"), {
        "acc_h01": 81.09, "acc_h02": 82.90, "acc_h03": 75.27, "acc_h04": 80.36, "acc_h05": 55.27, "acc_h06": 54.54,
        FUSED: 92.00}),
}
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
    "raw_teachers_spamfm": ("sensor2vision", {"stage": "teachers", "sensor_encoder": "raw"}),
}
# fused network -> the single-sensor network of its kind (a `:variant` suffix carries over to both)
SINGLE_OF_FUSED = {"teachers_fused": "vgg16bn_teacher", "raw_encoder": "raw_encoder",
                   "raw_teachers_spamfm": "raw_encoder"}


def run_name(network: str, sensor: str, fold: str, seed: int) -> str:
    return f"{network.replace(':', '-')}-{sensor}-{fold}-s{seed}"


def train_row(network: str, sensor: str, mode: str, overrides: dict, store: Path, runs: Path, fold: str,
              sensors: tuple[str, ...], seed: int, threads: int | None, device: str = "cpu") -> list[dict]:
    """Train one network with the preset on protocol `fold` and return its final test figures on head
    `sensor`; a fused network's own per-sensor heads follow as rows `<network>/heads` (heads_of)."""
    on = {"modalities": sensors} if sensor == FUSED else {"modalities": (sensor,), "student_modality": sensor}
    options = resolve_options(DATASET, mode, preset=PRESET, store=store, runs_dir=runs, protocol=fold,
                              name=run_name(network, sensor, fold, seed), seed=seed, device=device,
                              threads=threads, progress=False, baseline=False, overwrite=True, **on, **overrides)
    run_training(options)
    test = json.loads((options.run_dir / overrides["stage"] / "results.json").read_text())["final"]["test"]
    heads = [(network, sensor)] + ([(heads_of(network), m) for m in sensors] if sensor == FUSED else [])
    return [{"network": name, "sensor": head, "fold": fold, "seed": seed, "accuracy": test[head]["accuracy"],
             "macro_f1": test[head]["macro_f1"]} for name, head in heads]


def heads_of(network: str) -> str:
    """The row name of a fused network's per-sensor heads: each sensor's network trained inside the
    fused one (its own classifier after the fusion), so the fusion is also compared with its own best head."""
    return f"{network}/heads"


def ensemble_row(network: str, sensor: str, stage: str, runs: Path, fold: str, seeds: range, device: str) -> dict:
    """`network:ens<N>`: the N seeds' runs of one network, sensor and fold as one classifier, the mean of
    their softmax probabilities on the test takes (each run's last checkpoint, the figure train_row reports);
    seed = the first seed, so the row pairs with the forest and with that seed's single run."""
    scored = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            saved = Path(scratch) / f"s{seed}.npz"
            evaluate_run(runs / run_name(network, sensor, fold, seed), protocol=fold, stage=stage, checkpoint="last",
                         device=device, save_predictions=saved)
            with np.load(saved) as arrays:
                scored.append((arrays[f"{stage}/rows"], arrays[f"{stage}/labels"],
                               softmax(arrays[f"{stage}/logits/{sensor}"], axis=1)))
    rows, labels, _ = scored[0]
    if any(not np.array_equal(other, rows) for other, _, _ in scored):
        raise SystemExit(f"--ensemble: the runs of {network} on {sensor}, {fold} scored different takes")
    probabilities = np.mean([p for _, _, p in scored], axis=0)
    scores = score(labels, probabilities.argmax(1), load_dataset(DATASET).num_classes)
    return {"network": f"{network}:ens{len(seeds)}", "sensor": sensor, "fold": fold, "seed": seeds[0],
            "accuracy": scores.accuracy, "macro_f1": scores.macro_f1}


def forest_rows(store_path: Path, fold: str, sensors: tuple[str, ...], seed: int, fused: bool) -> list[dict]:
    """The forest on each sensor, and on all of them when `fused` (the job trains fused networks: a
    job over a few sensors must not write a `fused` row that pools with the six-sensor one)."""
    results = run_baseline(open_checked_store(store_path), load_dataset(DATASET), fold, seed, modalities=sensors,
                           models=("random forest",))
    return [{"network": FOREST, "sensor": r.input, "fold": fold, "seed": seed, "accuracy": r.scores.accuracy,
             "macro_f1": r.scores.macro_f1} for r in results if fused or r.input != FUSED]


def markdown(rows: list[dict]) -> str:
    """One line per network, one column per sensor (in the rows' order) and fused: accuracy / macro-F1
    in %, each the mean +- std over the folds and seeds of the rows (n shown) when there are several."""
    columns = [*sensors_of(rows), FUSED]
    figures: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        figures.setdefault((r["network"], r["sensor"]), []).append(r)
    networks = list(dict.fromkeys(r["network"] for r in rows))
    lines = ["| network | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {n} | " + " | ".join(_cell(figures.get((n, c), [])) for c in columns) + " |" for n in networks]
    return "\n".join(lines)


def _cell(rows: list[dict]) -> str:
    if len(rows) < 2:
        return "".join(f"{100 * r['accuracy']:.1f} / {100 * r['macro_f1']:.1f}" for r in rows)
    acc, f1 = ([100 * r[k] for r in rows] for k in ("accuracy", "macro_f1"))
    return (f"{statistics.mean(acc):.1f} +- {statistics.stdev(acc):.1f} / "
            f"{statistics.mean(f1):.1f} +- {statistics.stdev(f1):.1f} (n={len(rows)})")


def sensors_of(rows: list[dict]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r["sensor"] for r in rows if r["sensor"] != FUSED))


def pooled(paths: list[Path]) -> dict:
    """One report of several jobs' JSONs (e.g. one per few folds or sensors): their jobs and rows
    joined; a row trained twice (same network, sensor, fold and seed) is kept once, the later job's."""
    reports = [json.loads(Path(p).read_text()) for p in paths]
    protocols = {r["protocol"] for r in reports}
    if len(protocols) != 1:
        raise SystemExit(f"--table: the JSONs hold different protocols: {sorted(protocols)}")
    rows = {(r["network"], r["sensor"], r["fold"], r["seed"]): r for report in reports for r in report["rows"]}
    jobs = [job for report in reports for job in report.get("jobs", [report])]
    return {"protocol": protocols.pop(), "jobs": [{k: job.get(k) for k in ("command", "commit", "date", "seconds")}
                                                  for job in jobs], "rows": list(rows.values())}


def paired_lines(rows: list[dict], reference_of) -> list[str]:
    """Per network and column: its accuracy minus that of `reference_of(network)` (a network name, or
    None to skip) on the same column, fold and seed."""
    accuracy = {(r["network"], r["sensor"], r["fold"], r["seed"]): r["accuracy"] for r in rows}
    lines = []
    for network in dict.fromkeys(r["network"] for r in rows):
        reference = reference_of(network)
        for column in [*sensors_of(rows), FUSED] if reference else []:
            pairs = [(a, accuracy[(reference, *key[1:])]) for key, a in accuracy.items()
                     if key[0] == network and key[1] == column and (reference, *key[1:]) in accuracy]
            if pairs:
                gain = paired_gain([a for a, _ in pairs], [b for _, b in pairs])
                ahead = sum(a >= b for a, b in pairs)
                lines.append(f"- `{network}` on {column}: {format_gain(gain, 'fold and seed')}; "
                             f"at or above `{reference}` in {ahead} of {len(pairs)}")
    return lines


def best_single_lines(rows: list[dict]) -> list[str]:
    """Each fused network against, per fold and seed, the best of its kind's single-sensor rows
    (SINGLE_OF_FUSED; the target the issue sets SPAMFM: a fusion at least as good as its best sensor),
    and against the best of its own per-sensor heads (heads_of) where the job recorded them."""
    single: dict[tuple[str, str, int], float] = {}
    for r in rows:
        if r["sensor"] != FUSED:
            key = (r["network"], r["fold"], r["seed"])
            single[key] = max(single.get(key, 0.0), r["accuracy"])
    lines = []
    for network in dict.fromkeys(r["network"] for r in rows if r["sensor"] == FUSED):
        base, _, variant = network.partition(":")
        for kind in (SINGLE_OF_FUSED.get(base, base) + (f":{variant}" if variant else ""), heads_of(network)):
            pairs = [(r["accuracy"], single[(kind, r["fold"], r["seed"])]) for r in rows
                     if r["network"] == network and r["sensor"] == FUSED and (kind, r["fold"], r["seed"]) in single]
            if pairs:
                gain = paired_gain([a for a, _ in pairs], [b for _, b in pairs])
                lines.append(f"- `{network}` (fused) against the best `{kind}` sensor: "
                             f"{format_gain(gain, 'fold and seed')}; at or above it in {sum(a >= b for a, b in pairs)} "
                             f"of {len(pairs)}")
    return lines


def paper_lines(rows: list[dict]) -> list[str]:
    """Each paper's figure beside the loso mean of every row of the GAF network it corresponds to (the
    network and its variants, e.g. `resnet18_gaf` and `resnet18_gaf:log`; not a fused network's heads)."""
    lines = []
    for paper, ((per_sensor, fused), figures) in PAPERS.items():
        for column, figure in figures.items():
            base = fused if column == FUSED else per_sensor
            ours: dict[str, list[float]] = {}
            for r in rows:
                if r["network"].split(":")[0] == base and r["sensor"] == column:
                    ours.setdefault(r["network"], []).append(100 * r["accuracy"])
            lines += [f"- {paper}, {column}: paper {figure:.1f}, `{network}` {statistics.mean(accuracy):.1f} "
                      f"(n={len(accuracy)}): {statistics.mean(accuracy) - figure:+.1f} points"
                      for network, accuracy in ours.items()]
    return lines


def results_page(report: dict, json_name: str) -> str:
    """The Markdown page of a pooled report: provenance, the table, the forest gaps, the papers."""
    rows = report["rows"]
    folds = sorted({r["fold"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"# Berkeley-MHAD accelerometers, protocol `{report['protocol']}`: every sensor network beside the forest",
             "", f"Written by `bench/real_sensors.py --page` from `{json_name}` ({len(folds)} folds: "
             f"{', '.join(folds)}; seeds {seeds}). Test accuracy / macro-F1 in %, mean +- std over folds and seeds "
             "(n); every network trained with the dataset's `cpu` preset, a `name:variant` row with that "
             "variant's options on top, a `name/heads` row the per-sensor heads of the fused network `name` "
             "(each sensor's network trained inside it). Jobs:", ""]
    lines += [f"- `{job['command']}` (commit {str(job['commit'])[:8]}, {job['date']}, "
              f"{(job['seconds'] or 0) / 60:.0f} min)" for job in report["jobs"]]
    lines += ["", markdown(rows), "", "## Against the random forest (paired: same fold and seed)", ""]
    lines += paired_lines(rows, lambda n: FOREST if n != FOREST else None) or ["- no forest rows"]
    variants = paired_lines(rows, lambda n: n.rsplit(":", 1)[0] if ":" in n else None)
    lines += ["", "## What each variant changed (paired with the row it extends, `a:b` with `a`: same fold and seed)", "", *variants] \
        if variants else []
    fused = best_single_lines(rows)
    lines += ["", "## Fused against each fold's best single sensor (same kind of network, fold and seed)", "",
              *fused] if fused else []
    lines += ["", "## The papers (official split S08-12; these folds test on one of S01-07 each)", ""]
    lines += paper_lines(rows) or ["- no GAF network rows"]
    return "\n".join(lines) + "\n"


def provenance(seconds: float) -> dict:
    """This job's command line (a script of bench/), commit, date and duration, for the results page."""
    script = Path(sys.argv[0])
    return {**study_provenance(f"python bench/{script.name} " + " ".join(sys.argv[1:])), "seconds": seconds}


def write_report(path: Path, protocol: str, folds: tuple[str, ...], rows: list[dict], seconds: float) -> None:
    """The job's JSON, rewritten after every trained network: a job stopped part way keeps its rows."""
    path.write_text(json.dumps({"protocol": protocol, "folds": list(folds), "jobs": [provenance(seconds)],
                                "rows": rows}, indent=1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, nargs="+", default=None,
                        help="pool these JSONs: print their table (and write --json / --page) and stop")
    parser.add_argument("--page", type=Path, default=None, help="with --table: write the results page here")
    parser.add_argument("--root", type=Path, help="Berkeley-MHAD accelerometer tree")
    parser.add_argument("--store", type=Path, default=None,
                        help="a store already prepared from --root's tree: skip prepare (its GAF settings name the rows)")
    parser.add_argument("--scaling", choices=SCALINGS, default=SCALING,
                        help=f"with --root: the GAF images' scaling (pipeline.gaf) [default: {SCALING}]")
    parser.add_argument("--gaf-size", type=int, default=GAF_SIZE, help=f"with --root: GAF image side [default: {GAF_SIZE}]")
    parser.add_argument("--device", default="cpu", help="torch device of every network [default: cpu]")
    parser.add_argument("--protocol", default=None, help="protocol or family of datasets.yaml [default: the dataset's]")
    parser.add_argument("--folds", default=None, help="comma list: only these folds of the family [default: all]")
    parser.add_argument("--sensors", default=None, help="comma list [default: all six]")
    parser.add_argument("--networks", default=None,
                        help=f"comma list of {', '.join(dict.fromkeys([*SENSOR_NETWORKS, *FUSED_NETWORKS]))} "
                             "(every row of the network) or NETWORK:VARIANT (that row alone) [default: all]")
    parser.add_argument("--fused", choices=("auto", "no", "only"), default="auto",
                        help="the fused networks: with several sensors (auto), never, or alone")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:KEY=VALUE,...: also train every network with these options, as row <network>:NAME")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work", type=Path, default=None, help="store and runs go here [default: a temporary folder]")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=1, help="seeds --seed ... --seed + N - 1")
    parser.add_argument("--ensemble", action="store_true",
                        help="with --seeds N >= 2: also a row <network>:ensN per fold, the seeds' mean softmax")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's]")
    args = parser.parse_args()
    if args.table is None and ((args.root is None and args.store is None) or args.json is None):
        parser.error("--root (or --store) and --json are needed (or --table JSON ...)")
    if args.ensemble and args.seeds < 2:
        parser.error("--ensemble needs --seeds 2 or more")
    return args


def store_suffix(config: dict) -> str:
    """How a store's GAF images differ from 32 px GASF of the range-scaled series, as a row suffix:
    '' when they do not, else e.g. 'log', 'gaf64' or 'gaf64-gadf-minmax'."""
    parts = [f"gaf{config['gaf_size']}" if config["gaf_size"] != GAF_SIZE else "",
             "gadf" if config["gaf_method"] != GAF_METHODS[0] else "",
             config["scaling"] if config["scaling"] != NAMING_SCALING else ""]
    return "-".join(part for part in parts if part)


def reads_gaf(options: dict) -> bool:
    """Whether the network of these options reads the store's GAF images (not a stream)."""
    return not sensor_encoder(options.get("sensor_encoder", RunOptions.sensor_encoder)).reads_stream


def jobs(sensors: tuple[str, ...], networks: set[str] | None, variants: dict[str, dict] | None = None,
         fused: str = "auto", gaf: str = "") -> list[tuple[str, str, str, dict]]:
    """(network, sensor, mode, options) of every network to train, per sensor, then fused (`fused`:
    auto: with several sensors; no; only: the fused networks alone); each network again per variant,
    as `<network>:<variant>` with the variant's options on top. `networks` keeps a network's rows
    (`raw_encoder`: plain and variants) or one row (`raw_encoder:rot`). `gaf` (store_suffix) names the
    GAF networks' images: `resnet18_gaf:log`."""
    chosen = [(n, s, *SENSOR_NETWORKS[n]) for s in sensors for n in SENSOR_NETWORKS] if fused != "only" else []
    chosen += ([(n, FUSED, *FUSED_NETWORKS[n]) for n in FUSED_NETWORKS]
               if fused == "only" or (fused == "auto" and len(sensors) > 1) else [])
    chosen = [(f"{n}:{gaf}" if gaf and reads_gaf(options) else n, s, mode, options) for n, s, mode, options in chosen]
    expanded = [(f"{n}:{name}" if name else n, n.partition(":")[0], s, mode, {**options, **extra})
                for name, extra in {"": {}, **(variants or {})}.items() for n, s, mode, options in chosen]
    return [(row, s, mode, options) for row, n, s, mode, options in expanded
            if networks is None or row in networks or n in networks]


def main() -> None:
    args = parse_args()
    if args.table is not None:
        report = pooled(args.table)
        print(markdown(report["rows"]))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        if args.page:
            args.page.write_text(results_page(report, args.json.name if args.json else "the jobs' JSONs"))
        return
    spec = load_dataset(DATASET)
    protocol = args.protocol or spec.default_protocol
    folds = tuple(args.folds.split(",")) if args.folds else spec.protocol_folds(protocol)
    sensors = tuple(args.sensors.split(",")) if args.sensors else spec.modalities
    seeds = range(args.seed, args.seed + args.seeds)
    work = args.work or Path(tempfile.mkdtemp(prefix="real-sensors-"))
    start = time.perf_counter()
    store = args.store or prepare(PrepareOptions(dataset=DATASET, root=args.root, cache=work / "cache",
                                                 gaf_size=args.gaf_size, scaling=args.scaling, modalities=sensors,
                                                 progress=False)).store_path
    todo = jobs(sensors, set(args.networks.split(",")) if args.networks else None,
                dict(parse_variant(v) for v in args.variant), args.fused,
                store_suffix(open_checked_store(store).attrs["config"]))
    fused = any(sensor == FUSED for _, sensor, _, _ in todo)
    rows = [r for fold in folds for seed in seeds for r in forest_rows(store, fold, sensors, seed, fused)]
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def keep(new: list[dict], label: str) -> None:
        rows.extend(new)
        print(f"{label}: {100 * new[0]['accuracy']:.1f}% ({time.perf_counter() - start:.0f} s)", flush=True)
        write_report(args.json, protocol, folds, rows, time.perf_counter() - start)

    trained = itertools.count(1)
    for fold in folds:
        for seed in seeds:
            for network, sensor, mode, overrides in todo:
                keep(train_row(network, sensor, mode, overrides, store, work / "runs", fold, sensors, seed, args.threads,
                               args.device),
                     f"[{next(trained)}/{len(todo) * len(folds) * len(seeds)}] {network} on {sensor}, {fold} seed {seed}")
        for network, sensor, _, overrides in todo if args.ensemble else ():
            row = ensemble_row(network, sensor, overrides["stage"], work / "runs", fold, seeds, args.device)
            keep([row], f"{row['network']} on {sensor}, {fold}")
    seconds = time.perf_counter() - start
    write_report(args.json, protocol, folds, rows, seconds)
    print(f"\nBerkeley-MHAD protocol {protocol} ({len(folds)} folds), seeds {list(seeds)}, {seconds / 60:.1f} min\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
