#!/usr/bin/env python3
"""How many text samples does yollava-world's decoder shape need to learn answers from a description?

A PyTorch reference (HF transformers' LlamaForCausalLM with the decoder's exact shape), trained on
rows dumped by bench/dumpTextDecisions.ts with pretraining's loss weighting (the decision token
~60 % of a sample), AdamW (0.9, 0.98), wd 0.01, warmup 100, cosine to 0.1, clip 1. It prints the
held-out accuracy of decision tokens (description tasks, kind tasks) as training goes. Meant for
a GPU (seconds per run); it measures the recipe, not our engine, and is not part of the product.

  python3 bench/peer/text_decisions_reference.py '[{"lr":1e-3,"batch":64,"steps":2000}]' [DIR]

Each run takes lr, batch, steps and optionally layers, hidden, inter, heads, kv, warm, wd, init, seed,
share (the decision tokens' share of a sample's loss, default 0.6; null: plain token mean).
Results also go to $OUT/results.json (or ./results.json).
"""
import json, math, os, sys, time
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROW = 128
data = sys.argv[2] if len(sys.argv) > 2 else 'gpu'
ids = np.fromfile(f'{data}/ids.bin', dtype=np.uint16).reshape(-1, ROW).astype(np.int64)
mask = np.fromfile(f'{data}/mask.bin', dtype=np.uint8).reshape(-1, ROW)
task = np.fromfile(f'{data}/task.bin', dtype=np.uint8)
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
ids_t, mask_t, task_t = (torch.tensor(a, device=dev) for a in (ids, mask, task))
train_rows = len(ids) - 5000  # the last 5,000 rows are held out


def label_weights(m, share=0.6):
    """Per sample: decision tokens share `share`, the other answer tokens the rest (all of it when
    there are none); share None: every answer token weighs 1 (plain token mean)."""
    dec, other = (m >= 2).float(), (m == 1).float()
    if share is None:
        return dec + other
    nd, no = dec.sum(1, keepdim=True).clamp(min=1), other.sum(1, keepdim=True)
    w = dec * share / nd + torch.where(no > 0, other * (1 - share) / no.clamp(min=1), torch.zeros_like(other))
    return torch.where(no == 0, dec / nd, w)


def decision_accuracy(model, kind, letters_only=False):
    """Held-out accuracy of decision tokens (mask 2 and 3), or of two-option letters alone (mask 3)."""
    rows = torch.nonzero(task_t[train_rows:] == kind).flatten()[:2000] + train_rows
    x, m = ids_t[rows], mask_t[rows]
    pred = model(input_ids=x).logits[:, :-1].argmax(-1)
    d = (m[:, 1:] == 3) if letters_only else (m[:, 1:] >= 2)
    return round(((pred == x[:, 1:]) & d).sum().item() / max(1, d.sum().item()), 3)


def run(lr, batch, steps, seed=0, wd=0.01, init=0.02, warm=100, layers=4, hidden=256, inter=704, heads=8, kv=4, share=0.6, label=''):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=1536, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=kv, head_dim=32, max_position_embeddings=512,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, initializer_range=init)
    model = LlamaForCausalLM(config).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=wd)
    gen = torch.Generator().manual_seed(seed)
    started, out = time.time(), []
    for step in range(steps):
        lr_now = lr * (step + 1) / warm if step < warm else lr * (0.1 + 0.45 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
        for group in opt.param_groups:
            group['lr'] = lr_now
        rows = torch.randint(0, train_rows, (batch,), generator=gen).to(dev)
        x, m = ids_t[rows], mask_t[rows]
        logits = model(input_ids=x).logits[:, :-1].float()
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction='none').view(batch, ROW - 1)
        w = label_weights(m, share)[:, 1:]
        loss = (ce * w).sum() / w.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % max(125, steps // 8) == 0 or step + 1 == steps:
            model.eval()
            with torch.no_grad():
                point = {'step': step + 1, 'samples': (step + 1) * batch, 'loss': round(loss.item(), 3),
                         'description': decision_accuracy(model, 0), 'letter': decision_accuracy(model, 0, True),
                         'kind': decision_accuracy(model, 1)}
            model.train()
            out.append(point)
            print(label, point, f'{time.time() - started:.0f}s', flush=True)
    return out


results = {json.dumps(spec): run(label=json.dumps(spec), **spec) for spec in json.loads(sys.argv[1])}
json.dump(results, open(os.path.join(os.environ.get('OUT', '.'), 'results.json'), 'w'), indent=1)
