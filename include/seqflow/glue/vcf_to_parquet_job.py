"""AWS Glue job script: convert one analysis run's VCFs and commit them to the Iceberg lake.

Glue runs this file; the logic is :mod:`seqflow.glue.job`, shipped with the
lake modules it imports in the slim zip ``--extra-py-files`` names
(``python -m seqflow.glue.package``; include/seqflow/glue/README.md). Job
arguments (strings):

  --manifest_uri  s3://<lake>/_manifests/<run>/<pv>/<ref>/<aligner>-<caller>/<digest>.json:
                  the analysis identity and every sample's VCF and QC files
                  (seqflow.glue.manifest; written by the DAG's converter_args)
  --lake_uri      s3://<lake-bucket>/lake  (tables under <lake_uri>/iceberg/<table>/)
  --database      the Glue database of the lake's Iceberg tables
  --bcftools_uri  s3://.../bcftools-*.tar.gz: bin/bcftools + libhts ("-": bcftools on PATH)
  --parallel      conversions at once (default 2)

The result (snapshot ids, rows per sample) goes to
``<lake_uri>/_manifests/<run>/<pv>/<ref>/<aligner>-<caller>/result.json``.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from seqflow.glue.job import main

    sys.exit(main())
