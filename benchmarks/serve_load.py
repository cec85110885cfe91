"""How many drawn digits per second does ``skdigits serve`` read, and how fast?

Starts ``python -m skdigits serve`` on loopback (the pretrained model, as a
user would), then sends a bounded number of requests from ``--clients``
concurrent clients, each on its own keep-alive connection: 280x280 PNGs of
MNIST *test* digits drawn as the web page's pad draws them (black ink on a
white canvas, RGBA), with bad requests of every kind mixed in (not an image,
empty, truncated, blank, wrong content type, wrong method, a body over the
limit announced by its Content-Length). Reports requests per second, correct
predictions per second, p50 / p99 latency and every failure.

With ``--hostile N``, the same requests are sent a second time, in the same
run, while N more clients for each kind of hostile request send it in a loop
(``--hostile-mix``: "dots", the 446-byte picture of 1,521 dots, or "all":
that, a checkerboard, a megabyte of noise, a 7000x7000 16-bit PNG, a PNG
text-chunk bomb, a 20 MB header and a head sent a byte a second); the normal
clients' p99 with and without them is reported side by side.

    python benchmarks/serve_load.py --clients 8 --requests 3000 --workers 1 --output benchmarks/results/serve_load.json
    python benchmarks/serve_load.py --workers 1 --hostile 1 --output benchmarks/results/serve_hostile.json
"""

import argparse
import http.client
import io
import json
import os
import socket
import sys
import threading
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    PAD,
    environment,
    free_port,
    pad_png,
    png_bytes,
    sixteen_bit_png,
    start_server,
    text_chunk_bomb,
    write_json,
)
from PIL import Image  # noqa: E402

from skdigits import load_mnist  # noqa: E402

# Over `skdigits serve`'s default body limit of 10 MiB: refused from the header alone.
TOO_LARGE = 64 * 1024 * 1024


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


def hostile_requests(mix):
    """(kind, raw HTTP request bytes, seconds between its pieces) of each hostile request in ``mix``."""
    dots = np.full((200, 200), 255, np.uint8)
    for y in range(2, 197, 5):
        for x in range(2, 197, 5):
            dots[y:y + 2, x:x + 2] = 0
    bodies = {"dots": png_bytes(dots, optimize=True)}
    if mix == "all":
        rng = np.random.default_rng(0)
        bodies["checkerboard"] = png_bytes(np.uint8(np.indices((1000, 1000)).sum(0) % 2 * 255), optimize=True)
        bodies["noise"] = png_bytes(np.uint8(rng.random((1000, 1000)) > 0.5) * 255, optimize=True)
        bodies["7000x7000 16-bit"] = sixteen_bit_png()
        bodies["text-chunk bomb"] = text_chunk_bomb(200_000_000)
    requests = [(kind, b"POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body, 0.0) for kind, body in bodies.items()]
    if mix == "all":
        requests.append(("20 MB header", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
                         + b"a" * 20_000_000 + b"\r\n\r\n", 0.0))
        requests.append(("slow head", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n", 1.0))
    return requests


class Hostile(threading.Thread):
    """Sends one hostile request again and again, each time on a new connection, until ``stop`` is set."""

    def __init__(self, port, request, stop):
        super().__init__(daemon=True)
        self.port, self.request, self.stop = port, request, stop
        self.results = []

    def run(self):
        kind, data, pause = self.request
        while not self.stop.is_set():
            start = time.perf_counter()
            status = None
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
                    try:
                        if pause:  # a byte at a time, until the server gives up on the head
                            for byte in data:
                                sock.sendall(bytes([byte]))
                                if self.stop.wait(pause):
                                    break
                        else:
                            sock.sendall(data)
                    except OSError:
                        pass  # closed while sending: the answer may be waiting
                    answer = b""
                    while b"\r\n" not in answer:
                        part = sock.recv(4096)
                        if not part:
                            break
                        answer += part
                    status = int(answer.split()[1]) if answer.startswith(b"HTTP/") else None
            except OSError:
                pass
            self.results.append({"kind": kind, "status": status, "seconds": time.perf_counter() - start})


def hostile_summary(results):
    by_kind = {}
    for r in results:
        row = by_kind.setdefault(r["kind"], {"sent": 0, "statuses": {}, "seconds": []})
        row["sent"] += 1
        row["statuses"][str(r["status"])] = row["statuses"].get(str(r["status"]), 0) + 1
        row["seconds"].append(r["seconds"])
    for row in by_kind.values():
        seconds = row.pop("seconds")
        row["median_seconds"], row["max_seconds"] = float(np.median(seconds)), float(np.max(seconds))
    return by_kind


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
    parser.add_argument("--hostile", type=int, default=0,
                        help="also send the requests again beside this many hostile clients of each kind "
                             "(default 0: not)")
    parser.add_argument("--hostile-mix", choices=("dots", "all"), default="dots",
                        help="what the hostile clients send (default: the picture of dots)")
    parser.add_argument("--rules", action="store_true", help="serve with the rules alone (skdigits serve --rules)")
    parser.add_argument("--output", default="benchmarks/results/serve_load.json")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")
    if args.hostile < 0:
        parser.error("--hostile must be 0 or more")

    result = {**environment(), "clients": args.clients, "workers": args.workers, "requests": args.requests,
              "bad_every": args.bad_every, "warmup": args.warmup, "seed": args.seed, "learned": not args.rules}
    jobs, mean_bytes = make_jobs(args.requests, args.bad_every, args.seed)
    result["mean_png_bytes"] = mean_bytes
    port = free_port()
    server = start_server(port, args.model, args.workers, rules=args.rules)
    try:
        run_load(port, jobs[: args.warmup], args.clients)
        server_cpu, client_cpu = tree_cpu_seconds(server.pid), time.process_time()
        seconds, results = run_load(port, jobs, args.clients)
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        if args.hostile:
            stop = threading.Event()
            hostile = [Hostile(port, request, stop) for request in hostile_requests(args.hostile_mix)
                       for _ in range(args.hostile)]
            for client in hostile:
                client.start()
            time.sleep(0.5)  # under way before the normal requests start
            beside_seconds, beside_results = run_load(port, jobs, args.clients)
            stop.set()
            for client in hostile:
                client.join(timeout=60)
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
    if args.hostile:
        result["hostile_clients"], result["hostile_mix"] = args.hostile, args.hostile_mix
        result["beside_hostile"] = summarise(beside_seconds, beside_results)
        result["hostile"] = hostile_summary([r for client in hostile for r in client.results])
        result["p99_ratio_beside_hostile"] = result["beside_hostile"]["p99_ms"] / result["summary"]["p99_ms"]
        b = result["beside_hostile"]
        print(f"beside {args.hostile} hostile client(s) ({args.hostile_mix}): "
              f"{b['correct_predictions_per_second']:.0f} correct predictions/s, p50 {b['p50_ms']:.1f} ms, "
              f"p99 {b['p99_ms']:.1f} ms ({result['p99_ratio_beside_hostile']:.2f}x without), "
              f"failed good requests {b['failed_good_requests']}; hostile: "
              + ", ".join(f"{kind} {row['sent']}x {row['statuses']} median {row['median_seconds']:.2f} s"
                          for kind, row in result["hostile"].items()), flush=True)
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
