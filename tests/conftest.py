"""Session-wide test settings: no test touches the user's ~/airflow, the repo's
.seqflow/ state or real AWS."""

from __future__ import annotations

import os
import tempfile

_tmp_home = tempfile.mkdtemp(prefix="seqflow-test-airflow-")
os.environ.setdefault("AIRFLOW_HOME", _tmp_home)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("SEQFLOW_PROFILE", "local")
