"""Builds a tiny model file with the real libraries; run by framework_venv.build in the models venv.

argv: JSON list of [FORMAT, PATH, inputs, outputs] (one process builds them all: importing torch and
Keras takes seconds); inputs [(name, shape with None for the batch axis)], outputs [(name, size)].
Every model flattens and concatenates its inputs, and gives each output a softmax of one dense layer."""

import json
import sys

import numpy as np


def build(fmt, path, inputs, outputs):
    total = sum(int(np.prod(shape[1:])) for _, shape in inputs)
    if fmt in ("keras", "h5"):
        import keras

        ins = [keras.Input(tuple(shape[1:]), name=name) for name, shape in inputs]
        flat = [keras.layers.Flatten()(i) for i in ins]
        feats = flat[0] if len(flat) == 1 else keras.layers.Concatenate()(flat)
        outs = [keras.layers.Dense(size, activation="softmax", name=name)(feats) for name, size in outputs]
        keras.Model(ins, outs).save(path)
    elif fmt in ("trace", "script"):
        import torch

        names = [n for n, _ in inputs]

        class Tiny(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.heads = torch.nn.ModuleList([torch.nn.Linear(total, size) for _, size in outputs])

            def forward(self, *xs):
                f = torch.cat([x.flatten(1) for x in xs], 1)
                return tuple(h(f).softmax(-1) for h in self.heads)

        # forward's parameters carry the model's input names, as in a real export
        src = (f"def forward(self, {', '.join(names)}):\n"
               f"    return Tiny.forward(self, {', '.join(names)})\n")
        ns = {"Tiny": Tiny}
        exec(src, ns)
        Named = type("Named", (Tiny,), {"forward": ns["forward"]})
        if fmt == "script":  # scripting compiles real source: one input, one or two outputs, spelled out
            assert names == ["image"] and len(outputs) in (1, 2)

            class One(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = torch.nn.Linear(total, outputs[0][1])

                def forward(self, image: torch.Tensor):
                    return self.a(image.flatten(1)).softmax(-1)

            class Two(One):
                def __init__(self):
                    super().__init__()
                    self.b = torch.nn.Linear(total, outputs[-1][1])

                def forward(self, image: torch.Tensor):
                    f = image.flatten(1)
                    return self.a(f).softmax(-1), self.b(f)

            model = torch.jit.script((One if len(outputs) == 1 else Two)().eval())
        else:
            examples = tuple(torch.zeros([1] + shape[1:]) for _, shape in inputs)
            model = torch.jit.trace(Named().eval(), examples)
        model.save(path)
    elif fmt == "tflite":
        import flatbuffers
        from ai_edge_litert import schema_py_generated as s

        sg = s.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = [], [], [], []
        buffers, codes = [s.BufferT()], []  # buffer 0: the empty one, for tensors computed at run time

        def tensor(name, shape, data=None, signature=None):
            t = s.TensorT()
            t.name, t.shape, t.type, t.buffer = name, list(shape), s.TensorType.FLOAT32, 0
            if signature is not None:
                t.shapeSignature = [-1 if d is None else d for d in signature]
            if data is not None:
                b = s.BufferT()
                b.data = np.frombuffer(data.astype(np.float32).tobytes(), np.uint8)
                buffers.append(b)
                t.buffer = len(buffers) - 1
            sg.tensors.append(t)
            return len(sg.tensors) - 1

        def op(builtin, ins, outs, options_type, options):
            if builtin not in [c.builtinCode for c in codes]:
                c = s.OperatorCodeT()
                c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), 1
                codes.append(c)
            o = s.OperatorT()
            o.opcodeIndex = [c.builtinCode for c in codes].index(builtin)
            o.inputs, o.outputs, o.builtinOptionsType, o.builtinOptions = ins, outs, options_type, options
            sg.operators.append(o)

        flats = []
        for name, shape in inputs:
            i = tensor(name, [1] + shape[1:], signature=shape)
            sg.inputs.append(i)
            n = int(np.prod(shape[1:]))
            flats.append(tensor(name + "_flat", [1, n]))
            ro = s.ReshapeOptionsT()
            ro.newShape = [1, n]
            op(s.BuiltinOperator.RESHAPE, [i], [flats[-1]], s.BuiltinOptions.ReshapeOptions, ro)
        feats = flats[0]
        if len(flats) > 1:
            feats = tensor("features", [1, total])
            co = s.ConcatenationOptionsT()
            co.axis = 1
            op(s.BuiltinOperator.CONCATENATION, flats, [feats], s.BuiltinOptions.ConcatenationOptions, co)
        rng = np.random.default_rng(0)
        for name, size in outputs:
            w = tensor("W_" + name, [size, total], rng.normal(size=(size, total)))
            logits = tensor(name + "_logits", [1, size])
            op(s.BuiltinOperator.FULLY_CONNECTED, [feats, w, -1], [logits], s.BuiltinOptions.FullyConnectedOptions,
               s.FullyConnectedOptionsT())
            out = tensor(name, [1, size], signature=[None, size])
            so = s.SoftmaxOptionsT()
            so.beta = 1.0
            op(s.BuiltinOperator.SOFTMAX, [logits], [out], s.BuiltinOptions.SoftmaxOptions, so)
            sg.outputs.append(out)
        m = s.ModelT()
        m.version, m.description, m.subgraphs, m.buffers, m.operatorCodes = 3, "tiny", [sg], buffers, codes
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        with open(path, "wb") as f:
            f.write(b.Output())
    else:
        raise ValueError(f"unknown format {fmt}")


for job in json.loads(sys.argv[1]):
    build(*job)
