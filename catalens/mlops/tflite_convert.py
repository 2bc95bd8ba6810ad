"""Turn an ultralytics YOLOv8 TFLite export back into a trainable ultralytics `.pt` checkpoint.

`../shared/models/yolov8n-coco/yolov8n_int8.tflite` (ultralytics 8.1.42, dynamic-range int8)
holds YOLOv8n's 64 convs with BN folded in: 63 int8 OHWI weights with one scale each (zero
point 0) and float32 biases; the first conv and the DFL conv are float32. They are read from the
flatbuffer (operators in graph order), dequantized as `scale * (q - zero_point)` per tensor or
per channel as stored (int32 biases with their scale; fp16 weights behind DEQUANTIZE too),
transposed OHWI -> OIHW and assigned to a fresh `DetectionModel(cfg)`. Convs pair by (OIHW
shape, output H×W) in execution order: the TFLite runs the head level by level (20×20 first),
torch runs all box branches before all class branches; within one key both orders agree.

The checkpoint keeps ultralytics' unfused Conv+BN layout so `YOLO(out).train(...)` transfers
every layer (a fused model would lose its biases: the trainer rebuilds an unfused model and
copies tensors by name). Each BN gets its input's per-channel mean μ and variance σ² measured
on `calibration_images`, γ = sqrt(σ² + eps) and β = bias + μ: in eval mode it is exactly
`conv + bias`, in train mode batch statistics ≈ (μ, σ²), so fine-tuning starts from the same
function. Without calibration images BN is identity + bias (exact at inference only).

Shapes: input 1×H×W×3 float32 (the TFLite input decides imgsz), output 1×(4+nc)×anchors.
Errors: ValueError when the convs do not pair one-to-one with the cfg's (other architecture,
width or class count) or a tensor type is unsupported; FileNotFoundError for a missing file.
Sources: TFLite schema (`ai_edge_litert.schema_py_generated`), ultralytics `nn/tasks.py`
(DetectionModel, load_checkpoint), `engine/trainer.py` (checkpoint keys).
Command: `python -m catalens.mlops.tflite_convert TFLITE OUT.pt --calib IMAGE_DIR`.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from catalens.mlops.detector_training import IMAGE_SUFFIXES, offline_ultralytics

_FLOAT32, _FLOAT16, _INT32, _INT8 = 0, 1, 2, 9  # tflite TensorType values
_CONV_2D, _DEQUANTIZE = 3, 6  # tflite BuiltinOperator values


@dataclass(frozen=True)
class TfliteConv:
    weight: np.ndarray  # float32, O×I×kh×kw (torch layout)
    bias: np.ndarray  # float32, O
    stride: tuple[int, int]
    out_hw: tuple[int, int]  # output height, width
    quantized: bool  # the weight was stored as int8


def read_tflite_convs(tflite_path: Path) -> tuple[list[TfliteConv], tuple[int, int]]:
    """Every CONV_2D of subgraph 0 in execution order, dequantized, and the input's H, W."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(Path(tflite_path).read_bytes(), 0)
    graph = model.Subgraphs(0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    producer = {int(op.Outputs(0)): op for op in ops if op.OutputsLength()}

    def code(op: schema.Operator) -> int:
        entry = codes[op.OpcodeIndex()]
        return max(entry.BuiltinCode(), entry.DeprecatedBuiltinCode())

    def array(index: int) -> tuple[np.ndarray, bool]:
        """A constant tensor as float32 (NHWC/OHWI as stored); True when it was int8."""
        tensor = graph.Tensors(index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw.size == 0:  # e.g. fp16 weights behind a DEQUANTIZE op
            source = producer.get(index)
            if source is None or code(source) != _DEQUANTIZE:
                raise ValueError(f"tensor {tensor.Name()!r} holds no constant data")
            return array(int(source.Inputs(0)))
        dtypes = {_FLOAT32: np.float32, _FLOAT16: np.float16, _INT32: np.int32, _INT8: np.int8}
        if tensor.Type() not in dtypes:
            raise ValueError(f"tensor {tensor.Name()!r}: unsupported type {tensor.Type()}")
        values = raw.view(dtypes[tensor.Type()]).reshape(tensor.ShapeAsNumpy()).astype(np.float32)
        quant = tensor.Quantization()
        if tensor.Type() in (_INT8, _INT32) and quant is not None and quant.ScaleLength():
            scale, zero = quant.ScaleAsNumpy(), quant.ZeroPointAsNumpy()
            shape = [1] * values.ndim
            if scale.size > 1:  # per channel along the quantized dimension
                shape[quant.QuantizedDimension()] = scale.size
            zero = zero if zero.size == scale.size else np.zeros_like(scale)
            values = (values - zero.reshape(shape)) * scale.reshape(shape)
        return values, tensor.Type() == _INT8

    convs = []
    for op in ops:
        if code(op) != _CONV_2D:
            continue
        weight, quantized = array(int(op.Inputs(1)))
        out_channels = weight.shape[0]
        has_bias = op.InputsLength() > 2 and op.Inputs(2) >= 0
        bias = array(int(op.Inputs(2)))[0] if has_bias else np.zeros(out_channels, np.float32)
        options = schema.Conv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        out_shape = graph.Tensors(op.Outputs(0)).ShapeAsNumpy()
        convs.append(
            TfliteConv(
                weight=np.ascontiguousarray(weight.transpose(0, 3, 1, 2)),  # OHWI -> OIHW
                bias=bias.reshape(out_channels),
                stride=(options.StrideH(), options.StrideW()),
                out_hw=(int(out_shape[1]), int(out_shape[2])),
                quantized=quantized,
            )
        )
    input_shape = graph.Tensors(graph.Inputs(0)).ShapeAsNumpy()  # 1, H, W, 3
    return convs, (int(input_shape[1]), int(input_shape[2]))


def convert_tflite_to_yolo(
    tflite_path: Path | str,
    out_pt: Path | str,
    *,
    cfg: str = "yolov8n.yaml",
    names: Sequence[str] | None = None,
    calibration_images: Sequence[Path] = (),
) -> Path:
    """Write an ultralytics checkpoint (`YOLO(out_pt)` predicts, validates and trains from it)
    holding the TFLite's weights. `names` default to `metadata.yaml` beside the TFLite."""
    from ultralytics import __version__
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.tasks import DetectionModel

    tflite_path, out_pt = Path(tflite_path), Path(out_pt)
    if not tflite_path.is_file():
        raise FileNotFoundError(tflite_path)
    names = list(names) if names is not None else _metadata_names(tflite_path)
    convs, (height, width) = read_tflite_convs(tflite_path)
    model = DetectionModel(cfg, nc=len(names), verbose=False).eval()
    executed: list[tuple[torch.nn.Conv2d, tuple[int, ...]]] = []  # (conv, OIHW + out H, W)
    hooks = [
        m.register_forward_hook(
            lambda m, _, out: executed.append((m, (*m.weight.shape, *out.shape[2:])))
        )
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.no_grad():
        model(torch.zeros(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    queues: dict[tuple[int, ...], list[TfliteConv]] = defaultdict(list)
    for conv in convs:
        queues[(*conv.weight.shape, *conv.out_hw)].append(conv)
    if len(executed) != len(convs):
        raise ValueError(f"{tflite_path.name} has {len(convs)} convs, {cfg} has {len(executed)}")
    owner = {id(m.conv): m.bn for m in model.modules() if isinstance(m, Conv)}
    biases: dict[torch.nn.BatchNorm2d, torch.Tensor] = {}  # Conv: BN carries the conv's bias
    for module, key in executed:
        queue = queues.get(key)
        if not queue:
            raise ValueError(f"no TFLite conv left for OIHW + output H, W {key}")
        conv = queue.pop(0)
        if conv.stride != tuple(module.stride):
            raise ValueError(f"stride {conv.stride} vs {module.stride} for {conv.weight.shape}")
        bias = torch.from_numpy(conv.bias)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(conv.weight))
            if id(module) in owner:
                bn = owner[id(module)]
                biases[bn] = bias
                _set_bn(bn, bias, torch.zeros_like(bias), torch.full_like(bias, 1 - bn.eps))
            elif module.bias is not None:
                module.bias.copy_(bias)
            elif bias.abs().max() > 0:
                raise ValueError(f"TFLite conv {conv.weight.shape} has a bias, torch has none")
    if calibration_images:
        _calibrate(model, biases, calibration_images, (height, width))
    model.names = dict(enumerate(names))
    train_args = {"task": "detect", "imgsz": max(height, width), "model": cfg}
    model.args = train_args  # type: ignore[assignment]
    empty = ("best_fitness", "ema", "updates", "optimizer", "train_metrics", "train_results")
    checkpoint = dict.fromkeys(empty) | {
        "date": datetime.now().isoformat(),
        "version": __version__,
        "license": "AGPL-3.0 (ultralytics weights)",
        "docs": f"converted from {tflite_path.name} by catalens.mlops.tflite_convert",
        "epoch": -1,
        "model": model.float(),
        "train_args": train_args,
    }
    out_pt.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, out_pt)
    return out_pt


def _set_bn(bn: torch.nn.BatchNorm2d, bias: Tensor, mean: Tensor, var: Tensor) -> None:
    """BN(x) = (x - mean) / sqrt(var + eps) * sqrt(var + eps) + bias + mean = x + bias."""
    with torch.no_grad():
        bn.running_mean.copy_(mean)  # type: ignore[union-attr]
        bn.running_var.copy_(var)  # type: ignore[union-attr]
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(bias + mean)


def _calibrate(
    model: torch.nn.Module,
    biases: dict[torch.nn.BatchNorm2d, Tensor],
    images: Sequence[Path],
    size: tuple[int, int],
) -> None:
    """Give each BN the mean and variance of its input over `images` (letterboxed like
    ultralytics' predictor); its eval-mode output is unchanged (see the module docstring)."""
    import cv2
    from ultralytics.data.augment import LetterBox

    sums: dict[torch.nn.Module, list[Tensor]] = {}  # Σx, Σx², count per channel

    def collect(bn: torch.nn.Module, inputs: tuple[Tensor], _: object) -> None:
        x = inputs[0].double().transpose(0, 1).flatten(1)  # C × (N·H·W)
        moments = [x.sum(1), (x * x).sum(1), torch.tensor(float(x.shape[1]))]
        sums[bn] = (
            [a + b for a, b in zip(sums[bn], moments, strict=True)] if bn in sums else moments
        )

    hooks = [bn.register_forward_hook(collect) for bn in biases]
    letterbox = LetterBox(size, auto=False)
    with torch.no_grad():
        for path in images:
            bgr = cv2.imread(str(path))
            if bgr is None:
                raise ValueError(f"cannot read calibration image {path}")
            rgb = np.asarray(letterbox(image=bgr))[..., ::-1].transpose(2, 0, 1) / 255.0
            model(torch.from_numpy(np.ascontiguousarray(rgb)).float()[None])
    for hook in hooks:
        hook.remove()
    for bn, bias in biases.items():
        total, squares, count = sums[bn]
        mean = total / count
        var = (squares / count - mean * mean).clamp(min=0)
        _set_bn(bn, bias, mean.float(), var.float())


def _metadata_names(tflite_path: Path) -> list[str]:
    import yaml

    meta = tflite_path.with_name("metadata.yaml")
    if not meta.exists():
        raise FileNotFoundError(f"give names: {meta} is missing")
    names = yaml.safe_load(meta.read_text())["names"]
    return [str(names[i]) for i in sorted(names)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite", type=Path)
    parser.add_argument("out", type=Path, help="the .pt to write")
    parser.add_argument("--cfg", default="yolov8n.yaml", help="ultralytics model yaml")
    parser.add_argument("--calib", type=Path, help="folder of calibration images (BN statistics)")
    parser.add_argument("--calib-count", type=int, default=64, help="first N images by name")
    args = parser.parse_args(argv)
    calib = sorted(args.calib.rglob("*")) if args.calib else []
    images = [p for p in calib if p.suffix.lower() in IMAGE_SUFFIXES][: args.calib_count]
    with offline_ultralytics():
        out = convert_tflite_to_yolo(args.tflite, args.out, cfg=args.cfg, calibration_images=images)
    print(f"wrote {out} ({len(images)} calibration images)")


if __name__ == "__main__":
    main()
