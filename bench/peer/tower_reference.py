"""PyTorch reference of stage 1 (the conv vision tower on attribute labels), for the GPU machine.

Reads pictures and labels written by bench/dumpTowerData.ts (exactly those stage 1 trains and
evaluates on) and trains one tower variant: the shipped architecture as a replica of
src/pretrain/stage1Tower.ts (conv3x3 stem stride 2 → stages of conv1 stride 2 + a residual conv2,
GroupNorm, GELU; mean of the 4×4 tokens → one linear head per attribute; AdamW, warmup + cosine
with floor 0.1, gradient clip 1), or a changed one (width, norm, activation, lr, batch, clip).
It answers two questions: does our engine's stage 1 learn as fast as PyTorch's on the same
pictures (is 0.82 after 345k pictures the architecture or our training?), and which tower
learns to see every attribute within the CPU budget.

  python3 tower_reference.py DATA_DIR '{"name":"replica","steps":5400}' [OUT.json]

DATA_DIR holds train-*.{u8,labels,json} and heldout.{u8,labels,json}. Prints held-out accuracy
(the 500 pictures stage 1 reports, and every held-out picture) at each eval point; writes JSON.
"""
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_set(paths):
    pixels, labels, heads = [], [], None
    for prefix in paths:
        meta = json.load(open(prefix + '.json'))
        heads = meta['heads']
        n = meta['count']
        pixels.append(np.memmap(prefix + '.u8', dtype=np.uint8, mode='r', shape=(n, 64, 64, 3)))
        labels.append(np.fromfile(prefix + '.labels', dtype=np.int16).reshape(n, len(heads)))
    return pixels, np.concatenate(labels), heads


class Tower(nn.Module):
    def __init__(self, stem=16, stages=(32, 64, 128), groups=8, norm='group', act='gelu', k=3):
        super().__init__()
        self.act = {'gelu': nn.GELU(), 'relu': nn.ReLU(), 'silu': nn.SiLU()}[act]

        def make_norm(c):
            if norm == 'group':
                return nn.GroupNorm(groups, c, eps=1e-5)
            if norm == 'batch':
                return nn.BatchNorm2d(c)
            raise ValueError(norm)

        def conv(i, o, s):
            layer = nn.Conv2d(i, o, k, s, padding=k // 2, bias=False)
            nn.init.normal_(layer.weight, 0, math.sqrt(2 / (i * k * k)))  # as randomConvVisionWeights
            return layer

        self.stem = conv(3, stem, 2)
        self.stem_norm = make_norm(stem)
        self.stages = nn.ModuleList()
        c = stem
        for out in stages:
            self.stages.append(nn.ModuleList([conv(c, out, 2), make_norm(out), conv(out, out, 1), make_norm(out)]))
            c = out
        self.width = c

    def forward(self, x):
        x = self.act(self.stem_norm(self.stem(x)))
        for conv1, norm1, conv2, norm2 in self.stages:
            h = self.act(norm1(conv1(x)))
            x = h + self.act(norm2(conv2(h)))
        return x.mean(dim=(2, 3))


def learning_rate(step, total, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def main():
    data_dir = sys.argv[1]
    cfg = json.loads(sys.argv[2])
    out_file = sys.argv[3] if len(sys.argv) > 3 else None
    torch.manual_seed(cfg.get('seed', 1))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    train_paths = sorted(p[:-5] for p in glob.glob(os.path.join(data_dir, 'train-*.json')))
    train_pixels, train_labels, heads = load_set(train_paths)
    shard_sizes = [p.shape[0] for p in train_pixels]
    offsets = np.cumsum([0] + shard_sizes)
    total_train = int(offsets[-1])
    ho_pixels, ho_labels, _ = load_set([os.path.join(data_dir, 'heldout')])
    ho_x = torch.from_numpy(np.array(ho_pixels[0])).to(device)
    ho_y = torch.from_numpy(ho_labels.astype(np.int64)).to(device)

    tower = Tower(cfg.get('stem', 16), tuple(cfg.get('stages', (32, 64, 128))), cfg.get('groups', 8), cfg.get('norm', 'group'), cfg.get('act', 'gelu')).to(device)
    classes = [h['classes'] for h in heads]
    starts = np.cumsum([0] + classes)
    head = nn.Linear(tower.width, int(starts[-1])).to(device)
    nn.init.uniform_(head.weight, -math.sqrt(3 / tower.width), math.sqrt(3 / tower.width))
    nn.init.zeros_(head.bias)
    decay = [p for n, p in list(tower.named_parameters()) if p.dim() == 4] + [head.weight]
    no_decay = [p for n, p in list(tower.named_parameters()) if p.dim() != 4] + [head.bias]
    batch = cfg.get('batch', 64)
    peak = cfg.get('lr', 2e-3)
    steps = cfg.get('steps', 5400)
    clip = cfg.get('clip', 1.0)
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=peak, betas=(0.9, 0.999), eps=1e-8)
    warmup = min(200, steps / 10)

    def to_input(u8):
        return ((u8.float() / 255 - 0.5) / 0.5).permute(0, 3, 1, 2).contiguous()

    def head_loss(pooled, y):
        # Every head of the picture's kind (and the kind head) adds its cross-entropy; mean over pictures.
        logits = head(pooled)
        loss = 0.0
        for j in range(len(classes)):
            loss = loss + F.cross_entropy(logits[:, starts[j]:starts[j + 1]], y[:, j], ignore_index=-1, reduction='sum')
        return loss / y.shape[0]

    @torch.no_grad()
    def evaluate():
        tower.eval()
        per = {}
        right_all = total_all = 0
        kind_right = 0
        first500 = None
        for s in range(0, ho_x.shape[0], 500):
            x = to_input(ho_x[s:s + 500])
            y = ho_y[s:s + 500]
            logits = head(tower(x))
            for j, h in enumerate(heads):
                z = logits[:, starts[j]:starts[j + 1]]
                t = y[:, j]
                mask = t >= 0
                r = int((z.argmax(1)[mask] == t[mask]).sum())
                c = int(mask.sum())
                if j == 0:
                    kind_right += r
                    continue
                a = per.setdefault(h['name'], [0, 0])
                a[0] += r
                a[1] += c
                right_all += r
                total_all += c
            if s == 0:
                first500 = right_all / max(1, total_all)
        tower.train()
        return {
            'mean500': round(first500, 4),
            'mean': round(right_all / max(1, total_all), 4),
            'kind': round(kind_right / ho_x.shape[0], 4),
            'perAttribute': {k: round(r / max(1, c), 3) for k, (r, c) in per.items()},
        }

    eval_points = sorted(set(cfg.get('evalAt', [1000, 2400, 5400, 10000, 20000, 40000])) | {steps})
    history = []
    started = time.time()
    perm_rng = np.random.default_rng(cfg.get('seed', 1))
    order = np.arange(total_train)
    epoch_pos = 0
    for step in range(steps):
        if epoch_pos + batch > total_train:
            order = perm_rng.permutation(total_train)  # later epochs: a new order
            epoch_pos = 0
        idx = order[epoch_pos:epoch_pos + batch]
        epoch_pos += batch
        # Consecutive indices mostly lie in one shard: gather per shard.
        shard = np.searchsorted(offsets, idx, side='right') - 1
        xb = np.empty((batch, 64, 64, 3), dtype=np.uint8)
        for si in np.unique(shard):
            sel = shard == si
            xb[sel] = train_pixels[si][idx[sel] - offsets[si]]
        x = to_input(torch.from_numpy(xb).to(device, non_blocking=True))
        y = torch.from_numpy(train_labels[idx].astype(np.int64)).to(device)
        for g in opt.param_groups:
            g['lr'] = learning_rate(step, steps, peak, warmup)
        loss = head_loss(tower(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(list(tower.parameters()) + list(head.parameters()), clip)
        opt.step()
        out_of_time = time.time() - started > cfg.get('maxSeconds', float(os.environ.get('MAX_SECONDS', '1e9')))
        if step + 1 in eval_points or out_of_time:
            result = evaluate()
            result.update(step=step + 1, images=(step + 1) * batch, seconds=round(time.time() - started, 1), loss=round(float(loss), 4))
            history.append(result)
            print(json.dumps({'name': cfg.get('name'), **{k: v for k, v in result.items() if k != 'perAttribute'}}), flush=True)
        if out_of_time:
            print(json.dumps({'name': cfg.get('name'), 'stopped': 'out of time', 'step': step + 1}), flush=True)
            break
    params = sum(p.numel() for p in tower.parameters())
    summary = {'config': cfg, 'towerParameters': params, 'history': history}
    if history:
        worst = sorted(history[-1]['perAttribute'].items(), key=lambda kv: kv[1])[:8]
        print(json.dumps({'name': cfg.get('name'), 'towerParameters': params, 'weakest': worst}), flush=True)
    if out_file:
        json.dump(summary, open(out_file, 'w'), indent=1)


if __name__ == '__main__':
    main()
