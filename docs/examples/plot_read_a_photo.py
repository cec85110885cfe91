"""
Reading a number in a photo
===========================

A photo of a number written in blue ink on ruled paper, with a shadow, made
here from MNIST test digits. :func:`skdigits.read_digits` finds the digits,
reads each one, and says where it found them and what the network saw.
"""

import matplotlib.pyplot as plt
import numpy as np

from skdigits import load_mnist, read_digits

_, X_test, _, y_test = load_mnist(n_test=5, random_state=3)

# Paper, light-blue rulings, a shadow across the right half, and five digits in blue ink.
height, width = 300, 700
page = np.full((height, width, 3), (236, 232, 222), dtype=float)
page[30::40] = (170, 200, 235)
page *= np.linspace(1.0, 0.7, width)[None, :, None]
for k, digit in enumerate(X_test):
    ink = np.kron(digit / 255.0, np.ones((4, 4)))[..., None]           # 112 x 112
    top, left = 90 + 8 * (k % 2), 40 + 125 * k
    region = page[top:top + 112, left:left + 112]
    region[:] = region * (1 - ink) + ink * np.array([40, 60, 150])
photo = np.clip(page + np.random.default_rng(0).normal(0, 4, page.shape), 0, 255).astype(np.uint8)

reading = read_digits(photo)
print("written:", "".join(map(str, y_test)), " read:", reading.text)

fig, ax = plt.subplots(figsize=(9, 4))
ax.imshow(photo)
for (left, top, right, bottom), label, p in zip(reading.boxes, reading.labels, reading.probabilities):
    ax.add_patch(plt.Rectangle((left, top), right - left, bottom - top, fill=False, color="red", linewidth=2))
    ax.text(left, top - 6, f"{label} ({p:.2f})", color="red", fontsize=12)
ax.set_title(f"read: {reading.text}")
ax.axis("off")

# %%
# What the network saw: each digit made the way MNIST was made (20x20 in a
# 28x28 field, centred by mass, white on black).
fig, axes = plt.subplots(1, len(reading.images), figsize=(8, 2))
for ax, image, label in zip(axes, reading.images, reading.labels):
    ax.imshow(image, cmap="gray")
    ax.set_title(str(label))
    ax.axis("off")
