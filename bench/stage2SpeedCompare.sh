#!/bin/bash
# Stage 2's samples/s at another revision and at the working tree, one after another on this
# machine, with 1 and 2 worker processes: short sittings continuing the shipped model with the
# command that made it (docs/pretraining.md, session 13). Used for the shared prefix (session 14):
#
#   bash bench/stage2SpeedCompare.sh 0c5d1a8 [minutes per sitting, default 2.5]
#
# Needs the native addon built here (it is copied into a temporary worktree of the revision).
set -euo pipefail
rev=${1:?usage: bash bench/stage2SpeedCompare.sh <revision> [minutes]}
minutes=${2:-2.5}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d /tmp/stage2-speed.XXXXXX)
git -C "$root" worktree add -f "$work/before" "$rev" > /dev/null
trap 'git -C "$root" worktree remove --force "$work/before"; rm -rf "$work"' EXIT
ln -s "$root/node_modules" "$work/before/node_modules"
mkdir -p "$work/before/native/build/Release"
cp "$root/native/build/Release/yollava_native.node" "$work/before/native/build/Release/"
mix=recognition=0.45,mcq=0.12,attribute=0.08,description_text=0.17,paper_conversation=0.04,description_image=0.04,caption=0.04,existence=0.02,conversation=0.02,kind_text=0.015,counting=0.0025,position=0.0025
for workers in 1 2; do
  for side in before after; do
    out="$work/$side-$workers"
    cp -r "$root/models/yollava-world" "$out"
    if [ "$side" = before ]; then cd "$work/before"; else cd "$root"; fi
    node --import tsx src/pretrain/main.ts --stage 2 --out "$out" --cache "$out-cache" --stage2-steps 20000 \
      --recognition-focus-from 1 --mix "$mix" --no-yes-no-options --minutes "$minutes" --workers "$workers" > "$out.log" 2>&1
    echo "$side ($([ "$side" = before ] && echo "$rev" || echo 'working tree')), workers $workers: $(grep -o '[0-9.]* samples/s' "$out.log" | tail -1)   load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
