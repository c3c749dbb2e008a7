"""seqflow's Airflow plugin: the operator extra links (the HealthOmics run in the AWS console);
on Airflow 3.1+, the "MultiQC report" tab of each DAG run with the API route that serves it
(seqflow.ui); and the API server middleware that words the trigger form's refusals of params
(seqflow.trigger_form)."""

from airflow.plugins_manager import AirflowPlugin

from seqflow.aws.omics.links import OmicsRunLink
from seqflow.trigger_form import ParamRefusals
from seqflow.ui import MULTIQC_VIEW, URL_PREFIX, create_app


class SeqflowLinksPlugin(AirflowPlugin):
    name = "seqflow_links"
    operator_extra_links = [OmicsRunLink()]
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "seqflow reports"}]
    # the UI shows this tab on every DAG run page; the route explains that only analysis runs have a report
    external_views = [MULTIQC_VIEW]
    fastapi_root_middlewares = [{"middleware": ParamRefusals, "args": [], "kwargs": {}, "name": "seqflow param refusals"}]
