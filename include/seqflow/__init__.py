"""seqflow: sequencer runs to a queryable variant lake, orchestrated by Airflow 3.

All logic lives in this package; the DAG files in ``dags/`` only wire it.
"""

__version__ = "0.1.0"
