"""The few ONNX protobuf messages a digit network needs, written as bytes.

The ``onnx`` package writes them too, but importing it costs most of a
second (its NumPy dtype extensions), more than everything else a prediction
needs together; ONNX Runtime reads a model from bytes. These functions write
the fields of ``onnx.proto`` (ModelProto, GraphProto, NodeProto,
AttributeProto, TensorProto, ValueInfoProto) that skdigits uses, by their
field numbers; ``tests/test_onnx.py`` reads what they write back with ``onnx``
and checks it with ``onnx.checker``.
"""

import struct

import numpy as np

# TensorProto.DataType
FLOAT, INT64 = 1, 7
_DATA_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64}
# AttributeProto.AttributeType
_ATTRIBUTE_FLOAT, _ATTRIBUTE_INT, _ATTRIBUTE_STRING, _ATTRIBUTE_INTS = 1, 2, 3, 7


def _varint(value):
    value &= (1 << 64) - 1  # a negative int64 is written as its 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire_type):
    return _varint(field << 3 | wire_type)


def _int(field, value):
    return _key(field, 0) + _varint(value)


def _bytes(field, data):
    return _key(field, 2) + _varint(len(data)) + data


def _string(field, text):
    return _bytes(field, text.encode("utf-8"))


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _packed_ints(field, values):
    return _bytes(field, b"".join(_varint(int(v)) for v in values))


def tensor(name, array):
    """A TensorProto holding ``array`` (float32 or int64) as raw little-endian bytes."""
    array = np.ascontiguousarray(array)
    data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return (_packed_ints(1, array.shape) + _int(2, _DATA_TYPES[array.dtype]) + _string(8, name)
            + _bytes(9, data))


def _attribute(name, value):
    if isinstance(value, float):
        return _string(1, name) + _float(2, value) + _int(20, _ATTRIBUTE_FLOAT)
    if isinstance(value, int):
        return _string(1, name) + _int(3, value) + _int(20, _ATTRIBUTE_INT)
    if isinstance(value, str):
        return _string(1, name) + _bytes(4, value.encode("utf-8")) + _int(20, _ATTRIBUTE_STRING)
    return _string(1, name) + _packed_ints(8, value) + _int(20, _ATTRIBUTE_INTS)


def node(op_type, inputs, outputs, name, **attributes):
    """A NodeProto; attribute values are floats, ints, strings or lists of ints."""
    return (b"".join(_string(1, i) for i in inputs) + b"".join(_string(2, o) for o in outputs)
            + _string(3, name) + _string(4, op_type)
            + b"".join(_bytes(5, _attribute(key, value)) for key, value in sorted(attributes.items())))


def value_info(name, elem_type, dims):
    """A ValueInfoProto of a tensor; each dim an int (a size) or a str (a symbolic size)."""
    shape = b"".join(_bytes(1, _string(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _string(1, name) + _bytes(2, _bytes(1, tensor_type))


class Graph:
    """The nodes and initializers of a graph being written; ``constant`` and ``node`` return the name they add."""

    def __init__(self):
        self.nodes, self.weights = [], []

    def constant(self, name, value, dtype=np.float32):
        self.weights.append(tensor(name, np.asarray(value, dtype=dtype)))
        return name

    def node(self, op, inputs, name, **attributes):
        self.nodes.append(node(op, inputs, [name], name, **attributes))
        return name


def model(nodes, name, inputs, outputs, initializers, *, opset, ir_version, producer):
    """A serialised ModelProto: one graph of the default domain's operators."""
    graph = (b"".join(_bytes(1, n) for n in nodes) + _string(2, name)
             + b"".join(_bytes(5, t) for t in initializers)
             + b"".join(_bytes(11, i) for i in inputs) + b"".join(_bytes(12, o) for o in outputs))
    opset_id = _string(1, "") + _int(2, opset)
    return _int(1, ir_version) + _string(2, producer) + _bytes(7, graph) + _bytes(8, opset_id)
