"""Registers seqflow's operator extra links (the HealthOmics run in the AWS console) with the UI."""

from airflow.plugins_manager import AirflowPlugin

from seqflow.aws.omics.links import OmicsRunLink


class SeqflowLinksPlugin(AirflowPlugin):
    name = "seqflow_links"
    operator_extra_links = [OmicsRunLink()]
