"""The `evaluation` group: the validation gate, promotion proposals and the second vote."""

from rexai_assets.evaluation.assets import EVALUATION_ASSETS
from rexai_assets.evaluation.jobs import EVALUATION_JOBS

ASSETS = EVALUATION_ASSETS
JOBS = EVALUATION_JOBS
