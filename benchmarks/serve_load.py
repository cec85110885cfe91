"""How many drawn digits per second does ``skdigits serve`` read, and how fast?

Starts ``python -m skdigits serve`` on loopback (the pretrained model, as a
user would), then sends a bounded number of requests from ``--clients``
concurrent clients, each on its own keep-alive connection: 280x280 PNGs of
MNIST *test* digits drawn as the web page's pad draws them (black ink on a
white canvas, RGBA), with bad requests of every kind mixed in (not an image,
empty, truncated, blank, wrong content type, wrong method, a body over the
limit announced by its Content-Length). Reports requests per second, correct
predictions per second, p50 / p99 latency and every failure.

    python benchmarks/serve_load.py --clients 8 --requests 3000 --workers 1 --output benchmarks/results/serve_load.json
"""

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, write_json  # noqa: E402

from PIL import Image  # noqa: E402

from skdigits import load_mnist  # noqa: E402

PAD = 280
# Over `skdigits serve`'s default body limit of 10 MiB: refused from the header alone.
TOO_LARGE = 64 * 1024 * 1024


def pad_png(digit):
    """An MNIST digit as the page's pad sends it: 280x280 RGBA PNG, black strokes on white."""
    ink = Image.fromarray(digit).resize((200, 200), Image.BICUBIC)
    canvas = Image.new("L", (PAD, PAD), 0)
    canvas.paste(ink, (40, 40))
    gray = 255 - np.asarray(canvas)
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def bad_requests(good_png):
    """(kind, method, path, body, headers, expected status) of each kind of bad request."""
    blank = io.BytesIO()
    Image.new("RGBA", (PAD, PAD), (255, 255, 255, 255)).save(blank, "PNG")
    png = {"Content-Type": "image/png"}
    return [
        ("not an image", "POST", "/api/predict", b"<html>not a picture</html>", png, 400),
        ("empty", "POST", "/api/predict", b"", png, 400),
        ("truncated", "POST", "/api/predict", good_png[: len(good_png) // 3], png, 400),
        ("blank canvas", "POST", "/api/predict", blank.getvalue(), png, 422),
        ("wrong content type", "POST", "/api/predict", good_png, {"Content-Type": "text/plain"}, 415),
        ("wrong method", "GET", "/api/predict", None, {}, 405),
        ("too large", "POST", "/api/predict", b"", {**png, "Content-Length": str(TOO_LARGE)}, 413),
    ]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port, model, workers):
    command = [sys.executable, "-m", "skdigits", "serve", "--port", str(port), "--workers", str(workers)]
    if model:
        command += ["--model", model]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start within 120 s")


class Client(threading.Thread):
    """Sends jobs from the shared list on one keep-alive connection, timing each."""

    def __init__(self, port, jobs, lock, position):
        super().__init__(daemon=True)
        self.port, self.jobs, self.lock, self.position = port, jobs, lock, position
        self.results = []

    def next_job(self):
        with self.lock:
            i = self.position[0]
            self.position[0] += 1
        return self.jobs[i] if i < len(self.jobs) else None

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while (job := self.next_job()) is not None:
            kind, method, path, body, headers, expected, label = job
            start = time.perf_counter()
            try:
                if kind == "too large":
                    # Only the headers go out: the server must answer without the body.
                    connection.putrequest(method, path)
                    for key, value in headers.items():
                        connection.putheader(key, value)
                    connection.endheaders()
                else:
                    connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status = response.status
                answer = json.loads(payload)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                status, answer = None, {"error": f"{type(exc).__name__}: {exc}"}
            seconds = time.perf_counter() - start
            if status is None or kind == "too large" or response.getheader("connection") == "close":
                connection.close()  # the server may close after refusing a body it did not read
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            correct = status == 200 and answer.get("label") == label if kind == "good" else status == expected
            self.results.append({"kind": kind, "status": status, "seconds": seconds, "ok": bool(correct),
                                 "error": None if correct else answer.get("error", answer.get("label"))})
        connection.close()


def tree_cpu_seconds(pid):
    """CPU seconds (user + system) used so far by process ``pid`` and all its descendants, from /proc."""
    parents, usage = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents[int(entry)] = int(fields[1])
        usage[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(usage.get(p, 0.0) for p in tree)


def run_load(port, jobs, clients):
    lock, position = threading.Lock(), [0]
    workers = [Client(port, jobs, lock, position) for _ in range(clients)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start, [r for w in workers for r in w.results]


def make_jobs(n, bad_every, seed):
    _, X_test, _, y_test = load_mnist(n_test=min(n, 10_000), random_state=seed)
    pngs = [pad_png(d) for d in X_test]
    bad = bad_requests(pngs[0])
    jobs = []
    for i in range(n):
        if bad_every and i % bad_every == bad_every - 1:
            jobs.append(bad[(i // bad_every) % len(bad)] + (None,))
        else:
            k = i % len(pngs)
            jobs.append(("good", "POST", "/api/predict", pngs[k], {"Content-Type": "image/png"}, 200,
                         int(y_test[k])))
    return jobs, float(np.mean([len(p) for p in pngs]))


def summarise(seconds, results):
    good = [r for r in results if r["kind"] == "good"]
    latency = np.array([r["seconds"] for r in good]) * 1000
    failures = [r for r in results if not r["ok"]]
    by_kind = {}
    for r in results:
        row = by_kind.setdefault(r["kind"], {"sent": 0, "as_expected": 0, "statuses": {}})
        row["sent"] += 1
        row["as_expected"] += r["ok"]
        row["statuses"][str(r["status"])] = row["statuses"].get(str(r["status"]), 0) + 1
    return {
        "seconds": seconds,
        "requests": len(results),
        "requests_per_second": len(results) / seconds,
        "correct_predictions": sum(r["ok"] for r in good),
        "correct_predictions_per_second": sum(r["ok"] for r in good) / seconds,
        "good_requests": len(good),
        "wrong_labels": sum(r["status"] == 200 and not r["ok"] for r in good),
        "failed_good_requests": sum(r["status"] != 200 for r in good),
        "bad_requests_without_their_4xx": sum(not r["ok"] for r in results if r["kind"] != "good"),
        "p50_ms": float(np.percentile(latency, 50)),
        "p90_ms": float(np.percentile(latency, 90)),
        "p99_ms": float(np.percentile(latency, 99)),
        "max_ms": float(latency.max()),
        "by_kind": by_kind,
        "failures": failures[:20],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=3000, help="requests in all, bad ones included")
    parser.add_argument("--bad-every", type=int, default=20,
                        help="every Nth request is a bad one (default 20; 0 for none)")
    parser.add_argument("--warmup", type=int, default=100, help="requests sent first and not counted")
    parser.add_argument("--model", help="a model file (default: the pretrained model)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (skdigits serve --workers)")
    parser.add_argument("--seed", type=int, default=0, help="which MNIST test digits are drawn")
    parser.add_argument("--output", default="benchmarks/results/serve_load.json")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")

    result = {**environment(), "clients": args.clients, "workers": args.workers, "requests": args.requests,
              "bad_every": args.bad_every, "warmup": args.warmup, "seed": args.seed}
    jobs, mean_bytes = make_jobs(args.requests, args.bad_every, args.seed)
    result["mean_png_bytes"] = mean_bytes
    port = free_port()
    server = start_server(port, args.model, args.workers)
    try:
        run_load(port, jobs[: args.warmup], args.clients)
        server_cpu, client_cpu = tree_cpu_seconds(server.pid), time.process_time()
        seconds, results = run_load(port, jobs, args.clients)
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
            result["healthy_after"] = json.loads(response.read())["status"] == "ok"
    finally:
        server.terminate()
        server.wait(timeout=30)
    result["summary"] = summarise(seconds, results)
    # Where the machine's cores went: the server's processes and this client.
    result["cpu_ms_per_request"] = {"server": 1000 * server_cpu / len(results),
                                    "client": 1000 * client_cpu / len(results)}
    result["cpu_cores"] = os.cpu_count()
    s = result["summary"]
    print(f"{s['requests']} requests from {args.clients} clients in {seconds:.1f} s: "
          f"{s['requests_per_second']:.0f} req/s, {s['correct_predictions_per_second']:.0f} correct predictions/s; "
          f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms; wrong labels {s['wrong_labels']}, "
          f"failed good requests {s['failed_good_requests']}, "
          f"bad requests without their 4xx {s['bad_requests_without_their_4xx']}; CPU per request: "
          f"server {result['cpu_ms_per_request']['server']:.1f} ms, "
          f"client {result['cpu_ms_per_request']['client']:.1f} ms", flush=True)
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
