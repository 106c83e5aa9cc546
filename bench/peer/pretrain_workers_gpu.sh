#!/usr/bin/env bash
# Stage 2 of yollava-world's pretraining on the GPU machine's 16 CPU cores (our engine, no GPU):
# the esbuild bundle of src/pretrain runs with --workers N (stage2Workers.ts). That machine has no
# Node: .gpu/ carries a compressed node, OpenBLAS and the bundles (bench/peer/README.md).
#   run: bash bench/peer/pretrain_workers_gpu.sh   (carry: .gpu, native/build/Release/yollava_native.node)
# Env: FROM (model folder to continue, default models/yollava-world), WORKERS (9), MINUTES (7.5),
#      ONE_SECONDS (20: a single-process sitting first, for the speed ratio; 0 skips it),
#      ARGS (the pretrain options of the continuation).
set -euo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p /tmp/yl "$OUT"
xz -dc .gpu/node.xz > /tmp/yl/node && chmod +x /tmp/yl/node
tar -C /tmp/yl -xJf .gpu/libs.tar.xz
export PATH=/tmp/yl:$PATH LD_LIBRARY_PATH=/tmp/yl
echo "node $(node -v), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
FROM=${FROM:-models/yollava-world}
WORKERS=${WORKERS:-9}
MINUTES=${MINUTES:-7.5}
ONE_SECONDS=${ONE_SECONDS:-20}
ARGS=${ARGS:---stage2-lr 1e-3 --stage2-steps 12000 --recognition-focus-from 1 --no-yes-no-options}
rate() { node -e "const l=require('fs').readFileSync(process.argv[1],'utf8').trim().split('\n').map(JSON.parse).filter(r=>r.stage===2&&r.samplesPerSecond);const r=l.at(-1);console.log(r?r.samplesPerSecond.toFixed(1)+' samples/s at step '+r.step:'no step logged')" "$1"; }
if [ "$ONE_SECONDS" != 0 ]; then
  cp -r "$FROM" /tmp/one
  : > /tmp/one/pretrain-log.jsonl
  YOLLAVA_THREADS=$(nproc) node .gpu/bundle/main.mjs --stage 2 --out /tmp/one --cache /tmp/one-cache $ARGS --minutes "$(node -e "console.log($ONE_SECONDS/60)")" --quiet
  echo "one process, $(nproc) threads: $(rate /tmp/one/pretrain-log.jsonl)" | tee "$OUT/speed.txt"
fi
cp -r "$FROM" /tmp/run
: > /tmp/run/pretrain-log.jsonl
node .gpu/bundle/main.mjs --stage 2 --out /tmp/run --cache /tmp/run-cache $ARGS --workers "$WORKERS" --minutes "$MINUTES" > /tmp/run.log 2>&1 || { tail -30 /tmp/run.log; exit 1; }
grep -E "held-out|00/|workers|written" /tmp/run.log | tail -60
echo "$WORKERS workers: $(rate /tmp/run/pretrain-log.jsonl)" | tee -a "$OUT/speed.txt"
cp /tmp/run/model.safetensors /tmp/run/training-summary.json /tmp/run/pretrain-log.jsonl "$OUT/"
