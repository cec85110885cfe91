"""Pictures of what the model saw: the photo with the boxes found, and the 28x28 inputs."""

import os

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from ._images import as_rgb

__all__ = ["save_show"]

# Each 28x28 input is drawn this many times larger, under the picture.
ZOOM = 4
# The picture is drawn this wide (small pictures enlarged at most 4 times).
SHOW_WIDTH = 800


def save_show(path, image, boxes, inputs, labels, probabilities):
    """Write a PNG: the picture with each digit's box and label, then each network input, enlarged.

    Parameters
    ----------
    path : str
        The PNG to write.
    image : str, path-like, bytes, PIL.Image.Image or array-like
        The picture, as given to :func:`skdigits.find_digits`.
    boxes : list of (left, top, right, bottom)
        Boxes in the picture's pixels.
    inputs : ndarray of shape (n, 28, 28)
        The images given to the network.
    labels, probabilities : lists
        What the network answered for each.
    """
    rgb, factor = as_rgb(image)
    picture = Image.fromarray(np.uint8(np.rint(rgb * 255)))
    scale = min(4.0, SHOW_WIDTH / picture.width)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    draw = ImageDraw.Draw(picture)
    for box, label in zip(boxes, labels):
        left, top, right, bottom = (v / factor * scale for v in box)
        draw.rectangle((left, top, right, bottom), outline=(230, 30, 30), width=2)
        draw.text((left + 2, max(0, top - 12)), str(label), fill=(230, 30, 30))
    tile = 28 * ZOOM
    strip = Image.new("RGB", (max(picture.width, (tile + 8) * len(inputs)), tile + 24), (255, 255, 255))
    strip_draw = ImageDraw.Draw(strip)
    for k, (digit, label, probability) in enumerate(zip(inputs, labels, probabilities)):
        enlarged = Image.fromarray(np.asarray(digit, dtype=np.uint8)).resize((tile, tile), Image.Resampling.NEAREST)
        strip.paste(ImageOps.colorize(enlarged, (0, 0, 0), (255, 255, 255)), (k * (tile + 8), 0))
        strip_draw.text((k * (tile + 8), tile + 4), f"{label} p={probability:.2f}", fill=(0, 0, 0))
    sheet = Image.new("RGB", (strip.width, picture.height + strip.height + 8), (255, 255, 255))
    sheet.paste(picture, (0, 0))
    sheet.paste(strip, (0, picture.height + 8))
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    sheet.save(path)
    return path
