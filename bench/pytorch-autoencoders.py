#!/usr/bin/python3
"""PyTorch baselines for bench/train-vs-pytorch.bench.mjs, measured on this machine.

specflow's three default autoencoders (src/ml/autoencoder.ts, src/ml/nn.ts)
rebuilt layer for layer in PyTorch, with the same parameter counts (printed,
and checked by the bench against specflow's own), trained the way
trainAutoencoder trains them: MSE, Adam (lr 1e-3, PyTorch's defaults otherwise,
which are tfjs's), shuffled mini-batches gathered from the whole matrix, the
batch loss read back every step, no validation split.

  dense        D=1024: 1024-256-64-8-64-256-1024, relu (linear at 8 and at the output)
  conv1d       D=512: three blocks [conv 'same' (k 15/11/7, 16/32/64 filters) + batch norm
               (eps 1e-3) + LeakyReLU 0.2 + average pool 2], flatten, dense to 8; dense to
               64x64 + LeakyReLU, three blocks [nearest upsample 2 + conv (64→32→16→16) +
               batch norm + LeakyReLU], conv k 15 to one channel
  transformer  D=512: patches of 16 → d_model 64 (+ sinusoidal positions), 2 pre-norm blocks
               (4 heads, separate q/k/v/o projections, MLP 128 with exact GELU), flatten,
               dense to 8; dense to 32x64 tokens (+ positions), 2 blocks, dense 64 → 16

    /usr/bin/python3 bench/pytorch-autoencoders.py THREADS ARCH:N:D:BATCH[,BATCH...] ...

e.g. `... 1 dense:4000:1024:64,256 conv1d:1000:512:256`. THREADS is applied
before torch loads (OMP/OpenBLAS/MKL variables) and with torch.set_num_threads.
BENCH_EPOCHS timed epochs (default 3) after one warm-up epoch, per
configuration, each with a fresh model. The data are standardised random
spectra (the values do not change the speed), made before the clock starts.
Progress goes to stderr; stdout gets one JSON line: per configuration the
fastest timed epoch's wall time, process CPU time (time.process_time: every
thread) and this thread's CPU time (time.thread_time), the parameter counts,
and the BLAS library actually mapped (Debian's torch multiplies through
whichever libblas.so.3 the alternatives system selects; the reference BLAS is
many times slower than OpenBLAS).
"""
import os
import sys

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
# Set before torch loads: torch.set_num_threads covers torch's own OpenMP
# pool, but an OpenBLAS or MKL behind it reads these.
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[var] = str(THREADS)


def openblas_coretype():
    """The OpenBLAS kernel family this CPU can run, from its feature flags.

    OpenBLAS picks its kernels from the CPU's model number; a virtual machine
    that reports a generic model (as this project's machines do: "Intel(R) Xeon(R)
    Processor") makes it fall back to its Prescott (SSE3) kernels, 2.5-3x slower
    on these products than the AVX2/AVX-512 ones the CPU has. A baseline run
    like that would flatter specflow, so unless OPENBLAS_CORETYPE is set the
    family is chosen from the flags the CPU reports.
    """
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split(':', 1)[1].split() for line in f if line.startswith('flags')), [])
    except OSError:
        return None
    if {'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'} <= set(flags):
        return 'SkylakeX'
    if {'avx2', 'fma'} <= set(flags):
        return 'Haswell'
    return None


if 'OPENBLAS_CORETYPE' not in os.environ and openblas_coretype():
    os.environ['OPENBLAS_CORETYPE'] = openblas_coretype()

import json
import math
import time

import torch
from torch import nn
import torch.nn.functional as F

EPOCHS = int(os.environ.get('BENCH_EPOCHS', '3'))


def blas_library():
    """The libblas actually mapped into this process (resolved through Debian's alternatives)."""
    try:
        with open('/proc/self/maps') as maps:
            paths = {line.split()[-1] for line in maps if len(line.split()) >= 6}
    except OSError:
        return None
    hits = sorted(os.path.realpath(p) for p in paths if 'blas' in os.path.basename(p) or 'mkl_rt' in p)
    return hits[0] if hits else None


def linear(n_in, n_out):
    """A dense layer initialised as specflow's (glorot-uniform weights, zero bias)."""
    lin = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


class DenseAE(nn.Module):
    def __init__(self, d, hidden=(256, 64), latent=8):
        super().__init__()
        sizes = [d, *hidden, latent, *reversed(hidden), d]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(linear(sizes[i], sizes[i + 1]))
            # relu on the hidden layers; linear at the bottleneck and at the output
            if i + 1 not in (len(hidden) + 1, len(sizes) - 1):
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def conv(c_in, c_out, k):
    # 'same' padding for odd k, as specflow's conv1dSame
    return nn.Conv1d(c_in, c_out, k, padding=k // 2)


class ConvBlock(nn.Module):
    """conv + batch norm + LeakyReLU 0.2 (specflow's conv1dNetwork block)."""

    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.conv = conv(c_in, c_out, k)
        # specflow: eps 1e-3, running averages kept with momentum 0.9 (PyTorch's 0.1)
        self.bn = nn.BatchNorm1d(c_out, eps=1e-3, momentum=0.1)

    def forward(self, x):
        return F.leaky_relu(self.bn(self.conv(x)), 0.2)


class Conv1dAE(nn.Module):
    def __init__(self, d, filters=(16, 32, 64), kernels=(15, 11, 7), latent=8):
        super().__init__()
        nb = len(filters)
        self.d = d
        self.dp = math.ceil(d / 2 ** nb) * 2 ** nb
        self.lz = self.dp // 2 ** nb
        self.top = filters[-1]
        c_in = 1
        self.enc = nn.ModuleList()
        for f, k in zip(filters, kernels):
            self.enc.append(ConvBlock(c_in, f, k))
            c_in = f
        flat = self.lz * filters[-1]
        self.enc_z = linear(flat, latent)
        self.dec_map = linear(latent, flat)
        # decoder block i narrows filters[i] → filters[i-1] (filters[0] for the last)
        self.dec = nn.ModuleList()
        c_in = filters[-1]
        for i in range(nb - 1, -1, -1):
            c_out = filters[max(i - 1, 0)]
            self.dec.append(ConvBlock(c_in, c_out, kernels[i]))
            c_in = c_out
        self.out = conv(c_in, 1, kernels[0])

    def forward(self, x):
        b = x.shape[0]
        h = F.pad(x, (0, self.dp - self.d)).view(b, 1, self.dp)
        for blk in self.enc:
            h = F.avg_pool1d(blk(h), 2)
        z = self.enc_z(h.reshape(b, -1))
        h = F.leaky_relu(self.dec_map(z), 0.2).view(b, self.top, self.lz)
        for blk in self.dec:
            h = blk(F.interpolate(h, scale_factor=2, mode='nearest'))
        return self.out(h).view(b, self.dp)[:, :self.d]


def sinusoidal(t, d):
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    i = torch.arange(d)
    freq = torch.pow(10000.0, -(2 * (i // 2)).double() / d)
    ang = pos * freq
    return torch.where(i % 2 == 0, torch.sin(ang), torch.cos(ang)).float()


class Block(nn.Module):
    """Pre-norm transformer encoder block, as specflow's (separate q, k, v, o; exact GELU)."""

    def __init__(self, d, heads, mlp):
        super().__init__()
        self.h = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.q, self.k, self.v, self.o = (linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = linear(d, mlp)
        self.fc2 = linear(mlp, d)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.h
        h = self.ln1(x)

        def heads(y):
            return y.view(b, t, self.h, dh).transpose(1, 2)

        q, k, v = heads(self.q(h)), heads(self.k(h)), heads(self.v(h))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TransformerAE(nn.Module):
    def __init__(self, d_in, patch=16, d=64, heads=4, layers=2, mlp=128, latent=8):
        super().__init__()
        self.d_in = d_in
        self.p = patch
        self.dp = math.ceil(d_in / patch) * patch
        self.t = self.dp // patch
        self.d = d
        self.register_buffer('pos', sinusoidal(self.t, d))
        self.embed = linear(patch, d)
        self.enc = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.enc_z = linear(self.t * d, latent)
        self.dec_tokens = linear(latent, self.t * d)
        self.dec = nn.ModuleList(Block(d, heads, mlp) for _ in range(layers))
        self.out = linear(d, patch)

    def forward(self, x):
        b = x.shape[0]
        h = self.embed(F.pad(x, (0, self.dp - self.d_in)).view(b, self.t, self.p)) + self.pos
        for blk in self.enc:
            h = blk(h)
        z = self.enc_z(h.reshape(b, -1))
        h = self.dec_tokens(z).view(b, self.t, self.d) + self.pos
        for blk in self.dec:
            h = blk(h)
        return self.out(h).reshape(b, self.dp)[:, :self.d_in]


MODELS = {'dense': DenseAE, 'conv1d': Conv1dAE, 'transformer': TransformerAE}


def counts(net):
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    # batch-norm running averages (specflow's non-trainable variables); not num_batches_tracked
    stats = sum(b.numel() for name, b in net.named_buffers() if name.endswith(('running_mean', 'running_var')))
    return trainable, stats


def spectra(n, d):
    """Standardised peaky random rows: speed does not depend on the values."""
    x = torch.rand(n, d) + torch.linspace(0, 1, d)
    centre = torch.rand(n, 1) * d
    x += 5 * torch.exp(-(((torch.arange(d) - centre) / 10) ** 2))
    return ((x - x.mean(0)) / x.std()).contiguous()


def run(arch, x, bs):
    n, d = x.shape
    torch.manual_seed(100)
    net = MODELS[arch](d)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def epoch():
        idx = torch.randperm(n)
        total = 0.0
        for b in range(0, n, bs):
            xb = x[idx[b:b + bs]]
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(net(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]  # trainAutoencoder reads every batch's loss
        return total / n

    epoch()  # warm-up (allocator, oneDNN primitives, BLAS first calls)
    walls, cpus, threads, loss = [], [], [], float('nan')
    for _ in range(EPOCHS):
        t0, c0, h0 = time.perf_counter(), time.process_time(), time.thread_time()
        loss = epoch()
        threads.append(time.thread_time() - h0)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - t0)
        print(f'  {arch} batch {bs}, {THREADS} thread(s): {walls[-1]:.3f} s wall, {cpus[-1]:.3f} s CPU, loss {loss:.5f}',
              file=sys.stderr)
    trainable, stats = counts(net)
    # the fastest timed epoch: the least disturbed by other processes on a shared machine
    return {'wall': round(min(walls), 4), 'cpu': round(min(cpus), 4), 'threadCpu': round(min(threads), 4),
            'loss': round(loss, 6), 'params': trainable, 'bnStats': stats}


def main():
    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    torch.manual_seed(7)
    results = {}
    for spec in sys.argv[2:]:
        arch, n, d, batches = spec.split(':')
        x = spectra(int(n), int(d))
        for bs in batches.split(','):
            results[f'{arch}:{bs}'] = run(arch, x, int(bs))
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': blas_library(),
        'openblas_coretype': os.environ.get('OPENBLAS_CORETYPE'),
        'epochs': EPOCHS,
        'results': results,
    }))


if __name__ == '__main__':
    main()
