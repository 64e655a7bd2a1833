"""Code location module for Kubernetes (`dagster api grpc -m rexai_assets.ops.k8s_location`).

Resources come from `REXAI_ENV=prod` environment variables; steps run as Kubernetes jobs.
"""

from rexai_assets.ops.k8s import k8s_definitions

defs = k8s_definitions()
