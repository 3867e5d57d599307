#!/usr/bin/python3
"""Generate the small reference fixtures that relage's C tests compare against.

Run with Debian's python (apt: python3-torch 1.13, python3-torchvision):

    /usr/bin/python3 tools/gen_fixtures.py [--out tests/fixtures]

It writes, into --out:

  layers.safetensors
      Single-layer cases named "<case>.<field>": conv_a..conv_e (conv2d forward +
      backward), bn_train / bn_eval (batch norm, incl. running-stat update),
      relu, maxpool_a / maxpool_b (inputs are relu(randn) so windows have many
      exact zero ties; PyTorch routes the gradient to the FIRST maximum in
      row-major window order), gap, linear, loss (the paper's loss
      MSE(reg)+CE(cls)+MSE(E)), head_rn (literal all-ordered-pairs RN head),
      head_rng / head_rng2 (g_theta relational head of the reference script on a
      3x3 and a 2x3 map).

  model_<arch>_<head>.safetensors  for arch in {resnet18 (width 1/16),
      resnet50 (width 1/32)} x head in {base, rn, rng (hidden 16)}
      Width-scaled torchvision ResNet (torchvision parameter names) + head, a
      2x3x64x64 input batch, one train-mode forward/backward of the paper loss
      (param.*, grad.*, state.*), and 3 optimiser steps from the same start with
      RMSprop (rmsprop.*, rmsprop_state.*) and AdamW (adamw.*, adamw_state.*).

  torchvision_names.txt
      "<arch> <name> <d0>x<d1>..." ("scalar" for 0-d) for every state_dict entry
      of torchvision resnet18/34/50 (width 1) except fc.*, in state_dict order.

Numerics: every random input / parameter is drawn in float32 (torch.manual_seed
fixed per case) and stored as such; the reference is then computed in float64
from exactly those values (module.double(), input.double()) and the results are
stored rounded to float32.  Upstream gradients are random float32 `dout`
tensors; backward is of sum(out * dout).  Everything runs on the CPU with one
thread, so the output is bit-for-bit deterministic.

File format: safetensors, written by the small writer below: u64 LE header
length, JSON header {name: {dtype F32|I64, shape, data_offsets}, "__metadata__":
{str: str}} padded with spaces to a multiple of 8, then raw LE row-major data,
contiguous in insertion order.  Each file is re-read and checked after writing.
"""
import argparse
import copy
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

torch.set_num_threads(1)
NCLS = 101


# --------------------------------------------------------------------------
# safetensors writer / reader
# --------------------------------------------------------------------------
class Writer:
    def __init__(self):
        self.t = {}  # insertion ordered

    def put(self, name, x):
        assert name not in self.t, name
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu()
            if x.dtype.is_floating_point:
                a = x.to(torch.float32).numpy()
            elif x.dtype in (torch.int64, torch.int32, torch.bool):
                a = x.to(torch.int64).numpy()
            else:
                raise TypeError(f"{name}: {x.dtype}")
        else:
            a = np.asarray(x)
            a = a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64)
        self.t[name] = np.array(a, order="C", copy=True)  # keeps 0-d shape

    def save(self, path, meta):
        hdr, off, blobs = {}, 0, []
        for n, a in self.t.items():
            b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
            hdr[n] = {"dtype": "F32" if a.dtype == np.float32 else "I64",
                      "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
            off += len(b)
            blobs.append(b)
        hdr["__metadata__"] = {str(k): str(v) for k, v in meta.items()}
        h = json.dumps(hdr, separators=(",", ":")).encode()
        h += b" " * ((-len(h)) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for b in blobs:
                f.write(b)
        # round trip check
        back, m = read_safetensors(path)
        assert list(back) == list(self.t), path
        for n, a in self.t.items():
            assert back[n].dtype == a.dtype and back[n].shape == a.shape, n
            assert np.array_equal(back[n], a), n
        assert m == hdr["__metadata__"]
        return os.path.getsize(path)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    hdr = json.loads(raw[8:8 + n].decode())
    meta = hdr.pop("__metadata__", {})
    base, out, expect = 8 + n, {}, 0
    for name, d in hdr.items():  # json keeps file order
        b, e = d["data_offsets"]
        assert b == expect, name
        expect = e
        dt = {"F32": "<f4", "I64": "<i8"}[d["dtype"]]
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=dt).reshape(d["shape"]).astype(dt[1:])
    assert base + expect == len(raw), path
    return out, meta


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def dbl(x, grad=False):
    y = x.detach().double().clone()
    return y.requires_grad_(grad)


def paper_loss(reg, logits, age):
    ages = torch.arange(NCLS, dtype=logits.dtype)
    E = (logits.softmax(1) * ages).sum(1)
    cls = age.round().clamp(0, NCLS - 1).long()  # round half to even
    mse_reg = F.mse_loss(reg, age)
    ce = F.cross_entropy(logits, cls)
    mse_e = F.mse_loss(E, age)
    return mse_reg + ce + mse_e, E, mse_reg, ce, mse_e, cls


def literal_rn(a):
    """Paper RN: mean over all N*N ordered pairs of [o_j; o_k]."""
    B, C, h, w = a.shape
    o = a.flatten(2).transpose(1, 2)  # B,N,C
    N = o.shape[1]
    pj = o[:, :, None, :].expand(B, N, N, C)
    pk = o[:, None, :, :].expand(B, N, N, C)
    return torch.cat([pj, pk], -1).mean((1, 2))


def add_head_modules(m, C, head, H):
    m.head = head
    if head == "base":
        D = C
    elif head == "rn":
        D = 2 * C
    else:
        m.g1a = nn.Linear(C + 2, H)
        m.g1b = nn.Linear(C + 2, H, bias=False)
        m.g2 = nn.Linear(H, H)
        m.f1 = nn.Linear(H, H)
        D = H
    m.fc_reg = nn.Linear(D, 1)
    m.fc_cls = nn.Linear(D, NCLS)


class Head(nn.Module):
    """Heads exactly as in shared/reference/utk128_reference_train.py (Net)."""

    def __init__(self, C, head, H=256):
        super().__init__()
        add_head_modules(self, C, head, H)

    def features(self, a):
        B, C, h, w = a.shape
        if self.head == "base":
            return a.mean((2, 3))
        if self.head == "rn":
            return literal_rn(a)
        o = a.flatten(2).transpose(1, 2)
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, h, dtype=a.dtype),
                                torch.linspace(-1, 1, w, dtype=a.dtype), indexing="ij")
        c = torch.stack([yy, xx], -1).view(1, h * w, 2).expand(B, -1, -1)
        o = torch.cat([o, c], -1)
        u = self.g1a(o)
        v = self.g1b(o)
        g = F.relu(u[:, :, None, :] + v[:, None, :, :])
        g = F.relu(self.g2(g)).mean((1, 2))
        return F.relu(self.f1(g))

    def forward(self, a):
        z = self.features(a)
        return self.fc_reg(z).squeeze(1), self.fc_cls(z), z


# --------------------------------------------------------------------------
# width-scaled torchvision ResNet (mirrors torchvision.models.resnet, v1.5)
# --------------------------------------------------------------------------
def conv3x3(i, o, s=1):
    return nn.Conv2d(i, o, 3, s, 1, bias=False)


def conv1x1(i, o, s=1):
    return nn.Conv2d(i, o, 1, s, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


ARCHS = {"resnet18": (BasicBlock, [2, 2, 2, 2]),
         "resnet34": (BasicBlock, [3, 4, 6, 3]),
         "resnet50": (Bottleneck, [3, 4, 6, 3])}


def ch(c, width):
    return max(1, int(c * width + 0.5))


class Net(nn.Module):
    """Backbone with torchvision names at top level, then the head's modules
    (g1a, g1b, g2, f1, fc_reg, fc_cls) as in the reference script."""

    def __init__(self, arch, width, head, hidden=256):
        super().__init__()
        block, layers = ARCHS[arch]
        self.inplanes = ch(64, width)
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, n in enumerate(layers):
            setattr(self, f"layer{i + 1}",
                    self._make_layer(block, ch(64 * 2 ** i, width), n, 1 if i == 0 else 2))
        for m in self.modules():  # torchvision init (zero_init_residual=False)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        self.C = self.inplanes
        if head is not None:
            add_head_modules(self, self.C, head, hidden)

    def _make_layer(self, block, planes, blocks, stride):
        ds = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            ds = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                               nn.BatchNorm2d(planes * block.expansion))
        ls = [block(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * block.expansion
        ls += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*ls)

    def body(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    features = Head.features
    forward_head = Head.forward

    def forward(self, x):
        return self.forward_head(self.body(x))


def clone_net(net):
    return copy.deepcopy(net)


# --------------------------------------------------------------------------
# layers.safetensors
# --------------------------------------------------------------------------
def gen_layers(W):
    seed = [1000]

    def newcase():
        seed[0] += 1
        torch.manual_seed(seed[0])

    # conv2d
    convs = [("conv_a", 2, 3, 9, 9, 4, 3, 1, 1, True),
             ("conv_b", 2, 4, 10, 10, 5, 3, 2, 1, False),
             ("conv_c", 1, 3, 17, 17, 4, 7, 2, 3, False),
             ("conv_d", 2, 6, 7, 7, 8, 1, 1, 0, True),
             ("conv_e", 2, 4, 8, 8, 6, 1, 2, 0, False)]
    for name, B, C, H, Wd, OC, k, s, p, hasb in convs:
        newcase()
        inp = torch.randn(B, C, H, Wd)
        w = torch.randn(OC, C, k, k) * 0.3
        b = torch.randn(OC) * 0.3 if hasb else None
        OH, OW = (H + 2 * p - k) // s + 1, (Wd + 2 * p - k) // s + 1
        dout = torch.randn(B, OC, OH, OW)
        x, wd = dbl(inp, True), dbl(w, True)
        bd = dbl(b, True) if hasb else None
        out = F.conv2d(x, wd, bd, stride=s, padding=p)
        assert out.shape == dout.shape
        (out * dout.double()).sum().backward()
        W.put(f"{name}.inp", inp)
        W.put(f"{name}.weight", w)
        if hasb:
            W.put(f"{name}.bias", b)
        W.put(f"{name}.out", out)
        W.put(f"{name}.dout", dout)
        W.put(f"{name}.dinp", x.grad)
        W.put(f"{name}.dweight", wd.grad)
        if hasb:
            W.put(f"{name}.dbias", bd.grad)

    # batch norm (train / eval use the same inputs and dout)
    for name, training in (("bn_train", True), ("bn_eval", False)):
        torch.manual_seed(2000)
        inp = torch.randn(3, 4, 5, 5) * 2 + 1
        w = torch.randn(4)
        b = torch.randn(4)
        rm = torch.randn(4) * 0.1
        rv = torch.rand(4) + 0.5
        dout = torch.randn(3, 4, 5, 5)
        x, wd, bd = dbl(inp, True), dbl(w, True), dbl(b, True)
        rmd, rvd = dbl(rm), dbl(rv)
        out = F.batch_norm(x, rmd, rvd, wd, bd, training=training, momentum=0.1, eps=1e-5)
        (out * dout.double()).sum().backward()
        for f, v in (("inp", inp), ("weight", w), ("bias", b), ("running_mean", rm),
                     ("running_var", rv), ("out", out), ("dout", dout), ("dinp", x.grad),
                     ("dweight", wd.grad), ("dbias", bd.grad)):
            W.put(f"{name}.{f}", v)
        if training:
            W.put(f"{name}.running_mean_after", rmd)
            W.put(f"{name}.running_var_after", rvd)
        else:
            assert torch.equal(rmd, rm.double()) and torch.equal(rvd, rv.double())

    # relu
    newcase()
    inp = torch.randn(3, 4, 5, 5)
    dout = torch.randn(3, 4, 5, 5)
    x = dbl(inp, True)
    out = F.relu(x)
    (out * dout.double()).sum().backward()
    for f, v in (("inp", inp), ("out", out), ("dout", dout), ("dinp", x.grad)):
        W.put(f"relu.{f}", v)

    # max pool on relu(randn): many exact zero ties
    for name, S in (("maxpool_a", 9), ("maxpool_b", 8)):
        newcase()
        inp = F.relu(torch.randn(2, 3, S, S))
        O = (S + 2 - 3) // 2 + 1
        dout = torch.randn(2, 3, O, O)
        x = dbl(inp, True)
        out = F.max_pool2d(x, 3, 2, 1)
        assert out.shape == dout.shape
        (out * dout.double()).sum().backward()
        # check tie convention: gradient goes to the first max in row-major window order
        xp = F.pad(inp.double(), (1, 1, 1, 1), value=-float("inf"))
        ref = torch.zeros(2, 3, S + 2, S + 2, dtype=torch.float64)
        for bb in range(2):
            for cc in range(3):
                for i in range(O):
                    for j in range(O):
                        win = xp[bb, cc, 2 * i:2 * i + 3, 2 * j:2 * j + 3].reshape(-1)
                        q = int(torch.nonzero(win == win.max())[0])
                        ref[bb, cc, 2 * i + q // 3, 2 * j + q % 3] += dout[bb, cc, i, j].double()
        assert torch.equal(ref[:, :, 1:-1, 1:-1], x.grad), "maxpool tie convention"
        for f, v in (("inp", inp), ("out", out), ("dout", dout), ("dinp", x.grad)):
            W.put(f"{name}.{f}", v)

    # global average pool
    newcase()
    inp = torch.randn(2, 5, 3, 3)
    dout = torch.randn(2, 5)
    x = dbl(inp, True)
    out = x.mean((2, 3))
    (out * dout.double()).sum().backward()
    for f, v in (("inp", inp), ("out", out), ("dout", dout), ("dinp", x.grad)):
        W.put(f"gap.{f}", v)

    # linear
    newcase()
    inp = torch.randn(3, 7)
    w = torch.randn(5, 7) * 0.3
    b = torch.randn(5) * 0.3
    dout = torch.randn(3, 5)
    x, wd, bd = dbl(inp, True), dbl(w, True), dbl(b, True)
    out = F.linear(x, wd, bd)
    (out * dout.double()).sum().backward()
    for f, v in (("inp", inp), ("weight", w), ("bias", b), ("out", out), ("dout", dout),
                 ("dinp", x.grad), ("dweight", wd.grad), ("dbias", bd.grad)):
        W.put(f"linear.{f}", v)

    # paper loss
    newcase()
    reg = torch.randn(6) * 10 + 30
    logits = torch.randn(6, NCLS) * 3
    age = torch.tensor([0.3, 2.5, 57.5, 100.7, -0.4, 33.0], dtype=torch.float32)
    r, lg = dbl(reg, True), dbl(logits, True)
    total, E, mr, ce, me, cls = paper_loss(r, lg, age.double())
    assert cls.tolist() == [0, 2, 58, 100, 0, 33], cls.tolist()
    total.backward()
    for f, v in (("reg", reg), ("logits", logits), ("age", age), ("cls", cls),
                 ("expected", E), ("mse_reg", mr.reshape(1)), ("ce", ce.reshape(1)),
                 ("mse_e", me.reshape(1)), ("total", total.reshape(1)),
                 ("dreg", r.grad), ("dlogits", lg.grad)):
        W.put(f"loss.{f}", v)

    # heads
    for name, kind, shape in (("head_rn", "rn", (2, 6, 3, 3)),
                              ("head_rng", "rng", (2, 6, 3, 3)),
                              ("head_rng2", "rng", (2, 6, 2, 3))):
        newcase()
        feat = torch.randn(*shape)
        head = Head(shape[1], kind, H=8)
        dreg = torch.randn(shape[0])
        dlog = torch.randn(shape[0], NCLS)
        hd = copy.deepcopy(head).double()
        f = dbl(feat, True)
        reg, logits, z = hd(f)
        ((reg * dreg.double()).sum() + (logits * dlog.double()).sum()).backward()
        W.put(f"{name}.feat", feat)
        for n, p in head.named_parameters():
            W.put(f"{name}.{n}", p)
        W.put(f"{name}.dreg", dreg)
        W.put(f"{name}.dlogits", dlog)
        if kind == "rn":
            gap = feat.double().mean((2, 3))
            err = (z - torch.cat([gap, gap], 1)).abs().max().item()
            assert err < 1e-12, f"rn z != [GAP;GAP]: {err}"
            W.put(f"{name}.z", z)
        W.put(f"{name}.reg", reg)
        W.put(f"{name}.logits", logits)
        W.put(f"{name}.dfeat", f.grad)
        for n, p in hd.named_parameters():
            W.put(f"{name}.grad.{n}", p.grad)


    # optimiser update rules on a flat vector with given gradients (no network in between), and
    # the learning-rate schedules
    newcase()
    p0 = torch.randn(64)
    grads = [torch.randn(64) for _ in range(3)]
    W.put("optim.param", p0)
    for i, g in enumerate(grads):
        W.put(f"optim.grad{i}", g)
    for tag, cls_, kw in (("rmsprop", torch.optim.RMSprop, dict(lr=1e-2)),
                          ("rmsprop_mwd", torch.optim.RMSprop,
                           dict(lr=1e-2, momentum=0.9, weight_decay=1e-4)),
                          ("adamw", torch.optim.AdamW, dict(lr=1e-2, weight_decay=1e-2))):
        q = p0.double().clone().requires_grad_(True)
        opt = cls_([q], **kw)
        for g in grads:
            q.grad = g.double().clone()
            opt.step()
        W.put(f"optim.{tag}", q.detach())
    for tag, make, n in (("lr_step", lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [10, 15], 0.1), 20),
                         ("lr_cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 30), 30)):
        o = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-3)
        sched, lrs = make(o), []
        for _ in range(n):
            lrs.append(o.param_groups[0]["lr"])
            o.step()
            sched.step()
        W.put(f"optim.{tag}", torch.tensor(lrs, dtype=torch.float64))


# --------------------------------------------------------------------------
# model_<arch>_<head>.safetensors
# --------------------------------------------------------------------------
# The paper's learning rate: RMSprop's first steps move every weight by about 10*lr whatever the
# size of its gradient, so a gradient whose sign is decided by rounding moves a weight by
# 20*lr; a small lr keeps that within the C test's tolerance.
RMS = dict(lr=1e-4, alpha=0.99, eps=1e-8, momentum=0.9, weight_decay=1e-4)
ADAMW = dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)


def bn_state(net, prefix, W):
    for n, b in net.named_buffers():
        if n.endswith("running_mean") or n.endswith("running_var"):
            W.put(f"{prefix}.{n}", b)


def run_steps(net0, x, age, opt_cls, kw, steps=3):
    net = clone_net(net0)
    net.train()
    opt = opt_cls(net.parameters(), **kw)
    losses = []
    for _ in range(steps):
        reg, logits, _ = net(x)
        loss = paper_loss(reg, logits, age)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net, torch.tensor(losses, dtype=torch.float64)


def gen_model(arch, width, head, hidden, seed):
    torch.manual_seed(seed)
    net = Net(arch, width, head, hidden)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.1 * torch.randn_like(m.running_mean))
                m.running_var.copy_(1 + 0.1 * torch.rand_like(m.running_var))
    inp = torch.randn(2, 3, 64, 64)
    age = torch.tensor([23.4, 61.0], dtype=torch.float32)

    W = Writer()
    for n, t in net.state_dict().items():
        W.put(f"param.{n}", t)
    W.put("input", inp)
    W.put("age", age)

    nd = clone_net(net).double()
    nd0 = clone_net(nd)  # pristine float64 start for the optimiser runs
    x, ad = inp.double(), age.double()
    nd.train()
    reg, logits, z = nd(x)
    loss, E = paper_loss(reg, logits, ad)[:2]
    loss.backward()
    if head == "rn":
        gap = nd.body(x).mean((2, 3))  # body in train mode again: same batch stats
        err = (z - torch.cat([gap, gap], 1)).abs().max().item()
        assert err < 1e-12, f"rn z != [GAP;GAP]: {err}"
    W.put("reg", reg)
    W.put("logits", logits)
    W.put("expected", E)
    W.put("loss", loss.reshape(1))
    for n, p in nd.named_parameters():
        W.put(f"grad.{n}", p.grad)
    st = clone_net(nd0)
    st.train()
    with torch.no_grad():
        st(x)  # exactly one training forward for the running stats
    bn_state(st, "state", W)

    # The optimiser runs only for the base head: the update rules do not depend on the head, and
    # this keeps the committed fixtures small.
    optimisers = (("rmsprop", torch.optim.RMSprop, RMS), ("adamw", torch.optim.AdamW, ADAMW))
    for tag, cls_, kw in optimisers if head == "base" else ():
        n3, losses = run_steps(nd0, x, ad, cls_, kw)
        for n, p in n3.named_parameters():
            W.put(f"{tag}.{n}", p)
        bn_state(n3, f"{tag}_state", W)
        W.put(f"{tag}_loss", losses)

    meta = {"arch": arch, "head": head, "width": repr(width), "input_size": "64",
            "batch": "2", "in_channels": "3", "feat_channels": str(net.C),
            "hidden": str(hidden if head == "rng" else 0), "num_classes": str(NCLS),
            "bn_eps": "1e-05", "bn_momentum": "0.1", "steps": "3",
            "rmsprop": "lr=1e-4 alpha=0.99 eps=1e-8 momentum=0.9 weight_decay=1e-4",
            "adamw": "lr=1e-4 betas=(0.9,0.999) eps=1e-8 weight_decay=1e-2",
            "torch": torch.__version__, "generator": "tools/gen_fixtures.py"}
    return W, meta


# --------------------------------------------------------------------------
# torchvision name checks
# --------------------------------------------------------------------------
def tv_entries(arch):
    sd = getattr(torchvision.models, arch)(weights=None).state_dict()
    return [(k, tuple(v.shape)) for k, v in sd.items() if not k.startswith("fc.")]


def check_against_torchvision(arch):
    tv = getattr(torchvision.models, arch)(weights=None)
    mine = Net(arch, 1.0, None)
    a = [(k, tuple(v.shape)) for k, v in mine.state_dict().items()]
    assert a == tv_entries(arch), f"{arch}: state_dict mismatch vs torchvision"
    # same topology: load torchvision's weights, compare feature maps
    mine.load_state_dict({k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")})
    tv.eval(); mine.eval()
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    tv.double(); mine.double()
    with torch.no_grad():
        t = tv.layer4(tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(x))))))))
        assert torch.allclose(t, mine.body(x), rtol=0, atol=1e-12), f"{arch}: forward mismatch"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "tests", "fixtures"))
    out = os.path.normpath(ap.parse_args().out)
    os.makedirs(out, exist_ok=True)
    sizes = {}

    for arch in ARCHS:
        check_against_torchvision(arch)
    p = os.path.join(out, "torchvision_names.txt")
    with open(p, "w") as f:
        for arch in ARCHS:
            for k, s in tv_entries(arch):
                f.write(f"{arch} {k} {'x'.join(map(str, s)) if s else 'scalar'}\n")
    sizes[p] = os.path.getsize(p)

    W = Writer()
    gen_layers(W)
    p = os.path.join(out, "layers.safetensors")
    sizes[p] = W.save(p, {"generator": "tools/gen_fixtures.py", "torch": torch.__version__,
                          "format": "<case>.<field>; inputs float32, outputs float64 rounded"})

    seed = 3000
    for arch, width in (("resnet18", 1 / 16), ("resnet50", 1 / 32)):
        for head in ("base", "rn", "rng"):
            seed += 1
            W, meta = gen_model(arch, width, head, 16, seed)
            p = os.path.join(out, f"model_{arch}_{head}.safetensors")
            sizes[p] = W.save(p, meta)

    tot = 0
    for p, s in sizes.items():
        print(f"{s:9d}  {p}")
        tot += s
    print(f"{tot:9d}  total")


if __name__ == "__main__":
    main()
