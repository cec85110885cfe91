"""
The photo reader, step by step
==============================

What :func:`skdigits.find_digits` does to a photo, one step at a time: how
dark each pixel is, the paper's own brightness under it, the contrast that
leaves (shadows cancelled), the rulings found and erased, the ink, and the
digits it is grouped into. The functions called here are the reader's
private steps (``skdigits.reader``); their names may change.
"""

import matplotlib.pyplot as plt
import numpy as np

from skdigits import find_digits, load_mnist
from skdigits.reader import _groups, _ink, _paper

_, X_test, _, _ = load_mnist(n_test=3, random_state=7)
height, width = 260, 480
page = np.full((height, width, 3), (240, 238, 230), dtype=float)
page[20::36] = (160, 190, 230)                                          # rulings
page *= np.linspace(0.65, 1.0, height)[:, None, None]                   # a shadow at the top
for k, digit in enumerate(X_test):
    ink = np.kron(digit / 255.0, np.ones((4, 4)))[..., None]
    page[70:182, 40 + 140 * k:152 + 140 * k] *= 1 - 0.85 * ink
photo = np.clip(page, 0, 255).astype(np.uint8)

rgb, _ = _paper.to_work_size(photo.astype(np.float32) / 255)
dark = _paper.darkness(_paper.paper_balanced(rgb), light_ink=False)
paper = _paper.paper_level(dark, min(dark.shape) / 4)   # an opening a quarter of the picture wide
found_ink = _ink.find_ink(rgb, light_ink=False)
labels, stats, groups = _groups.digit_groups(found_ink.mask)
found = find_digits(photo)

steps = [("the photo", photo), ("darkness: 1 - luminance", dark), ("the paper's level under each pixel", paper),
         ("contrast: darkness against the paper", found_ink.contrast), ("the ink (rulings erased)", found_ink.mask),
         ("connected marks, grouped into digits", labels)]
fig, axes = plt.subplots(2, 3, figsize=(12, 5.5))
for ax, (title, image) in zip(axes.ravel(), steps):
    ax.imshow(image, cmap=None if image.ndim == 3 else ("nipy_spectral" if image is labels else "gray_r"))
    ax.set_title(title, fontsize=10)
    ax.axis("off")
for left, top, right, bottom in (_groups.group_box(stats, g) for g in groups):
    axes[1, 2].add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, color="red"))
fig.tight_layout()

# %%
# Each digit is then cut out with its stroke width brought to MNIST's and
# placed in a 28x28 field, as MNIST's digits were.
fig, axes = plt.subplots(1, len(found.images), figsize=(6, 2))
for ax, image in zip(axes, found.images):
    ax.imshow(image, cmap="gray")
    ax.axis("off")
