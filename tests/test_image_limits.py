"""What a hostile picture can cost: every one is refused with an ImageError, in bounded time and memory."""

import io
import struct
import time
import tracemalloc

import numpy as np
import pytest
from conftest import dots, text_chunk_bomb
from conftest import png_bytes as png
from PIL import Image

from skdigits import ImageError, find_digits, read_image
from skdigits.reader import _images
from skdigits.reader._images import ImageTooComplexError, ImageTooLargeError, NoDigitError
from skdigits.reader._groups import digit_groups


def cpu_seconds(fn, *args, **kwargs):
    start = time.thread_time()
    try:
        fn(*args, **kwargs)
    except ImageError as exc:
        return time.thread_time() - start, exc
    return time.thread_time() - start, None


def test_the_446_byte_picture_of_dots_is_refused_as_noise_at_once():
    data = png(dots(200, 5), optimize=True)
    assert len(data) < 500
    seconds, error = cpu_seconds(find_digits, data)
    assert isinstance(error, ImageTooComplexError) and "too noisy: 1,600 separate marks" in str(error)
    assert seconds < 0.5


def test_grouping_thousands_of_marks_is_not_quadratic_in_python():
    # Below the limit on marks, digit_groups still compares every mark with every digit.
    mask = dots(400, 8, dot=3) == 0
    start = time.thread_time()
    labels, stats, groups = digit_groups(mask)
    assert time.thread_time() - start < 1.0  # 24 s when each mark's box was found again for every group
    assert len(stats) == 50 * 50 and sum(len(g) for g in groups) == len(stats)


@pytest.mark.parametrize("name", ["noise", "salt and pepper", "checkerboard", "stripes", "dense dots"])
def test_patterns_are_refused_or_read_within_a_second_of_cpu(name):
    rng = np.random.default_rng(0)
    picture = {
        "noise": lambda: np.uint8(rng.random((1000, 1000)) > 0.5) * 255,
        "salt and pepper": lambda: np.where(rng.random((1000, 1000)) > 0.97, 0, 255).astype(np.uint8),
        "checkerboard": lambda: np.uint8(np.indices((1000, 1000)).sum(0) % 2 * 255),
        "stripes": lambda: np.tile(np.uint8(np.arange(1000) % 4 < 2) * 255, (700, 1)),
        "dense dots": lambda: dots(1000, 4),
    }[name]()
    seconds, error = cpu_seconds(find_digits, png(picture), time_limit=1.0)
    # The limit is checked between steps: one step past it is the most it can overrun.
    assert seconds < 1.5
    assert error is None or isinstance(error, ImageError)


def test_a_mark_with_a_thousand_holes_is_refused_as_noise():
    net = np.full((300, 300), 250, np.uint8)
    net[50:250, 50:250] = 0
    net[52:248:5, 52:248:5] = 250  # 40 x 40 holes in one square mark
    with pytest.raises(ImageTooComplexError, match="too noisy: 1,600 holes in its marks"):
        find_digits(net)


def test_too_many_digits_are_refused():
    stripes = np.tile(np.uint8(np.arange(1000) % 8 < 4) * 255, (300, 1))
    stripes[:20], stripes[-20:] = 255, 255
    with pytest.raises(ImageTooComplexError, match=r"too many marks that look like digits: \d+ \(at most 64"):
        find_digits(stripes, learned=False)
    with pytest.raises(NoDigitError, match="no digit found"):  # the finder sees no digit in them
        find_digits(stripes)


def test_a_time_limit_stops_the_reading_between_steps():
    page = np.full((300, 300), 240, np.uint8)
    page[80:220, 140:160] = 20
    assert len(find_digits(page, time_limit=5.0).boxes) == 1
    with pytest.raises(ImageTooComplexError, match=r"took over 1e-09 s of CPU to read \(finding its ink\)"):
        find_digits(page, time_limit=1e-9)


def test_a_large_sixteen_bit_png_is_read_without_a_float_copy_at_full_size(tmp_path):
    page = np.full((3000, 4000), 60000, np.uint16)
    page[1000:2000, 1900:2100] = 3000  # a dark "1"
    path = tmp_path / "scan16.png"
    Image.fromarray(page).save(path)
    tracemalloc.start()
    try:
        found = find_digits(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found.boxes) == 1 and found.size == (4000, 3000)
    left, top, right, bottom = found.boxes[0]
    assert abs(left - 1900) < 40 and abs(top - 1000) < 40 and abs(right - 2100) < 40 and abs(bottom - 2000) < 40
    # One float64 copy at full size was 96 MB; the 16-bit samples themselves are 24 MB.
    assert peak < 60e6


def test_pictures_over_the_decoded_bytes_budget_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "wide16.png"
    Image.fromarray(np.zeros((10, 2000), np.uint16)).save(path)
    monkeypatch.setattr(_images, "MAX_DECODED_BYTES", 30_000)  # 20,000 pixels of two bytes: 40,000
    with pytest.raises(ImageTooLargeError, match="mode I;16 would take over 0 MB decoded"):
        read_image(path)


def test_a_text_chunk_that_decompresses_to_megabytes_is_a_clean_error():
    bomb = text_chunk_bomb(20_000_000)
    assert len(bomb) < 30_000
    with pytest.raises(ImageError, match="uploaded data: a damaged image, or one that uses a feature") as info:
        find_digits(bomb)
    assert "Decompressed" not in str(info.value)  # Pillow's own words are not passed on


def test_a_damaged_run_length_bmp_is_a_clean_error():
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    pixels = b"\x05\x10\x00"  # runs that stop long before 50 rows are filled
    header = struct.pack("<IiiHHIIiiII", 40, 50, 50, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(header) + len(palette)
    bmp = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + palette + pixels
    with pytest.raises(ImageError, match="a damaged or truncated image, or one skdigits cannot decode"):
        find_digits(bmp)


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "PCX", "TGA"])
def test_only_the_documented_formats_are_opened(fmt):
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32), 200, np.uint8)).convert("RGB").save(buffer, fmt)
    with pytest.raises(ImageError, match=r"not an image file that can be read \(PNG, JPEG, BMP, TIFF, WebP, GIF\)"):
        find_digits(buffer.getvalue())


def test_the_first_frame_of_a_gif_is_read():
    first = np.full((120, 120), 250, np.uint8)
    first[20:100, 55:65] = 0
    second = np.full((120, 120), 250, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(first).save(buffer, "GIF", save_all=True, append_images=[Image.fromarray(second)])
    assert len(find_digits(buffer.getvalue()).boxes) == 1
