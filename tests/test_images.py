import cv2
import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import make_pipeline

from skdigits import ImageError, MNISTPreprocessor, load_mnist, read_image, to_mnist
from skdigits.reader import _images


def photo(digit, rng, *, scale=7, size=(320, 260), offset=(30, 50), dark_ink=True, noise=0.04):
    """An MNIST digit drawn as a photo would show it: scaled up, off-centre on a
    larger sheet of paper with a brightness gradient and sensor noise."""
    big = Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    ink = np.clip(np.asarray(big, dtype=float) / 255, 0, 1)
    h, w = size
    paper = 0.95 - 0.35 * np.mgrid[0:h, 0:w][1] / w
    r, c = offset
    if dark_ink:
        page = paper.copy()
        page[r:r + ink.shape[0], c:c + ink.shape[1]] *= 1 - 0.9 * ink
    else:  # chalk on a blackboard
        page = 1 - paper
        page[r:r + ink.shape[0], c:c + ink.shape[1]] += 0.8 * ink
    page = page + rng.normal(0, noise, page.shape)
    return np.uint8(np.clip(page, 0, 1) * 255)


def best_shift_correlation(a, b, max_shift=2):
    """Correlation of a and b, allowing b to be off by up to max_shift pixels."""
    a = a.astype(float).ravel()
    best = -1.0
    for dr in range(-max_shift, max_shift + 1):
        for dc in range(-max_shift, max_shift + 1):
            shifted = np.roll(np.roll(b, dr, axis=0), dc, axis=1).astype(float).ravel()
            best = max(best, np.corrcoef(a, shifted)[0, 1])
    return best


@pytest.fixture(scope="module")
def test_digits():
    _, X_test, _, y_test = load_mnist(n_test=40, random_state=3)
    return X_test, y_test


def test_photos_come_back_as_the_mnist_digit(test_digits, rng):
    X, _ = test_digits
    corr = [best_shift_correlation(x, to_mnist(photo(x, rng))) for x in X]
    assert np.median(corr) > 0.9 and min(corr) > 0.7


def test_output_is_mnist_style(test_digits, rng):
    X, _ = test_digits
    out = to_mnist(photo(X[0], rng, offset=(100, 10), scale=4))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255
    # Scaled to fit a 20x20 box, as MNIST was.
    ink_rows, ink_cols = np.flatnonzero(out.sum(axis=1)), np.flatnonzero(out.sum(axis=0))
    assert max(np.ptp(ink_rows), np.ptp(ink_cols)) + 1 <= 20
    rows, cols = np.indices(out.shape)
    com = (rows * out).sum() / out.sum(), (cols * out).sum() / out.sum()
    np.testing.assert_allclose(com, (13.5, 13.5), atol=1.0)


def test_polarity_colour_and_alpha(test_digits, rng):
    X, _ = test_digits
    reference = to_mnist(photo(X[1], rng, noise=0))
    light_on_dark = to_mnist(photo(X[1], rng, noise=0, dark_ink=False))
    assert best_shift_correlation(reference, light_on_dark) > 0.9
    gray = photo(X[1], rng, noise=0)
    rgb = np.stack([gray, gray, np.clip(gray.astype(int) + 20, 0, 255).astype(np.uint8)], axis=2)  # bluish paper
    assert best_shift_correlation(reference, to_mnist(rgb)) > 0.9
    # Ink on a transparent sheet: laid on white paper first.
    rgba = np.zeros(gray.shape + (4,), dtype=np.uint8)
    rgba[..., 3] = 255 - gray
    assert best_shift_correlation(reference, to_mnist(rgba)) > 0.8
    assert best_shift_correlation(reference, to_mnist(gray / 255.0)) > 0.95


def test_a_page_on_a_dark_desk_is_dark_ink_on_light(test_digits):
    from skdigits.reader._images import dark_ink

    # A grey page in a shadow fills a quarter of the photo, the dark desk all the rest:
    # the picture's median is dark, as its border is, but the page in the middle is not.
    picture = np.full((300, 400, 3), 0.12, np.float32)
    picture[75:225, 100:300] = 0.55
    assert dark_ink(picture)
    # A sticky note turned on the desk fills under 85% of the picture's middle; a digit is written on it.
    note = np.full((300, 400, 3), 64, np.uint8)
    square = cv2.boxPoints(((200, 150), (170, 170), 20)).astype(np.int32)
    cv2.fillPoly(note, [square], (230, 217, 100))
    cv2.putText(note, "7", (170, 190), cv2.FONT_HERSHEY_SIMPLEX, 3, (25, 25, 80), 8)
    note = note.astype(np.float32) / 255
    assert np.percentile(cv2.cvtColor(note, cv2.COLOR_RGB2GRAY)[75:225, 100:300], 15) < 0.4
    assert dark_ink(note)
    # A light wall beside a blackboard runs out of the picture: the chalk stays light ink.
    board = np.full((300, 400, 3), 50, np.uint8)
    board[:, 280:] = 200
    cv2.putText(board, "7", (100, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (230, 230, 230), 6)
    assert not dark_ink(board.astype(np.float32) / 255)
    # MNIST itself, and chalk on a blackboard: dark in the middle and at the border.
    X, _ = test_digits
    assert not any(dark_ink(np.repeat(x.reshape(28, 28)[:, :, None] / 255.0, 3, axis=2).astype(np.float32))
                   for x in X)


def test_a_digit_on_a_note_on_a_dark_desk_is_the_digit_not_the_note(test_digits):
    X, _ = test_digits
    digit = cv2.resize(255 - X[0].reshape(28, 28), (140, 140), interpolation=cv2.INTER_CUBIC)
    paper = np.full((140, 140), 255, np.uint8)
    note = np.full((300, 400), 70, np.uint8)   # the desk
    note[60:240, 110:290] = 215                # a sheet: with the digit, light in under 85% of the middle
    note[80:220, 130:270] = np.minimum(note[80:220, 130:270], digit)
    paper_page = np.full((300, 400), 215, np.uint8)
    paper_page[80:220, 130:270] = np.minimum(paper, digit)
    on_note, on_paper = to_mnist(note), to_mnist(paper_page)
    # Read as light ink, the note was the "ink" and the digit a hole in it: correlation 0.28.
    assert best_shift_correlation(on_paper, on_note) > 0.9


def test_explicit_invert(test_digits, rng):
    X, _ = test_digits
    page = photo(X[2], rng, noise=0)
    np.testing.assert_array_equal(to_mnist(page, invert=True), to_mnist(page))
    np.testing.assert_array_equal(to_mnist(255 - page, invert=False), to_mnist(255 - page))


def test_mnist_digit_is_a_fixed_point(test_digits):
    X, _ = test_digits
    corr = [best_shift_correlation(x, to_mnist(x), max_shift=1) for x in X[:10]]
    assert min(corr) > 0.85


def test_blank_paper_is_an_error(rng):
    paper = np.uint8(np.clip(200 + rng.normal(0, 3, (200, 150)), 0, 255))
    with pytest.raises(ImageError, match="no ink found"):
        to_mnist(paper)
    with pytest.raises(ImageError, match="no ink found"):
        to_mnist(np.zeros((50, 50)))


def test_a_lone_speck_is_not_a_digit_but_a_tiny_digit_is(test_digits):
    page = np.full((120, 120), 230, dtype=np.uint8)
    page[60:62, 60:62] = 30
    with pytest.raises(ImageError, match="no digit found"):
        to_mnist(page)
    # A digit 8 pixels high (as in scikit-learn's 8x8 digits) is still read.
    X, _ = test_digits
    small = np.array(Image.fromarray(255 - X[0]).resize((10, 10), Image.BILINEAR))
    assert to_mnist(small).max() == 255


def test_bad_arrays():
    with pytest.raises(ImageError, match="shape"):
        to_mnist(np.zeros((4, 4, 2)))
    with pytest.raises(ImageError, match="empty"):
        to_mnist(np.zeros((0, 5)))
    with pytest.raises(ImageError, match="finite"):
        to_mnist(np.full((5, 5), np.nan))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF"])
def test_read_image_formats(tmp_path, test_digits, rng, fmt):
    X, _ = test_digits
    page = photo(X[3], rng)
    path = tmp_path / f"digit.{fmt.lower()}"
    Image.fromarray(page).convert("RGB").save(path, format=fmt)
    image = read_image(path)
    assert image.mode == "L"
    assert best_shift_correlation(to_mnist(page), to_mnist(path)) > 0.9


def test_sixteen_bit_png(tmp_path, test_digits, rng):
    X, _ = test_digits
    page = photo(X[4], rng, noise=0).astype(np.uint16) * 257
    path = tmp_path / "scan16.png"
    Image.fromarray(page).save(path)
    assert best_shift_correlation(to_mnist(page.astype(float) / 65535), to_mnist(path)) > 0.95


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageError, match="notes.png: not an image"):
        read_image(text)
    truncated = tmp_path / "cut.png"
    Image.fromarray(np.zeros((100, 100), np.uint8) + 128).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageError, match="cut.png"):
        read_image(truncated)


def test_huge_image_refused_before_decoding(tmp_path, monkeypatch):
    # A real 8000x8000 PNG of one colour compresses to a few hundred kB.
    path = tmp_path / "huge.png"
    Image.new("L", (8000, 8000), 255).save(path, optimize=False, compress_level=1)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(ImageError, match="8000x8000 pixels is too large"):
        read_image(path)
    assert decoded == []


def test_transformer_in_a_pipeline(test_digits, rng):
    X, _ = test_digits
    pages = [photo(x, rng) for x in X[:3]]
    pre = MNISTPreprocessor()
    out = pre.fit_transform(pages)
    assert out.shape == (3, 784) and out.dtype == np.uint8
    assert MNISTPreprocessor(flatten=False).transform(pages).shape == (3, 28, 28)
    with pytest.raises(ValueError, match="invert"):
        MNISTPreprocessor(invert="maybe").fit(pages)
    assert make_pipeline(MNISTPreprocessor()).transform(pages).shape == (3, 784)


def test_trained_model_reads_photos_like_mnist(test_digits, rng, mnist_model):
    X, _ = test_digits
    pages = [photo(x, rng, offset=(int(rng.integers(0, 90)), int(rng.integers(0, 50)))) for x in X]
    on_mnist = mnist_model.predict(X)
    on_photos = make_pipeline(MNISTPreprocessor(), mnist_model).predict(pages)
    assert np.mean(on_photos == on_mnist) >= 0.9


def test_processing_size_is_bounded():
    from skdigits.reader import _paper

    assert _paper.WORK_SIDE <= 1024 and _images.DECODE_SIDE <= _paper.WORK_SIDE
    assert _images.MAX_PIXELS < 8000 * 8000
