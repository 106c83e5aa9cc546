"""PyTorch CPU peer of bench/convVisionTower.ts: the same conv tower shapes (GroupNorm 8, GELU),
forward alone and forward + backward to every weight, batch 64, in images per second.

  /usr/bin/python3 bench/peer/torch_conv_tower.py [--threads 2] [--repeats 3]

Same tower code as recognition_reference.py (Tower; its forward equals our engine's). OpenBLAS
core type as nativeKernels.ts chooses (Debian's torch links OpenBLAS too), OMP_WAIT_POLICY=PASSIVE
(both set by torch_qwen2's import, before torch loads).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import torch_qwen2  # noqa: E402,F401  (sets OMP_WAIT_POLICY and OPENBLAS_CORETYPE before torch loads)
import torch  # noqa: E402
from recognition_reference import Tower  # noqa: E402

SHAPES = {
    'shipped 4×4': (16, [32, 64, 128]),
    'tokens 4×4': (32, [64, 128, 192]),
    'tokens 8×8': (32, [48, 96, 160]),
}
STRIDES = {'tokens 8×8': [2, 2, 1]}


def median(xs):
    return sorted(xs)[(len(xs) - 1) // 2]


def timed(run, repeats):
    run()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append(time.perf_counter() - start)
    return median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--batch', type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    for name, (stem, stages) in SHAPES.items():
        vc = {'kernel_size': 3, 'num_groups': 8, 'layer_norm_eps': 1e-5, 'num_channels': 3, 'stem_channels': stem, 'stem_stride': 2,
              'stage_channels': stages, 'stage_strides': STRIDES.get(name, [2, 2, 2]), 'image_size': 64}
        tower = Tower(vc)
        u8 = torch.randint(0, 256, (args.batch, 64, 64, 3), dtype=torch.uint8)
        with torch.no_grad():
            forward = timed(lambda: tower(u8), args.repeats)
        d_last = torch.randn_like(tower(u8))

        def train():
            tower.zero_grad(set_to_none=False)
            tower(u8).backward(d_last)
        training = timed(train, args.repeats)
        print(json.dumps({'shape': name, 'act': 'gelu', 'batch': args.batch, 'threads': args.threads, 'torch': torch.__version__,
                          'openblasCoretype': os.environ.get('OPENBLAS_CORETYPE'),
                          'forwardImagesPerSecond': round(args.batch / forward), 'trainingImagesPerSecond': round(args.batch / training)}))


if __name__ == '__main__':
    main()
