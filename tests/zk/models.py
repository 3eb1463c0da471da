"""Tiny real ONNX models for the zk tests, built with onnx.helper, and their reference outputs (numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MLP_INPUTS = 4


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def mlp_weights(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-1, 1, (MLP_INPUTS, 8)).astype(np.float32),
        rng.uniform(-1, 1, (8,)).astype(np.float32),
        rng.uniform(-1, 1, (8, 3)).astype(np.float32),
    )


def build_mlp(path: Path, seed: int = 0) -> Path:
    """x[1,4] -> MatMul -> Add -> Relu -> MatMul -> y[1,3]; `seed` picks the weights, not the architecture."""
    w1, b1, w2 = mlp_weights(seed)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Add", ["h", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, MLP_INPUTS])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2")],
    )
    return _save(graph, path)


def mlp_reference(seed: int, x: list[float]) -> np.ndarray:
    w1, b1, w2 = mlp_weights(seed)
    hidden = np.maximum(np.asarray(x, dtype=np.float32) @ w1 + b1, 0)
    result: np.ndarray = hidden @ w2
    return result


def build_conv(path: Path, seed: int = 0, explicit_attributes: bool = True) -> Path:
    """x[1,1,4,4] -> Conv 2x3x3 (stride 1, pad 1, dilation 1) -> Relu -> Flatten -> MatMul -> y[1,2]."""
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-1, 1, (2, 1, 3, 3)).astype(np.float32)
    dense = rng.uniform(-1, 1, (32, 2)).astype(np.float32)
    attributes = {"strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1]} if explicit_attributes else {}
    nodes = [
        helper.make_node("Conv", ["x", "k"], ["c"], kernel_shape=[3, 3], **attributes),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "d"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(kernel, "k"), numpy_helper.from_array(dense, "d")],
    )
    return _save(graph, path)


def build_with_mod(path: Path) -> Path:
    """A model the circuit compiler cannot handle: y = x mod 3."""
    graph = helper.make_graph(
        [helper.make_node("Mod", ["x", "three"], ["y"], fmod=1, name="remainder")],
        "mod",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.full((1, 4), 3.0, dtype=np.float32), "three")],
    )
    return _save(graph, path)


def build_symbolic_batch(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "symbolic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    return _save(graph, path)
