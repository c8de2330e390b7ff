#!/usr/bin/python3
"""PyTorch baseline for bench/dense-ae.bench.mjs, measured on this machine.

The same reference model as the tfjs benchmark (DESIGN.md): dense autoencoder
1024-256-64-8-64-256-1024, relu on the hidden layers, linear at the 8-unit
bottleneck and at the output, glorot-uniform weights and zero biases, Adam
(lr 1e-3), MSE, 4000 "spectra" (uniform(0,1) + linspace(0,1,1024) per row),
shuffled mini-batches gathered from the full matrix each epoch, float32, one
CPU thread.

    /usr/bin/python3 bench/pytorch-dense-ae.py [BATCH ...]     (default 64 256)

Uses Debian's torch (`apt-get install python3-torch`), so run it with Debian's
/usr/bin/python3, not a pyenv python. BENCH_EPOCHS timed epochs (default 3)
after one warm-up epoch, per batch size, each with a fresh model. Progress goes
to stderr; stdout gets exactly one JSON line with the fastest epoch's wall time
and process CPU time (time.process_time) per batch size, and the BLAS library
torch's matrix products ran on: Debian's torch calls whichever libblas.so.3 the
alternatives system selects, and the reference (netlib) BLAS that satisfies its
dependency by default is many times slower than OpenBLAS.
"""
import os

# One thread everywhere, set before torch loads: torch.set_num_threads covers
# torch's own OpenMP pool, but an OpenBLAS or MKL behind it reads these.
for var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS'):
    os.environ[var] = '1'

import json
import sys
import time

import torch

N = 4000
D = 1024
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


def model():
    sizes = [D, 256, 64, 8, 64, 256, D]
    layers = []
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        # glorot-uniform and zero bias, as tfjs's dense layer (the speed does not depend on it).
        torch.nn.init.xavier_uniform_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        layers.append(lin)
        # relu on the hidden layers; linear at the bottleneck (8) and at the output.
        if sizes[i + 1] not in (8, D):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def run(x, bs):
    torch.manual_seed(100)
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def epoch():
        # Shuffled mini-batches gathered from x, as the tfjs custom loop does.
        idx = torch.randperm(N)
        for b in range(0, N, bs):
            xb = x[idx[b:b + bs]]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), xb)
            loss.backward()
            opt.step()
        return loss.item()

    epoch()  # warm-up (allocator, oneDNN/BLAS first calls)
    walls, cpus, loss = [], [], float('nan')
    for _ in range(EPOCHS):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = epoch()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - t0)
        print(f'  batch {bs}: epoch {walls[-1]:.3f} s wall, {cpus[-1]:.3f} s CPU, loss {loss:.5f}', file=sys.stderr)
    # Fastest timed epoch: the least disturbed by other processes on a shared machine.
    return {'wall': round(min(walls), 4), 'cpu': round(min(cpus), 4), 'loss': round(loss, 6)}


def main():
    batches = [int(a) for a in sys.argv[1:]] or [64, 256]
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(7)
    x = (torch.rand(N, D, dtype=torch.float32) + torch.linspace(0, 1, D, dtype=torch.float32)).contiguous()
    results = {str(bs): run(x, bs) for bs in batches}
    print(json.dumps({
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': blas_library(),
        'epochs': EPOCHS,
        'results': results,
    }))


if __name__ == '__main__':
    main()
