"""The local profile's Airflow: services under ``SEQFLOW_HOME/airflow`` and a REST client."""
