"""CSIM: cosine similarity of face-identity embeddings between the source portrait and every generated frame.

One metric per embedder, named after it, so a report can never mix them up:
- `csim_sface`   SFace (OpenCV Zoo, 128-d; offline default): crops aligned by cv2.FaceRecognizerSF.alignCrop from
                 YuNet's 5 keypoints (112x112, ArcFace template), embedded by FaceRecognizerSF.feature;
- `csim_arcface` ArcFace (insightface buffalo_l recognition ONNX, 512-d; user-supplied): 112x112 crops aligned by a
                 least-squares similarity transform of YuNet's 5 keypoints onto the ArcFace template (our own
                 Umeyama; insightface's norm_crop does the same), inputs (x - 127.5) / 127.5 RGB;
- `csim_dlib`    dlib ResNet (128-d; second opinion): dlib's 5-point shape predictor inside the YuNet box, 150 px
                 face chips (padding 0.25), dlib's ResNet weights rebuilt in torch (dexbench.nets.dlib_resnet) and run
                 batched through ONNX Runtime: equal to dlib's own compute_face_descriptor (`runtime="dlib"`) to ~1e-6.
Frames where no face is detected (in the output or the source) are left out of the mean; the fraction of output
frames with a face is recorded per clip (`face_rate` column of the per-clip table).
"""

from __future__ import annotations

import numpy as np

from dexbench.metrics.registry import MetricSpec, register
from dexbench.metrics.scorer import EvalContext, MetricUnavailable, Sample, Scorer
from dexbench.nets.dlib_resnet import DlibResNet
from dexbench.nets.registry import ResolvedWeights, WeightsUnavailable, resolve_weights

VERSION = "1"
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity (rotation, uniform scale, translation) mapping src points onto dst (Umeyama)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / (s**2).sum(1).mean()
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_arcface(rgb: np.ndarray, keypoints: np.ndarray, size: int = 112) -> np.ndarray:
    import cv2

    m = similarity_transform(keypoints, ARCFACE_TEMPLATE * (size / 112.0))
    return cv2.warpAffine(rgb, m, (size, size), borderValue=0.0)


def _normalise(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)


class Embedder:
    name = ""
    net = ""
    crop = ""
    runtime = ""  # named in provenance when the network runs outside its own package

    def __init__(self, weights: ResolvedWeights) -> None:
        self.weights = weights

    def embed(self, frames: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB with one face each (box x0,y0,x1,y1 + 5 YuNet keypoints) -> (N, D) unit vectors."""
        raise NotImplementedError


class SFaceEmbedder(Embedder):
    name, net = "sface", "sface"
    crop = "cv2.FaceRecognizerSF.alignCrop from YuNet 5 keypoints, 112x112"

    def __init__(self, weights: ResolvedWeights) -> None:
        import cv2

        super().__init__(weights)
        self.model = cv2.FaceRecognizerSF.create(str(weights.path), "")

    def embed(self, frames, boxes, keypoints):
        out = []
        for img, box, kp in zip(frames, boxes, keypoints, strict=True):
            bgr = np.ascontiguousarray(img[..., ::-1])
            row = np.concatenate([[box[0], box[1], box[2] - box[0], box[3] - box[1]], kp.reshape(-1), [1.0]])
            aligned = self.model.alignCrop(bgr, row[None].astype(np.float32))
            out.append(self.model.feature(aligned).reshape(-1))
        return _normalise(np.asarray(out, np.float64))


class ArcFaceEmbedder(Embedder):
    name, net = "arcface", "arcface-buffalo_l"
    crop = "own Umeyama similarity of YuNet 5 keypoints onto the ArcFace template, 112x112"

    def __init__(self, weights: ResolvedWeights) -> None:
        import onnxruntime as ort

        super().__init__(weights)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(weights.path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.batched = not isinstance(inp.shape[0], int)

    def embed(self, frames, boxes, keypoints):
        crops = np.stack([align_arcface(f, k) for f, k in zip(frames, keypoints, strict=True)]).astype(np.float32)
        x = ((crops - 127.5) / 127.5).transpose(0, 3, 1, 2)
        if self.batched:
            e = self.session.run(None, {self.input_name: x})[0]
        else:
            e = np.concatenate([self.session.run(None, {self.input_name: x[i : i + 1]})[0] for i in range(len(x))])
        return _normalise(e.reshape(len(x), -1).astype(np.float64))


class DlibEmbedder(Embedder):
    name, net = "dlib", "dlib-resnet"
    crop = "dlib shape_predictor_5 in the YuNet box, get_face_chip 150 px, padding 0.25"
    RUNTIMES = (*DlibResNet.RUNTIMES, "dlib")
    default_runtime = "onnxruntime"

    def __init__(
        self, weights: ResolvedWeights, explicit_shape5: str | None = None, runtime: str | None = None
    ) -> None:
        import dlib

        runtime = runtime or self.default_runtime
        if runtime not in self.RUNTIMES:
            raise ValueError(f"unknown dlib ResNet runtime {runtime!r}; one of {self.RUNTIMES}")
        super().__init__(weights)
        self.shape5 = resolve_weights("dlib-shape5", explicit_shape5)
        self.predictor = dlib.shape_predictor(str(self.shape5.path))
        self._dlib = dlib
        if runtime != "dlib":
            # dlib's CPU forward pass costs ~85 ms a chip; the same weights rebuilt in torch and run batched
            # through ONNX Runtime give the same descriptors (tests/test_dlib_resnet.py) >10x faster
            self.model = DlibResNet(weights.path, weights.sha256, runtime)
            self.runtime = self.model.runtime
        else:
            self.model = dlib.face_recognition_model_v1(str(weights.path))
            self.runtime = f"dlib {dlib.__version__} face_recognition_model_v1"
        self.backend = runtime

    def chips(self, frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB face chips: dlib's 5 landmarks inside each box, then get_face_chip."""
        dlib = self._dlib
        chips = []
        for img, box in zip(frames, boxes, strict=True):
            img = np.ascontiguousarray(img)
            rect = dlib.rectangle(*(round(float(v)) for v in box))
            chips.append(dlib.get_face_chip(img, self.predictor(img, rect), size=150, padding=0.25))
        return np.stack(chips)

    def embed(self, frames, boxes, keypoints):
        chips = self.chips(frames, boxes)
        if self.backend == "dlib":
            return _normalise(np.asarray(self.model.compute_face_descriptor(list(chips)), np.float64))
        return _normalise(self.model.descriptors(chips).astype(np.float64))


EMBEDDERS: dict[str, type[Embedder]] = {e.name: e for e in (SFaceEmbedder, ArcFaceEmbedder, DlibEmbedder)}


def load_embedder(name: str, explicit: dict[str, str] | None = None) -> Embedder:
    cls = EMBEDDERS[name]
    explicit = explicit or {}
    weights = resolve_weights(cls.net, explicit.get(cls.net))
    if cls is DlibEmbedder:
        return DlibEmbedder(weights, explicit.get("dlib-shape5"))
    return cls(weights)


def embed_detected(embedder: Embedder, frames: np.ndarray, boxes) -> np.ndarray:
    """(T, D) embeddings, NaN rows where no face was detected."""
    det = np.asarray(boxes.detected, bool)
    out = np.full((len(frames), 0), np.nan)
    if det.any():
        e = embedder.embed(frames[det], np.asarray(boxes.bbox)[det], np.asarray(boxes.keypoints)[det])
        out = np.full((len(frames), e.shape[1]), np.nan)
        out[det] = e
    return out


for _name in EMBEDDERS:
    register(
        MetricSpec(
            name=f"csim_{_name}",
            higher_is_better=True,
            value_range=(-1.0, 1.0),
            needs=frozenset({"source"}),
            version=VERSION,
            unit="",
            description=f"Cosine identity similarity, source vs every output frame, {_name} embeddings.",
            family=f"identity-{_name}",
            provenance={"extractor": _name, "reduction": "mean over frames with a face, then clips"},
        )
    )


class IdentityScorer(Scorer):
    """CSIM with one embedder (the family name says which)."""

    def __init__(self, ctx: EvalContext, names: list[str]) -> None:
        super().__init__(ctx, names)
        (name,) = names
        self.embedder_name = name.removeprefix("csim_")
        self.family = f"identity-{self.embedder_name}"
        try:
            self.embedder = load_embedder(self.embedder_name, ctx.config.weights)
        except WeightsUnavailable as exc:
            raise MetricUnavailable(exc.reason) from exc
        self.face_rates: list[float] = []
        self.n_frames = 0

    def score(self, sample: Sample) -> dict[str, float]:
        emb = self.embedder
        src = sample.reference(
            "source",
            f"embed-{emb.name}",
            emb.weights.sha256 + sample.ctx.face_digest,
            VERSION,
            lambda fr: {"e": embed_detected(emb, fr, sample.face_boxes("source"))},
        )["e"]
        out = embed_detected(emb, sample.output, sample.face_boxes("output"))
        ok = np.isfinite(out).all(axis=1) if out.shape[1] else np.zeros(len(out), bool)
        self.n_frames += len(out)
        if not ok.any() or not np.isfinite(src).all() or src.shape[1] == 0:
            return {f"csim_{emb.name}": float("nan"), "face_rate": float(ok.mean())}
        sims = out[ok] @ src[0]
        return {f"csim_{emb.name}": float(sims.mean()), "face_rate": float(ok.mean())}

    def provenance(self, name: str) -> dict[str, str]:
        e = self.embedder
        return {
            "extractor": f"{e.name} ({e.weights.path.name})",
            "weights_sha256": e.weights.sha256,
            "crop": e.crop,
            **({"runtime": e.runtime} if e.runtime else {}),
            "detector": "YuNet via dexbench.face (FaceAnalyzer.track_faces)",
            "reduction": "cosine(source, frame) per frame with a face, mean over frames, then clips",
            "frame_format": "uint8 RGB at the output's resolution",
        }
