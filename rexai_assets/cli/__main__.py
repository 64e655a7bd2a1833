"""`python -m rexai_assets.cli`: the same as the `rexai` console script."""

from rexai_assets.cli import run

run()
