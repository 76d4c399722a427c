"""PyTorch's inference throughput of the change network on a given input, the peer of the
onnxruntime figures in bench/onnx-throughput.bench-test.ts (same weights, same tensor).

Usage: /usr/bin/python3 models/training/bench_torch.py INPUT.f32 N C H W THREADS REPEATS
Prints one JSON line: {"threads": t, "mpx_per_s": v, "seconds": s}.
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from network import ChangeNet, Exported  # noqa: E402

path, n, c, h, w, threads, repeats = sys.argv[1], *map(int, sys.argv[2:8])
torch.set_num_threads(threads)
here = os.path.dirname(os.path.abspath(__file__))
net = ChangeNet(bands=(c - 2) // 2)
net.load_state_dict(torch.load(os.path.join(here, "..", "onnx", "orewatch-change-v1.pt")))
model = Exported(net).eval()
x = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(n, c, h, w))
with torch.no_grad():
    model(x)  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        model(x)
    seconds = (time.perf_counter() - t) / repeats
print(json.dumps({"threads": threads, "mpx_per_s": n * h * w / seconds / 1e6, "seconds": seconds}))
