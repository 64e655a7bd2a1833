"""The `evaluation` layer: the validation gate, promotion proposals and the second vote (definitions in `defs`)."""
