#!/usr/bin/env python3
"""The training loop of narrow_bench_trainer in PyTorch for Python.

LeNet-5 as the sequential space's lenet5 reference (conv 6@5x5 padded, max pool, conv 16@5x5,
max pool, fc 120, fc 84, fc 10, ReLU), the first --images images of Fashion-MNIST's training
set (pixels scaled to [0, 1] and normalised with the subset's mean and deviation), SGD with
lr 0.05, momentum 0.9, weight decay 5e-4, a cosine schedule per iteration, torch.randperm
shuffling, index_select batches, a running loss read with item() per batch.

Prints one parseable line at the end:  images_per_second=<float>
"""
import argparse
import gzip
import math
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(images_path, labels_path, limit):
    with gzip.open(images_path, "rb") as f:
        images = f.read()
    with gzip.open(labels_path, "rb") as f:
        labels = f.read()
    magic, count, h, w = struct.unpack(">IIII", images[:16])
    if magic != 0x803 or struct.unpack(">II", labels[:8])[0] != 0x801:
        sys.exit(f"{images_path}: not an IDX pair")
    n = min(limit, count) if limit > 0 else count
    x = torch.frombuffer(bytearray(images[16:16 + n * h * w]), dtype=torch.uint8)
    x = x.view(n, 1, h, w).float().div_(255.0)
    y = torch.frombuffer(bytearray(labels[8:8 + n]), dtype=torch.uint8).long()
    return x, y


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def train(model, x, y, epochs, batch, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    n = x.shape[0]
    total = epochs * ((n + batch - 1) // batch)
    it = 0
    images = 0
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        running = 0.0
        for first in range(0, n, batch):
            idx = order[first:first + batch]
            xb = x.index_select(0, idx)
            yb = y.index_select(0, idx)
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * it / total))
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.shape[0]
            images += xb.shape[0]
            it += 1
    return images, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2, help="timed runs after one warm-up")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    x, y = read_idx(f"{a.data}/train-images-idx3-ubyte.gz",
                    f"{a.data}/train-labels-idx1-ubyte.gz", a.images)
    mean, sd = x.mean().item(), x.std(unbiased=False).item()
    x = (x - mean) / sd

    torch.manual_seed(a.seed)
    train(lenet5(), x[:512], y[:512], 1, a.batch, 0.05)  # warm-up, not counted
    images = 0
    seconds = 0.0
    for r in range(a.rounds):
        torch.manual_seed(a.seed + r)
        i, s = train(lenet5(), x, y, a.epochs, a.batch, 0.05)
        images += i
        seconds += s
    print(f"PyTorch {torch.__version__} (Python), {torch.get_num_threads()} threads, "
          f"{x.shape[0]} images x {a.epochs} epochs x {a.rounds} rounds: "
          f"{images / seconds:.0f} images/s")
    print(f"images_per_second={images / seconds:.3f}")


if __name__ == "__main__":
    main()
