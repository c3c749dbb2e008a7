"""Both profiles run one DAG graph: same task ids and dependencies, except the documented edges."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seqflow.config import REPO_ROOT
from seqflow.wiring import EDGE_ORDER, EDGE_TASKS

_DUMP = """
import json
from seqflow.compat import DagBag
bag = DagBag(dag_folder="dags")
assert not bag.import_errors, bag.import_errors
print(json.dumps({dag_id: {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
                  for dag_id, dag in bag.dags.items()}))
"""


def _graphs(profile: str, tmp_path) -> dict:
    env = {**os.environ, "SEQFLOW_PROFILE": profile, "SEQFLOW_HOME": str(tmp_path / profile)}
    proc = subprocess.run([sys.executable, "-c", _DUMP], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("graphs")
    found = {profile: _graphs(profile, tmp) for profile in ("local", "aws")}
    from seqflow.compat import JOINS_INTO_MAPPED_GROUPS

    if not JOINS_INTO_MAPPED_GROUPS:
        # Airflow 3.0 (the MWAA check): the aws shard tasks, which never have shards there, do not feed
        # the sample's steps (seqflow.aws.wiring.per_sample); the one documented difference of that version
        analysis = found["aws"]["seqflow_analysis"]
        for shards, step in (("align_chunks", "sample.align"), ("call_shards", "sample.call_variants")):
            assert step not in analysis[shards]
            analysis[shards] = sorted([*analysis[shards], step])
    return found


def _without(graph: dict, tasks: frozenset[str]) -> dict:
    """The dependencies among the tasks not in ``tasks`` (paths through them contracted), transitively
    reduced: an edge that a longer path implies (a Batch step's data edge from ``sample.requests``,
    the branch's path through the aws-only HealthOmics tasks) is not a difference."""

    def through(nodes) -> set[str]:
        out, todo, seen = set(), list(nodes), set()
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in tasks:
                todo.extend(graph[node])
            else:
                out.add(node)
        return out

    kept = {t: through(down) for t, down in graph.items() if t not in tasks}

    def reachable(start: str, skip_direct: str) -> set[str]:
        seen, todo = set(), [d for d in kept[start] if d != skip_direct]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(kept[node])
        return seen

    return {t: sorted(d for d in down if d not in reachable(t, d)) for t, down in kept.items()}


@pytest.mark.parametrize("dag_id", sorted(EDGE_TASKS))
def test_same_tasks_and_dependencies_except_documented_edges(graphs, dag_id):
    local, aws = graphs["local"][dag_id], graphs["aws"][dag_id]
    assert set(local) - set(aws) == EDGE_TASKS[dag_id]["local"]
    assert set(aws) - set(local) == EDGE_TASKS[dag_id]["aws"]
    reordered = EDGE_ORDER[dag_id]
    assert reordered <= set(local) & set(aws)
    assert _without(local, EDGE_TASKS[dag_id]["local"] | reordered) == _without(aws, EDGE_TASKS[dag_id]["aws"] | reordered)


def test_the_analysis_graph_runs_the_catalogue_steps_in_order(graphs):
    for profile in ("local", "aws"):
        g = graphs[profile]["seqflow_analysis"]
        order = ["plan", "restore_archived", "prepare_reference", "sample_jobs", "choose_engine", "sample.requests",
                 "sample.fastp", "scatter_reads", "align_chunks", "sample.align", "scatter_calls", "call_shards",
                 "sample.call_variants",
                 "sample.vcf_stats", "samples_done", "collect_vcfs", "converter_args", "convert_to_parquet", "register_partitions", "qc_summary",
                 "finalise_run"]
        for upstream, downstream in zip(order, order[1:]):
            assert downstream in g[upstream], (profile, upstream, downstream)
        assert "sample.bam_qc" in g["sample.align"] and "samples_done" in g["sample.bam_qc"], profile
