"""The reference catalogue is the one owner of the list of genomes: no consumer keeps its own."""

from __future__ import annotations

import re

from seqflow.config import REPO_ROOT
from seqflow.demo.references import DEMO_GENOMES
from seqflow.params import ANALYSIS_PARAM_SCHEMAS, analysis_params
from seqflow.paths import REFERENCE_NAME_PATTERN


def test_params_take_any_registered_name_checked_by_plan_not_a_list():
    for params in (analysis_params("local"), analysis_params("aws")):
        schema = params["reference"].schema
        assert "enum" not in schema and schema["pattern"] == REFERENCE_NAME_PATTERN
        assert params["reference"].value is None  # no genome nobody chose
    assert ANALYSIS_PARAM_SCHEMAS["reference"]["default"] is None


def test_no_module_outside_the_demo_names_a_genome():
    """Code may mention a genome only as an example in text; the demo's two come from DEMO_GENOMES."""
    names = "|".join(re.escape(n) for n in DEMO_GENOMES)
    quoted = re.compile(rf"""["']({names})["']""")
    offenders = []
    for folder in ("include/seqflow", "dags", "plugins", "bench"):
        for path in sorted((REPO_ROOT / folder).rglob("*")):
            if path.suffix not in (".py", "") or not path.is_file() or "demo" in path.relative_to(REPO_ROOT).parts:
                continue
            if path.suffix == "" and not path.read_bytes().startswith(b"#!"):
                continue
            for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
                if quoted.search(line) and "examples" not in line:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{lineno}: {line.strip()}")
    assert offenders == []
