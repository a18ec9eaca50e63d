"""Builds model.onnx: image [N, 28, 28, 1] -> flatten -> matmul -> softmax -> 'classes' [N, 10].

The weights are fixed (seeded) so the shipped file is reproducible: `python model/make_model.py`.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE, CLASSES = 28, 10


def build() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.normal(size=(SIZE * SIZE, CLASSES)) * 0.05).astype(np.float32), 'W')
    shape = numpy_helper.from_array(np.array([-1, SIZE * SIZE], dtype=np.int64), 'shape')
    nodes = [helper.make_node('Reshape', ['image', 'shape'], ['flat']),
             helper.make_node('MatMul', ['flat', 'W'], ['logits']),
             helper.make_node('Softmax', ['logits'], ['classes'], axis=-1)]
    graph = helper.make_graph(nodes, 'synthetic_digits',
                              [helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', SIZE, SIZE, 1])],
                              [helper.make_tensor_value_info('classes', TensorProto.FLOAT, ['N', CLASSES])], [w, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'model.onnx')
    onnx.save(build(), out)
    print('saved', out)
