"""Console link of a HealthOmics run, shown on the task in the Airflow UI."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class OmicsRunLink(BaseAwsLink):
    """Link to a run in the AWS HealthOmics console (persisted per task instance in XCom)."""

    name = "AWS HealthOmics Run"
    key = "omics_run"
    format_str = BASE_AWS_CONSOLE_LINK + "/omics/home?region={region_name}#/runs/{run_id}"
