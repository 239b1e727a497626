"""bench/real_sensors.py's table: one cell per network and sensor, the mean +- std over the folds and
seeds of a protocol family, pooled across the JSONs of parallel jobs."""
from __future__ import annotations

import json

import pytest



@pytest.fixture(scope="module")
def real_sensors(bench_script):
    return bench_script("real_sensors")


def _row(network, sensor, fold, accuracy):
    return {"network": network, "sensor": sensor, "fold": fold, "seed": 0, "accuracy": accuracy,
            "macro_f1": accuracy - 0.1}


def test_fold_figures_are_pooled_across_jobs_into_mean_and_std(real_sensors, tmp_path):
    first = [_row("raw_encoder", "acc_h01", "loso-1", 0.8), _row("random_forest", "acc_h01", "loso-1", 0.7)]
    second = [_row("raw_encoder", "acc_h01", "loso-2", 0.9), _row("random_forest", "acc_h01", "loso-2", 0.7),
              _row("raw_encoder", "fused", "loso-2", 0.95)]
    paths = []
    for k, rows in enumerate((first, second)):
        paths.append(tmp_path / f"job{k}.json")
        paths[-1].write_text(json.dumps({"protocol": "loso", "rows": rows, "seconds": 1.0}))
    table = real_sensors.markdown(real_sensors.pooled(paths)["rows"]).splitlines()
    assert table[0] == "| network | acc_h01 | fused |"
    assert table[2] == "| raw_encoder | 85.0 +- 7.1 / 75.0 +- 7.1 (n=2) | 95.0 / 85.0 |"
    assert table[3] == "| random_forest | 70.0 +- 0.0 / 60.0 +- 0.0 (n=2) |  |"


def test_a_stopped_job_keeps_the_rows_written_so_far_and_pools_them(real_sensors, tmp_path):
    path = tmp_path / "job.json"
    rows = [_row("random_forest", "acc_h01", "loso-1", 0.7)]
    for accuracy in (0.8, 0.9):
        rows.append(_row("raw_encoder", f"acc_h0{len(rows)}", "loso-1", accuracy))
        real_sensors.write_report(path, "loso", ("loso-1",), rows, 1.0)
        report = real_sensors.pooled([path])
        assert [r["accuracy"] for r in report["rows"]] == [r["accuracy"] for r in rows]
    assert report["protocol"] == "loso" and report["jobs"][0]["seconds"] == 1.0


def test_jobs_keep_only_the_networks_asked_for(real_sensors):
    jobs = real_sensors.jobs(("acc_h01", "acc_h02"), {"raw_encoder"})
    assert [(network, sensor) for network, sensor, _, _ in jobs] == [
        ("raw_encoder", "acc_h01"), ("raw_encoder", "acc_h02"), ("raw_encoder", "fused")]
    assert [s for _, s, _, _ in real_sensors.jobs(("acc_h01", "acc_h02"), {"raw_encoder"}, fused="no")] == [
        "acc_h01", "acc_h02"]
    assert [s for _, s, _, _ in real_sensors.jobs(("acc_h01", "acc_h02"), {"raw_encoder"}, fused="only")] == ["fused"]


def test_each_variant_adds_a_row_per_network_with_its_options_on_top(real_sensors):
    jobs = real_sensors.jobs(("acc_h01",), {"raw_encoder"}, {"oc": {"schedule": "onecycle", "kd": "st"}})
    assert [(network, sensor) for network, sensor, _, _ in jobs] == [("raw_encoder", "acc_h01"),
                                                                     ("raw_encoder:oc", "acc_h01")]
    plain, variant = jobs[0][3], jobs[1][3]
    assert plain == {"stage": "student", "kd": "none", "sensor_encoder": "raw"}
    assert variant == {"stage": "student", "kd": "st", "sensor_encoder": "raw", "schedule": "onecycle"}
    alone = real_sensors.jobs(("acc_h01",), {"raw_encoder:oc"}, {"oc": {"schedule": "onecycle"}})
    assert [network for network, _, _, _ in alone] == ["raw_encoder:oc"]


def test_a_store_of_other_gaf_images_names_the_gaf_networks_rows_alone(real_sensors):
    bench = {"gaf_size": 32, "gaf_method": "summation", "scaling": "range"}
    assert real_sensors.store_suffix(bench) == ""
    assert real_sensors.store_suffix({**bench, "scaling": "log"}) == "log"
    assert real_sensors.store_suffix({"gaf_size": 64, "gaf_method": "difference", "scaling": "minmax"}) == "gaf64-gadf-minmax"
    rows = [(network, sensor) for network, sensor, _, _ in
            real_sensors.jobs(("acc_h01", "acc_h02"), None, {"v": {"epochs": 1}}, gaf="log")]
    assert ("resnet18_gaf:log", "acc_h01") in rows and ("vgg16bn_teacher:log:v", "acc_h02") in rows
    assert ("teachers_fused:log", "fused") in rows and ("raw_encoder", "acc_h01") in rows
    assert ("raw_teachers_spamfm", "fused") in rows and ("raw_encoder:v", "fused") in rows
    assert not any(n.startswith(("raw_encoder:log", "raw_teachers_spamfm:log")) for n, _ in rows)
    chosen = real_sensors.jobs(("acc_h01",), {"resnet18_gaf"}, gaf="log")
    assert [network for network, _, _, _ in chosen] == ["resnet18_gaf:log"]


def test_the_page_pairs_each_network_with_the_forest_and_the_papers(real_sensors, tmp_path):
    rows = [_row("random_forest", "acc_h01", "loso-1", 0.7), _row("random_forest", "acc_h01", "loso-2", 0.8),
            _row("resnet18_gaf", "acc_h01", "loso-1", 0.8), _row("resnet18_gaf", "acc_h01", "loso-2", 0.7),
            _row("resnet18_gaf", "acc_h01", "loso-2", 0.75),  # the same fold and seed again: the later one is kept
            _row("resnet18_gaf:big", "acc_h01", "loso-1", 0.9), _row("resnet18_gaf:big:ens3", "acc_h01", "loso-1", 0.95)]
    job = {"command": "python bench/real_sensors.py --protocol loso", "commit": "abc", "date": "2026-12-04",
           "seconds": 60.0}
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    paths[0].write_text(json.dumps({"protocol": "loso", "jobs": [job], "rows": rows[:4]}))
    paths[1].write_text(json.dumps({"protocol": "loso", "jobs": [job], "rows": rows[4:]}))
    report = real_sensors.pooled(paths)
    assert len(report["rows"]) == 6 and len(report["jobs"]) == 2
    page = real_sensors.results_page(report, "loso.json")
    assert "`resnet18_gaf` on acc_h01: +2.5 points" in page and "at or above `random_forest` in 1 of 2" in page
    assert "`resnet18_gaf:big` on acc_h01: +10.0 points, one fold and seed" in page  # paired with its plain row
    assert "`resnet18_gaf:big:ens3` on acc_h01: +5.0 points, one fold and seed" in page  # ... an ensemble with its run
    assert "VSKD Table 2, ResNet18 on GAF, acc_h01: paper 89.1, `resnet18_gaf` 77.5 (n=2): -11.6 points" in page
    assert "VSKD Table 2, ResNet18 on GAF, acc_h01: paper 89.1, `resnet18_gaf:big` 90.0 (n=1): +0.9 points" in page
    assert page.count("`python bench/real_sensors.py --protocol loso`") == 2
    paths[1].write_text(json.dumps({"protocol": "dev", "rows": []}))
    with pytest.raises(SystemExit, match="different protocols"):
        real_sensors.pooled(paths)


def test_the_page_sets_each_fused_network_beside_the_best_single_sensor_of_its_kind(real_sensors):
    rows = [_row("raw_encoder:logdyn", "acc_h01", "loso-1", 0.9), _row("raw_encoder:logdyn", "acc_h02", "loso-1", 0.95),
            _row("raw_encoder:logdyn", "acc_h01", "loso-2", 0.8), _row("raw_encoder", "acc_h01", "loso-2", 0.99),
            _row("raw_teachers_spamfm:logdyn", "fused", "loso-1", 0.97),
            _row("raw_teachers_spamfm:logdyn", "fused", "loso-2", 0.75),
            _row("vgg16bn_teacher", "acc_h01", "loso-1", 0.9), _row("teachers_fused", "fused", "loso-1", 0.8)]
    lines = real_sensors.best_single_lines(rows)
    assert lines[0].startswith("- `raw_teachers_spamfm:logdyn` (fused) against the best `raw_encoder:logdyn` sensor: "
                               "-1.5 points") and lines[0].endswith("at or above it in 1 of 2")
    assert lines[1].startswith("- `teachers_fused` (fused) against the best `vgg16bn_teacher` sensor: -10.0 points")
    heads = [_row("teachers_fused:log", "fused", "loso-1", 0.9), _row("teachers_fused:log/heads", "acc_h01", "loso-1", 0.8),
             _row("teachers_fused:log/heads", "acc_h02", "loso-1", 0.95)]
    assert real_sensors.best_single_lines(heads) == [
        "- `teachers_fused:log` (fused) against the best `teachers_fused:log/heads` sensor: -5.0 points, one fold "
        "and seed: no interval (per fold and seed -5.0); at or above it in 0 of 1"]


def test_the_spamfm_page_sets_each_fusion_beside_the_best_single_sensor(tmp_path, bench_script):
    module = bench_script("spamfm_fusion")
    singles = tmp_path / "loso.json"
    singles.write_text(json.dumps({"rows": [_row("raw_encoder", "acc_h01", "loso-1", 0.9),
                                            _row("raw_encoder", "acc_h02", "loso-1", 0.95),
                                            _row("raw_encoder", "fused", "loso-1", 1.0),
                                            _row("random_forest", "acc_h01", "loso-1", 0.99)]}))
    assert module.best_singles(singles) == {"loso-1": 0.95}
    rows = [{"fold": "loso-1", "stages": "fc7", "score": score, "head": head, "accuracy": accuracy}
            for score, head, accuracy in [("running", "fused", 0.96), ("sample", "fused", 0.98),
                                          ("test_batch", "fused", 0.5), ("train_heads", "fused", 1.0),
                                          ("train_heads", "acc_h01", 0.5), ("train_heads", "acc_h02", 0.75)]]
    report = {"jobs": [{"command": "python bench/spamfm_fusion.py", "commit": "abc", "date": "2026-12-04"}],
              "best_single": {"loso-1": 0.95}, "rows": rows}
    assert "| loso-1 | fc7 | 96.0 | 98.0 | 50.0 | 50 - 75 | 95.0 |" in module.page(report, "s.json")
