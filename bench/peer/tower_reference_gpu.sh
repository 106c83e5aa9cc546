#!/usr/bin/env bash
# Stage-1 tower reference on the GPU machine (see tower_reference.py). The machine has no Node:
# carry a compressed node binary and the bundled picture writer in .gpu/ (git-ignored):
#   mkdir -p .gpu && xz -6 -c "$(command -v node)" > .gpu/node.xz
#   npx esbuild bench/dumpTowerData.ts --bundle --platform=node --format=esm --outfile=.gpu/dump.mjs
# then, on the device: bash bench/peer/tower_reference_gpu.sh VARIANTS.json  (one JSON config per line)
set -euo pipefail
source "$(dirname "$0")/gpu_common.sh"
variants=${1:?a file of variant configs, one JSON object per line}
data=/tmp/towerdata
out=/tmp/tower-out
mkdir -p "$data" "$out"
unpack_node
shards=${SHARDS:-16}
per=${PER_SHARD:-48000}
started=$(date +%s)
for i in $(seq 0 $((shards - 1))); do
  /tmp/node .gpu/dump.mjs --set train --seed 1 --start $((i * per)) --count "$per" --out "$data/train-$(printf %02d "$i")" &
done
/tmp/node .gpu/dump.mjs --set heldout --seed 1 --count "${HELDOUT:-5000}" --out "$data/heldout" &
wait
echo "pictures written in $(( $(date +%s) - started )) s: $(du -sh "$data" | cut -f1)"
n=0
while IFS= read -r cfg; do
  [ -z "$cfg" ] && continue
  name=$(python3 -c "import json, sys; print(json.loads(sys.argv[1])['name'])" "$cfg")
  OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 python3 bench/peer/tower_reference.py "$data" "$cfg" "$out/$name.json" > "$out/$name.log" 2>&1 &
  n=$((n + 1))
done < "$variants"
wait
cat "$out"/*.log | tee "${OUT:-/tmp}/tower-reference.log"
merge_results "$out" "${OUT:-/tmp}/tower-reference.json"
