{
  "targets": [
    {
      "target_name": "yollava_native",
      "sources": ["src/addon.c", "src/ops.c", "src/kernels.c", "src/pool.c", "src/small_m.c", "src/elementwise.c", "src/conv.c"],
      "include_dirs": ["<!@(node find-openblas.mjs --include-dirs)"],
      "libraries": ["<!@(node find-openblas.mjs --libraries)", "-lpthread", "-lm"],
      "cflags_c": ["-std=gnu11"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=gnu11"]
      }
    }
  ]
}
