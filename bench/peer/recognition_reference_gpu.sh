#!/usr/bin/env bash
# Recognition sample curve on the GPU machine (see recognition_reference.py). The machine has no
# Node: carry a compressed node binary and the bundled row writer in .gpu/ (git-ignored):
#   mkdir -p .gpu && xz -6 -c "$(command -v node)" > .gpu/node.xz
#   npx esbuild bench/dumpRecognition.ts --bundle --platform=node --format=esm --outfile=.gpu/dumpRecognition.mjs
# then, on the device (run tool, carry [".gpu"]):
#   bash bench/peer/recognition_reference_gpu.sh [CONFIGS.jsonl]   (default bench/peer/recognition_variants.jsonl)
# Writes one data set per distinct (mix, negatives) of the configs with $SHARDS node processes
# (rows: the most samples a config draws from it, at most SHARDS × PER_SHARD), the 200 held-out
# items with our engine's margins on the first $CHECK, then trains every config in its own
# process, all at once. $OUT gets recognition-reference.json (every run) and .log.
set -euo pipefail
source "$(dirname "$0")/gpu_common.sh"
configs=${1:-bench/peer/recognition_variants.jsonl}
root=${DATA:-/tmp/recognition-data}
out=${RESULTS:-/tmp/recognition-out}
rm -rf "$root" "$out"
mkdir -p "$root" "$out"
unpack_node
shards=${SHARDS:-16}
per=${PER_SHARD:-20625}
started=$(date +%s)
YOLLAVA_KERNELS=js /tmp/node .gpu/dumpRecognition.mjs --set heldout --seed "${EVAL_SEED:-2001}" --items 200 --check "${CHECK:-6}" --out "$root/heldout" < /dev/null &
python3 bench/peer/recognition_reference.py plan "$configs" "$root" $((shards * per)) > "$root/plan.tsv"
while IFS=$'\t' read -r dir mix negatives rows; do
  mkdir -p "$root/$dir"
  each=$(( (rows + shards - 1) / shards ))
  pids=()
  for i in $(seq 0 $((shards - 1))); do
    /tmp/node .gpu/dumpRecognition.mjs --set train --seed "${TRAIN_SEED:-11}" --start $((i * each)) --count "$each" \
      --mix "$mix" --negatives "$negatives" --width "${WIDTH:-160}" --out "$root/$dir/train-$(printf %02d "$i")" < /dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  echo "$dir ($mix; $negatives): $rows rows written at $(( $(date +%s) - started )) s"
done < "$root/plan.tsv"
wait
for f in "$root"/d*/train-*.json; do [ -s "$f" ] || { echo "missing rows: $f"; exit 1; }; done
[ -s "$root/heldout.json" ] || { echo 'held-out items missing'; exit 1; }
echo "data written in $(( $(date +%s) - started )) s: $(du -sh "$root" | cut -f1)"
while IFS= read -r cfg; do
  name=$(python3 -c "import json, sys; print(json.loads(sys.argv[1])['name'])" "$cfg")
  OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1 MAX_SECONDS=${MAX_SECONDS:-1e9} python3 bench/peer/recognition_reference.py "$root" "$cfg" "$out/$name.json" > "$out/$name.log" 2>&1 < /dev/null &
done < "$root/configs.jsonl"
wait
echo "all runs done at $(( $(date +%s) - started )) s"
cat "$out"/*.log | tee "${OUT:-/tmp}/recognition-reference.log"
merge_results "$out" "${OUT:-/tmp}/recognition-reference.json"
