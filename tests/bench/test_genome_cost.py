"""bench/genome_cost.py's model (the benchmark itself is not part of the suite) and its table: the step
catalogue's Batch resources (containers/*/steps.yaml) are the ones the benchmark derived from its
measurements (bench/genome_cost.json), not guesses."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from seqflow.analysis.catalog import catalog

BENCH = Path(__file__).resolve().parents[2] / "bench" / "genome_cost.py"
TABLE = BENCH.with_name("genome_cost.json")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("genome_cost", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_sample_steps_resources_are_the_benchmarks_derived_ones():
    derived = json.loads(TABLE.read_text())["resources"]
    declared = {s.id: {"vcpus": s.resources.vcpus, "memory_mib": s.resources.memory_mib,
                       "timeout_seconds": s.resources.timeout_seconds}
                for s in catalog().steps if s.scope == "sample"}
    assert declared == derived, "run bench/genome_cost.py --write and copy its resources into containers/*/steps.yaml"


def test_the_table_was_measured_for_every_step_it_derives(bench):
    data = json.loads(TABLE.read_text())
    measured = {m["step"]: m for m in data["measured"]}
    assert set(data["resources"]) <= set(measured)
    for step, r in data["resources"].items():
        m = bench.Measure(**measured[step])
        index = data["index_mib_at_human_size"].get(step, 0.0)
        assert bench.derive_resources(m, data["workload"], index_mib=index) == r, step


def _m(bench, **kw):
    base = dict(step="s", cpu_s=100.0, wall_s=50.0, peak_rss_mib=500.0, max_process_rss_mib=400.0, threads=2,
                units=0.1, unit="pairs")
    return bench.Measure(**{**base, **kw})


def test_a_parallel_step_gets_vcpus_for_the_target_wall_and_a_single_threaded_one_gets_one(bench):
    genome = bench.GENOME_30X  # 400 M pairs
    # 1,000 CPU s per M pairs: 111 core-hours; 16 vCPUs (the cap) for 6.9 h, timeout twice that
    multi = bench.derive_resources(_m(bench, step="align_bwa"), genome)
    assert multi["vcpus"] == 16 and multi["timeout_seconds"] == 3600 * 14
    small = bench.derive_resources(_m(bench, step="fastp", cpu_s=1.0), genome)  # 1.1 core-hours
    assert small["vcpus"] == 1 and small["timeout_seconds"] == 3600 * 3
    # freebayes is single-threaded: 1 vCPU however long it takes (scattering shortens it)
    single = bench.derive_resources(_m(bench, step="call_variants_freebayes", unit="mb"), genome)
    assert single["vcpus"] == 1 and single["timeout_seconds"] == 3600 * math.ceil(2 * 1000 * 3100 / 3600)


def test_memory_is_the_peak_plus_the_index_at_human_size_with_headroom_and_two_gib_per_vcpu(bench):
    single = _m(bench, step="vcf_stats", peak_rss_mib=1000.0)
    # (1,000 + 4,000) x 1.5 = 7,500 MiB -> 8 GiB
    assert bench.derive_resources(single, bench.GENOME_30X, index_mib=4000.0)["memory_mib"] == 8192
    assert bench.derive_resources(_m(bench, step="vcf_stats", peak_rss_mib=10.0), bench.GENOME_30X)["memory_mib"] == 2048
    # 16 vCPUs get at least 2 GiB each
    assert bench.derive_resources(_m(bench, step="align_bwa", peak_rss_mib=10.0), bench.GENOME_30X)["memory_mib"] == 32768


def test_the_cheapest_instance_that_fits_is_picked_and_prices_carry_their_date(bench):
    table = bench.prices()
    assert table["date"] and table["region"]
    name, spec = bench.pick_instance(4, 16 * 1024, table)
    assert name == "m6i.xlarge" and spec["vcpus"] == 4
    assert bench.pick_instance(2, 1024, table)[0] == "c6i.large"
    with pytest.raises(ValueError, match="no instance type"):
        bench.pick_instance(1024, 1024, table)
