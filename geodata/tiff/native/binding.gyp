{
  "targets": [
    {
      "target_name": "orewatch_native",
      "sources": [
        "orewatch_native.c",
        "libdeflate/lib/adler32.c",
        "libdeflate/lib/deflate_decompress.c",
        "libdeflate/lib/utils.c",
        "libdeflate/lib/zlib_decompress.c",
        "libdeflate/lib/x86/cpu_features.c",
        "libdeflate/lib/arm/cpu_features.c"
      ],
      "include_dirs": ["libdeflate"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=gnu99", "-fvisibility=hidden", "-Wno-sign-compare"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-std=gnu99"] }
    }
  ]
}
