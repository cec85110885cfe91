"""The benchmark pages, generated from ``benchmarks/results/*.json`` so that they never drift from the results.

    python benchmarks/pages.py --output docs/benchmarks             # one Markdown page per topic, with its figures
    python benchmarks/pages.py --index benchmarks/results/README.md  # the index of the results

The documentation's build runs the first; ``tests/test_benchmarks.py`` checks
that the committed index is the one the results give. Nothing here measures:
every number is read from a JSON file that a benchmark script wrote.
"""

import argparse
import json
import os
import shutil
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# What each result file holds, in a line (the index lists every file; a file not named here is an error).
DESCRIPTIONS = {
    "accuracy.json": "The default recipe on full MNIST, 3 seeds, against the previous 14-epoch recipe and plain Keras",
    "baselines.json": "The CNN beside dummy, MLP, RBF SVM and PCA + SVM on full MNIST",
    "bulk_read.json": "`skdigits read FOLDER` on 603 files: one process, two, and a Dask cluster",
    "grid_search.json": "GridSearchCV over filters x learning_rate, n_jobs=2 against n_jobs=1",
    "hostile_inputs.json": "Hostile pictures, tampered model files and `.npy` headers: the CPU each costs",
    "photos.json": "Generated photos read with the learned finder (`--learned`, the reader's default)",
    "photos_rules.json": "The same photos read with the rules alone (`learned=False`)",
    "photos_timing.json": "Preprocessing time of 12-megapixel JPEGs and pad drawings, with and without the finder",
    "photos_other.json": "Photos from a second generator, written apart, read with the rules alone",
    "photos_other_learned.json": "The same photos with the learned finder (the default)",
    "serve_load.json": "`skdigits serve` (the finder reads), 2 workers, 8 clients, every 20th request a bad one",
    "serve_load_rules.json": "The same with the rules alone (`--rules`), run right after it",
    "serve_load_1worker.json": "The same with one worker",
    "serve_overload.json": "256 clients on two workers: 503s with Retry-After instead of a queue",
    "serve_hostile.json": "The load run with one client sending a hostile picture in a loop",
    "serve_hostile_all.json": "The load run with one client for each of seven hostile kinds at once",
    "startup.json": "Start-up time and memory of `skdigits predict` and `serve`, against importing TensorFlow",
    "startup_avx2.json": "`startup.json`'s run on the AVX2 kind",
    "serve_load_avx2.json": "`serve_load.json`'s run on the AVX2 kind",
    "serve_load_rules_avx2.json": "`serve_load_rules.json`'s run on the AVX2 kind, right after it",
    "serve_overload_avx2.json": "`serve_overload.json`'s run on the AVX2 kind",
    "photos_timing_avx2.json": "`photos_timing.json`'s run on the AVX2 kind",
    "serve_load_avx512_2600mhz.json": "`serve_load.json`'s run on a second AVX-512 machine, at 2.6 GHz",
    "serve_load_rules_avx512_2600mhz.json": "`serve_load_rules.json`'s run on that machine, right after it",
    "training_kernels.json": "Seconds per training step of the reader's networks with oneDNN's kernels and Eigen's",
    "theory.json": "The report's theory: activations, costs and optimizers, one at a time, 3 seeds",
}


def load(name, folder=RESULTS):
    with open(os.path.join(folder, name), encoding="utf-8") as fh:
        return json.load(fh)


def pct(value, digits=1):
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def provenance(data):
    """Where a result came from: its command, revision, date and machine."""
    machine = data.get("machine", {})
    kind = machine.get("kind", "kind not recorded")
    if machine.get("cpu_mhz"):
        kind += f", {machine['cpu_mhz'] / 1000:.1f} GHz"
    return [f"Reproduce: `{data['command']}`  ", f"Revision {data['git_revision'][:10]}, {data['timestamp'][:10]}, "
            f"{machine.get('cpu', '?')} ({kind}, {machine.get('cpu_count', '?')} cores); seed "
            f"{data.get('seed', data.get('seeds', '-'))}.", ""]


def accuracy(data):
    s = data["summary"]
    rows = [[recipe, pct(s[recipe]["mean_test_accuracy"], 2), pct(s[recipe]["min_test_accuracy"], 2),
             f"{s[recipe]['mean_fit_seconds']:.1f}"] for recipe in ("new", "old")]
    keras = data["plain_keras"]
    return table(["recipe", "mean test accuracy", "lowest", "mean fit s"], rows) + [
        f"The default (new) recipe fits in {s['fit_ratio_new_to_old']:.2f} of the old recipe's time. Plain Keras on "
        f"the same recipe: {pct(keras['test_accuracy'], 2)} in {keras['fit_seconds']:.1f} s (the estimator "
        f"{keras['fit_ratio_estimator_to_keras']:.2f} times as long, same seed).", ""]


def baselines(data):
    rows = [[r["estimator"], f"{r['test_accuracy']:.4f}", f"{r['fit_seconds']:.1f}", f"{r['predict_seconds']:.2f}",
             f"{r['images_per_second']:,.0f}", f"{r['single_image_ms']:.2f}", f"{r['model_bytes'] / 1e6:.1f}",
             f"{r['peak_memory_mb']:.0f}"] for r in sorted(data["rows"], key=lambda r: r["test_accuracy"])]
    return table(["estimator", "test accuracy", "fit s", "predict s (10k)", "images/s", "1 image ms", "model MB",
                  "peak MB"], rows) + [f"- **{r['estimator']}**: {r['description']}" for r in data["rows"]] + [""]


def grid_search(data):
    rows = [[r["filters"], r["learning_rate"], f"{r['mean_test_score']:.4f} ± {r['std_test_score']:.4f}", r["rank"]]
            for r in data["cv_results"]]
    same, cores = data["n_jobs_1_same_threads"], data["n_jobs_1_all_cores"]
    return table(["filters", "learning_rate", "mean CV accuracy", "rank"], rows) + [
        f"Best {data['best_params']} (CV {data['best_cv_score']:.4f}); the refit model scores "
        f"{data['refit_test_accuracy']:.4f} on the full test set. n_jobs={data['n_jobs']} took "
        f"{data['search_seconds']:.0f} s: {same['speedup']:.2f}x faster than n_jobs=1 with the same threads per fit "
        f"(identical scores: {same['identical_scores']}), {cores['speedup']:.2f}x faster than n_jobs=1 on all cores.",
        ""]


def theory(data):
    rows = []
    for row in data["rows"]:
        s = row["summary"]
        rows.append([row["study"], row["variant"], f"{row['params']['learning_rate']:g}",
                     f"{s['mean_test_accuracy']:.4f} ± {s['std_test_accuracy']:.4f}",
                     f"{s['seeds_reaching_98']}/{len(row['runs'])}",
                     f"{s['mean_epoch_to_98']:.1f}" if s["mean_epoch_to_98"] else "never"])
    return table(["study", "variant", "learning rate", "test accuracy", "seeds reaching 98% val",
                  "first epoch at 98% val"], rows)


def timing_line(timing):
    """The preprocessing times of one ``photos.py`` timing run, with the kind of machine it ran on."""
    jpeg, pad = timing["large_jpeg"], timing["pad_drawing"]
    return (f"On the {timing['machine']['kind']} kind: a {jpeg['megapixels']:.0f}-megapixel JPEG "
            f"{jpeg['preprocess_ms_median']:.1f} ms with the finder, {jpeg['rules_only_ms_median']:.1f} ms without; "
            f"a {pad['side']}x{pad['side']} pad drawing {pad['preprocess_ms_median']:.1f} and "
            f"{pad['rules_only_ms_median']:.1f} ms.")


def photos(finder, rules, timings):
    keys = ("single_accuracy", "number_accuracy", "blank_no_digit_number", "single_refused")
    rows = []
    for name, row in finder["conditions"].items():
        old = rules["conditions"].get(name, {})
        rows.append([name] + [f"{pct(row.get(k))} ({pct(old.get(k))})" for k in keys])
    return table(["condition", "single digits", "numbers", "blanks answered 'no digit'", "singles refused"],
                 rows) + [
        "With the learned finder; in brackets, the same photos read with the rules alone.", "",
        "Preprocessing, median of one thread, with the finder and without timed side by side in each run:", ""] + [
        f"- {timing_line(timing)}" for timing in timings] + [""]


def photos_other(rules, finder):
    rows = [[name, f"{pct(run['results']['single']['accuracy'])} ({run['results']['single']['n']})",
             f"{pct(run['results']['number']['accuracy'])} ({run['results']['number']['n']})"]
            for name, run in (("with the learned finder (the default)", finder), ("rules alone (learned=False)", rules))]
    return table(["reader", "single digits (n)", "numbers (n)"], rows)


def training_kernels(data):
    """Seconds a step per network and setting, and each setting's time over oneDNN's (median of the rounds)."""
    names = {"onednn": "oneDNN", "onednn_avx2": "oneDNN, AVX2 instructions only", "eigen": "Eigen"}
    rows = []
    for network, result in data["networks"].items():
        for name, run in result["runs"].items():
            ratio = "-"
            if "to_onednn" in run:
                by_round = run["to_onednn_by_round"]
                ratio = f"{run['to_onednn']:.2f}x ({min(by_round):.2f}-{max(by_round):.2f}x)"
            rows.append([network, names.get(name, name), f"{run['seconds_per_step']:.3f}", ratio])
    choice = "oneDNN" if data["tensorflow_default_onednn"] else "Eigen"
    return table(["network", "kernels", "seconds a step, median", "over oneDNN, median of rounds (range)"],
                 rows) + [
        f"TensorFlow's own choice on this machine: {choice}; the training scripts turn oneDNN on "
        f"(`TF_ENABLE_ONEDNN_OPTS=1`) on either kind. {data['steps']} steps of each recipe, data made small, "
        f"the settings taking turns in {data['rounds']} rounds.", ""]


def serving(runs):
    """One row per run; a run with hostile clients also gives its normal clients' run beside them."""
    rows = []
    for name, data in runs:
        parts = [(name, data["summary"])]
        if "beside_hostile" in data:
            parts = [(f"{name}: normal clients alone", data["summary"]),
                     (f"{name}: beside {data['hostile_clients']} hostile ({data['hostile_mix']})",
                      data["beside_hostile"])]
        for label, s in parts:
            rows.append([label, data["workers"], data["clients"], f"{s['requests_per_second']:.0f}",
                         f"{s['correct_predictions_per_second']:.0f}", f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}",
                         s["failed_good_requests"], data["healthy_after"]])
    notes = [f"- {name}: good requests answered " + ", ".join(f"{n:,} x {status}" for status, n in sorted(
        data["summary"]["by_kind"]["good"]["statuses"].items())) for name, data in runs
        if set(data["summary"]["by_kind"]["good"]["statuses"]) != {"200"}]
    return table(["run", "workers", "clients", "requests/s", "correct predictions/s", "p50 ms", "p99 ms",
                  "failed good requests", "healthy after"], rows) + notes + [""]


def startup(data):
    rows = [[name, f"{c['median_seconds']:.2f}", f"{c['median_peak_mb']:.0f}"] for name, c in data["commands"].items()]
    lines = table(["command", "median seconds", "peak MB"], rows) + [
        f"`skdigits serve` answers `/api/health` {data['serve_start']['median_seconds']:.2f} s after it starts.", ""]
    costs = []
    for runtime in ("onnx", "keras"):
        cost = data.get("averaging", {}).get(f"{runtime}, cost of averaging", {})
        if "throughput_ratio_by_round" in cost:  # timed in rounds; older files hold one ratio only
            rounds = cost["throughput_ratio_by_round"]
            costs.append([runtime, f"{cost['throughput_ratio']:.2f}x", f"{min(rounds):.2f}-{max(rounds):.2f}x",
                          f"{cost['one_image_ratio']:.2f}x"])
    if costs:
        lines += ["Test-time averaging (five views of each image in one batch), its cost over one pass:", ""]
        lines += table(["runtime", "throughput, median of rounds", "rounds", "one image"], costs)
    return lines


def bulk_read(data):
    rows = [[name, f"{r['seconds']:.1f}", f"{r['photos_per_second']:.1f}", r["records"], r["errors"],
             r["each_input_once"]] for name, r in data["runs"].items()]
    return table(["run", "seconds", "photos/s", "records", "errors", "each file once"], rows) + [
        f"Numbers read right: {pct(data['numbers_read_right'])}.", ""]


def hostile(data):
    lines = table(["picture", "bytes", "CPU s", "outcome"],
                  [[p["picture"], p["bytes"], f"{p['cpu_seconds']:.3f}", p["outcome"]] for p in data["pictures"]])
    lines += table(["model file", "CPU s", "outcome"],
                   [[m["file"], f"{m['cpu_seconds']:.3f}", m["outcome"]] if "outcome" in m
                    else [m["file"], "-", f"{m['refused']} refused"] for m in data["model_files"]])
    memory = data["server_memory"]
    lines += [f"Reading a {memory['picture']} raised the server's peak memory by "
              f"{memory['peak_rise_mb']:.0f} MB.", ""]
    distorted = data["distorted_photos"]
    return lines + table(["path", "distorted photos", "read", "refused", "failed", "most CPU s"],
                         [[path, distorted["photos"], distorted[path]["read"], distorted[path]["refused"],
                           len(distorted[path]["failed"]), f"{distorted[path]['max_cpu_seconds']:.3f}"]
                          for path in ("rules", "finder")])


def pages(folder=RESULTS):
    """{page name: (title, Markdown lines, figures)}, every number read from ``folder``, each file once."""
    r = {name: load(name, folder) for name in DESCRIPTIONS}

    def section(title, name, body):
        """A section on the result in ``name``: its provenance, then ``body`` (lines, or a renderer of it)."""
        return [f"## {title}", ""] + provenance(r[name]) + (body(r[name]) if callable(body) else body)

    def runs(*labelled):
        """(label, result) of each (label, results file name)."""
        return [(label, r[name]) for label, name in labelled]

    serve_runs = runs(
        ("normal load", "serve_load.json"), ("normal load, rules alone", "serve_load_rules.json"),
        ("one worker", "serve_load_1worker.json"),
        ("overload", "serve_overload.json"), ("one hostile client", "serve_hostile.json"),
        ("seven hostile clients", "serve_hostile_all.json"))
    return {
        "estimator": ("The estimator on MNIST",
                      section("The default recipe on full MNIST", "accuracy.json", accuracy)
                      + section("Against classical baselines", "baselines.json", baselines)
                      + ["![accuracy against fit time](baselines.png)", ""]
                      + section("Grid search", "grid_search.json", grid_search)
                      + ["![grid search heatmap](grid_search.png)", ""],
                      ["baselines.png", "grid_search.png"]),
        "theory": ("The report's theory, measured",
                   section("Activations, costs and optimizers", "theory.json", theory)
                   + ["![training curves](theory.png)", ""], ["theory.png"]),
        "photos": ("Reading photos",
                   section("Generated photos", "photos.json",
                           photos(r["photos.json"], r["photos_rules.json"],
                                  [r["photos_timing.json"], r["photos_timing_avx2.json"]]))
                   + ["![photos read and misread](photos.png)", ""]
                   + section("Photos made differently (never trained on)", "photos_other.json",
                             photos_other(r["photos_other.json"], r["photos_other_learned.json"]))
                   + section("Training the reader's networks: TensorFlow's kernels", "training_kernels.json",
                             training_kernels),
                   ["photos.png"]),
        "serving": ("Start-up, serving and bulk reading",
                    section("Start-up", "startup.json", startup)
                    + section("The server under load", "serve_load.json", serving(serve_runs))
                    + section("The server under load on a second AVX-512 machine", "serve_load_avx512_2600mhz.json",
                              serving(runs(("normal load", "serve_load_avx512_2600mhz.json"),
                                           ("normal load, rules alone", "serve_load_rules_avx512_2600mhz.json"))))
                    + section("Start-up on the AVX2 kind", "startup_avx2.json", startup)
                    + section("The server under load on the AVX2 kind", "serve_load_avx2.json", serving(runs(
                        ("normal load", "serve_load_avx2.json"),
                        ("normal load, rules alone", "serve_load_rules_avx2.json"),
                        ("overload", "serve_overload_avx2.json"))))
                    + section("Reading a folder", "bulk_read.json", bulk_read)
                    + section("Hostile input", "hostile_inputs.json", hostile),
                    []),
    }


def index(folder=RESULTS):
    """The index of the results folder: each file, what it holds, and how it was made."""
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    unknown = sorted(set(names) - set(DESCRIPTIONS))
    if unknown:
        raise ValueError(f"results without a description in benchmarks/pages.py: {unknown}")
    rows = []
    for name in names:
        data = load(name, folder)
        machine = data.get("machine", {})
        rows.append([f"[{name}]({name})", DESCRIPTIONS[name], f"`{data['command']}`", data["git_revision"][:10],
                     data["timestamp"][:10], machine.get("kind", "not recorded")])
    figures = sorted(n for n in os.listdir(folder) if n.endswith(".png"))
    return "\n".join(["# Benchmark results", "",
                      "The current result of every benchmark; generated by `python benchmarks/pages.py --index "
                      "benchmarks/results/README.md`. The documentation's benchmark pages are generated from the "
                      "same files. Compare timings only within one file: the machines differ.", ""]
                     + table(["file", "what", "command", "revision", "date", "machine kind"], rows)
                     + ["Figures: " + ", ".join(f"[{n}]({n})" for n in figures), ""])


INTRO = """Every number on these pages is read from a results file in `benchmarks/results/` that a script
in `benchmarks/` wrote; each section names the command that reproduces it, the revision, the date and the
machine. The development machines have 2 cores and no GPU, of two kinds (AVX-512 and AVX2), and the same
run can differ by up to 2x between them: compare timings only within one section."""


def write_pages(output, folder=RESULTS):
    """Write one Markdown page per topic into ``output``, with its figures and an index page."""
    os.makedirs(output, exist_ok=True)
    written = []
    for name, (title, lines, figures) in pages(folder).items():
        path = os.path.join(output, f"{name}.md")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join([f"# {title}", "", "<!-- generated by benchmarks/pages.py; do not edit -->", ""]
                               + lines).rstrip("\n") + "\n")
        for figure in figures:
            shutil.copyfile(os.path.join(folder, figure), os.path.join(output, figure))
        written.append(path)
    index_path = os.path.join(output, "index.md")
    with open(index_path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(["# Benchmarks", "", INTRO, "", "```{toctree}", ":maxdepth: 1", ""]
                           + [os.path.splitext(os.path.basename(p))[0] for p in written] + ["```", ""]))
    return written + [index_path]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="folder for the Markdown pages and their figures")
    parser.add_argument("--index", help="where to write the index of the results")
    parser.add_argument("--results", default=RESULTS, help="the results folder (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if not (args.output or args.index):
        parser.error("give --output, --index or both")
    if args.output:
        for path in write_pages(args.output, args.results):
            print(f"wrote {path}")
    if args.index:
        with open(args.index, "w", encoding="utf-8") as fh:
            fh.write(index(args.results))
        print(f"wrote {args.index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
