"""Per-habitat adapters: their training and gate on the shared champion, their asset, sensor and benchmark."""
