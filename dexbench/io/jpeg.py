"""JPEG frame codec for shards (Pillow's bundled libjpeg-turbo, so bytes depend only on the Pillow version)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

DEFAULT_QUALITY = 95


def encode_jpeg(image: np.ndarray, quality: int = DEFAULT_QUALITY) -> bytes:
    buf = io.BytesIO()
    # 4:4:4 chroma: face crops are small, and chroma subsampling blurs lips and eyes measurably
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))
