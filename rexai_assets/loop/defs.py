"""The loop's definitions: the ingestion and retrain jobs, the sensors that launch them, the age schedule."""

import dagster as dg

from rexai_assets.loop.jobs import (champion_bundle_job, experiments_job, feedback_job, ingest_and_retrain_job,
                                    reevaluate_job, retrain_job)
from rexai_assets.loop.sensors import (automation_sensor, champion_age_schedule, champion_bundle_sensor, inbox_sensor,
                                       requested_tests_sensor, retrain_failure_sensor, retrain_trigger_sensor)

defs = dg.Definitions(
    jobs=[experiments_job, feedback_job, retrain_job, ingest_and_retrain_job, reevaluate_job, champion_bundle_job],
    sensors=[inbox_sensor, retrain_trigger_sensor, retrain_failure_sensor, requested_tests_sensor,
             champion_bundle_sensor, automation_sensor],
    schedules=[champion_age_schedule])
