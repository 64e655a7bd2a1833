"""The closed loop: inbox ingestion and retraining, driven by sensors and a schedule (definitions in `defs`)."""
