"""Regenerates `tiny-mlp.onnx`, the demo's bundled model: a 4-16-3 MLP (iris-sized) with fixed random weights."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(seed: int = 7) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.normal(size=(4, 16)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(16, dtype=np.float32), "b1")
    w2 = numpy_helper.from_array(rng.normal(size=(16, 3)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "b2")
    nodes = [
        helper.make_node("MatMul", ["input", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"]),
        helper.make_node("Add", ["h3", "b2"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])],
        initializer=[w1, b1, w2, b2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zkreg-demo")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(build(), str(Path(__file__).with_name("tiny-mlp.onnx")))
