"""A LeNet-5-sized CNN (44,426 parameters) for the zk benchmark, built with onnx.helper, and its evaluation set.

x[1,1,28,28] -> Conv 6x5x5 -> Relu -> AvgPool 2 -> Conv 16x5x5 -> Relu -> AvgPool 2 -> Flatten(256)
-> Gemm 120 -> Relu -> Gemm 84 -> Relu -> Gemm 10 -> y[1,10]

The weights are random (He-scaled, seeded): cost depends on the architecture, and drift (float model vs quantised
circuit) is measured against the float model's own outputs, so no training is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPE = (1, 1, 28, 28)
LAYERS = {  # name: shape
    "c1": (6, 1, 5, 5),
    "c1b": (6,),
    "c2": (16, 6, 5, 5),
    "c2b": (16,),
    "f1": (256, 120),
    "f1b": (120,),
    "f2": (120, 84),
    "f2b": (84,),
    "f3": (84, 10),
    "f3b": (10,),
}


def parameter_count() -> int:
    return sum(int(np.prod(shape)) for shape in LAYERS.values())


def build_lenet(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    tensors = []
    for name, shape in LAYERS.items():
        fan_in = int(np.prod(shape[1:])) if name.startswith("c") and len(shape) > 1 else shape[0]
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.05
        tensors.append(numpy_helper.from_array(rng.normal(0, scale, shape).astype(np.float32), name))
    pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes = [
        helper.make_node("Conv", ["x", "c1", "c1b"], ["a1"], kernel_shape=[5, 5], strides=[1, 1], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["a1"], ["r1"]),
        helper.make_node("AveragePool", ["r1"], ["p1"], **pool),
        helper.make_node("Conv", ["p1", "c2", "c2b"], ["a2"], kernel_shape=[5, 5], strides=[1, 1], pads=[0, 0, 0, 0]),
        helper.make_node("Relu", ["a2"], ["r2"]),
        helper.make_node("AveragePool", ["r2"], ["p2"], **pool),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "f1", "f1b"], ["g1"]),
        helper.make_node("Relu", ["g1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "f2", "f2b"], ["g2"]),
        helper.make_node("Relu", ["g2"], ["h2"]),
        helper.make_node("Gemm", ["h2", "f3", "f3b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "lenet5",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def evaluation_set(count: int, seed: int = 1) -> list[list[float]]:
    """`count` inputs in [0, 1] (image-like: smooth blobs plus noise), flattened."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"))
    rows = []
    for _ in range(count):
        centre = rng.uniform(6, 22, (2, 1, 1))
        blob = np.exp(-((grid - centre) ** 2).sum(axis=0) / rng.uniform(10, 40))
        rows.append(np.clip(blob + rng.normal(0, 0.05, (28, 28)), 0, 1).astype(np.float32).ravel().tolist())
    return rows


def float_outputs(model: Path, rows: list[list[float]]) -> list[list[float]]:
    """The float model's outputs (onnx's reference evaluator)."""
    from onnx.reference import ReferenceEvaluator

    session = ReferenceEvaluator(str(model))
    return [
        session.run(None, {"x": np.asarray(row, dtype=np.float32).reshape(SHAPE)})[0].ravel().tolist() for row in rows
    ]
