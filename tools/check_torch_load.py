#!/usr/bin/python3
"""Check that a relage checkpoint loads in PyTorch, and compute its outputs there.

    /usr/bin/python3 tools/check_torch_load.py MODEL.safetensors

Reads the file with a plain safetensors reader (the format needs nothing else), builds the
network its metadata names (torchvision ResNet body + the relage head, as in
../shared/reference/utk128_reference_train.py), and loads every tensor with strict=True.
For width-1 models it also loads the backbone into torchvision.models.<arch>() itself
(only fc.* missing). Exits non-zero on any mismatch. Needs Debian's python3-torch and
python3-torchvision (scripts/install-deps --tools)."""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

from gen_fixtures import add_head_modules

DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, d in header.items():
        b, e = d["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=DTYPES[d["dtype"]]).reshape(d["shape"])
        tensors[name] = torch.from_numpy(a.copy())
    return tensors, meta


class Net(nn.Module):
    """The relage model in PyTorch with relage's (torchvision's) tensor names."""

    def __init__(self, arch, head, hidden):
        super().__init__()
        body = getattr(torchvision.models, arch)(weights=None)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(body, name))
        add_head_modules(self, body.fc.in_features, head, hidden)


def main():
    path = sys.argv[1]
    tensors, meta = read_safetensors(path)
    print("metadata:", meta)
    if meta.get("width", "1") not in ("1", "1.0"):
        sys.exit("only width-1 checkpoints map onto torchvision's classes")
    net = Net(meta["arch"], meta["head"], int(meta["hidden"]))
    result = net.load_state_dict(tensors, strict=True)
    print(f"strict load into torchvision {meta['arch']} + {meta['head']} head: {result}")
    tv = getattr(torchvision.models, meta["arch"])(weights=None)
    backbone = {k: v for k, v in tensors.items() if not k.startswith(("fc_", "g1", "g2", "f1"))}
    result = tv.load_state_dict(backbone, strict=False)
    assert result.missing_keys == ["fc.weight", "fc.bias"] and not result.unexpected_keys, result
    print(f"backbone into torchvision.models.{meta['arch']}(): only fc.* missing: OK")


if __name__ == "__main__":
    main()
