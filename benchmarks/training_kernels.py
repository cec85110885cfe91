"""How long the reader's networks take per training step with each of TensorFlow's CPU kernels.

TensorFlow runs its oneDNN kernels by itself only on CPUs with AVX-512 VNNI
or newer instructions; elsewhere (the AVX2 kind of development machine) it
runs Eigen's. The training scripts turn oneDNN on (``_common.use_onednn``).
This times a short run of ``train_touching.py`` and ``train_finder.py``
(the same recipes, a few steps, on a few lines and scenes) under each
setting:

- ``onednn``: oneDNN on; ``onednn_avx2``: on, limited to AVX2 instructions
  (``ONEDNN_MAX_CPU_ISA=AVX2``), as on the AVX2 kind; ``eigen``: oneDNN off.

TensorFlow's own choice on the machine is recorded; it is one of the first
and the last. The settings take turns, in ``--rounds`` rounds (the order
reversed every other round), and each one's time over oneDNN's is the
median of the rounds' ratios: one run of a setting can differ from the next
by a quarter on a busy machine.

    python benchmarks/training_kernels.py --output benchmarks/results/training_kernels.json
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, machine_kind, write_json  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# Each network's script and the options of a short run of its recipe (data made small, steps few).
NETWORKS = {
    "line reader": ("train_touching.py", ["--seed", "2", "--lines", "3000", "--validation", "200", "--scenes", "0"]),
    "finder": ("train_finder.py", ["--seed", "1", "--scenes", "200", "--validation", "40"]),
}
SETTINGS = {
    "onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "onednn_avx2": {"TF_ENABLE_ONEDNN_OPTS": "1", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "eigen": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}


def tensorflow_default():
    """What TensorFlow picks on this machine by itself: "1" (oneDNN) with AVX-512 VNNI, else "0" (Eigen)."""
    code = "from tensorflow.python.util import _pywrap_util_port as p; print(int(p.IsMklEnabled()))"
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()[-1]


def timed_run(script, options, steps, setting, folder):
    """The record of one short training run under ``setting`` (environment variables)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")}
    env.update(setting, TF_CPP_MIN_LOG_LEVEL="3")
    output = os.path.join(folder, "network.safetensors")
    proc = subprocess.run([sys.executable, os.path.join(HERE, script), *options, "--steps", str(steps),
                           "--output", output], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"{script} failed under {setting}:\n{proc.stderr[-2000:]}")
    with open(os.path.join(folder, "network.json")) as fh:
        return json.load(fh)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="training steps of each short run (default 100)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting, taking turns (default 2)")
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=sorted(NETWORKS))
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--output", default="benchmarks/results/training_kernels.json")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be at least 1")
    default = tensorflow_default()
    settings = {name: SETTINGS[name] for name in args.settings}
    result = {**environment(), "steps": args.steps, "rounds": args.rounds,
              "tensorflow_default_onednn": default == "1", "settings": settings, "networks": {}}
    with tempfile.TemporaryDirectory() as folder:
        for network in args.networks:
            script, options = NETWORKS[network]
            fits = {name: [] for name in settings}
            for k in range(args.rounds):
                for name in (list(settings) if k % 2 == 0 else list(settings)[::-1]):
                    record = timed_run(script, options, args.steps, settings[name], folder)
                    fits[name].append(record["training"]["fit_seconds"])
                    print(f"{network}, round {k + 1}, {name}: {fits[name][-1] / args.steps:.3f} s a step", flush=True)
            runs = {name: {"fit_seconds_by_round": seconds,
                           "seconds_per_step": float(np.median(seconds)) / args.steps} for name, seconds in fits.items()}
            if "onednn" in fits:
                for name, run in runs.items():
                    ratios = [a / b for a, b in zip(fits[name], fits["onednn"])]
                    run["to_onednn_by_round"], run["to_onednn"] = ratios, float(np.median(ratios))
            result["networks"][network] = {"command": [script, *options], "runs": runs}
    print(f"machine kind {machine_kind()}; TensorFlow's own choice: {'oneDNN' if default == '1' else 'Eigen'}")
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
