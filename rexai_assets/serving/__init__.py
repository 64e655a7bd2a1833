"""The `serving` layer: sealed bundles, recommendations per preset and benchmarks (definitions in `defs`)."""
