"""The bundled world model's tables in the READMEs say what its shipped ``results.json`` files say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "assets" / "checkpoints" / "results"
ROW = re.compile(
    r"^\| (Franka(\w+)-v1) \| (\w+|-) \| \*\*(\d+)/(\d+) \[(\d+), (\d+)\]\*\* \| ([\d.]+) cm \| ([\d.]+) s \|", re.MULTILINE)


def results_block(readme: Path) -> str:
    """The table between the ``<!-- results -->`` markers."""
    text = readme.read_text()
    return text[text.index("<!-- results -->"):text.index("<!-- /results -->")]


def results_file(task: str, obj: str) -> Path:
    """``results/<task>[_<object>].json`` for a table row: ``PickPlace``, ``box`` -> ``pick_place_box.json``."""
    name = re.sub(r"(?<!^)([A-Z])", r"_\1", task).lower()
    return RESULTS / (f"{name}.json" if obj == "-" else f"{name}_{obj}.json")


@pytest.mark.parametrize("readme", ["README.md", "assets/checkpoints/README.md"])
def test_the_bundled_model_table_matches_its_results_files(readme):
    rows = ROW.findall(results_block(ROOT / readme))
    assert len(rows) == 7, f"{readme}: expected the seven task/object rows, found {len(rows)}"
    for env_id, task, obj, successes, n, low, high, distance_cm, seconds in rows:
        results = json.loads(results_file(task, obj).read_text())
        summary = results["summary"]
        assert results["task"]["id"] == f"vjepa_bench/{env_id}"
        assert results["task"]["kwargs"].get("object", "-") == obj
        assert (int(successes), int(n)) == (summary["successes"], summary["n"]), (readme, env_id, obj)
        assert [int(low), int(high)] == [round(100 * x) for x in summary["wilson95"]], (readme, env_id, obj)
        assert float(distance_cm) == round(100 * summary["mean_final_distance"], 1), (readme, env_id, obj)
        assert float(seconds) == round(summary["mean_planning_time_s"], 2), (readme, env_id, obj)
