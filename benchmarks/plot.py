"""Draw and tabulate saved baseline results; reads only the JSON files, trains nothing.

    python benchmarks/plot.py benchmarks/results/baselines.json
writes benchmarks/results/baselines.png (test accuracy against fit time, log
scale) and benchmarks/results/baselines.md (the Markdown table).
"""

import argparse
import json
import os
import sys
from collections import defaultdict

import numpy as np


def summarise(rows):
    """One line per estimator: the mean over seeds (and the spread of accuracy)."""
    by_name = defaultdict(list)
    for row in rows:
        by_name[row["estimator"]].append(row)
    table = []
    for name, runs in by_name.items():
        acc = [r["test_accuracy"] for r in runs]
        table.append({
            "estimator": name,
            "description": runs[0]["description"],
            "seeds": len(runs),
            "test_accuracy": float(np.mean(acc)),
            "accuracy_std": float(np.std(acc)),
            **{key: float(np.mean([r[key] for r in runs]))
               for key in ("fit_seconds", "predict_seconds", "images_per_second", "single_image_ms",
                           "model_bytes", "peak_memory_mb")},
        })
    return table


def markdown(table, meta):
    lines = [
        f"MNIST, {meta['n_train']} training images, full 10,000-image test set; "
        f"{meta['machine']['cpu_count']} cores ({meta['machine']['cpu']}); seeds {meta['seeds']}.",
        f"Command: `{meta['command']}` (git {meta['git_revision'][:12]}, {meta['timestamp']}).",
        "",
        "| estimator | test accuracy | fit s | predict s (10k) | images/s | 1 image ms | model MB | peak MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(table, key=lambda r: r["test_accuracy"]):
        spread = f" ± {r['accuracy_std']:.4f}" if r["seeds"] > 1 else ""
        lines.append(
            f"| {r['estimator']} | {r['test_accuracy']:.4f}{spread} | {r['fit_seconds']:.1f} | "
            f"{r['predict_seconds']:.2f} | {r['images_per_second']:,.0f} | {r['single_image_ms']:.2f} | "
            f"{r['model_bytes'] / 1e6:.1f} | {r['peak_memory_mb']:.0f} |"
        )
    lines.append("")
    lines += [f"- **{r['estimator']}**: {r['description']}" for r in table]
    return "\n".join(lines) + "\n"


def plot(table, meta, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    # The dummy floor (about 11%) would squash the chart: it is named in the title instead.
    floor_rows = [r for r in table if r["estimator"] == "dummy"]
    for r in (r for r in table if r["estimator"] != "dummy"):
        ax.scatter(r["fit_seconds"], 100 * r["test_accuracy"], s=60)
        ax.annotate(r["estimator"], (r["fit_seconds"], 100 * r["test_accuracy"]),
                    textcoords="offset points", xytext=(6, 4))
    ax.set_xscale("log")
    title = f"MNIST: accuracy against fit time ({meta['n_train']} training images)"
    if floor_rows:
        title += f"\ndummy floor: {100 * floor_rows[0]['test_accuracy']:.2f}%, off the chart"
    ax.set(xlabel="fit time, seconds (log scale)", ylabel="test accuracy, %", title=title)
    floor = min(100 * r["test_accuracy"] for r in table if r["estimator"] != "dummy")
    ax.set_ylim(floor - 1.0, 100.0)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="JSON files written by baselines.py")
    parser.add_argument("--output-dir", help="where to write the PNG and the table (default: beside the first file)")
    args = parser.parse_args(argv)
    rows, meta = [], None
    for path in args.results:
        with open(path) as fh:
            data = json.load(fh)
        meta = meta or data
        rows += data["rows"]
    table = summarise(rows)
    stem = os.path.splitext(os.path.basename(args.results[0]))[0]
    folder = args.output_dir or os.path.dirname(os.path.abspath(args.results[0]))
    os.makedirs(folder, exist_ok=True)
    md_path = os.path.join(folder, stem + ".md")
    with open(md_path, "w") as fh:
        fh.write(markdown(table, meta))
    png_path = os.path.join(folder, stem + ".png")
    plot(table, meta, png_path)
    print(f"wrote {md_path}\nwrote {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
