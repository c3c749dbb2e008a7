"""Fixtures of the lake tests: real 1000 Genomes / HapMap VCFs and bcftools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
EXTDATA_REL = "usr/lib/R/site-library/VariantAnnotation/extdata"


def seqflow_home() -> Path:
    return Path(os.environ.get("SEQFLOW_HOME", Path(__file__).resolve().parents[3] / ".seqflow"))


@pytest.fixture(scope="session")
def extdata() -> Path:
    """VariantAnnotation's example VCFs (Debian r-bioc-variantannotation),
    fetched once into $SEQFLOW_HOME/testdata with apt-get download."""
    import fcntl
    import tempfile

    root = seqflow_home() / "testdata" / "variantannotation"
    target = root / EXTDATA_REL
    root.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers each run this session fixture: one downloads, the others wait
    with open(root.parent / ".variantannotation.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "chr22.vcf.gz").exists():
            with tempfile.TemporaryDirectory(dir=root.parent) as work:
                subprocess.run(["apt-get", "download", "r-bioc-variantannotation"], cwd=work, check=True,
                               capture_output=True)
                deb = next(Path(work).glob("r-bioc-variantannotation_*.deb"))
                subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return target


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The committed edge-case VCFs."""
    return DATA
