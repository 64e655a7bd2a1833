"""The `raw` layer: shipped reference tables, typed and validated (definitions in `defs`)."""
