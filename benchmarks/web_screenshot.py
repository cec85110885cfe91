"""A screenshot of ``skdigits serve``'s page with a digit drawn on it, for the README.

Starts the server (pretrained model) on a free loopback port, opens the page in
the system's headless Chromium through Playwright, draws a "4" with the mouse in
three strokes and saves the page once the prediction is shown.

    python benchmarks/web_screenshot.py --output benchmarks/results/web_page.png
"""

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

# A "4": the left arm, the bar, then the long stem; fractions of the pad's size.
FOUR = [[(0.35, 0.15), (0.25, 0.55), (0.75, 0.55)], [(0.62, 0.2), (0.6, 0.88)]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="benchmarks/results/web_page.png")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="the browser (default: chromium on PATH)")
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("no chromium on PATH: apt-get install chromium, or give --chromium")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "skdigits", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 900, "height": 720})
            page.goto(f"http://127.0.0.1:{port}/")
            box = page.locator("#pad").bounding_box()
            for stroke in FOUR:
                points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
                page.mouse.move(*points[0])
                page.mouse.down()
                for point in points[1:]:
                    page.mouse.move(*point, steps=10)
                with page.expect_response(lambda response: response.url.endswith("/api/predict"), timeout=20_000) as asked:
                    page.mouse.up()
            # The page asks after every stroke, and the answer to the arm and bar alone may
            # already say 4: wait until the page shows the answer to the last stroke.
            answer = asked.value.json()
            shown = f"{100 * answer['probability']:.1f}% sure"
            page.wait_for_function(
                "shown => document.querySelector('#probability').textContent === shown", arg=shown, timeout=20_000)
            if answer["label"] != 4:
                raise RuntimeError(f"the drawn 4 was read as {answer['label']}")
            page.wait_for_function("() => document.querySelector('#model').textContent.includes('%')")
            page.screenshot(path=args.output, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
