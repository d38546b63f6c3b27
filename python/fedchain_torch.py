"""Load a model exported by `fedchain export` as a torch.nn.Module.

    import fedchain_torch
    model = fedchain_torch.load("model.safetensors")   # or an HDF5 export
    model.eval()
    x = fedchain_torch.prepare(model, images)  # uint8 (N, C, H, W) or (N, H, W) -> float
    logits = model(x)

The module is built from the architecture in the file's metadata (every preset and any
`model.layers` list) and its weights loaded with `load_state_dict(strict=True)`: its
submodules are named as fedchain names its layers (conv1, fc2, ...), so `state_dict()` keys
equal the exported tensor names. `model.fedchain` holds the metadata: chain_id, height,
state_root and architecture (a dict).

Input convention: float32 tensors of shape (N, C, H, W). Pixels are multiplied by
architecture["input"]["scale"] (1/255: uint8 to [0, 1]); where the job normalised its data
(architecture["normalization"] set), each channel is then standardised, (x - mean[c]) /
std[c], with the training split's statistics the export records. `prepare` does both.

One file, no fedchain build needed: safetensors are read with the `safetensors` package
where it is installed, else with numpy; HDF5 exports with h5py.
"""

import json
import struct

import numpy as np
import torch
from torch import nn

__all__ = ["load", "read_export", "build_module", "prepare"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file, safe_open  # noqa: F401

        with safe_open(path, framework="numpy") as f:
            metadata = dict(f.metadata() or {})
        return load_file(path), metadata
    except ImportError:
        pass
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return tensors, metadata


def _read_hdf5(path):
    import h5py

    with h5py.File(path, "r") as f:
        def text(value):
            return value.decode() if isinstance(value, bytes) else str(value)

        metadata = {key: text(value) for key, value in f.attrs.items()}
        order = [n for n in metadata.pop("tensor_order").split("\n") if n]
        tensors = {name: np.asarray(f["params"][name][...], dtype="<f4") for name in order}
    return tensors, metadata


def read_export(path):
    """(tensors: name -> numpy float32 array, metadata: dict) of an export file."""
    with open(path, "rb") as f:
        start = f.read(8)
    tensors, metadata = _read_hdf5(path) if start == _HDF5_SIGNATURE else _read_safetensors(path)
    metadata = dict(metadata)
    metadata["architecture"] = json.loads(metadata["architecture"])
    return tensors, metadata


class FedchainModel(nn.Module):
    """The layer list of a fedchain architecture, applied in order."""

    def __init__(self, architecture):
        super().__init__()
        shape = architecture["input"]
        channels, height, width = shape["channels"], shape["height"], shape["width"]
        self.order = []
        flat = False
        for index, spec in enumerate(architecture["layers"]):
            kind = spec["type"]
            name = spec.get("name") or f"{kind}_{index}"
            if kind == "conv2d":
                kernel, stride = spec["kernel"], spec.get("stride") or 1
                padding = spec.get("padding", 0)
                layer = nn.Conv2d(channels, spec["out"], kernel, stride=stride, padding=padding)
                channels = spec["out"]
                height = (height + 2 * padding - kernel) // stride + 1
                width = (width + 2 * padding - kernel) // stride + 1
            elif kind in ("maxpool", "avgpool"):
                kernel = spec.get("kernel") or 2
                stride = spec.get("stride") or kernel
                pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
                layer = pool(kernel, stride=stride)
                height = (height - kernel) // stride + 1
                width = (width - kernel) // stride + 1
            elif kind == "relu":
                layer = nn.ReLU()
            elif kind == "dropout":
                layer = nn.Dropout(spec.get("rate", 0.0))
            elif kind == "groupnorm":
                layer = nn.GroupNorm(spec["groups"], channels)
            elif kind == "flatten":
                layer = nn.Flatten()
                flat = True
            elif kind == "dense":
                if not flat:  # fedchain's dense reads its input flat, whatever its shape
                    self.order.append(f"flatten_{index}")
                    self.add_module(f"flatten_{index}", nn.Flatten())
                    flat = True
                layer = nn.Linear(channels * height * width, spec["out"])
                channels, height, width = spec["out"], 1, 1
            else:
                raise ValueError(f"layer {index} ({name}): unknown layer type '{kind}'")
            self.add_module(name, layer)
            self.order.append(name)

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return x


def build_module(architecture):
    """An untrained FedchainModel for `architecture` (a dict, as in the metadata)."""
    return FedchainModel(architecture)


def load(path):
    """The exported model, weights loaded, in eval mode; metadata in `.fedchain`."""
    tensors, metadata = read_export(path)
    model = build_module(metadata["architecture"])
    state = {name: torch.from_numpy(np.array(value, dtype=np.float32)) for name, value in tensors.items()}
    model.load_state_dict(state, strict=True)
    model.fedchain = metadata
    return model.eval()


def prepare(model, images):
    """Images as stored, (N, C, H, W) or (N, H, W), as the float input the model takes."""
    arch = model.fedchain["architecture"]
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    x = x.to(torch.float32) * arch["input"].get("scale", 1.0 / 255.0)
    norm = arch.get("normalization")
    if norm:
        mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(norm["std"], dtype=torch.float32).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x
