"""Face-analysis speed on one core: track_faces on 360p frames (detect_every=5) and analyze on 256 px crops.

Inputs are SynthHeads renders (a 640x360 frame with the head placed in it, and the 256 px crop), so the numbers
need no dataset download. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

cv2.setNumThreads(1)

from dexbench.data.synth import render_clip, sample_identity, sample_motion  # noqa: E402
from dexbench.face import FaceAnalyzer  # noqa: E402


def main() -> None:
    n = 100
    crops, _, _ = render_clip(sample_identity(4), sample_motion(4, n), 256)
    frames = np.zeros((n, 360, 640, 3), np.uint8)
    frames[:] = (90, 110, 130)
    # The crop's content pasted into a 360p frame at 288 px height (a typical talking-head framing).
    for k in range(n):
        frames[k, 36:324, 176:464] = cv2.resize(crops[k], (288, 288), interpolation=cv2.INTER_LINEAR)
    analyzer = FaceAnalyzer(detect_every=5)
    analyzer.track_faces(frames[:5])
    analyzer.analyze(crops[:5])
    t0 = time.perf_counter()
    boxes = analyzer.track_faces(frames)
    t1 = time.perf_counter()
    track = analyzer.analyze(crops)
    t2 = time.perf_counter()
    kp, box = track_kp(analyzer, crops)
    with_kp = analyzer.analyze(crops, boxes=box, keypoints=kp)
    t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "frames": n,
                "threads": 1,
                "track_faces_360p_detect_every_5_fps": round(n / (t1 - t0), 1),
                "track_faces_detected_rate": float(boxes.detected.mean()),
                "analyze_256px_fps": round(n / (t2 - t1), 1),
                "analyze_256px_with_given_keypoints_and_boxes_fps": round(n / (t3 - t2 - _KP_TIME[0]), 1),
                "analyze_detected_rate": float(track.detected.mean()),
                "given_keypoints_detected_rate": float(with_kp.detected.mean()),
                "note": "one core (OMP/OpenCV threads = 1); machine shared with other jobs",
            }
        )
    )


_KP_TIME = [0.0]


def track_kp(analyzer: FaceAnalyzer, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """YuNet keypoints and boxes of each crop, timed separately (a pipeline maps them from its full-frame track)."""
    t = time.perf_counter()
    dets = [analyzer.detector.detect(c) for c in crops]
    _KP_TIME[0] = time.perf_counter() - t
    return np.stack([d.keypoints[0] for d in dets]), np.stack([d.boxes[0] for d in dets])


if __name__ == "__main__":
    main()
