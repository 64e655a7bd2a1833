"""The `planning` layer: the next experiments for the lab, chosen to teach the model most or verify what it recommends."""
