"""How many recognition samples does the shipped base model need? A PyTorch reference (plain torch).

Loads models/yollava-world (conv tower → GELU projector → Llama decoder) into PyTorch, checks
that its forward gives our engine's Yes − No margins (written by bench/dumpRecognition.ts with
--check), then trains projector + decoder (the tower frozen, as in stage 2) on the rows
dumpRecognition.ts wrote, and prints the held-out recognition measurement of
src/pretrain/evaluate.ts (recognition(true): "<name> is <description>. Can you see if <name> is
in this photo?" on the subject, a 1- or 2-attribute look-alike and another kind; first-token
Yes − No margin) at sample counts 0, 10k, 20k, 40k, 80k, 160k, 320k.

Recipe as stage 2 (src/pretrain/stage2Instruct.ts): loss = Σ w·CE / Σ w with encodeTurns' weights
(each sample weighs 1, its decision token 60 % of a turn), so Σ w·CE / samples; AdamW (0.9, 0.98),
eps 1e-8, wd 0.01 except norms and biases, warmup then cosine to 0.1 of peak over the run, clip 1.
Stage 2 packs ~4096 tokens per step; here a step is `batch` rows. The curve comes from one run
whose schedule spans all of it: a point mid-run is at a higher lr than a run ending there.

  python3 recognition_reference.py DATA_DIR '{"name":"shipped-5e-4"}' [OUT.json]

DATA_DIR: train-*.{ids,weights,meta,u8,json} and heldout.{ids,meta,u8,json} from dumpRecognition.ts.
Config keys (defaults): name, model ("models/yollava-world"), lr (5e-4), batch (64), warmup (50),
wd (0.01), clip (1), samples (320000: the schedule's length), evalAt ([0, 10k, …, 320k]),
maxSeconds (1e9, also $MAX_SECONDS: of training, then a last eval), reinit (false: projector +
decoder from random N(0, 0.02) as createRandomLlava), train ("projector,decoder"; or "projector",
"decoder", "decoder-no-embed"), seed (1), checkTolerance (1e-3; above 10× of it the run stops),
tf32 (false: training in exact float32; the check always is).
decoder ({"layers": n, "hidden": C, "intermediate": I}: another decoder shape, trained from random),
promptLoss (0: loss on the answers only, as stage 2; w > 0: the prompt's own tokens, after the
shared system prefix and without the picture's positions, are labels too and weigh w per sample).
Data (recognition_reference_gpu.sh dumps one set per distinct pair and resolves them into
"phases"): mix ("recognition=1"), negatives ("one=0.5,two=0.3,same=0.1,other=0.1"), and first
({"negatives": …, "mix": …, "samples": N}: the first N samples from that set, a curriculum) or
schedule ([{"mix": …, "negatives": …, "until": N}, …, {"mix": …}]: phases in order, the last to the end).
Held-out: recognition always; mcq and text QA (first-token A vs B, as evaluate.ts) when the dump
has heldout-mcq / heldout-text (their engine margins join the forward check).
Without "phases" the rows are DATA_DIR/train-*.

  python3 recognition_reference.py plan CONFIGS.jsonl DATA_ROOT MAX_ROWS   (used by the .sh)

Prints a JSON line with the forward check (engine vs torch margins), one per data set loaded, and
one per eval point (positive, negative = look-alikes, weighted, per distance, other kind, both
AUCs, training loss and decision accuracy since the last point); writes {config, check, history}.
"""
import glob
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    """{name: float32 tensor} (plain reader: the safetensors package is not needed)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        raw = data[a:b]
        if info['dtype'] == 'F32':
            arr = np.frombuffer(raw, dtype=np.float32)
        elif info['dtype'] == 'F16':
            arr = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
        elif info['dtype'] == 'BF16':
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f'{name}: dtype {info["dtype"]}')
        out[name] = torch.from_numpy(arr.copy()).reshape(info['shape'])
    return out


class Tower(nn.Module):
    """src/models/convVisionTower.ts: stem conv (stride 2) → GN → GELU; stages h = GELU(GN(conv1 s2 x)),
    out = h + GELU(GN(conv2 h)); tokens = the last map row-major + position embedding."""

    def __init__(self, vc):
        super().__init__()
        k, g, eps = vc['kernel_size'], vc['num_groups'], vc['layer_norm_eps']
        conv = lambda i, o, s: nn.Conv2d(i, o, k, s, padding=k // 2, bias=False)
        self.stem = conv(vc['num_channels'], vc['stem_channels'], vc['stem_stride'])
        self.stem_norm = nn.GroupNorm(g, vc['stem_channels'], eps=eps)
        self.stages = nn.ModuleList()
        c = vc['stem_channels']
        for out, stride in zip(vc['stage_channels'], vc['stage_strides']):
            self.stages.append(nn.ModuleDict({'conv1': conv(c, out, stride), 'norm1': nn.GroupNorm(g, out, eps=eps),
                                              'conv2': conv(out, out, 1), 'norm2': nn.GroupNorm(g, out, eps=eps)}))
            c = out
        side = vc['image_size']
        for s in [vc['stem_stride']] + vc['stage_strides']:
            side = (side + 2 * (k // 2) - k) // s + 1
        self.position_embedding = nn.Parameter(torch.zeros(side * side, c))

    def forward(self, u8):  # [N, 64, 64, 3] uint8
        x = ((u8.float() / 255 - 0.5) / 0.5).permute(0, 3, 1, 2)
        x = F.gelu(self.stem_norm(self.stem(x)))
        for s in self.stages:
            h = F.gelu(s['norm1'](s['conv1'](x)))
            x = h + F.gelu(s['norm2'](s['conv2'](h)))
        return x.flatten(2).transpose(1, 2) + self.position_embedding


class RMSNorm(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Layer(nn.Module):
    def __init__(self, tc):
        super().__init__()
        C, H, KV, D, I = tc['hidden_size'], tc['num_attention_heads'], tc['num_key_value_heads'], tc['head_dim'], tc['intermediate_size']
        self.H, self.KV, self.D = H, KV, D
        self.input_layernorm = RMSNorm(C, tc['rms_norm_eps'])
        self.post_attention_layernorm = RMSNorm(C, tc['rms_norm_eps'])
        self.q_proj, self.k_proj = nn.Linear(C, H * D, bias=False), nn.Linear(C, KV * D, bias=False)
        self.v_proj, self.o_proj = nn.Linear(C, KV * D, bias=False), nn.Linear(H * D, C, bias=False)
        self.gate_proj, self.up_proj = nn.Linear(C, I, bias=False), nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.KV, self.D).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.KV, self.D).transpose(1, 2)
        rot = lambda t: torch.cat((-t[..., self.D // 2:], t[..., :self.D // 2]), -1)  # HF rotate_half
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        rep = self.H // self.KV  # query head h reads KV head h // rep (HF repeat_kv)
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        if hasattr(F, 'scaled_dot_product_attention'):
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            a = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(self.D) + mask, -1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(B, T, -1))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Llava(nn.Module):
    def __init__(self, config):
        super().__init__()
        vc, tc = config['vision_config'], config['text_config']
        self.tc = tc
        self.tower = Tower(vc)
        C = tc['hidden_size']
        self.linear_1, self.linear_2 = nn.Linear(vc['hidden_size'], C), nn.Linear(C, C)
        self.embed_tokens = nn.Embedding(tc['vocab_size'], C)
        self.layers = nn.ModuleList(Layer(tc) for _ in range(tc['num_hidden_layers']))
        self.norm = RMSNorm(C, tc['rms_norm_eps'])
        self.lm_head = nn.Linear(C, tc['vocab_size'], bias=False)

    def load(self, w):
        t = {'tower.' + k[len('model.vision_tower.'):]: v for k, v in w.items() if k.startswith('model.vision_tower.')}
        for i in (1, 2):
            for p in ('weight', 'bias'):
                t[f'linear_{i}.{p}'] = w[f'model.multi_modal_projector.linear_{i}.{p}']
        for k, v in w.items():
            if k.startswith('model.language_model.'):
                k = k[len('model.language_model.'):].replace('self_attn.', '').replace('mlp.', '')
                t[k] = v
        t['lm_head.weight'] = w['lm_head.weight']
        missing, unexpected = self.load_state_dict(t, strict=False)
        if missing or unexpected:
            raise KeyError(f'missing {missing}, unexpected {unexpected}')

    def reinit(self, gen):
        """Projector + decoder as createRandomLlava(std 0.02): weights and biases N(0, 0.02), norms N(1, 0.1)."""
        for name, p in self.named_parameters():
            if name.startswith('tower.'):
                continue
            with torch.no_grad():
                if 'layernorm' in name or name == 'norm.weight':
                    p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.02 * torch.randn(p.shape, generator=gen))

    def project(self, features):  # [N, 16, 128] → [N, 16, C]
        return self.linear_2(F.gelu(self.linear_1(features)))

    def hidden(self, ids, image_pos, features):
        """ids [B, T]; image_pos [B] (−1: none); features [B, 16, Cv] (rows without a picture ignored)."""
        x = self.embed_tokens(ids)
        has = torch.nonzero(image_pos >= 0).flatten()
        if has.numel():
            n = features.shape[1]
            proj = self.project(features[has])
            rows = has[:, None].expand(-1, n)
            cols = image_pos[has][:, None] + torch.arange(n, device=ids.device)
            x = x.index_put((rows, cols), proj.to(x.dtype))
        B, T, _ = x.shape
        D = self.tc['head_dim']
        inv = 1.0 / (self.tc['rope_theta'] ** (torch.arange(0, D, 2, device=ids.device, dtype=torch.float32) / D))
        f = torch.arange(T, device=ids.device, dtype=torch.float32)[:, None] * inv[None]
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = None if hasattr(F, 'scaled_dot_product_attention') else torch.full((T, T), float('-inf'), device=ids.device).triu(1)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return x

    def logits_at(self, hidden, rows, cols):
        return self.lm_head(self.norm(hidden[rows, cols]))


def set_tf32(on):
    """TF32 matmuls and convolutions on or off (PyTorch ≥ 2.9's settings where they exist)."""
    if hasattr(torch.backends.cuda.matmul, 'fp32_precision'):
        torch.backends.cuda.matmul.fp32_precision = torch.backends.cudnn.conv.fp32_precision = 'tf32' if on else 'ieee'
    else:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on


def learning_rate(step, total, peak, warmup, floor=0.1):  # trainingState.ts learningRate
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def auc(pos, neg):
    """ROC AUC by rank sums with average ranks over ties (src/eval/metrics.ts rocAuc)."""
    scores = np.concatenate([pos, neg])
    order = np.argsort(scores, kind='mergesort')
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


DEFAULT_MIX = 'recognition=1'
DEFAULT_NEGATIVES = 'one=0.5,two=0.3,same=0.1,other=0.1'


def plan(configs_file, root, max_rows):
    """For recognition_reference_gpu.sh: the data sets the configs need (one per distinct mix and
    negatives; `first` adds a first phase from another set), printed as "dir<TAB>mix<TAB>negatives<TAB>rows",
    and the configs with their phases resolved written to ROOT/configs.jsonl."""
    sets, out = {}, []
    for line in open(configs_file):
        if not line.strip():
            continue
        cfg = json.loads(line)
        phases = []
        total = cfg.get('samples', 320000)
        if 'schedule' in cfg:  # [{mix, negatives, until}, …], the last one without `until`
            parts = [(p, p.get('until')) for p in cfg['schedule']]
        else:
            parts = [(part, until) for part, until in ((cfg.get('first'), (cfg.get('first') or {}).get('samples')), (cfg, None)) if part is not None]
        begin = 0
        for part, until in parts:
            key = (part.get('mix', DEFAULT_MIX), part.get('negatives', DEFAULT_NEGATIVES))
            need = (until if until is not None else total) - begin  # a phase draws its rows from the start of its set
            d = sets.setdefault(key, {'dir': f'd{len(sets)}', 'rows': 0})
            d['rows'] = min(max_rows, max(d['rows'], need))
            phases.append({'dir': d['dir'], 'until': until})
            begin = until if until is not None else total
        out.append({**cfg, 'phases': phases})
    with open(os.path.join(root, 'configs.jsonl'), 'w') as f:
        f.writelines(json.dumps(c) + '\n' for c in out)
    for (mix, neg), d in sets.items():
        print(f"{d['dir']}\t{mix}\t{neg}\t{d['rows']}")


def main():
    if sys.argv[1] == 'plan':
        return plan(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    data_dir, cfg = sys.argv[1], json.loads(sys.argv[2])
    out_file = sys.argv[3] if len(sys.argv) > 3 else None
    name = cfg.get('name', 'run')
    say = lambda **kv: print(json.dumps({'name': name, **kv}), flush=True)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if dev == 'cuda':  # exact float32 for the check and the tower's features; `tf32` may speed up training after
        set_tf32(False)
    seed = cfg.get('seed', 1)
    torch.manual_seed(seed)
    model_dir = cfg.get('model', 'models/yollava-world')
    config = json.load(open(os.path.join(model_dir, 'config.json')))
    model = Llava(config)
    model.load(read_safetensors(os.path.join(model_dir, 'model.safetensors')))
    model.to(dev)
    started = time.time()

    # Held-out items: one prompt, three pictures each.
    ho = json.load(open(os.path.join(data_dir, 'heldout.json')))
    n_items, width = ho['items'], ho['width']
    ho_meta = np.fromfile(os.path.join(data_dir, 'heldout.meta'), dtype=np.int16).reshape(n_items, 4)
    ho_ids = np.fromfile(os.path.join(data_dir, 'heldout.ids'), dtype=np.uint16).reshape(n_items, width)
    ho_pix = np.fromfile(os.path.join(data_dir, 'heldout.u8'), dtype=np.uint8).reshape(n_items * 3, 64, 64, 3)
    T_ho = int(ho_meta[:, 0].max())
    ho_ids_t = torch.from_numpy(np.repeat(ho_ids[:, :T_ho].astype(np.int64), 3, 0)).to(dev)  # item i → rows 3i..3i+2
    ho_len = torch.from_numpy(np.repeat(ho_meta[:, 0].astype(np.int64), 3)).to(dev)
    ho_pos = torch.from_numpy(np.repeat(ho_meta[:, 1].astype(np.int64), 3)).to(dev)
    distance = ho_meta[:, 2]
    model.tower.eval()
    for p in model.tower.parameters():
        p.requires_grad_(False)

    @torch.no_grad()
    def features_of(u8):
        return torch.cat([model.tower(torch.from_numpy(np.array(u8[s:s + 2048])).to(dev)) for s in range(0, len(u8), 2048)])

    ho_feat = features_of(ho_pix)

    @torch.no_grad()
    def margins():
        model.eval()
        out = []
        for s in range(0, ho_ids_t.shape[0], 300):
            h = model.hidden(ho_ids_t[s:s + 300], ho_pos[s:s + 300], ho_feat[s:s + 300])
            rows = torch.arange(h.shape[0], device=dev)
            z = model.logits_at(h, rows, ho_len[s:s + 300] - 1)
            out.append((z[:, ho['tokenYes']] - z[:, ho['tokenNo']]).float().cpu())
        model.train()
        return torch.cat(out).numpy().reshape(n_items, 3)

    def metrics(m):
        pos, look, other = m[:, 0], m[:, 1], m[:, 2]
        positive, negative = float((pos > 0).mean()), float((look <= 0).mean())
        return {'positive': round(positive, 4), 'negative': round(negative, 4), 'weighted': round((positive + negative) / 2, 4),
                'negativeOneAttribute': round(float((look[distance == 1] <= 0).mean()), 4),
                'negativeTwoAttributes': round(float((look[distance == 2] <= 0).mean()), 4),
                'negativeOtherKind': round(float((other <= 0).mean()), 4),
                'aucLookAlike': round(auc(pos, look), 4), 'aucOtherKind': round(auc(pos, other), 4)}

    # The two-option measurements (mcq with a picture, text QA without), when the dump has them.
    options_sets = {}
    for kind in ('mcq', 'text'):
        prefix = os.path.join(data_dir, f'heldout-{kind}')
        if kind not in ho or not os.path.exists(prefix + '.ids'):
            continue
        meta = np.fromfile(prefix + '.meta', dtype=np.int16).reshape(n_items, 4)
        T = int(meta[:, 0].max())
        ids = torch.from_numpy(np.fromfile(prefix + '.ids', dtype=np.uint16).reshape(n_items, width)[:, :T].astype(np.int64)).to(dev)
        feats = features_of(np.fromfile(prefix + '.u8', dtype=np.uint8).reshape(n_items, 64, 64, 3)) if kind == 'mcq' else torch.zeros(n_items, 16, ho_feat.shape[2], device=dev)
        options_sets[kind] = {'ids': ids, 'len': torch.from_numpy(meta[:, 0].astype(np.int64)).to(dev), 'pos': torch.from_numpy(meta[:, 1].astype(np.int64)).to(dev),
                              'feats': feats, 'correctIsA': meta[:, 2] == 1, 'engine': ho[kind]['engine']}

    @torch.no_grad()
    def option_margins(o):  # logit(A) − logit(B) of the first answer token
        model.eval()
        out = []
        for s in range(0, o['ids'].shape[0], 300):
            h = model.hidden(o['ids'][s:s + 300], o['pos'][s:s + 300], o['feats'][s:s + 300])
            z = model.logits_at(h, torch.arange(h.shape[0], device=dev), o['len'][s:s + 300] - 1)
            out.append((z[:, ho['tokenA']] - z[:, ho['tokenB']]).float().cpu())
        model.train()
        return torch.cat(out).numpy()

    def option_metrics():
        return {kind: round(float(((option_margins(o) > 0) == o['correctIsA']).mean()), 4) for kind, o in options_sets.items()}

    # Forward check against our engine (same weights, same prompt, same pictures).
    m0 = margins()
    check = [{'item': e['item'], 'engine': [round(v, 5) for v in e['margins']], 'torch': [round(float(v), 5) for v in m0[e['item']]]} for e in ho['engine']]
    for kind, o in options_sets.items():
        m = option_margins(o)
        check += [{'item': f"{kind} {e['item']}", 'engine': [round(e['margin'], 5)], 'torch': [round(float(m[e['item']]), 5)]} for e in o['engine']]
    worst = max([abs(a - b) for c in check for a, b in zip(c['engine'], c['torch'])], default=float('nan'))
    say(check=check, maxAbsDiff=worst, device=dev, torch=torch.__version__)
    tol = cfg.get('checkTolerance', 1e-3)
    if not worst <= 10 * tol:  # NaN (no engine margins) fails too
        say(error=f'forward differs from the engine by {worst} (tolerance {tol}); not training')
        sys.exit(3)
    if worst > tol:
        say(warning=f'forward differs from the engine by {worst} > {tol}')

    # Training rows: one set per phase (DATA_DIR itself without phases).
    def load_rows(d):
        shards = sorted(p[:-5] for p in glob.glob(os.path.join(data_dir, d, 'train-*.json')))
        heads = [json.load(open(p + '.json')) for p in shards]
        W = heads[0]['width']
        meta = np.concatenate([np.fromfile(p + '.meta', dtype=np.int16).reshape(-1, 4) for p in shards])
        T = int(meta[:, 0].max())
        ids = np.concatenate([np.fromfile(p + '.ids', dtype=np.uint16).reshape(-1, W)[:, :T] for p in shards])
        wts = np.concatenate([np.fromfile(p + '.weights', dtype=np.float32).reshape(-1, W)[:, :T] for p in shards])
        # The frozen tower's features of every training picture, once (fp32, 8 KB a row).
        feats = torch.cat([features_of(np.memmap(p + '.u8', dtype=np.uint8, mode='r').reshape(-1, 64, 64, 3)) for p in shards])
        say(data=d, rows=len(ids), width=T, skipped=sum(h['skipped'] for h in heads), mix={k: v for k, v in heads[0]['mix'].items() if v},
            negatives=heads[0]['negatives'], trainSeed=heads[0]['seed'], loadSeconds=round(time.time() - started, 1))
        decision = torch.from_numpy((wts > 0).argmax(1).astype(np.int64)).to(dev)  # the first answer token of each row
        prompt_loss = cfg.get('promptLoss', 0.0)
        if prompt_loss > 0:
            # Language-model loss on the prompt's own tokens too (not the shared system prefix, not
            # the picture's positions): they weigh prompt_loss per sample in all, the answers 1.
            prefix = 0
            while prefix < T and (ids[:, prefix] == ids[0, prefix]).all():
                prefix += 1
            t = np.arange(T)[None, :]
            prompt = (t >= max(1, prefix)) & (t < meta[:, :1]) & (wts == 0) & (ids != heads[0]['imageTokenId'])
            wts = wts + prompt * (prompt_loss / np.maximum(1, prompt.sum(1, keepdims=True)))
            say(data=d, promptLoss=prompt_loss, sharedPrefix=prefix, promptTokensPerRow=round(float(prompt.sum(1).mean()), 1))
        return {'ids': torch.from_numpy(ids.astype(np.int64)).to(dev), 'wts': torch.from_numpy(wts.astype(np.float32)).to(dev),
                'pos': torch.from_numpy(meta[:, 1].astype(np.int64)).to(dev), 'feats': feats, 'rows': len(ids), 'decision': decision}

    phases = cfg.get('phases', [{'dir': '.', 'until': None}])
    sets = {p['dir']: load_rows(p['dir']) for p in phases}
    if dev == 'cuda' and cfg.get('tf32', False):
        set_tf32(True)

    if 'decoder' in cfg:  # another decoder shape ({"layers": n, "hidden": C, "intermediate": I}): trained from random
        tc = dict(config['text_config'])
        d = cfg['decoder']
        tc['num_hidden_layers'] = d.get('layers', tc['num_hidden_layers'])
        if 'hidden' in d:
            tc['hidden_size'], tc['head_dim'] = d['hidden'], d['hidden'] // tc['num_attention_heads']
        tc['intermediate_size'] = d.get('intermediate', tc['intermediate_size'] if 'hidden' not in d else round(d['hidden'] * 2.75))
        tower = model.tower
        model = Llava({**config, 'text_config': tc})
        model.tower = tower
        model.to(dev)
        cfg['reinit'] = True
    if cfg.get('reinit', False):
        model.reinit(torch.Generator().manual_seed(seed))
    trainable = {'projector,decoder': lambda n: not n.startswith('tower.'),
                 'projector': lambda n: n.startswith('linear_'),
                 'decoder': lambda n: not n.startswith(('tower.', 'linear_')),
                 'decoder-no-embed': lambda n: not n.startswith(('tower.', 'linear_', 'embed_tokens'))}[cfg.get('train', 'projector,decoder')]
    params = [(n, p) for n, p in model.named_parameters() if trainable(n)]
    for n, p in model.named_parameters():
        p.requires_grad_(trainable(n))
    no_decay = lambda n: n.endswith('bias') or 'norm' in n  # norms and biases (trainingState.ts)
    wd = cfg.get('wd', 0.01)
    opt = torch.optim.AdamW([{'params': [p for n, p in params if not no_decay(n)], 'weight_decay': wd},
                             {'params': [p for n, p in params if no_decay(n)], 'weight_decay': 0.0}],
                            lr=cfg.get('lr', 5e-4), betas=(0.9, 0.98), eps=1e-8)
    batch, peak, warmup = cfg.get('batch', 64), cfg.get('lr', 5e-4), cfg.get('warmup', 50)
    total_samples = cfg.get('samples', 320000)
    steps = math.ceil(total_samples / batch)
    eval_at = sorted(set(math.ceil(s / batch) for s in cfg.get('evalAt', [0, 10000, 20000, 40000, 80000, 160000, 320000]) if s <= total_samples) | {steps})
    max_seconds = cfg.get('maxSeconds', float(os.environ.get('MAX_SECONDS', '1e9')))
    history = []

    def record(step, loss, decision_acc):
        m = {**metrics(margins()), **option_metrics()}
        point = {'step': step, 'samples': step * batch, 'seconds': round(time.time() - started, 1),
                 'loss': loss, 'trainDecisionAccuracy': decision_acc, **m}
        history.append(point)
        say(**point)

    if 0 in eval_at:
        record(0, None, None)
    rng = np.random.default_rng(seed)
    order = {d: (rng.permutation(data['rows']), 0) for d, data in sets.items()}  # per set: an epoch's order, position
    loss_sum, right, count = (torch.zeros((), device=dev) for _ in range(3))  # summed on the device: no sync a step
    train_started = time.time()
    for step in range(steps):
        d = next(p['dir'] for p in phases if p['until'] is None or step * batch < p['until'])
        data, (perm, at) = sets[d], order[d]
        if at + batch > data['rows']:
            perm, at = rng.permutation(data['rows']), 0
        idx = torch.from_numpy(perm[at:at + batch]).to(dev)
        order[d] = (perm, at + batch)
        x, w = data['ids'][idx], data['wts'][idx]
        h = model.hidden(x, data['pos'][idx], data['feats'][idx])
        r, c = torch.nonzero(w[:, 1:] > 0, as_tuple=True)  # logits only where a label counts
        z = model.logits_at(h, r, c).float()
        target, weight = x[r, c + 1], w[r, c + 1]
        ce = F.cross_entropy(z, target, reduction='none')
        loss = (weight * ce).sum() / weight.sum()
        for g in opt.param_groups:
            g['lr'] = learning_rate(step, steps, peak, warmup)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], cfg.get('clip', 1.0))
        opt.step()
        with torch.no_grad():  # the decision (first answer token, largest weight of its turn) of each row
            keep = c + 1 == data['decision'][idx][r]
            loss_sum += loss.detach()
            right += (z[keep].argmax(-1) == target[keep]).sum()
            count += keep.sum()
        out_of_time = time.time() - train_started > max_seconds
        if step + 1 in eval_at or out_of_time:
            n = max(1, (step + 1) - (history[-1]['step'] if history else 0))
            record(step + 1, round(float(loss_sum) / n, 4), round(float(right) / max(1, float(count)), 4))
            loss_sum, right, count = (torch.zeros((), device=dev) for _ in range(3))
        if out_of_time:
            say(stopped='out of time', step=step + 1)
            break
    summary = {'config': cfg, 'parameters': sum(p.numel() for _, p in params), 'check': check, 'checkMaxAbsDiff': worst, 'rows': {d: v['rows'] for d, v in sets.items()}, 'history': history,
               'stepsPerSecond': round(history[-1]['step'] / max(1e-9, time.time() - train_started), 2) if history else None}
    if out_file:
        json.dump(summary, open(out_file, 'w'), indent=1)


if __name__ == '__main__':
    main()
