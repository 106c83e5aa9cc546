#!/usr/bin/env python3
"""PyTorch CPU peer for yollava's benchmark: a random Qwen2-0.5B-shaped decoder, float32, plain torch.
Run: /usr/bin/python3 bench/peer/torch_qwen2.py [--threads 1,2] [--repeats N] [--only NAME] [--check]
One JSON object goes to stdout, progress to stderr. See README.md for the exact workload definition."""
import argparse, ctypes, json, os, statistics, sys, time
# ATen's OpenMP threads otherwise spin after each op while OpenBLAS's own pthreads need the same 2 cores: at 2 threads
# that made steps 2-8x slower here. `OMP_WAIT_POLICY= python3 ...` (empty) restores libgomp's default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The same OpenBLAS core type as yollava's engine chooses (src/engine/nativeKernels.ts): OpenBLAS
# 0.3.21 falls back to its generic Prescott kernels on CPU models it does not know, 4.5x slower.
def _openblas_core_type():
    try:
        lines = open("/proc/cpuinfo").read().splitlines()
        flags = set(next(l for l in lines if l.startswith("flags")).split(":", 1)[1].split())
        vendor = next((l.split(":", 1)[1].strip() for l in lines if l.startswith("vendor_id")), "")
    except (OSError, StopIteration):
        return None
    if not {"avx2", "fma"} <= flags:
        return None
    if vendor == "AuthenticAMD":
        return "ZEN"
    if vendor != "GenuineIntel":
        return None
    return "SKYLAKEX" if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags else "HASWELL"
if not os.environ.get("OPENBLAS_CORETYPE") and _openblas_core_type():
    os.environ["OPENBLAS_CORETYPE"] = _openblas_core_type()
try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(json.dumps({"error": f"torch not importable ({e}); use /usr/bin/python3 with python3-torch"}))
    sys.exit(3)

D, L, H, KVH, HD, FF, V = 896, 24, 14, 2, 64, 4864, 151936   # hidden, layers, heads, kv heads, head dim, mlp, vocab
G, KVD, EPS, THETA = H // KVH, KVH * HD, 1e-6, 1e6             # query head h uses kv head h // G
PREFIX, SUFFIX, P_AT, N_P, LAB_AT, NEW_AT, N_DEC = 600, 64, 2, 17, 44, 50, 32
N_LAB = SUFFIX - LAB_AT                                        # 20 labels at suffix positions 44..63
WORKLOADS = ("soft_step_cached", "soft_step_full", "prefill", "decode", "sgemm")
log = lambda *a: print(*a, file=sys.stderr, flush=True)

def set_threads(t):  # Debian's torch calls the pthread OpenBLAS, which ignores torch.set_num_threads: set both
    torch.set_num_threads(t)
    try: ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(t)
    except (OSError, AttributeError): log("warning: could not set OpenBLAS threads")

def build(seed=0):
    g = torch.Generator().manual_seed(seed)
    n = lambda *s: torch.empty(*s).normal_(0.0, 0.02, generator=g)
    # q/k/v fused into one [1152, 896] matrix and gate/up into one [9728, 896]: fewer, larger GEMMs
    layers = [dict(ln1=torch.ones(D), qkv_w=n(D + 2 * KVD, D), qkv_b=n(D + 2 * KVD), o=n(D, D),
                   ln2=torch.ones(D), gu=n(2 * FF, D), down=n(D, FF)) for _ in range(L)]
    m = dict(embed=n(V, D), layers=layers, norm=torch.ones(D), lm_head=n(V, D))
    inv = 1.0 / THETA ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD)
    ang = torch.arange(PREFIX + SUFFIX + N_DEC, dtype=torch.float64)[:, None] * inv
    ang = torch.cat((ang, ang), -1)                             # HF rotate_half layout
    m["cos"], m["sin"] = ang.cos().float(), ang.sin().float()
    return m

def data(seed=1):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, V, (N_LAB,), generator=g)
    labels[NEW_AT - LAB_AT] = V                                 # one label is the new output row
    return dict(prefix=torch.randint(0, V, (PREFIX,), generator=g), suffix=torch.randint(0, V, (SUFFIX,), generator=g),
                labels=labels, P=torch.empty(N_P, D).normal_(0, 0.02, generator=g).requires_grad_(),
                w_new=torch.empty(D).normal_(0, 0.02, generator=g).requires_grad_())

def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w

def lin(x, w, b=None):  # one row goes through gemv: OpenBLAS sgemm with M = 1 is ~4x slower here
    if x.shape[0] != 1: return F.linear(x, w, b)
    y = torch.mv(w, x[0])
    return (y if b is None else y + b)[None]

def rope(x, cos, sin): return x * cos + torch.cat((-x[..., HD // 2:], x[..., :HD // 2]), -1) * sin

def attend(q, k, v, kp, vp):
    """q [T,H,HD] (pre-scaled), k/v [T,KVH,HD] new; kp/vp [KVH,P,HD] cached constants or None -> [T,D]."""
    T = q.shape[0]
    qg = q.view(T, KVH, G, HD).permute(1, 2, 0, 3).reshape(KVH, G * T, HD)   # GQA: one bmm per kv head
    kn, vn = k.transpose(0, 1), v.transpose(0, 1)
    s = torch.bmm(qg, kn.transpose(1, 2))
    if T > 1: s = (s.view(KVH, G, T, T) + torch.full((T, T), float("-inf")).triu(1)).view(KVH, G * T, T)
    if kp is None: o = torch.bmm(s.softmax(-1), vn)
    else:  # cached keys are separate operands so autograd never computes their (unused) gradients
        p = torch.cat((torch.bmm(qg, kp.transpose(1, 2)), s), -1).softmax(-1)
        o = torch.bmm(p[..., :kp.shape[1]], vp) + torch.bmm(p[..., kp.shape[1]:], vn)
    return o.view(KVH, G, T, HD).permute(2, 0, 1, 3).reshape(T, D)

def forward(m, x, pos0, cache=None, keep=False):
    """x [T,D] input embeddings at positions pos0.. -> final hidden (before norm), new per-layer (K, V) if keep."""
    T = x.shape[0]
    cos, sin, out = m["cos"][pos0:pos0 + T, None], m["sin"][pos0:pos0 + T, None], []
    for i, W in enumerate(m["layers"]):
        q, k, v = lin(rms(x, W["ln1"]), W["qkv_w"], W["qkv_b"]).split((D, KVD, KVD), -1)
        q = rope(q.view(T, H, HD), cos, sin) * HD ** -0.5
        k, v = rope(k.view(T, KVH, HD), cos, sin), v.view(T, KVH, HD)
        kp, vp = cache[i] if cache else (None, None)
        x = x + lin(attend(q, k, v, kp, vp), W["o"])
        if keep:
            kn, vn = k.transpose(0, 1), v.transpose(0, 1)   # post-RoPE, [KVH, T, HD]
            out.append((kn.contiguous(), vn.contiguous()) if kp is None else (torch.cat((kp, kn), 1), torch.cat((vp, vn), 1)))
        g, u = lin(rms(x, W["ln2"]), W["gu"]).split(FF, -1)
        x = x + lin(F.silu(g) * u, W["down"])
    return x, out

def soft_grads(m, d, cache):
    """Loss of the soft-prompt step and its gradients w.r.t. P and w_new; cache=None recomputes all 664 tokens."""
    e = m["embed"][d["suffix"]]
    x = torch.cat((e[:P_AT], d["P"], e[P_AT + N_P:]))
    if cache is not None: h, _ = forward(m, x, PREFIX, cache)
    else: h = forward(m, torch.cat((m["embed"][d["prefix"]], x)), 0)[0][PREFIX:]
    h = rms(h[LAB_AT - 1:SUFFIX - 1], m["norm"])            # logits at suffix 43..62 predict labels at 44..63
    logits = torch.cat((F.linear(h, m["lm_head"]), (h @ d["w_new"])[:, None]), 1)
    return torch.autograd.grad(F.cross_entropy(logits, d["labels"]), (d["P"], d["w_new"]))

@torch.no_grad()
def prefill(m, ids):
    h, cache = forward(m, m["embed"][ids], 0, keep=True)
    return torch.mv(m["lm_head"], rms(h[-1], m["norm"])).argmax().item(), cache

@torch.no_grad()
def decode(m, tok, cache, pos):
    for _ in range(N_DEC):
        h, cache = forward(m, m["embed"][tok][None], pos, cache, keep=True)
        tok, pos = torch.mv(m["lm_head"], rms(h[0], m["norm"])).argmax().item(), pos + 1
    return tok

def flops():
    # Matmul FLOPs (2 per multiply-add). Per token per layer: Fl = 2·D·(D+2·KVD) + 2·D·D + 2·D·2·FF + 2·FF·D (qkv, o, gate|up, down).
    # Attention of T queries over S keys per layer: A(T,S) = 4·H·HD·T·S (QKᵀ and PV, full rectangle as computed).
    # lm_head on 20 rows: LM = 2·20·D·(V+1). Backward computes input gradients only (weights frozen): one GEMM per linear,
    # dS = dO·Vᵀ and dQ = dS·K over all keys, dK and dV only for keys that need them (the 64 new ones when cached).
    # cached (T=64, S=664): fwd L·(T·Fl + A(T,S)) + LM, bwd L·(T·Fl + A(T,S) + A(T,T)) + LM
    # full (T=S=664):       fwd L·(T·Fl + A(T,T)) + LM, bwd L·(T·Fl + 2·A(T,T)) + LM
    Fl = 2 * D * (D + 2 * KVD) + 2 * D * D + 4 * D * FF + 2 * FF * D
    A = lambda T, S: 4 * H * HD * T * S
    LM, S = 2 * N_LAB * D * (V + 1), PREFIX + SUFFIX
    return dict(soft_step_cached=L * (2 * SUFFIX * Fl + 2 * A(SUFFIX, S) + A(SUFFIX, SUFFIX)) + 2 * LM,
                soft_step_full=L * (2 * S * Fl + 3 * A(S, S)) + 2 * LM)

def median_time(fn, repeats):
    fn(); ts = []                                              # one warm-up run
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2"); ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=WORKLOADS); ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    threads, todo = [int(t) for t in a.threads.split(",")], [a.only] if a.only else WORKLOADS
    res = dict(torch_version=torch.__version__, repeats=a.repeats, omp_wait_policy=os.environ["OMP_WAIT_POLICY"], openblas_coretype=os.environ.get("OPENBLAS_CORETYPE"),
               loadavg_start=os.getloadavg())
    need_model = a.check or any(w != "sgemm" for w in todo)
    if need_model:
        set_threads(max(threads)); t0 = time.perf_counter(); m, d = build(), data()
        log(f"built model + data in {time.perf_counter() - t0:.1f} s")
    if a.check:
        set_threads(threads[0])
        _, cache = prefill(m, d["prefix"])
        gc, gf = soft_grads(m, d, cache), soft_grads(m, d, None)
        rel = {n: ((x - y).abs().max() / y.abs().max()).item() for n, x, y in zip(("P", "w_new"), gc, gf)}
        log(f"check: max |cached - full| / max |full|: {rel}")
        res["check_max_rel_diff"] = rel
        print(json.dumps(res)); assert max(rel.values()) < 1e-4, "cached and full gradients differ"
        return
    res["threads"] = {}
    for t in threads:
        set_threads(t); r = res["threads"][str(t)] = {}
        if need_model: tok, cache = prefill(m, d["prefix"])
        for w in todo:
            if w == "soft_step_cached": r["soft_step_cached_s"] = median_time(lambda: soft_grads(m, d, cache), a.repeats)
            elif w == "soft_step_full": r["soft_step_full_s"] = median_time(lambda: soft_grads(m, d, None), a.repeats)
            elif w == "prefill": r["prefill_s"] = median_time(lambda: prefill(m, d["prefix"]), a.repeats)
            elif w == "decode": r["decode_tokens_per_s"] = N_DEC / median_time(lambda: decode(m, tok, cache, PREFIX), a.repeats)
            else:
                A, B = torch.randn(64, D), torch.randn(D, FF)
                r["sgemm_gflops"] = 20 * 2 * 64 * D * FF / median_time(lambda: [torch.mm(A, B) for _ in range(20)], a.repeats) / 1e9
            log(f"threads={t} {w}: {list(r.values())[-1]:.4g}")
    res["flops"], res["loadavg_end"] = flops(), os.getloadavg()
    print(json.dumps(res))

if __name__ == "__main__":
    main()
