"""Every results page of docs/results/ is what the code writes from the JSON committed beside it, so no
table there is pasted by hand and `make pages` rewrites each one without re-running its study."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.run.study import study_markdown

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"
# the pages of bench/ scripts: JSON name -> (script, its page function, called with the report and the JSON name)
BENCH_PAGES = {"berkeley-loso.json": ("real_sensors", "results_page"), "berkeley-loso-spamfm.json": ("spamfm_fusion", "page")}


def _written(path: Path, bench_script) -> str:
    report = json.loads(path.read_text())
    if path.name in BENCH_PAGES:
        script, function = BENCH_PAGES[path.name]
        return getattr(bench_script(script), function)(report, path.name)
    return study_markdown(report)


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_each_page_is_written_from_its_json(path, bench_script):
    assert _written(path, bench_script) == path.with_suffix(".md").read_text()


def test_a_study_page_names_its_command_commit_and_rows():
    rows = [{"key": "vskd.student", "model": "student", "input": "acc", "accuracy": [0.5, 0.7], "macro_f1": [0.5, 0.7],
             "train_accuracy": [1.0, 1.0], "alias_of": None}]
    result = {"dataset": "utd-mhad", "name": "tiny", "seeds": [0, 1], "seconds": 120.0, "rows": rows, "gains": [],
              "command": "python cli.py study --name tiny", "commit": "0123456789abcdef", "date": "2026-12-04"}
    page = study_markdown(result)
    assert page.startswith("# utd-mhad: study tiny\n") and "commit 01234567, 2026-12-04" in page
    assert "python cli.py study --name tiny" in page and "| `vskd.student` | student | acc | 60.0 +- 14.1% (n=2) |" in page
