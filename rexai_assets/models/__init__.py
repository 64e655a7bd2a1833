"""The `models` layer: the ensemble members, the served ensemble, MLflow tracking (definitions in `defs`)."""
