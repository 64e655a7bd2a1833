#!/usr/bin/env bash
# The shared MLflow tracking server + model registry for a deployment beyond one machine.
#   backend store : PostgreSQL (experiments, runs, metrics, registered models, aliases)
#   artifacts     : object storage, proxied by this server (clients need no bucket credentials)
# Clients (Dagster run / step pods, `rexai` on a laptop) set MLFLOW_TRACKING_URI=http://<host>:5000.
#
# Needs: pip install "mlflow==3.17.2" psycopg2-binary boto3 ; the database must exist
# (CREATE DATABASE mlflow OWNER mlflow;). MLflow creates its tables on first start.
set -euo pipefail

: "${MLFLOW_PG_HOST:?set MLFLOW_PG_HOST}"
: "${MLFLOW_PG_USER:?set MLFLOW_PG_USER}"
: "${MLFLOW_PG_PASSWORD:?set MLFLOW_PG_PASSWORD}"
: "${MLFLOW_ARTIFACT_BUCKET:?set MLFLOW_ARTIFACT_BUCKET (s3 bucket name)}"
MLFLOW_PG_PORT="${MLFLOW_PG_PORT:-5432}"
MLFLOW_PG_DB="${MLFLOW_PG_DB:-mlflow}"
MLFLOW_HOST="${MLFLOW_HOST:-0.0.0.0}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
# Host headers the server accepts (MLflow 3 rejects others): the in-cluster service name and the ingress.
MLFLOW_ALLOWED_HOSTS="${MLFLOW_ALLOWED_HOSTS:-mlflow.rexai.svc:${MLFLOW_PORT},localhost:${MLFLOW_PORT}}"
# For S3-compatible stores (MinIO, Ceph): export MLFLOW_S3_ENDPOINT_URL=https://minio.example.org
# Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the pod's IAM role.

exec mlflow server \
  --backend-store-uri "postgresql+psycopg2://${MLFLOW_PG_USER}:${MLFLOW_PG_PASSWORD}@${MLFLOW_PG_HOST}:${MLFLOW_PG_PORT}/${MLFLOW_PG_DB}" \
  --serve-artifacts \
  --artifacts-destination "s3://${MLFLOW_ARTIFACT_BUCKET}/mlflow-artifacts" \
  --host "${MLFLOW_HOST}" \
  --port "${MLFLOW_PORT}" \
  --allowed-hosts "${MLFLOW_ALLOWED_HOSTS}" \
  --workers "${MLFLOW_WORKERS:-2}"
