# syntax=docker/dockerfile:1
# The seqflow Airflow image (self-hosted deployments: ECS, EKS, docker compose).
# MWAA does not take a custom image; see mwaa/ for its requirements and startup
# script. Build from the repository root:
#   docker build -t seqflow-airflow:0.1.0 .
FROM apache/airflow:3.3.2-python3.11

ARG SEQFLOW_VERSION=0.1.0
ARG VCS_REF=unknown

LABEL org.opencontainers.image.title="seqflow-airflow" \
      org.opencontainers.image.description="Apache Airflow 3.3.2 with the seqflow package, DAGs and plugins" \
      org.opencontainers.image.version="${SEQFLOW_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="seqflow"

# The lock pins apache-airflow==3.3.2 itself, so installing it can never move
# the Airflow that the base image ships; --constraint keeps transitive
# resolution inside the lock too.
COPY --chown=airflow:0 requirements.txt /opt/seqflow/requirements.txt
RUN pip install --no-cache-dir \
      --constraint /opt/seqflow/requirements.txt \
      --requirement /opt/seqflow/requirements.txt

# The package itself, without dependencies: the lock above already has them.
COPY --chown=airflow:0 pyproject.toml README.md /opt/seqflow/src/
COPY --chown=airflow:0 include/ /opt/seqflow/src/include/
RUN pip install --no-cache-dir --no-deps /opt/seqflow/src

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

# The image is the aws profile; the local profile runs from the repository venv.
# Variables come from SSM Parameter Store under the prefixes Terraform writes
# (include/seqflow/aws/config_keys.py: secrets_backend_kwargs(), whose lookup
# patterns keep the backend from asking SSM for aws_default per hook). DL3064 fires on the word "SECRETS" in
# the option names: these are the backend's class and prefixes, not secrets.
# hadolint ignore=DL3064
ENV SEQFLOW_PROFILE=aws \
    AIRFLOW__SECRETS__BACKEND=airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend \
    AIRFLOW__SECRETS__BACKEND_KWARGS='{"variables_prefix": "/airflow/variables", "connections_prefix": "/airflow/connections", "variables_lookup_pattern": "^seqflow_", "connections_lookup_pattern": "^seqflow_"}'

# the base image's airflow user (uid 50000, gid 0), numeric so non-root is verifiable
USER 50000:0
