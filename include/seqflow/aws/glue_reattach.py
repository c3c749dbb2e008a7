"""A retried converter task reattaches to its Glue run instead of starting a second one, on
Amazon providers that cannot (9.12.0, MWAA 3.0.6's pin).

Newer providers' ``GlueJobOperator(durable=True)`` recover the run of an earlier try of the task
(seqflow.compat.glue_job_operator picks one). 9.12.0 has neither ``durable`` nor its predecessor
``resume_glue_job_on_retry``: a retry of ``convert_to_parquet`` (its triggerer restarted, its
worker lost) starts a second run of the converter over the same manifest while the first still
runs. The result stays right (the converter overwrites the analysis by filter in one commit),
but the work is done twice and the second run takes one of the job's MaxConcurrentRuns, so a
flow cell's other analyses may be refused.

:class:`ReattachingGlueJobOperator` is the provider's operator with one change: from the second
try on, before it starts a run, it looks for a run of the job that is still active (STARTING,
RUNNING or WAITING) with the same arguments (:func:`active_run`; the arguments name the
analysis's manifest, which no other analysis shares) and, when there is one, defers on that run
as the provider's operator does on the run it started.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

#: Glue job run states of a run that has not ended (the Glue API's JobRunState)
ACTIVE_STATES = ("STARTING", "RUNNING", "WAITING")


def active_run(glue, job_name: str, script_args: Mapping[str, str]) -> str | None:
    """The id of the newest active run of ``job_name`` whose arguments include every one of
    ``script_args`` with the same value, or None. ``glue`` is a boto3 Glue client."""
    wanted = {str(k): str(v) for k, v in script_args.items()}
    found = []
    for page in glue.get_paginator("get_job_runs").paginate(JobName=job_name):
        for run in page.get("JobRuns", []):
            arguments = run.get("Arguments") or {}
            if run.get("JobRunState") in ACTIVE_STATES and all(arguments.get(k) == v for k, v in wanted.items()):
                found.append(run)
    if not found:
        return None
    return max(found, key=lambda run: run.get("StartedOn") or 0)["Id"]


class ReattachingGlueJobOperator(GlueJobOperator):
    """``GlueJobOperator`` whose retries reattach to the earlier try's active run (module doc)."""

    def execute(self, context: Any):
        ti = context["ti"]
        if self.deferrable and (getattr(ti, "try_number", 1) or 1) > 1:
            run_id = active_run(self.hook.conn, self.job_name, self.script_args)
            if run_id:
                self.log.info("Glue job %s: run %s of an earlier try is still active with this task's "
                              "arguments: waiting for it instead of starting another", self.job_name, run_id)
                self._job_run_id = run_id
                self.defer(trigger=self.completion_trigger(run_id), method_name="execute_complete")
        return super().execute(context)

    def completion_trigger(self, run_id: str):
        """The trigger the provider's operator defers on for a run (the arguments 9.12.0 takes)."""
        from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger

        return GlueJobCompleteTrigger(job_name=self.job_name, run_id=run_id, verbose=self.verbose,
                                      aws_conn_id=self.aws_conn_id, waiter_delay=self.waiter_delay,
                                      waiter_max_attempts=self.waiter_max_attempts, region_name=self.region_name)
