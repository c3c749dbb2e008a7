"""Step costs on AWS: each Batch job's attempts and each HealthOmics run's tasks, priced by instance type.

The rows are those of the lake's ``step_costs`` table (:data:`seqflow.lake.schema.STEP_COSTS_SCHEMA`),
one per step of each sample, as the local profile's (:mod:`seqflow.analysis.costs`):

* **Batch** (``engine=batch``): the jobs of a step are found by the prefix of their deterministic
  names (``ListJobs`` filtered on ``JOB_NAME`` ``seqflow_<step>_<run>_*``, :func:`seqflow.aws.batch.job_name`:
  one listing per step of the run, whatever its number of samples) and each is the sample's whose
  results prefix is its ``SEQFLOW_OUTPUT_URI`` (the name carries only the run and sample; the prefix the
  whole analysis identity). ``DescribeJobs`` gives every attempt's
  ``startedAt``/``stoppedAt`` (milliseconds) and container instance, and the job's reserved vCPUs and
  memory; the instance type comes from ECS (``DescribeContainerInstances``, attribute
  ``ecs.instance-type``). An attempt costs its hours times the instance's hourly price times the job's
  share of the instance: the larger of its vCPU share and its memory share (the part of the instance no
  other job could use). Fargate jobs are priced per vCPU-hour and GB-hour.
* **HealthOmics** (``engine=omics``): ``GetRun`` and ``ListRunTasks`` give each task's ``cpus``,
  ``memory`` (GiB), ``instanceType`` and ``startTime``/``stopTime``; a task costs its hours times its
  instance type's price. Run storage is not included.

Prices come from a dated input table (:data:`PRICES_FILE`, :func:`load_prices`): On-Demand list prices,
so Spot attempts are over-estimated. Where the Cost and Usage Report has split cost allocation data
enabled, it holds the exact cost of every job by its cost tags (``run_id``, ``sample_id``, ``project``,
``pipeline_version``); these rows are the estimate available when the run finishes. ``cpu_seconds`` on
AWS is reserved vCPUs times wall seconds (what is paid for), not measured CPU time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seqflow.analysis.costs import month_of
from seqflow.aws.settings import AWS_CONN_ID

#: the shipped price table (region, instance type, vCPUs, memory, USD per hour, as of, source)
PRICES_FILE = Path(__file__).parent / "prices" / "instance_prices.csv"
#: ECS's attribute of a container instance that names its EC2 instance type
INSTANCE_TYPE_ATTRIBUTE = "ecs.instance-type"
FARGATE_VCPU, FARGATE_GB = "fargate-vcpu", "fargate-gb"
#: DescribeJobs and DescribeContainerInstances take at most 100 ids a call
DESCRIBE_MAX = 100


@dataclass(frozen=True)
class Price:
    instance_type: str
    vcpus: float
    memory_gib: float
    usd_per_hour: float
    as_of: str
    source: str

    def label(self, region: str) -> str:
        return f"{self.source}, {region} {self.instance_type} ${self.usd_per_hour}/h as of {self.as_of}"


class PriceTable:
    """Hourly prices by region and instance type."""

    def __init__(self, prices: dict[tuple[str, str], Price]):
        self.prices = prices

    def get(self, region: str, instance_type: str | None) -> Price | None:
        return self.prices.get((region, instance_type)) if instance_type else None


def load_prices(text: str | None = None) -> PriceTable:
    """The price table (CSV, ``#`` comment lines; default :data:`PRICES_FILE`); a bad row names its line."""
    text = PRICES_FILE.read_text() if text is None else text
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    wanted = {"region", "instance_type", "vcpus", "memory_gib", "usd_per_hour", "as_of", "source"}
    if not wanted <= set(reader.fieldnames or ()):
        raise ValueError(f"price table: columns {sorted(wanted)} expected, got {reader.fieldnames}")
    prices = {}
    for (number, _), row in zip(lines[1:], reader):
        try:
            price = Price(row["instance_type"], float(row["vcpus"]), float(row["memory_gib"]),
                          float(row["usd_per_hour"]), row["as_of"], row["source"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"price table line {number}: {exc}") from None
        prices[(row["region"], row["instance_type"])] = price
    return PriceTable(prices)


def _iso(value) -> str | None:
    """A botocore timestamp (datetime) or Batch's epoch milliseconds, as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _hours(start, stop) -> float:
    if start is None or stop is None:
        return 0.0
    if isinstance(start, (int, float)):
        return max(0.0, (stop - start) / 3_600_000)
    return max(0.0, (stop - start).total_seconds() / 3600)


def job_resources(job: dict[str, Any]) -> tuple[float | None, int | None]:
    """The vCPUs and memory (MiB) a ``DescribeJobs`` job reserved (``resourceRequirements``, else the
    legacy ``vcpus``/``memory``)."""
    container = job.get("container") or {}
    vcpus = memory = None
    for requirement in container.get("resourceRequirements") or []:
        if requirement.get("type") == "VCPU":
            vcpus = float(requirement["value"])
        elif requirement.get("type") == "MEMORY":
            memory = int(requirement["value"])
    return vcpus or container.get("vcpus"), memory or container.get("memory")


def _attempts(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's attempts (each with its container instance); a job without attempts but with a start is one."""
    attempts = [a for a in job.get("attempts") or [] if a.get("startedAt")]
    if attempts:
        return attempts
    if job.get("startedAt"):
        return [{"startedAt": job["startedAt"], "stoppedAt": job.get("stoppedAt"), "container": job.get("container") or {}}]
    return []


def batch_step_row(jobs: list[dict[str, Any]], *, step: str, sample_id: str, project: str | None,
                   prices: PriceTable, region: str, instance_types: dict[str, str]) -> dict[str, Any] | None:
    """The ``step_costs`` row of one step of a sample from its ``DescribeJobs`` jobs (an Airflow retry
    submits another job; each job's attempts are Batch's own retries): every attempt of every job is
    paid for. ``instance_types``: container instance ARN -> EC2 instance type. None when no job started."""
    jobs = sorted(jobs, key=lambda j: j.get("createdAt") or 0)
    wall = cpu = 0.0
    cost: float | None = 0.0
    sources: set[str] = set()
    types: set[str] = set()
    started = None
    attempts = 0
    for job in jobs:
        vcpus, memory = job_resources(job)
        fargate = "FARGATE" in (job.get("platformCapabilities") or [])
        for attempt in _attempts(job):
            attempts += 1
            hours = _hours(attempt.get("startedAt"), attempt.get("stoppedAt") or attempt.get("startedAt"))
            started = started if started is not None else attempt["startedAt"]
            wall += hours * 3600
            cpu += hours * 3600 * (vcpus or 0)
            if fargate:
                types.add("fargate")
                per_vcpu, per_gb = prices.get(region, FARGATE_VCPU), prices.get(region, FARGATE_GB)
                if per_vcpu is None or per_gb is None or vcpus is None or memory is None:
                    cost = None
                    continue
                sources.update({per_vcpu.label(region), per_gb.label(region)})
                if cost is not None:
                    cost += hours * (vcpus * per_vcpu.usd_per_hour + memory / 1024 * per_gb.usd_per_hour)
                continue
            itype = instance_types.get((attempt.get("container") or {}).get("containerInstanceArn") or "")
            price = prices.get(region, itype)
            if itype:
                types.add(itype)
            if price is None or vcpus is None or memory is None:
                cost = None
                if itype and price is None:
                    sources.add(f"no price for {region} {itype} in the price table")
                continue
            share = min(1.0, max(vcpus / price.vcpus, memory / (price.memory_gib * 1024)))
            sources.add(price.label(region))
            if cost is not None:
                cost += hours * price.usd_per_hour * share
    if not attempts:
        return None
    last = jobs[-1]
    vcpus, memory = job_resources(last)
    return {
        "sample_id": sample_id, "project": project, "step": step, "engine": "batch",
        "status": "succeeded" if last.get("status") == "SUCCEEDED" else "failed",
        "job_id": last.get("jobId"), "attempts": attempts,
        "instance_type": ",".join(sorted(types)) or None, "vcpus": vcpus, "memory_mib": memory,
        "cpu_seconds": round(cpu, 3), "wall_seconds": round(wall, 3), "max_rss_kib": None,
        "cost_usd": None if cost is None else round(cost, 6),
        "price_source": "; ".join(sorted(sources)) or None,
        "started_at": _iso(started), "month": month_of(_iso(started)),
    }


def omics_rows(run: dict[str, Any], tasks: Iterable[dict[str, Any]], *, sample_id: str, project: str | None,
               prices: PriceTable, region: str) -> list[dict[str, Any]]:
    """The ``step_costs`` rows of one sample's HealthOmics run (``GetRun``) from its tasks (``ListRunTasks``
    items): one row per step (a task's name is the step's implementation id, ``align_bwa``; tasks of one
    step, e.g. scattered ones, are summed), each task priced by its instance type for its duration."""
    from seqflow.analysis.catalog import catalog

    steps: dict[str, dict[str, Any]] = {}
    for task in sorted(tasks, key=lambda t: t.get("startTime") or t.get("creationTime")):
        try:
            step = catalog().by_id(task["name"]).name
        except (KeyError, ValueError, LookupError):
            step = task["name"]
        hours = _hours(task.get("startTime"), task.get("stopTime"))
        price = prices.get(region, task.get("instanceType"))
        row = steps.setdefault(step, {
            "sample_id": sample_id, "project": project, "step": step, "engine": "omics", "status": "succeeded",
            "job_id": run.get("id"), "attempts": 0, "instance_type": set(), "vcpus": task.get("cpus"),
            "memory_mib": int(task["memory"] * 1024) if task.get("memory") else None, "cpu_seconds": 0.0,
            "wall_seconds": 0.0, "max_rss_kib": None, "cost_usd": 0.0, "price_source": set(),
            "started_at": _iso(task.get("startTime")), "month": month_of(_iso(task.get("startTime")))})
        row["attempts"] += 1
        row["wall_seconds"] = round(row["wall_seconds"] + hours * 3600, 3)
        row["cpu_seconds"] = round(row["cpu_seconds"] + hours * 3600 * (task.get("cpus") or 0), 3)
        if task.get("status") != "COMPLETED" and not task.get("cacheHit"):
            row["status"] = "failed"
        if task.get("instanceType"):
            row["instance_type"].add(task["instanceType"])
        if price is None:
            if not task.get("cacheHit"):  # a cached task ran no instance
                row["cost_usd"] = None
                row["price_source"].add(f"no price for {region} {task.get('instanceType')} in the price table")
        else:
            row["price_source"].add(price.label(region))
            if row["cost_usd"] is not None:
                row["cost_usd"] = round(row["cost_usd"] + hours * price.usd_per_hour, 6)
    for row in steps.values():
        row["instance_type"] = ",".join(sorted(row["instance_type"])) or None
        row["price_source"] = "; ".join(sorted(row["price_source"])) or None
    return list(steps.values())


# -- finding the jobs and runs ----------------------------------------------------------------


def _env(job: dict[str, Any], name: str) -> str | None:
    return next((e.get("value") for e in (job.get("container") or {}).get("environment") or [] if e.get("name") == name),
                None)


def describe_jobs(batch_client, job_queue: str, name: str) -> list[dict[str, Any]]:
    """``DescribeJobs`` of every job of the queue with this name, or whose name starts with it when it ends
    with ``*`` (``ListJobs`` filtered on JOB_NAME lists every status)."""
    ids: list[str] = []
    for page in batch_client.get_paginator("list_jobs").paginate(
            jobQueue=job_queue, filters=[{"name": "JOB_NAME", "values": [name]}]):
        ids += [s["jobId"] for s in page.get("jobSummaryList", [])]
    jobs: list[dict[str, Any]] = []
    for start in range(0, len(ids), DESCRIBE_MAX):
        jobs += batch_client.describe_jobs(jobs=ids[start:start + DESCRIBE_MAX]).get("jobs", [])
    return jobs


def container_instance_types(ecs_client, jobs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Container instance ARN -> EC2 instance type of the jobs' attempts (``DescribeContainerInstances``
    per ECS cluster, the cluster named in the attempt's task ARN ``…:task/<cluster>/<id>``)."""
    by_cluster: dict[str, set[str]] = {}
    for job in jobs:
        for attempt in _attempts(job):
            container = attempt.get("container") or {}
            arn, task = container.get("containerInstanceArn"), container.get("taskArn") or ""
            parts = task.split(":task/", 1)[1].split("/") if ":task/" in task else []
            if arn and len(parts) == 2:
                by_cluster.setdefault(parts[0], set()).add(arn)
    types: dict[str, str] = {}
    for cluster, arns in by_cluster.items():
        arns_list = sorted(arns)
        for start in range(0, len(arns_list), DESCRIBE_MAX):
            found = ecs_client.describe_container_instances(cluster=cluster,
                                                            containerInstances=arns_list[start:start + DESCRIBE_MAX])
            for instance in found.get("containerInstances", []):
                itype = next((a.get("value") for a in instance.get("attributes") or []
                              if a.get("name") == INSTANCE_TYPE_ATTRIBUTE), None)
                if itype:
                    types[instance["containerInstanceArn"]] = itype
    return types


def batch_step_costs(run_plan: dict[str, Any], settings, *, batch_client, ecs_client,
                     prices: PriceTable | None = None) -> list[dict[str, Any]]:
    """The ``step_costs`` rows of a Batch analysis: every sample's steps' jobs of this analysis."""
    from seqflow.aws.batch import BATCH_STEPS, job_name
    from seqflow.identity import AnalysisIdentity

    identity = AnalysisIdentity.from_dict(run_plan)
    prices = prices or load_prices()
    region = batch_client.meta.region_name
    queue = settings.require("batch_job_queue")
    samples = {settings.results_uri(identity, job["sample_id"]).rstrip("/") + "/": job["sample_id"]
               for job in run_plan.get("jobs", [])}
    found: dict[tuple[str, str], list[dict]] = {}
    for step in BATCH_STEPS:
        # the names of the step's jobs of this run, whatever the sample: "seqflow_<step>_<run>_"
        prefix = job_name(step, identity.run_id, "S")[:-1]
        for j in describe_jobs(batch_client, queue, prefix + "*"):
            sample_id = samples.get(_env(j, "SEQFLOW_OUTPUT_URI") or "")
            if sample_id is not None:
                found.setdefault((sample_id, step), []).append(j)
    types = container_instance_types(ecs_client, [j for jobs in found.values() for j in jobs])
    projects = run_plan.get("projects") or {}
    rows = []
    for (sample_id, step), jobs in found.items():
        project = projects.get(sample_id) or (jobs[-1].get("tags") or {}).get("project")
        row = batch_step_row(jobs, step=step, sample_id=sample_id, project=project, prices=prices, region=region,
                             instance_types=types)
        if row is not None:
            rows.append(row)
    return rows


def omics_run_id(vcf_uri: str) -> str | None:
    """The HealthOmics run id in a sample's VCF URI (``<outputUri><run id>/out/vcf/<sample>.vcf.gz``,
    :func:`seqflow.aws.analysis.omics_vcf_uri`), or None."""
    head, sep, _ = vcf_uri.rpartition("/out/vcf/")
    return head.rsplit("/", 1)[-1] if sep else None


def omics_step_costs(run_plan: dict[str, Any], vcfs: list[dict], *, omics_hook,
                     prices: PriceTable | None = None) -> list[dict[str, Any]]:
    """The ``step_costs`` rows of a HealthOmics analysis: each sample's run and its tasks."""
    prices = prices or load_prices()
    client = omics_hook.conn
    region = client.meta.region_name
    projects = run_plan.get("projects") or {}
    rows = []
    for item in vcfs:
        run_id = omics_run_id(item["vcf"])
        if run_id is None:
            continue
        run = omics_hook.get_run(run_id)
        tasks = [t for page in client.get_paginator("list_run_tasks").paginate(id=run_id) for t in page.get("items", [])]
        project = projects.get(item["sample_id"]) or (run.get("tags") or {}).get("project")
        rows += omics_rows(run, tasks, sample_id=item["sample_id"], project=project, prices=prices, region=region)
    return rows


def aws_step_costs(run_plan: dict[str, Any], vcfs: list[dict], settings) -> list[dict[str, Any]]:
    """The analysis's ``step_costs`` rows through the Amazon provider's hooks (Batch, ECS) or seqflow's
    HealthOmics hook."""
    if run_plan.get("engine") == "omics":
        from seqflow.aws.omics import OmicsHook

        return omics_step_costs(run_plan, vcfs, omics_hook=OmicsHook(aws_conn_id=AWS_CONN_ID))
    from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
    from airflow.providers.amazon.aws.hooks.ecs import EcsHook

    return batch_step_costs(run_plan, settings, batch_client=BatchClientHook(aws_conn_id=AWS_CONN_ID).client,
                            ecs_client=EcsHook(aws_conn_id=AWS_CONN_ID).conn)
