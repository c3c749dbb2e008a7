#!/usr/bin/env python3
"""Build the HealthOmics workflow bundle that terraform/modules/omics uploads.

HealthOmics takes a workflow definition from S3 only as a zip. Terraform has
no zip function and the archive provider is not part of this deployment, so
the zip is built here, before `terraform plan`:

    python3 terraform/scripts/build_workflow_bundle.py
        # -> dist/omics/germline.zip and dist/omics/germline.zip.json

The zip holds every file of the workflow folder except the parameter template
(HealthOmics gets that through the CloudFormation template). It is
deterministic: sorted entries, fixed timestamps and modes, so the same WDL
always gives the same bytes, the same S3 key and no new workflow. Beside it,
``<zip>.json`` lists the MD5 of every file the zip holds; the omics module
compares it with the folder and fails the plan when the bundle is stale.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORKFLOW_DIR = REPO / "include" / "seqflow" / "workflows" / "germline"
DEFAULT_OUT = REPO / "dist" / "omics" / "germline.zip"
PARAMETER_TEMPLATE = "parameters.json"
# zip's epoch; any fixed time makes the archive reproducible
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def bundle_files(workflow_dir: Path) -> list[Path]:
    """Files the bundle holds, relative to the workflow folder, sorted."""
    files = sorted(p.relative_to(workflow_dir) for p in workflow_dir.rglob("*") if p.is_file())
    return [f for f in files if f.as_posix() != PARAMETER_TEMPLATE and "__pycache__" not in f.parts]


def build(workflow_dir: Path, out: Path) -> dict:
    """Write the zip and its manifest; return the manifest."""
    workflow_dir = workflow_dir.resolve()
    files = bundle_files(workflow_dir)
    if not any(f.suffix == ".wdl" for f in files):
        raise SystemExit(f"{workflow_dir}: no .wdl file to bundle")
    out.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"files": {}}
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            data = (workflow_dir / rel).read_bytes()
            info = zipfile.ZipInfo(rel.as_posix(), date_time=FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
            # the same digest Terraform's filemd5() gives
            manifest["files"][rel.as_posix()] = hashlib.md5(data).hexdigest()
    tmp.replace(out)
    Path(f"{out}.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow-dir", type=Path, default=DEFAULT_WORKFLOW_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    manifest = build(args.workflow_dir, args.out)
    print(f"{args.out}: {', '.join(manifest['files'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
