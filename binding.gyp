{
  "targets": [
    {
      "target_name": "era_cpu",
      "sources": [
        "<!@(node scripts/list-sources.cjs cpu)"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      # The experimental Node-API version makes finalizers run during GC: see ERA_DEFINES in CMakeLists.txt.
      "defines": ["NAPI_VERSION=2147483647", "ERA_NAPI_API_LEVEL=8", "NDEBUG", "ERA_COMPILER=\"gcc-node-gyp\""],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-math-errno", "-pthread"],
      "ldflags": ["-pthread"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"]
    }
  ]
}
