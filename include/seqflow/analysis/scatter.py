"""Scatter-gather variant calling of one sample, and the reuse of shards that completed.

``scatter`` lists a sample's calling shards (:mod:`seqflow.references.intervals`: the
reference cut into intervals of ``call_interval_mb``); ``call_shard`` runs the catalogue's
``call_variants`` step (``containers/<caller image>/``) on one shard, with its ``regions``
argument, into ``<results>/<sample>/shards/<key>/``; ``gather`` concatenates the shards'
VCFs in order with ``bcftools concat --naive`` into ``<sample>.vcf.gz`` and indexes it with
``tabix``. The shards own disjoint regions and write only the records whose POS they own,
in order, so the concatenation is sorted and holds every record once
(``containers/bcftools/call_variants.sh`` says how borders are made safe).

**Resume.** Each finished shard leaves ``shard.json`` beside its VCF: its key, its regions
and the checksums (SHA-256) of everything its result depends on: the BAM, the reference FASTA,
the ploidy file, the step script and the step's arguments, and of its own outputs. A retried
or re-triggered analysis whose shard finds a ``shard.json`` with the same input checksums and
outputs that still match reuses it instead of calling again; ``force`` calls every shard again.
``<sample>.shards.json`` (results) lists which shards were called and which reused; the
registry keeps it per sample (``finalise_run``: ``shards``).

A large input's checksum (64 MiB and more: a BAM, a FASTA) is computed once: it is kept beside
the file in ``<file>.seqflow.sha256`` (its size and modification time with it, so a changed
file is hashed again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from seqflow.analysis import steps
from seqflow.analysis.catalog import catalog
from seqflow.analysis.steps import SampleJob, StepError
from seqflow.fsutil import atomic_write_text
from seqflow.references.intervals import Region, Shard, reference_shards

log = logging.getLogger(__name__)

#: format of shard.json and <sample>.shards.json
FORMAT_VERSION = 1
SHARD_RECORD = "shard.json"
SHARDS_DIR = "shards"
DIGEST_SUFFIX = ".seqflow.sha256"
#: files at least this large keep their checksum beside them (a BAM, a FASTA); smaller ones are hashed each time
CACHE_DIGEST_BYTES = 64 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file; a large one's is kept in ``<path>.seqflow.sha256`` while its size and mtime stay."""
    path = Path(path)
    stat = path.stat()
    cache = Path(f"{path}{DIGEST_SUFFIX}") if stat.st_size >= CACHE_DIGEST_BYTES else None
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        kept = json.loads(cache.read_text()) if cache else {}
        if cache and {k: kept.get(k) for k in stamp} == stamp:
            return kept["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()
    if cache is not None:
        try:
            atomic_write_text(cache, json.dumps({**stamp, "sha256": value}) + "\n")
        except OSError:  # a read-only folder: hash again next time
            pass
    return value


def shard_from_dict(data: dict[str, Any]) -> Shard:
    regions = None if data["regions"] is None else tuple(Region(*r) for r in data["regions"])
    return Shard(data["index"], data["count"], regions)


def shard_to_dict(shard: Shard) -> dict[str, Any]:
    return {"index": shard.index, "count": shard.count, "key": shard.key, "label": shard.label,
            "regions": None if shard.regions is None else [[r.contig, r.start, r.end] for r in shard.regions]}


def shards_root(job: SampleJob) -> Path:
    return job.results_dir / SHARDS_DIR


def sample_shards(job: SampleJob, interval_mb: float) -> list[Shard]:
    """The calling shards of the sample's reference (deterministic: the same on every try). A caller
    whose ``call_variants`` step takes no ``regions`` argument calls the whole genome in one shard."""
    from seqflow.references.catalog import reference_catalog

    impl = catalog().step("call_variants", caller=job.caller)
    if "regions" not in [a.name for a in impl.arguments]:
        log.warning("%s: caller %s takes no regions argument: one whole-genome shard", job.sample_id, job.caller)
        return [Shard(0, 1, None)]
    ref = reference_catalog().require(job.reference)
    return reference_shards(ref, interval_mb)


def scatter(states: list[dict[str, Any]], *, interval_mb: float, force: bool = False) -> list[dict[str, Any]]:
    """One calling job per shard of every aligned sample (``states``: the per-sample states after
    ``align``; a sample without a BAM is left out: its failure is recorded already)."""
    jobs = []
    for state in states:
        if not state or "bam" not in state.get("outputs", {}):
            continue
        job = SampleJob.from_dict(state["job"])
        shards = sample_shards(job, interval_mb)
        # hash the BAM and the reference once, here: the shard tasks then read the kept checksums
        # instead of each reading a 100-GB BAM at the same time
        _fingerprint(job, state["outputs"]["bam"], shards[0])
        for shard in shards:
            jobs.append({"job": job.to_dict(), "bam": state["outputs"]["bam"], "shard": shard_to_dict(shard),
                         "force": force, "label": f"{job.sample_id} {shard.label}"})
        log.info("%s: %d calling shard(s) of %s Mb", job.sample_id, len(shards), interval_mb)
    return jobs


def _fingerprint(job: SampleJob, bam: str, shard: Shard) -> dict[str, Any]:
    """What a shard's calls depend on, by checksum."""
    impl = catalog().step("call_variants", caller=job.caller)
    return {
        "step": impl.id,
        "regions": shard.argument,
        "bam": file_sha256(bam),
        "reference": file_sha256(job.reference_fasta),
        "ploidy_file": file_sha256(job.ploidy_file),
        "script": file_sha256(impl.script_path()),
    }


def _record(shard_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((shard_dir / SHARD_RECORD).read_text())
    except (OSError, ValueError):
        return None


def _outputs_intact(shard_dir: Path, record: dict[str, Any]) -> bool:
    outputs = record.get("outputs") or {}
    return bool(outputs) and all(
        (shard_dir / name).is_file() and file_sha256(shard_dir / name) == digest for name, digest in outputs.items())


def reusable(shard_dir: Path, fingerprint: dict[str, Any]) -> bool:
    """Whether the shard in ``shard_dir`` completed with exactly these inputs and its outputs are intact."""
    record = _record(shard_dir)
    return (record is not None and record.get("format_version") == FORMAT_VERSION
            and record.get("inputs") == fingerprint and _outputs_intact(shard_dir, record))


def call_shard(shard_job: dict[str, Any]) -> dict[str, Any]:
    """Call one shard (or reuse it: module docstring). Returns the sample, the shard and whether it was reused."""
    job = SampleJob.from_dict(shard_job["job"])
    shard = shard_from_dict(shard_job["shard"])
    shard_dir = shards_root(job) / shard.key
    fingerprint = _fingerprint(job, shard_job["bam"], shard)
    result = {"sample_id": job.sample_id, "key": shard.key, "label": shard.label}
    if not shard_job.get("force") and reusable(shard_dir, fingerprint):
        log.info("%s shard %s (%s): reused (its inputs' checksums match)", job.sample_id, shard.key, shard.label)
        return {**result, "reused": True}
    shutil.rmtree(shard_dir, ignore_errors=True)
    # the step's value arguments pass through run_sample_step's named values like its inputs
    produced = steps.run_sample_step(job, "call_variants", {"bam": shard_job["bam"], "regions": shard.argument},
                                     out_dir=shard_dir)
    outputs = {Path(produced[name]).name: file_sha256(produced[name]) for name in ("vcf", "tbi")}
    atomic_write_text(shard_dir / SHARD_RECORD, json.dumps({
        "format_version": FORMAT_VERSION, "sample_id": job.sample_id, **shard_to_dict(shard),
        "inputs": fingerprint, "outputs": outputs}, indent=1) + "\n")
    return {**result, "reused": False}


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StepError(f"{what}: {' '.join(argv[:3])} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}",
                        step="call_variants", exit_code=proc.returncode)


def gather(state: dict[str, Any], shards: list[Shard], *, called: list[dict[str, Any]] | None = None
           ) -> dict[str, str]:
    """The sample's VCF from its shards, in order (``bcftools concat --naive``, ``tabix``), with the
    versions and log of the ``call_variants`` step; writes ``<sample>.shards.json``.

    ``shards`` are the sample's shards (:func:`sample_shards`); every one must have completed with
    the current inputs (its ``shard.json``). ``called`` is the shard tasks' results (which were
    reused), where the DAG passes them.
    """
    job = SampleJob.from_dict(state["job"])
    bam = state["outputs"]["bam"]
    impl = catalog().step("call_variants", caller=job.caller)
    names = impl.output_files(job.sample_id)
    dirs = []
    for shard in shards:
        shard_dir = shards_root(job) / shard.key
        if not reusable(shard_dir, _fingerprint(job, bam, shard)):
            raise StepError(f"sample {job.sample_id}: calling shard {shard.key} ({shard.label}) did not complete "
                            f"with the current inputs (no valid {shard_dir / SHARD_RECORD}); see its task's log",
                            step="call_variants")
        dirs.append(shard_dir)
    out = job.results_dir
    vcf, tbi = out / names["vcf"], out / names["tbi"]
    tmp = out / f".tmp-gather-{job.sample_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if len(dirs) == 1:
        shutil.copy2(dirs[0] / names["vcf"], tmp / names["vcf"])
    else:
        listing = tmp / "shards.txt"
        listing.write_text("".join(f"{d / names['vcf']}\n" for d in dirs))
        _run(["bcftools", "concat", "--naive", "-f", str(listing), "-o", str(tmp / names["vcf"])],
             f"sample {job.sample_id}: gathering {len(dirs)} shards")
    _run(["tabix", "-f", "-p", "vcf", str(tmp / names["vcf"])], f"sample {job.sample_id}: indexing the VCF")
    shutil.copy2(dirs[0] / names["call_variants_versions"], out / names["call_variants_versions"])
    with open(out / names["call_variants_log"], "w") as logfile:
        for shard, d in zip(shards, dirs):
            logfile.write(f"== shard {shard.key} ({shard.label})\n")
            logfile.write((d / names["call_variants_log"]).read_text(errors="replace"))
    (tmp / names["vcf"]).replace(vcf)
    Path(f"{tmp / names['vcf']}.tbi").replace(tbi)
    shutil.rmtree(tmp, ignore_errors=True)
    reused = {c["key"] for c in called or [] if c.get("sample_id") == job.sample_id and c.get("reused")}
    summary = {"format_version": FORMAT_VERSION, "count": len(shards),
               "reused": [s.key for s in shards if s.key in reused],
               "called": [s.key for s in shards if s.key not in reused],
               "labels": {s.key: s.label for s in shards}}
    atomic_write_text(out / f"{job.sample_id}.shards.json", json.dumps(summary, indent=1) + "\n")
    return {name: str(out / file) for name, file in names.items()}
