"""AWS Glue job scripts (uploaded by Terraform).

:data:`MAX_CONCURRENT_RUNS` is the converter job's ``MaxConcurrentRuns``
(``terraform/modules/glue_athena``, variable ``max_concurrent_runs``: a test
keeps the two equal) and the size of the Airflow pool :data:`CONVERTER_POOL`
that the aws profile's ``convert_to_parquet`` runs in (one slot per Glue job
run, deferred runs included), so a 21st analysis converting at once waits for
a slot instead of being refused by Glue (``ConcurrentRunsExceededException``).
"""

#: Concurrent runs of the converter Glue job (one run converts a whole analysis).
MAX_CONCURRENT_RUNS = 20
#: Airflow pool of the aws profile's convert_to_parquet task: MAX_CONCURRENT_RUNS slots, counting deferred tasks.
CONVERTER_POOL = "glue_converter"
#: ``airflow pools set`` arguments that create it (local profile: seqflow.local.services.init_db; MWAA: docs/lake.md).
CONVERTER_POOL_CLI = ("pools", "set", "--include-deferred", CONVERTER_POOL, str(MAX_CONCURRENT_RUNS),
                      "Converter Glue job runs at once (its MaxConcurrentRuns)")
