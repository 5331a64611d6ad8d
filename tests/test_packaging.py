"""A built wheel holds every file of the package folders that git tracks (code, configs, assets, leaderboard data),
so a non-editable ``pip install`` works like the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"vjepa_bench": "vjepa_bench", "envs": "vjepa_bench/envs", "agents": "vjepa_bench/agents",
           "leaderboard": "vjepa_bench/leaderboard", "assets": "vjepa_bench/assets", "configs": "vjepa_bench/configs"}
"""Source folder -> where pyproject.toml's package-dir puts it in the installed package."""


def _tracked() -> set[str]:
    listed = subprocess.run(["git", "ls-files", *FOLDERS], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(listed.stdout.splitlines())


def test_the_wheel_holds_every_tracked_package_file(tmp_path):
    source = tmp_path / "source"  # a clean copy: a build/ folder left in the checkout would mask missing files
    tracked = _tracked()
    for path in [*tracked, "pyproject.toml", "README.md"]:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, source / path)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("vjepa_bench-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {path.replace(folder, FOLDERS[folder], 1) for path in tracked for folder in [path.split("/")[0]]}
    missing = sorted(expected - shipped)
    assert not missing, f"{len(missing)} tracked files are not in the wheel, e.g. {missing[:5]}"
