"""The `habitats` layer's definitions: the per-habitat adapters (group `models`), their job and sensor, and the
second vote's `review_promotion` job (shared and adapter proposals)."""

import dagster as dg

from rexai_assets.habitats.assets import habitat_adapter_job, habitat_adapters
from rexai_assets.habitats.jobs import review_promotion
from rexai_assets.habitats.sensors import habitat_adapter_sensor

defs = dg.Definitions(assets=[habitat_adapters], jobs=[habitat_adapter_job, review_promotion],
                      sensors=[habitat_adapter_sensor])
