"""The web page in a real browser: Debian's Chromium, driven by Playwright.

Playwright's own browser downloads are never used (there is no internet):
the system's Chromium is launched through ``executable_path``. Outside CI
these tests skip when no Chromium is installed; in CI (``CI`` set) they fail.
"""

import os
import shutil

import pytest
from conftest import number_png

from skdigits import load_mnist

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium():
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: install Debian's chromium (apt-get install chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    if os.environ.get("CI"):
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server + "/")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def draw(page, *strokes):
    """Draw strokes on the pad with the mouse; points are fractions of the pad's width and height."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()


def expect_label(page, text):
    page.wait_for_function(
        "text => document.querySelector('#label').textContent === text "
        "&& !document.querySelector('#guess').hidden",
        arg=text, timeout=15_000,
    )


ONE = [[(0.5, 0.15), (0.5, 0.85)]]
SEVEN = [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]]


def test_drawing_a_one(page):
    draw(page, *ONE)
    expect_label(page, "1")
    bars = page.locator("#bars li")
    assert bars.count() == 10
    assert page.locator("#bars li.top").get_attribute("data-class") == "1"
    top_width = page.locator("#bars li.top .fill").evaluate("el => parseFloat(el.style.width)")
    assert top_width > 50
    # The 28x28 image the network saw is shown.
    seen = page.locator("#seen canvas")
    assert seen.count() == 1
    assert seen.evaluate("c => [c.width, c.height]") == [28, 28]
    assert seen.evaluate("c => Math.max(...c.getContext('2d').getImageData(0, 0, 28, 28).data)") == 255


def test_drawing_a_seven_then_clear(page):
    draw(page, *SEVEN)
    expect_label(page, "7")
    assert page.locator("#bars li.top").get_attribute("data-class") == "7"
    page.click("#clear")
    assert page.locator("#guess").is_hidden()


def test_undo_takes_back_the_last_stroke(page):
    # A "1", then a bar across its top makes something else; Undo brings the "1" back.
    draw(page, *ONE)
    expect_label(page, "1")
    draw(page, [(0.2, 0.5), (0.8, 0.5)])
    page.wait_for_function("() => document.querySelector('#label').textContent !== '1'", timeout=15_000)
    page.click("#undo")
    expect_label(page, "1")


def test_writing_a_number(page):
    page.check('input[name="mode"][value="number"]')
    assert page.locator("#pad").evaluate("c => c.width") == 560
    draw(page, [(0.15, 0.15), (0.15, 0.85)], [(0.55, 0.2), (0.85, 0.2), (0.65, 0.85)])
    expect_label(page, "17")
    assert page.locator("#seen canvas").count() == 2


def test_uploading_a_photo_of_a_number(page, tmp_path):
    _, X_test, _, y_test = load_mnist(n_test=3, random_state=5)
    path = tmp_path / "number.png"
    path.write_bytes(number_png(X_test))
    page.set_input_files("#upload", str(path))
    expect_label(page, "".join(map(str, y_test)))
    assert page.locator("#photo-box").is_visible()
    assert page.locator("#boxes rect").count() == 3
    assert page.locator("#seen canvas").count() == 3


def test_uploading_something_that_is_not_an_image(page, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("seven, not a picture of one\n")
    page.set_input_files("#upload", str(path))
    message = page.locator("#message")
    message.wait_for(state="visible", timeout=15_000)
    assert "notes.txt" in message.inner_text() and "not an image" in message.inner_text()
    assert page.locator("#guess").is_hidden()


def test_phone_sized_screen(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(live_server + "/")
    box = page.locator("#pad").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    draw(page, *ONE)  # the pad is shown smaller than its pixels: the points must map back
    expect_label(page, "1")
    context.close()


def test_model_description_in_the_footer(page):
    page.wait_for_function("() => document.querySelector('#model').textContent.includes('pretrained')",
                           timeout=10_000)
