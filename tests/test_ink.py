"""Each step of the ink finding (skdigits/reader/_ink.py) on small synthetic pictures, then the whole of it.

The rules are tested alone (``learned=False``); the finder after them is tested in test_finder.py.
"""

import functools

import cv2
import numpy as np
import pytest

import skdigits
from skdigits import load_mnist
from skdigits.reader import _groups, _ink, _paper, _patch, _rulings

find_digits = functools.partial(skdigits.find_digits, learned=False)
read_digits = functools.partial(skdigits.read_digits, learned=False)
to_mnist = functools.partial(skdigits.to_mnist, learned=False)

PAPER = np.array([0.95, 0.94, 0.9], dtype=np.float32)  # warm white, RGB
BLUE_PEN = np.array([0.1, 0.2, 0.6], dtype=np.float32)
RULING = np.array([0.55, 0.7, 0.9], dtype=np.float32)  # light blue


def page(height=240, width=320):
    return np.ones((height, width, 3), dtype=np.float32) * PAPER


def write(picture, digit, top, left, size, pen=BLUE_PEN):
    """Lay an MNIST digit on the picture as pen ink of ``size`` pixels."""
    alpha = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC)
    alpha = np.clip(alpha, 0, 1)[:, :, None]
    region = picture[top:top + size, left:left + size]
    region[:] = region * (1 - alpha) + pen * alpha
    return picture


def rule(picture, spacing, colour=RULING, thickness=2, vertical=False):
    height, width = picture.shape[:2]
    for at in range(spacing // 2, (width if vertical else height), spacing):
        if vertical:
            picture[:, at:at + thickness] = np.minimum(picture[:, at:at + thickness], colour)
        else:
            picture[at:at + thickness] = np.minimum(picture[at:at + thickness], colour)
    return picture


@pytest.fixture(scope="module")
def digits():
    _, X, _, y = load_mnist(n_test=20, random_state=4)
    return X, y


@pytest.mark.parametrize("shape, short, long", [
    ((28, 28), _paper.MIN_WORK_SIDE, _paper.MIN_WORK_SIDE),   # an MNIST digit: enlarged
    ((60, 200), _paper.MIN_WORK_SIDE, 800),                 # a number of small digits: enlarged
    ((20, 1000), 41, _paper.MAX_ENLARGED_SIDE),             # a thin strip: enlarged only so far
    ((300, 400), 300, 400),                               # left as it is
    ((2000, 4000), 512, _paper.WORK_SIDE),                  # a photo: reduced
])
def test_pictures_are_brought_to_working_size(shape, short, long):
    rgb, scale = _paper.to_work_size(np.ones(shape + (3,), np.float32))
    assert (min(rgb.shape[:2]), max(rgb.shape[:2])) == (short, long)
    assert scale == pytest.approx(max(shape) / long, rel=0.01)


def test_darkness_counts_coloured_pens_as_dark_and_a_light_blue_ruling_as_light():
    picture = page(20, 30)
    picture[5:10, 5:10] = BLUE_PEN
    picture[5:10, 15:20] = [0.8, 0.1, 0.1]  # red pen
    picture[15:17] = RULING
    dark = _paper.darkness(picture, light_ink=False)
    assert dark[7, 7] > 0.65 and dark[7, 17] > 0.65 and dark[0, 0] < 0.15
    # In the darkest channel (red) the ruling is half as dark as the blue pen: a thin pen's faint strokes were as light.
    assert dark[16, 0] < 0.45 * dark[7, 7]
    inverted = _paper.darkness(1 - picture, light_ink=True)
    np.testing.assert_allclose(inverted, dark, atol=1e-6)


def test_contrast_cancels_a_shadow(digits):
    X, _ = digits
    picture = write(page(), X[0], 60, 120, 110, pen=np.zeros(3, np.float32))
    shade = np.ones(picture.shape[:2], np.float32)
    shade[:, :160] = 0.5  # a hard-edged shadow over the left half, crossing the digit
    dark = _paper.darkness(picture * shade[:, :, None], light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, min(dark.shape) / 4))
    ink = cv2.resize(X[0], (110, 110)) > 128
    inside = np.zeros(dark.shape, bool)
    inside[60:170, 120:230] = ink
    paper_only = ~cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert np.median(con[inside]) > 0.8            # the ink stands out on both sides of the shadow's edge
    assert np.percentile(con[paper_only], 99) < 0.15  # and the shadow itself is not ink


def test_stroke_width_of_bars():
    mask = np.zeros((60, 60), bool)
    mask[10:50, 10:16] = True
    assert _paper.stroke_width(mask) == pytest.approx(6, abs=1.5)
    assert _paper.stroke_width(np.ones((5, 5), bool)) < 10  # a full mask still has edges


def test_a_thick_blobby_digit_is_thinned_not_erased(digits):
    # A fat pen on a small digit: the loops nearly fill. The width measured must
    # stay that of the strokes, not of the blobs, or thinning the digit to
    # MNIST's strokes erases it.
    X, _ = digits
    for digit in X[:6]:
        thin = cv2.resize(digit, (24, 24), interpolation=cv2.INTER_AREA) > 60
        fat = np.pad(cv2.dilate(thin.astype(np.uint8), np.ones((5, 5), np.uint8)), 10).astype(bool)
        labels, stats, groups = _groups.digit_groups(fat)
        patch = _patch.digit_patch(_ink.Ink(fat.astype(np.float32), fat, 1.0, 1.0, None), labels, stats, groups[0])
        assert (patch > 0.5).sum() > 0.5 * thin.sum()


def test_noise_level_ignores_a_dense_grid():
    rng = np.random.default_rng(0)
    con = (0.05 + rng.normal(0, 0.01, (201, 201))).astype(np.float32)
    con[::4] += 0.3
    con[:, ::4] += 0.3  # a grid line every 4 pixels: 44% of the page
    median, spread = _paper.noise_level(con)
    assert median == pytest.approx(0.05, abs=0.01) and spread == pytest.approx(0.01, abs=0.003)


def test_a_grid_covering_most_of_the_page_does_not_raise_the_noise_floor_over_the_pen(digits, monkeypatch):
    X, _ = digits
    grey = np.full(3, 0.62, np.float32)   # as dark in every channel: a light-blue grid is lighter than the noise cap
    picture = rule(rule(page(300, 400), 12, grey, thickness=5), 12, grey, thickness=5, vertical=True)   # 2/3 of the page
    write(picture, X[0], 100, 150, 110, pen=np.array([0.05, 0.05, 0.1], np.float32))
    picture = np.clip(picture + np.random.default_rng(0).normal(0, 0.02, picture.shape), 0, 1).astype(np.float32)
    ink = _ink.find_ink(picture, light_ink=False)
    assert ink.measured["floor"] <= _paper.FLOOR_CAP * ink.level + 1e-6 and ink.measured["rulings"] > 0
    in_box = ink.mask[100:210, 150:260].sum()
    assert in_box > 1000 and ink.mask.sum() == in_box   # the digit, and none of the grid
    monkeypatch.setattr(_ink, "FLOOR_CAP", 10.0)   # the paper's noise measured on the grid: the pen is under it
    assert not _ink.find_ink(picture, light_ink=False).mask.any()


def test_rulings_are_found_and_a_digit_stroke_is_not(digits):
    X, _ = digits
    picture = rule(write(page(), X[1], 60, 120, 110), spacing=30)
    dark = _paper.darkness(picture, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 60))
    levels, level, angle = _rulings.find_rulings(con, con > 0.1, 128, np.ones(con.shape, bool))
    ruled_rows = np.flatnonzero((levels > 0).mean(axis=1) > 0.9)
    assert set(range(15, 17)) <= set(ruled_rows) and angle == pytest.approx(0, abs=1)
    assert 0.1 < level < 0.6
    # A long straight pen stroke with paper around it, but not across the page, is no ruling.
    stroke = page()
    stroke[40:200, 150:156] = BLUE_PEN
    dark = _paper.darkness(stroke, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 60))
    levels, level, angle = _rulings.find_rulings(con, con > 0.1, 128, np.ones(con.shape, bool))
    assert not levels.any() and level == 0 and angle is None


def test_ruling_search_is_skipped_only_where_no_ruling_can_pass(monkeypatch):
    weak = np.zeros((400, 400), bool)
    weak[170:230, 195:205] = True  # a drawn "1" in the middle of a blank canvas
    con = weak.astype(np.float32)
    whole = np.ones(weak.shape, bool)
    assert _rulings._too_far_in(weak, whole)
    skipped = _rulings.find_rulings(con, weak, 40, whole)
    monkeypatch.setattr(_rulings, "_too_far_in", lambda *args: False)
    searched = _rulings.find_rulings(con, weak, 40, whole)
    assert skipped[1:] == searched[1:] == (0.0, None) and not searched[0].any()
    monkeypatch.undo()
    near_edge = weak.copy()
    near_edge[390:392, 100:300] = True  # a mark near the bottom edge: a line through it could be a ruling
    assert not _rulings._too_far_in(near_edge, whole)
    whole[0, 0] = False  # part of the picture is off the page: lines through it are shorter
    assert not _rulings._too_far_in(weak, whole)


def test_hysteresis_keeps_strokes_and_drops_faint_marks():
    con = np.zeros((30, 30), np.float32)
    con[5:25, 10:12] = 0.9
    con[5:25, 12] = 0.4   # the anti-aliased edge of that stroke: kept
    con[5:25, 20] = 0.4   # a faint line on its own: dropped
    mask = _ink.ink_mask(con, low=0.3, high=0.6)
    assert mask[10, 12] and mask[10, 10] and not mask[10, 20]


def test_off_page_finds_a_table_in_a_corner():
    picture = page(200, 200)
    rows, cols = np.indices((200, 200))
    corner = rows + cols > 300  # the bottom-right corner
    picture[corner] = [0.45, 0.3, 0.2]  # brown wood
    picture[90:110, 60:64] = BLUE_PEN   # a pen stroke is coloured too, but on the page
    off = _ink.off_page(picture, _paper.darkness(picture, light_ink=False))
    assert off[195, 195] and not off[10, 10] and not off[100, 62]


def test_yellow_paper_in_a_shadow_is_on_the_page(digits):
    # A legal pad half in shadow: the shaded paper is darker and coloured, as a
    # wooden table is, but of the paper's own colour.
    X, y = digits
    picture = np.ones((200, 420, 3), np.float32) * np.array([0.95, 0.9, 0.6], np.float32)
    for k in range(3):
        write(picture, X[k], 50, 20 + 130 * k, 100, pen=np.zeros(3, np.float32))
    picture[:, :200] *= 0.6
    rows, cols = np.indices(picture.shape[:2])
    picture[rows + cols > 560] = [0.45, 0.3, 0.2]   # and a brown table in a corner
    off = _ink.off_page(picture, _paper.darkness(picture, light_ink=False))
    assert not off[:, :200].any() and off[195, 415]
    assert read_digits(np.uint8(picture * 255)).text == "".join(str(v) for v in y[:3])


def test_light_ink_reaching_the_border_is_ink():
    # A white stroke on black (MNIST, a blackboard) that reaches the picture's edge
    # is dark-on-light "off the page" to off_page's measure; for light ink it is the ink.
    picture = np.zeros((28, 28, 3), np.float32)
    picture[4:24, 0:6] = 1.0   # the foot of a digit, cut by the edge
    picture[4:8, 0:20] = 1.0
    ink = _ink.find_ink(picture, light_ink=True)
    assert ink.mask.mean() > 0.1
    assert to_mnist(picture).max() == 255


def test_the_pages_edge_beside_a_table_is_not_ink(digits):
    X, _ = digits
    picture = write(page(200, 300), X[3], 60, 100, 80, pen=np.zeros(3, np.float32))
    picture[:, 270:] = [0.45, 0.3, 0.2]  # brown wood beyond the page's right edge
    picture[40:160, 262:268] = 0.1       # the page's dark rim (its shadow), short of the picture's border
    ink = _ink.find_ink(picture, light_ink=False)
    assert ink.mask[80:140, 110:170].any() and not ink.mask[:, 240:].any()


def test_digit_groups_order_join_and_drop():
    mask = np.zeros((100, 200), bool)
    mask[30:70, 120:126] = True          # a "1", right
    mask[30:70, 40:44] = mask[30:34, 40:70] = True  # a "7"-like shape, left
    mask[20:24, 122:126] = True          # a small piece just above the "1": joins it
    mask[85:87, 10:12] = True            # a speck far away: dropped
    mask[0:50, 180:184] = True           # touches the border: dropped
    labels, stats, groups = _groups.digit_groups(mask)
    boxes = [_groups.group_box(stats, g) for g in groups]
    assert boxes == [(40, 30, 70, 70), (120, 20, 126, 70)]


def test_a_row_of_dots_is_not_chained_onto_a_digit():
    # Where the lines of a grid cross, the paper is darker than on either line: dots
    # in a row, each close to the one before, the first close below the digit.
    mask = np.zeros((200, 100), bool)
    mask[20:80, 40:44] = True                         # a "1"
    for top in (88, 106, 124, 142, 160):
        mask[top:top + 3, 41:44] = True
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(groups) == 1 and _groups.group_box(stats, groups[0]) == (40, 20, 44, 91)


def test_the_halves_of_a_digit_cut_by_a_ruling_stay_one_digit():
    mask = np.zeros((100, 300), bool)
    for left in (20, 80, 200):
        mask[30:70, left:left + 4] = True   # three "1"s, 40 pixels high
    mask[30:44, 130:150] = True             # the top of a digit, 14 high...
    mask[52:62, 132:136] = True             # ...and its foot, 10 high, below an erased ruling
    labels, stats, groups = _groups.digit_groups(mask)
    boxes = [_groups.group_box(stats, g) for g in groups]
    assert boxes[2] == (130, 30, 150, 62) and len(groups) == 4


def test_a_mark_far_above_a_digit_is_not_part_of_it():
    mask = np.zeros((400, 200), bool)
    cv2.circle(mask.view(np.uint8), (100, 330), 30, 1, 8)   # a digit near the page's foot
    mask[40:62, 90:120] = True                               # a smudge far above it, a third as tall
    labels, stats, groups = _groups.digit_groups(mask)
    tops = sorted(_groups.group_box(stats, g)[1] for g in groups)
    assert tops == [40, 296]
    mask[40:62] = False
    mask[268:290, 90:120] = True                             # a piece just above it is part of it
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(groups) == 1 and _groups.group_box(stats, groups[0])[1] == 268


def test_a_number_is_the_row_of_digits_not_the_marks_above_and_below_it():
    mask = np.zeros((500, 900), bool)
    for k, left in enumerate((100, 180, 260, 340, 420, 620)):   # a row sloping down, a 1 and a wide gap at the end
        top = 200 + 12 * k + (8 if k % 2 else 0)
        cv2.circle(mask.view(np.uint8), (left + 25, top + 30), 22, 1, 6) if k != 4 else None
        if k == 4:
            mask[top:top + 60, left + 22:left + 28] = True
    mask[20:80, 400:450] = True      # a mark at the top of the page
    mask[420:470, 700:760] = True    # and one below the row, beyond its end
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(groups) == 8
    row = [groups[k] for k in _groups.the_row(stats, groups)]
    assert sorted(_groups.group_box(stats, g)[0] for g in row) == [100, 180, 260, 340, 442, 620]
    # One digit and the marks around it: the digit.
    one = np.zeros((500, 300), bool)
    cv2.circle(one.view(np.uint8), (150, 250), 22, 1, 6)
    one[20:45, 100:120] = one[440:470, 170:185] = True   # smudges, with less ink than the digit
    labels, stats, groups = _groups.digit_groups(one)
    kept = _groups.the_row(stats, groups)
    assert len(groups) == 3 and len(kept) == 1 and _groups.group_box(stats, groups[kept[0]])[1] == 225


def test_pieces_of_a_broken_digit_are_joined_and_two_digits_are_not():
    mask = np.zeros((100, 400), bool)
    mask[30:70, 20:24] = True                      # a "1"
    mask[30:70, 30:34] = True                      # another "1" close beside it: kept apart
    mask[30:52, 110:114] = True                    # a "1" broken in two by a faint stretch:
    mask[56:70, 106:110] = True                    # side by side, too little overlap to be grouped
    mask[30:70, 170:174] = mask[50:54, 170:190] = mask[30:70, 186:190] = True   # an "H"-like digit
    mask[45:70, 196:200] = mask[45:49, 196:216] = True   # a short digit close beside it: too wide together
    mask[30:70, 300:304] = True
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(groups) == 7   # the broken "1" is two groups
    boxes = [_groups.group_box(stats, g) for g in _groups.join_broken(stats, groups)]
    assert [box[0] for box in boxes] == [20, 30, 106, 170, 196, 300]
    assert boxes[2] == (106, 30, 114, 70)


def test_thin_pens_are_thickened_to_mnist_strokes():
    mask = np.zeros((120, 120), bool)
    mask[10:110, 58:60] = True  # a 2-pixel "1" 100 pixels high: strokes of 0.02 of its height
    ink = _ink.Ink(mask.astype(np.float32), mask, 1.0, 1.0, None)
    labels, stats, groups = _groups.digit_groups(mask)
    patch = _patch.digit_patch(ink, labels, stats, groups[0])
    width = _paper.stroke_width(patch > 0.5)
    assert width / 100 == pytest.approx(_patch.MNIST_STROKE[1], abs=0.03)


def test_a_digits_stroke_faded_by_a_glare_is_followed_and_a_faint_mark_apart_is_not():
    con = np.zeros((120, 160), np.float32)
    con[20:24, 40:80] = 0.18       # a "7"'s top bar, washed out to a quarter of the pen
    con[20:100, 76:80] = 0.75      # its stem, as dark as the pen
    con[20:40, 76:80] = 0.2        # ... fading towards the bar
    con[40:100, 120:124] = 0.18    # a faint mark apart
    ink = _ink.Ink(con, con > 0.3, 0.75, 1.0, None, dict(floor=0.05, low=0.3, high=0.45, rulings=0.0))
    grown = _groups.faded_strokes(ink, ink.mask)
    assert grown[21, 45] and grown[30, 78] and grown[60, 78]   # the bar and the stem's faded top join the stem
    assert not grown[60, 122]
    ruled = _ink.Ink(con, con > 0.3, 0.75, 1.0, None, dict(floor=0.05, low=0.3, high=0.45, rulings=0.2))
    assert not _groups.faded_strokes(ruled, ruled.mask)[21, 45]  # no darker than a ruling: not followed


def test_a_faint_digit_is_sought_within_the_picture_however_steep_the_row():
    # Two digits whose row runs steeply down: beyond either end it leads out of the picture.
    con = np.zeros((200, 300), np.float32)
    con[10:60, 20:60] = con[120:170, 70:110] = 0.75
    con[60:105, 63:66] = 0.2      # a faint "1" in the gap between them
    mask = con > 0.3
    ink = _ink.Ink(con, mask, 0.75, 1.0, None, dict(floor=0.05, low=0.3, high=0.45, rulings=0.0))
    labels, stats, groups = _groups.digit_groups(mask)
    boxes = [(20, 10, 60, 60), (70, 120, 110, 170)]
    extra = _groups.faint_digits(ink, labels, groups, boxes)   # once failed on the empty region past an end
    assert extra[80, 64] and extra.sum() == 45 * 3


def test_a_thick_pens_filled_loop_is_opened(monkeypatch):
    con = np.zeros((80, 80), np.float32)
    cv2.circle(con, (40, 40), 17, 0.8, -1)   # a "0" in a thick pen
    cv2.circle(con, (40, 40), 5, 0.3, -1)    # its loop filled in, but lighter than the strokes
    mask = con > 0.2
    ink = _ink.Ink(con, mask, 0.8, 1.0, None)

    def loop():
        labels, stats, groups = _groups.digit_groups(mask)
        patch = _patch.digit_patch(ink, labels, stats, groups[0])
        return patch[patch.shape[0] // 2, patch.shape[1] // 2] / patch.max()

    assert loop() < 0.25
    monkeypatch.setattr(_patch, "THICK_STROKE", 1.0)
    assert loop() > 0.3


def test_a_thick_pens_uneven_ring_stays_a_ring():
    ring = np.zeros((240, 320), np.uint8)
    cv2.ellipse(ring, (160, 120), (50, 70), 0, 0, 360, 1, -1)
    cv2.ellipse(ring, (176, 120), (6, 16), 0, 0, 360, 0, -1)   # a small hole off centre: one wall far thinner
    alpha = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), 1.0)[:, :, None]
    picture = page() * (1 - alpha) + BLUE_PEN * alpha
    ink = _ink.find_ink(picture, light_ink=False)
    labels, stats, groups = _groups.digit_groups(ink.mask)
    left, top, right, bottom = _groups.group_box(stats, groups[0])
    assert _paper.stroke_width(ink.mask[top:bottom, left:right]) / (bottom - top) > _patch.MNIST_STROKE[2]   # thinned
    image = find_digits(picture).images[0]
    _, hierarchy = cv2.findContours((image > 100).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    assert (hierarchy[0][:, 3] >= 0).sum() == 1   # the hole is still there: a 0, not a c or a blob


def test_a_digit_on_ruled_paper_under_a_shadow(digits, mnist_model):
    X, y = digits
    good = 0
    for k in range(8):
        picture = rule(write(page(), X[k], 50 + 5 * k, 100 + 8 * k, 120), spacing=28)
        picture[:, : 140 + 5 * k] *= 0.6
        good += int(mnist_model.predict(to_mnist(picture)[None])[0] == y[k])
    assert good >= 7


def test_a_written_number_on_squared_paper_is_read(digits):
    X, y = digits
    picture = rule(rule(page(160, 520), 24), 24, vertical=True)
    for k in range(5):
        write(picture, X[k], 30 + (k % 2) * 8, 20 + 100 * k, 80 + (k % 3) * 6, pen=np.zeros(3, np.float32))
    reading = read_digits(np.uint8(picture * 255))
    assert reading.text == "".join(str(v) for v in y[:5])
    assert [box[0] for box in reading.boxes] == sorted(box[0] for box in reading.boxes)
    assert all(0.5 < p <= 1 for p in reading.probabilities) and reading.images.shape == (5, 28, 28)
    single = read_digits(write(page(), X[5], 60, 120, 110))
    assert single.text == str(y[5]) and len(single.boxes) == 1


def test_a_faint_digit_in_a_number_is_found(digits, monkeypatch):
    X, y = digits
    black, faint = np.zeros(3, np.float32), PAPER * 0.78   # a pencil-grey digit, about a quarter of the pen's contrast
    picture = page(160, 420)
    for k, pen in enumerate([black, faint, black]):
        write(picture, X[k], 40, 30 + 130 * k, 80, pen=pen)
    found = find_digits(picture)
    assert len(found.boxes) == 3 and 150 < found.boxes[1][0] < 200
    monkeypatch.setattr("skdigits.reader._images.faint_digits", lambda ink, *args: np.zeros_like(ink.mask))
    assert len(find_digits(picture).boxes) == 2   # the thresholds alone miss it
    monkeypatch.undo()
    # After the last digit too, but not a straight line there (a margin line, the page's
    # edge), nor a mark smaller than a digit in a gap.
    picture = page(160, 620)
    for left, k, pen in [(10, 0, black), (200, 1, black), (300, 2, faint)]:
        write(picture, X[k], 40, left, 80, pen=pen)
    picture[50:105, 384:387] = np.minimum(picture[50:105, 384:387], faint)
    write(picture, X[5], 65, 125, 30, pen=faint)
    boxes = find_digits(picture).boxes
    assert len(boxes) == 3 and 300 <= boxes[2][0] < 360
    monkeypatch.setattr(_groups, "_straight", lambda piece: False)
    assert len(find_digits(picture).boxes) == 4   # the line is kept out because it is straight


def test_boxes_are_in_the_pictures_pixels(digits, tmp_path):
    X, _ = digits
    picture = np.uint8(write(page(1500, 2000), X[0], 600, 900, 400) * 255)
    path = tmp_path / "large.jpg"
    cv2.imwrite(str(path), picture[:, :, ::-1])
    left, top, right, bottom = find_digits(path).boxes[0]
    truth = np.argwhere(cv2.resize(X[0], (400, 400)) > 60)
    assert abs(top - (600 + truth[:, 0].min())) < 25 and abs(left - (900 + truth[:, 1].min())) < 25
    assert abs(bottom - (600 + truth[:, 0].max())) < 25 and abs(right - (900 + truth[:, 1].max())) < 25


def _lean(patch):
    """Angle in degrees of a shape's long axis from the vertical (image moments)."""
    m = cv2.moments(patch.astype(np.float32))
    return np.degrees(0.5 * np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"])) - 90 * np.sign(m["mu11"] or 1)


def test_digits_are_turned_upright_by_the_rulings_angle():
    bar = np.zeros((120, 120), np.float32)
    bar[20:100, 56:64] = 1
    turned = cv2.warpAffine(bar, cv2.getRotationMatrix2D((60, 60), -12, 1.0), (120, 120)) > 0.5
    labels, stats, groups = _groups.digit_groups(turned)
    upright = _patch.digit_patch(_ink.Ink(turned.astype(np.float32), turned, 1.0, 1.0, 12.0), labels, stats, groups[0])
    left_as_is = _patch.digit_patch(_ink.Ink(turned.astype(np.float32), turned, 1.0, 1.0, None), labels, stats, groups[0])
    assert abs(_lean(left_as_is)) > 8 and abs(_lean(upright)) < 2


def test_find_ink_reports_its_levels_on_ruled_paper(digits):
    X, _ = digits
    ink = _ink.find_ink(rule(write(page(), X[2], 60, 120, 110), spacing=30), light_ink=False)
    levels = ink.measured
    assert 0.1 < levels["rulings"] < 0.6 and levels["floor"] <= levels["low"] < levels["high"] <= ink.level
    assert ink.angle == pytest.approx(0, abs=1) and ink.mask.any()
    # The rulings are gone from the ink: no row of the page is ink from side to side.
    assert ink.mask.mean(axis=1).max() < 0.5


def test_the_pages_edge_beside_a_table_is_not_a_ruling(digits):
    # The page's shadowed rim runs straight across a corner, with paper on one side:
    # taken for a ruling, it raised every threshold and turned the digits by its angle.
    X, _ = digits
    picture = page(240, 360)
    rows, cols = np.indices(picture.shape[:2])
    edge = rows - 190 - cols * 50 / 180   # the page's edge, from (0, 190) to (180, 240)
    picture[edge > 0] = [0.45, 0.42, 0.25]   # an olive table
    rim = (edge > -6) & (edge <= 0)
    picture[rim] *= 0.45
    for k in range(3):
        write(picture, X[k], 60, 60 + 90 * k, 70, pen=np.zeros(3, np.float32))
    ink = _ink.find_ink(picture, light_ink=False)
    assert ink.measured["rulings"] == 0 and ink.angle is None
    assert ink.mask[60:130, 60:330].any()


def test_a_thick_coloured_digit_at_the_pictures_side_is_on_the_page():
    picture = page(240, 360)
    pen = tuple(float(v) for v in BLUE_PEN)
    cv2.line(picture, (305, 90), (370, 90), pen, 9)    # a thick blue "7" whose bar the photo cuts
    cv2.line(picture, (362, 90), (320, 165), pen, 9)
    picture[:, :20] = [0.45, 0.3, 0.2]                  # a table along the left side
    off = _ink.off_page(picture, _paper.darkness(picture, light_ink=False))
    assert off[120, 5] and not off[90, 330] and not off[130, 340]


def test_a_faint_digit_beyond_the_end_of_a_sloping_number_is_found(digits, monkeypatch):
    X, _ = digits
    black, faint = np.zeros(3, np.float32), PAPER * 0.78
    picture = page(260, 560)
    for k in range(4):   # written downhill, the last digit faint
        write(picture, X[k], 20 + 40 * k, 20 + 130 * k, 70, pen=faint if k == 3 else black)
    boxes = find_digits(picture).boxes
    assert len(boxes) == 4 and boxes[3][1] > 140
    monkeypatch.setattr(_groups, "_row_slope", lambda boxes: 0.0)
    assert len(find_digits(picture).boxes) == 3   # looked for level with the last digit, it is missed


def test_a_digit_touching_the_pictures_side_ends_the_number(digits, monkeypatch):
    X, y = digits
    picture = page(160, 470)
    for k in range(4):
        write(picture, X[k], 40, 30 + 120 * k, 80, pen=np.zeros(3, np.float32))
    picture = picture[:, :445].copy()   # the photo cuts into the last digit
    assert (_paper.darkness(picture, light_ink=False)[:, -1] > 0.3).any()
    reading = read_digits(np.uint8(picture * 255))
    assert reading.text == "".join(str(v) for v in y[:4]) and reading.boxes[3][2] == 445
    monkeypatch.setattr("skdigits.reader._images.edge_digits", lambda labels, stats, groups, shape: groups)
    assert len(find_digits(picture).boxes) == 3   # without the step, the cut digit is dropped
    monkeypatch.undo()
    # At the other side, neither the page's shadow lying along it nor a straight mark reaching it.
    shadow, line = picture.copy(), picture.copy()
    cv2.ellipse(shadow, (0, 75), (16, 28), 0, 0, 360, (0.3, 0.3, 0.3), -1)
    cv2.line(line, (0, 105), (20, 45), (0.2, 0.2, 0.2), 3)
    assert len(find_digits(shadow).boxes) == 4 and len(find_digits(line).boxes) == 4
    monkeypatch.setattr(_groups, "along_border", lambda piece, x, y, shape: 0.0)
    assert len(find_digits(shadow).boxes) == 5
    monkeypatch.setattr(_groups, "_straight", lambda piece: False)
    assert len(find_digits(line).boxes) == 5


def test_a_hairline_at_an_end_of_a_number_is_the_pages_edge():
    canvas = np.zeros((100, 400), np.uint8)
    for centre in (110, 190, 270):
        cv2.circle(canvas, (centre, 50), 20, 1, 7)   # three "0"s in a thick pen
    mask = canvas.astype(bool)
    mask[28:72, 40:42] = True      # a hairline before them: the page's edge
    mask[28:72, 330:337] = True    # a "1" after them, in the same pen
    labels, stats, groups = _groups.digit_groups(mask)
    assert [_groups.group_box(stats, g)[0] for g in groups] == [40, 86, 166, 246, 330]
    kept = _groups.thin_ends(labels, stats, groups)
    assert [_groups.group_box(stats, g)[0] for g in kept] == [86, 166, 246, 330]
    # Only at the ends: between two digits, a thin straight mark is left to the reader.
    middle = canvas.astype(bool)
    middle[28:72, 229:231] = True
    labels, stats, groups = _groups.digit_groups(middle)
    assert len(_groups.thin_ends(labels, stats, groups)) == len(groups) == 4
    # One curved digit is too little to know the pen by.
    one = np.zeros((100, 200), np.uint8)
    cv2.circle(one, (110, 50), 20, 1, 7)
    one = one.astype(bool)
    one[28:72, 40:42] = True
    labels, stats, groups = _groups.digit_groups(one)
    assert len(_groups.thin_ends(labels, stats, groups)) == len(groups) == 2


def test_a_straight_mark_taller_than_the_digits_at_an_end_is_a_forms_line():
    canvas = np.zeros((100, 460), np.uint8)
    for centre in (110, 190, 270):
        cv2.circle(canvas, (centre, 50), 20, 1, 7)   # three "0"s, 47 pixels high
    mask = canvas.astype(bool)
    mask[28:74, 330:337] = True    # a "1" after them, as tall, in the same pen
    mask[8:94, 400:407] = True     # the wall of a form's box left empty: 86 pixels high
    labels, stats, groups = _groups.digit_groups(mask)
    assert [_groups.group_box(stats, g)[0] for g in groups] == [86, 166, 246, 330, 400]
    kept = _groups.thin_ends(labels, stats, groups)
    assert [_groups.group_box(stats, g)[0] for g in kept] == [86, 166, 246, 330]
    # A "1" a little taller than the digits beside it stays a digit ...
    mask[8:94, 400:407] = False
    mask[22:80, 400:407] = True    # 58 pixels high: 1.23 of the "0"s
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(_groups.thin_ends(labels, stats, groups)) == len(groups) == 5
    # ... and so does a tall one a pen wrote, wider than a printed rule (a slant, a serif).
    mask[22:80, 400:407] = False
    cv2.line(canvas, (395, 92), (410, 8), 1, 7)   # 1.9 of the "0"s high, 0.27 of that wide
    mask |= canvas.astype(bool)
    labels, stats, groups = _groups.digit_groups(mask)
    assert len(_groups.thin_ends(labels, stats, groups)) == len(groups) == 5


def test_the_pages_edge_beside_a_table_of_the_papers_hue_is_not_a_1(digits, monkeypatch):
    X, y = digits
    chosen = [k for k in range(len(y)) if y[k] != 1][:3]
    picture = page(200, 440)
    picture[:, :36] = PAPER * 0.45           # a grey table: as dark as a shadow, of the paper's hue
    picture[45:155, 42:44] = 0.35            # the page's rim beside it, a hairline
    for place, k in enumerate(chosen):
        write(picture, X[k], 55, 80 + 115 * place, 90, pen=np.zeros(3, np.float32))
    expected = "".join(str(y[k]) for k in chosen)
    assert read_digits(np.uint8(picture * 255)).text == expected
    # The rim, taller than the digits, is also a form's line to thin_ends: both reasons are taken away.
    monkeypatch.setattr(_groups, "THIN_EDGE", 0.0)
    monkeypatch.setattr(_groups, "TALL_EDGE", np.inf)
    assert len(find_digits(picture).boxes) == 4   # without the step, the rim is read as a digit


def test_yellow_paper_is_made_neutral_before_its_darkness_is_read(digits):
    # A yellow note on a grey desk: made grey, the note is lighter than the desk beside it,
    # which is found off the page, and the digits on the note are read.
    X, y = digits
    chosen = [k for k in range(len(y)) if y[k] != 1][:3]
    note = np.ones((200, 400, 3), np.float32) * np.float32([0.9, 0.77, 0.45])
    for place, k in enumerate(chosen):
        write(note, X[k], 55, 40 + 120 * place, 90)
    turn = cv2.getRotationMatrix2D((200, 100), 8, 0.9)
    turn[:, 2] += [30, 20]
    picture = cv2.warpAffine(note, turn, (460, 240), borderMode=cv2.BORDER_CONSTANT, borderValue=(0.55, 0.52, 0.48))
    balanced = _paper.paper_balanced(picture)
    assert np.allclose(balanced[120, 230], balanced[120, 230].mean(), atol=0.01)   # the paper is grey
    dark = _paper.darkness(balanced, light_ink=False)
    assert dark[2, 2] > dark[120, 230] + 0.2                                          # and the desk darker
    off = _ink.off_page(picture, _paper.darkness(balanced, light_ink=False))
    assert off[2, 2] and off[237, 457] and not off[120, 230]
    assert read_digits(np.uint8(picture * 255)).text == "".join(str(y[k]) for k in chosen)
    # Near-white paper is left as it is.
    assert np.array_equal(_paper.paper_balanced(page()), page())


def _page_on_grey_desk(lines=0, angle=0.0):
    """A page on a neutral grey desk, which ``off_page`` cannot tell from a shadow, and where the page is."""
    sheet = np.ones((200, 340, 3), np.float32) * PAPER
    if lines:
        for top in range(20, 200, lines):
            sheet[top:top + 2] = RULING
    turn = cv2.getRotationMatrix2D((170, 100), angle, 1.0)
    turn[:, 2] += [60, 20]
    grey = (0.45, 0.45, 0.45)
    picture = cv2.warpAffine(sheet, turn, (400, 240), borderMode=cv2.BORDER_CONSTANT, borderValue=grey)
    on_page = cv2.warpAffine(np.ones((200, 340), np.float32), turn, (400, 240)) > 0.5
    return picture, on_page


def test_the_edge_of_a_page_on_a_grey_desk_is_no_ink(monkeypatch):
    picture, on_page = _page_on_grey_desk(angle=8)
    assert not _ink.off_page(picture, _paper.darkness(picture, light_ink=False)).any()   # not found off the page...
    page_mask = on_page.astype(np.uint8)
    near_edge = (cv2.dilate(page_mask, np.ones((9, 9), np.uint8)) > cv2.erode(page_mask, np.ones((9, 9), np.uint8)))
    near_edge[:3] = near_edge[-3:] = False   # marks reaching the picture's border are dropped anyway
    near_edge[:, :3] = near_edge[:, -3:] = False

    def marks_along_the_edge():
        mask = _ink.find_ink(picture, light_ink=False).mask
        n, labels = cv2.connectedComponents(mask.astype(np.uint8))
        return [k for k in range(1, n) if near_edge[labels == k].all()]

    assert not marks_along_the_edge()   # ...but its edge is no line of ink
    monkeypatch.setattr(_paper, "_table_level", lambda dark, paper, side: paper)
    assert len(marks_along_the_edge()) >= 5   # pieces of a line along the page's edge


def test_rulings_that_end_at_a_grey_desk_are_rulings(monkeypatch):
    picture, on_page = _page_on_grey_desk(lines=24)
    ink = _ink.find_ink(picture, light_ink=False)
    assert ink.measured["rulings"] > 0 and ink.angle == pytest.approx(0, abs=1)
    assert not ink.mask[on_page].any()              # erased: only rulings on this page
    monkeypatch.setattr(_rulings, "RULING_SPAN", 1.0)   # a ruling must run the whole picture, as before
    assert _ink.find_ink(picture, light_ink=False).measured["rulings"] == 0


def test_a_ruling_is_measured_up_to_a_desks_scattered_marks():
    weak = np.zeros((200, 1000), bool)
    weak[99:102, :700] = True            # a ruling up to the page's edge at x = 700...
    weak[100, 720:1000:9] = True         # ...then a grey desk whose texture marks a pixel here and there
    paper = np.zeros(weak.shape, np.float32)
    paper[:, 700:] = 0.3                 # the desk is darker than the paper
    whole = np.ones(weak.shape, bool)
    cover, ends, _ = _rulings._crossings(weak, whole, np.array([[100, 100, 600, 100]]), paper)
    assert cover[0] >= _rulings.RULING_COVER
    assert ends[0, 0] == 0 and 695 <= ends[0, 2] <= 700   # the stretch ends where the ruling does
    # A pen stroke half across the page ends on paper, whatever scattered marks lie beyond it.
    weak[:, 500:700] = False
    cover, _, _ = _rulings._crossings(weak, whole, np.array([[100, 100, 450, 100]]), np.zeros_like(paper))
    assert cover[0] < _rulings.RULING_COVER


def _grid_with_digits(X, shape, spacing, thickness, sizes, degrees):
    """The contrast of squared paper with a row of digits, turned by ``degrees``, and the grid's pixels in it."""
    height, width = shape
    picture = rule(rule(page(height, width), spacing, thickness=thickness), spacing, thickness=thickness, vertical=True)
    size, top, left, step = sizes
    for k in range((width - left) // step):
        write(picture, X[k], top, left + step * k, size)
    picture = cv2.warpAffine(picture, cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0), (width, height),
                             borderMode=cv2.BORDER_REPLICATE)
    dark = _paper.darkness(picture, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, min(shape) / 4))
    return con, (con > 0.1) & (con < 0.5)   # the grid's pixels, not the pen's


def test_later_searches_find_the_grid_lines_the_first_missed(digits, monkeypatch):
    X, _ = digits
    con, grid = _grid_with_digits(X, (280, 900), 28, 3, (90, 90, 60, 115), degrees=3)

    def grid_found():
        levels, _, _ = _rulings.find_rulings(con, con > 0.1, 168, np.ones(con.shape, bool))
        return ((levels > 0) & grid).sum() / grid.sum()

    both = grid_found()
    monkeypatch.setattr(_rulings, "RULING_SEARCHES", 1)
    assert both > 0.93 and both > grid_found() + 0.05


def test_parallel_lines_ending_short_of_the_picture_are_rulings():
    picture = page(300, 400)
    for x in range(40, 380, 30):
        picture[45:255, x:x + 2] = RULING   # a grid's lines, ending where a desk as light as the paper begins
    dark = _paper.darkness(picture, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 75))
    levels, level, angle = _rulings.find_rulings(con, con > 0.1, 0.4 * 300, np.ones(con.shape, bool), dark * 0)
    assert (levels[150] > 0).sum() >= 2 * 11
    # One such line alone is a pen stroke; so are two.
    for xs in ([100], [100, 160]):
        alone = page(300, 400)
        for x in xs:
            alone[45:255, x:x + 2] = RULING
        dark = _paper.darkness(alone, light_ink=False)
        con = _paper.contrast(dark, _paper.paper_level(dark, 75))
        assert not _rulings.find_rulings(con, con > 0.1, 120, np.ones(con.shape, bool), dark * 0)[0].any()


def test_a_family_is_three_parallel_lines_apart():
    three = np.array([[0, 0, 100, 2], [0, 20, 100, 22], [0, 40, 100, 42]])
    thin = np.full(3, 2)
    assert _rulings._parallel_family(three, thin).all()
    assert not _rulings._parallel_family(three[:2], thin[:2]).any()
    assert not _rulings._parallel_family(np.array([[0, 0, 100, 2], [0, 1, 100, 3], [0, 2, 100, 4]]), thin).any()
    # Three segments found in one stroke 30 pixels wide are one line, not a family.
    assert not _rulings._parallel_family(three // 2, np.full(3, 30)).any()
    turned = three.copy()
    turned[2] = [0, 40, 100, 60]   # 11 degrees off
    assert not _rulings._parallel_family(turned, thin).any()


def test_a_large_picture_is_searched_for_rulings_at_half_size(digits, monkeypatch):
    X, _ = digits
    con, grid = _grid_with_digits(X, (600, 800), 40, 2, (120, 250, 100, 160), degrees=4)
    assert min(con.shape) >= _rulings.HOUGH_HALF_SIZE
    calls, hough = [], cv2.HoughLinesP
    monkeypatch.setattr(cv2, "HoughLinesP", lambda marks, *a, **k: calls.append(marks.shape) or hough(marks, *a, **k))
    half = _rulings.find_rulings(con, con > 0.1, 240, np.ones(con.shape, bool))[0] > 0
    assert len(calls) > 1 and set(calls) == {(300, 400)}   # every search
    calls.clear()
    monkeypatch.setattr(_rulings, "HOUGH_HALF_SIZE", 10_000)
    monkeypatch.setattr(_paper, "MIN_WORK_SIDE", 10_000)
    monkeypatch.setattr(_rulings, "MIN_WORK_SIDE", 10_000)
    full = _rulings.find_rulings(con, con > 0.1, 240, np.ones(con.shape, bool))[0] > 0
    assert set(calls) == {(600, 800)}
    found_half, found_full = (half & grid).sum() / grid.sum(), (full & grid).sum() / grid.sum()
    # (the grid's pixels include its blurred rim, which a ruling's band leaves where lighter than half its contrast)
    assert found_half > 0.85 and found_half >= found_full - 0.02   # as much of the grid as at full size


def test_a_small_picture_is_searched_once_at_half_size_and_then_at_full_size(digits, monkeypatch):
    X, _ = digits
    calls, hough = [], cv2.HoughLinesP
    monkeypatch.setattr(cv2, "HoughLinesP", lambda marks, *a, **k: calls.append(marks.shape) or hough(marks, *a, **k))
    # 280x280, the web pad's canvas: a digit on a blank canvas is searched once, at half
    # size (at full size, that search was a third of the time spent finding its ink).
    drawing = write(page(280, 280), X[0], 40, 40, 200, pen=np.zeros(3, np.float32))
    dark = _paper.darkness(drawing, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 70))
    assert _rulings.find_rulings(con, con > 0.1, 112, np.ones(con.shape, bool))[1] == 0
    assert calls == [(140, 140)]
    # Squared paper: the first search at half size, the later ones at full size, where a
    # dense grid's lines a few pixels apart do not merge.
    calls.clear()
    con, grid = _grid_with_digits(X, (280, 280), 28, 3, (150, 60, 60, 115), degrees=3)
    found = _rulings.find_rulings(con, con > 0.1, 112, np.ones(con.shape, bool))[0] > 0
    assert calls[0] == (140, 140) and len(calls) > 1 and set(calls[1:]) == {(280, 280)}
    assert (found & grid).sum() / grid.sum() > 0.9


def test_a_rulings_width_is_its_own_not_its_neighbours_too():
    weak = np.zeros((100, 200), bool)
    for at in range(5, 100, 7):
        weak[at:at + 2] = True   # 2 pixels wide, 7 apart: the next lies within the 12 pixels looked at
    xs, ys = np.arange(200), np.full(200, 47)
    assert _rulings._line_thickness(weak, xs, ys, 1.0, 0.0) == 2
    assert _rulings._line_thickness(weak, xs, ys + 1, 1.0, 0.0) == 2   # from the line's other pixel row too


def test_the_crossing_lines_of_a_dense_grid_are_found_across_the_bands_erased(digits, monkeypatch):
    # Lines 8 pixels apart: once the rulings of one direction are erased, the others are
    # dashes, too few of their pixels for the Hough transform, unless joined across the bands.
    X, _ = digits
    grey = np.full(3, 0.6, np.float32)
    picture = rule(rule(page(240, 480), 8, grey), 8, grey, vertical=True)
    for k in range(4):
        write(picture, X[k], 70, 40 + 110 * k, 90, pen=np.array([0.8, 0.1, 0.1], np.float32))
    picture = cv2.warpAffine(picture, cv2.getRotationMatrix2D((240, 120), 8, 1.0), (480, 240),
                             borderMode=cv2.BORDER_REPLICATE)
    dark = _paper.darkness(picture, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 60))
    grid = (con > 0.1) & (con < 0.5)

    def grid_found():
        levels = _rulings.find_rulings(con, con > 0.1, 144, np.ones(con.shape, bool))[0]
        return ((levels > 0) & grid).sum() / grid.sum()

    found = grid_found()
    monkeypatch.setattr(_rulings, "_bridged", lambda marks, erased, bands: marks)
    assert found > 0.9 and found > grid_found() + 0.1


def test_thin_rulings_found_at_half_size_are_measured_where_they_lie():
    picture = page(600, 800)
    for at in range(41, 600, 60):
        picture[at] = RULING     # one pixel thick, on odd rows: between two rows of the half-size search
    dark = _paper.darkness(picture, light_ink=False)
    con = _paper.contrast(dark, _paper.paper_level(dark, 150))
    levels, level, _ = _rulings.find_rulings(con, con > 0.1, 240, np.ones(con.shape, bool))
    assert level == pytest.approx(float(con[41, 400]), rel=0.1)
    assert (levels[41::60] > 0).all()


def test_a_blurred_ruling_is_erased_only_as_wide_as_it_is_at_half_its_contrast(monkeypatch):
    # A thin ruling in a small photo is blurred: a threshold just above the paper marks
    # its faint rim a few pixels beyond the line. Erased that wide, it cut a thin pen's
    # faint digit apart.
    rows = np.arange(200, dtype=np.float32)[:, None]
    con = np.repeat(0.3 * np.exp(-((rows - 100) ** 2) / (2 * 2.0 ** 2)), 400, axis=1).astype(np.float32)
    weak = con > 0.04
    assert weak[:, 200].sum() == 9
    calls = []   # one Hough segment, along the line's middle; the second search finds none
    monkeypatch.setattr(_rulings, "_hough", lambda *args: None if calls.append(1) or len(calls) > 1
                        else np.array([[0, 100, 399, 100]]))
    levels, level, _ = _rulings.find_rulings(con, weak, 160, np.ones(con.shape, bool))
    erased = np.flatnonzero(levels[:, 200] > 0)
    assert level == pytest.approx(0.3, abs=0.01)
    # 5 rows at half its contrast and a pixel each side: a line 7 thick, which OpenCV
    # draws over 9 rows; drawn as wide as its rim and a pixel each side, 13.
    assert set(range(98, 103)) <= set(erased) and len(erased) <= 9


def test_hough_segments_are_moved_onto_the_line_they_lie_on():
    weak = np.zeros((300, 600), bool)
    cv2.line(weak.view(np.uint8), (0, 100), (599, 160), 1, thickness=3)   # a ruling at about 5.7 degrees
    segment = np.array([[100, 110, 400, 143]])                             # a degree off, ends 3 pixels apart from it
    (x0, y0, x1, y1), = _rulings._refined(weak, segment)
    on_line = lambda x: 100 + 60 * x / 599
    assert abs(y0 - on_line(x0)) < 0.75 and abs(y1 - on_line(x1)) < 0.75
    assert abs(segment[0, 3] - on_line(segment[0, 2])) > 2


def test_a_line_across_the_page_is_not_a_digit():
    lengths, areas = [300, 60, 55, 58], [900, 500, 450, 120]
    line = np.zeros((300, 3), bool); line[:] = True
    ring = np.zeros((60, 50), np.uint8); cv2.circle(ring, (25, 30), 20, 1, 6)
    one = np.zeros((58, 6), bool); one[:] = True
    pieces = [line, ring.astype(bool), ring[:55].astype(bool), one]
    assert _groups.long_lines(lengths, areas, pieces).tolist() == [True, False, False, False]
    # A row of 1s has nothing curved to compare with; specks are too small to.
    assert not _groups.long_lines([300, 58], [900, 120], [line, one]).any()
    assert not _groups.long_lines([300, 8], [900, 40], [line, ring[:8, :8].astype(bool)]).any()


def test_a_single_digit_beside_a_long_line_is_the_digit(digits, monkeypatch):
    X, y = digits
    k = next(k for k in range(len(y)) if y[k] != 1)
    picture = write(page(300, 300), X[k], 100, 120, 100)
    picture[30:260, 36:48] = [0.8, 0.2, 0.2]   # a red line, not across the page: longer and heavier than the digit
    found = find_digits(picture, single=True)
    assert len(found.boxes) == 1 and found.boxes[0][0] > 100
    never = lambda lengths, areas, pieces: np.zeros(len(areas), bool)  # noqa: E731
    monkeypatch.setattr("skdigits.reader._images.long_lines", never)
    monkeypatch.setattr(_groups, "long_lines", never)
    assert find_digits(picture, single=True).boxes[0][0] < 50   # without the step, the line is taken


def test_ink_faded_by_a_glare_is_evened_out(digits, monkeypatch):
    X, _ = digits
    digit = cv2.resize(X[0], (80, 80), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    con = np.pad(digit * np.linspace(0.9, 0.25, 80, dtype=np.float32)[None, :], 20)  # a glare fades its right side
    mask = con > 0.05
    ink = _ink.Ink(con, mask, 0.9, 1.0, None)
    labels, stats, groups = _groups.digit_groups(mask)

    def right_to_left():
        patch = _patch.digit_patch(ink, labels, stats, max(groups, key=len))
        cols = np.flatnonzero(patch.max(axis=0) > 0.05)
        third = (cols[-1] - cols[0]) // 3
        right, left = patch[:, cols[-1] - third:], patch[:, cols[0]:cols[0] + third]
        return np.percentile(right[right > 0.05], 90) / np.percentile(left[left > 0.05], 90)

    assert right_to_left() > 0.9
    monkeypatch.setattr(_patch, "EVEN_FLOOR", 1.0)  # relative to the digit's strongest ink alone
    assert right_to_left() < 0.7
