"""The closed loop: inbox ingestion and retraining, driven by sensors and a schedule."""

from rexai_assets.loop.jobs import LOOP_JOBS
from rexai_assets.loop.sensors import LOOP_SCHEDULES, LOOP_SENSORS

JOBS = LOOP_JOBS
SENSORS = LOOP_SENSORS
SCHEDULES = LOOP_SCHEDULES
