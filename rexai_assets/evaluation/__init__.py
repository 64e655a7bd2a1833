"""The `evaluation` group: the validation gate, promotion proposals and the second vote."""

from rexai_assets.evaluation.assets import EVALUATION_ASSETS, EVALUATION_CHECKS
from rexai_assets.evaluation.jobs import EVALUATION_JOBS

ASSETS = EVALUATION_ASSETS
CHECKS = EVALUATION_CHECKS
JOBS = EVALUATION_JOBS
