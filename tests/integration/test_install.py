"""A non-editable install runs the whole chain from an empty folder, with nothing of the source tree.

The wheel is built from the tracked files, installed into a fresh venv, and the `cmkd` console
script then runs synth -> prepare -> inspect -> train -> evaluate in an empty working directory:
datasets.yaml comes from the package, cache/ and runs/ land in the working directory. The fresh
venv takes its third-party dependencies (torch, zarr, ...) from this test's own environment through
a .pth line, so the test needs no network; the project itself comes only from the wheel.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _tracked_copy(target: Path) -> Path:
    """The committed and staged files of the repository (links kept as links) under target."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, copy = REPO / name, target / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy, follow_symlinks=False)
    return target


def _fresh_venv(folder: Path) -> Path:
    """A venv without this project, seeing this environment's packages after its own."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_in_a_fresh_venv_runs_the_chain_from_an_empty_folder(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout to list the tracked files")
    source = _tracked_copy(tmp_path / "source")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp_path / "wheels"), str(source)], tmp_path)
    wheel = next((tmp_path / "wheels").glob("crossmodal_kd-*.whl"))
    python = _fresh_venv(tmp_path / "venv")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], tmp_path)
    shutil.rmtree(source)
    cmkd = str(tmp_path / "venv" / "bin" / "cmkd")
    work = tmp_path / "work"
    work.mkdir()
    located = _run([str(python), "-c", "import pipeline.config as c; print(c.__file__, c.datasets_file())"], work)
    assert str(REPO) not in located and "site-packages" in located

    _run([cmkd, "synth", "--layout", "utd-mhad", "--subjects", "2", "--takes", "4", "--classes", "0,1,2"], work)
    assert (work / "cache" / "raw" / "synthetic-utd-mhad").is_dir()
    _run([cmkd, "prepare", "--dataset", "synthetic-utd-mhad", "--modalities", "acc", "--gaf-size", "32", "--quiet"],
         work)
    summary = _run([cmkd, "inspect", "--dataset", "synthetic-utd-mhad"], work)
    assert "sensors/acc/gaf" in summary
    _run([cmkd, "train", "--mode", "vision2sensor", "--dataset", "synthetic-utd-mhad", "--stage", "student",
          "--kd", "none", "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--name", "installed", "--quiet",
          "--no-baseline"], work)
    assert (work / "runs" / "installed" / "student" / "best.pt").exists()
    scored = _run([cmkd, "evaluate", "--run", "runs/installed"], work)
    assert "acc" in scored and "top-1" in scored.lower()
    assert sorted(p.name for p in work.iterdir()) == ["cache", "runs"]
