#!/bin/sh
# MWAA startup script: runs on every scheduler, worker, DAG processor and web
# server before Airflow starts (MWAA sources it, so exports reach Airflow).
# Terraform uploads it to the DAG bucket and pins its object version.

# Every seqflow component on MWAA is the aws profile (include/seqflow/config.py).
export SEQFLOW_PROFILE=aws
