"""The benchmark pages and the results index, generated from benchmarks/results (no benchmark is run)."""

import json
import os
import shutil
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import pages  # noqa: E402


def test_photos_page_sets_the_finder_beside_the_rules():
    row = {"single_accuracy": 0.5, "number_accuracy": 0.25, "blank_no_digit_number": 1.0, "single_refused": 0.0}
    timing = {"large_jpeg": {"megapixels": 12.0, "preprocess_ms_median": 70.0, "rules_only_ms_median": 60.0},
              "pad_drawing": {"side": 280, "preprocess_ms_median": 9.0, "rules_only_ms_median": 7.0},
              "machine": {"kind": "AVX2"}}
    lines = pages.photos({"conditions": {"boxes": row}}, {"conditions": {"boxes": {**row, "single_accuracy": 0.1}}},
                         [timing])
    assert "| boxes | 50.0% (10.0%) | 25.0% (25.0%) | 100.0% (100.0%) | 0.0% (0.0%) |" in lines
    # Each timing run names the kind of machine it ran on: their times differ by up to 2x.
    assert ("- On the AVX2 kind: a 12-megapixel JPEG 70.0 ms with the finder, 60.0 ms without; "
            "a 280x280 pad drawing 9.0 and 7.0 ms.") in lines


def test_the_results_index_is_the_one_the_results_give():
    folder = os.path.join(BENCH, "results")
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as fh:
        assert fh.read() == pages.index(folder), "run: python benchmarks/pages.py --index benchmarks/results/README.md"


def test_every_results_file_is_described_and_every_page_is_made(tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(os.path.join(BENCH, "results"), folder)
    written = pages.write_pages(str(tmp_path / "pages"), str(folder))
    assert {os.path.basename(p) for p in written} == {"estimator.md", "theory.md", "photos.md", "serving.md", "index.md"}
    photos_page = (tmp_path / "pages" / "photos.md").read_text()
    assert "Reproduce: `python benchmarks/photos.py" in photos_page and (tmp_path / "pages" / "photos.png").exists()
    (folder / "extra.json").write_text(json.dumps({"command": "x", "git_revision": "abc", "timestamp": "2026"}))
    with pytest.raises(ValueError, match="extra.json"):
        pages.index(str(folder))
