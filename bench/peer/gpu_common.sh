# Shared by the *_gpu.sh scripts (sourced). The GPU machine has no Node: the carried, compressed
# binary (.gpu/node.xz, made with `xz -6 -c "$(command -v node)" > .gpu/node.xz`) goes to /tmp/node.
unpack_node() {
  python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('.gpu/node.xz'), open('/tmp/node', 'wb'))"
  chmod +x /tmp/node
}

# merge_results DIR FILE: every DIR/*.json (one per run) into one JSON list (only 8 files come back).
merge_results() {
  python3 -c "import glob, json, sys; json.dump([json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + '/*.json'))], open(sys.argv[2], 'w'), indent=1)" "$1" "$2"
}
