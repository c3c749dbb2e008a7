"""Names whose home differs between the Airflow versions seqflow runs on.

The self-hosted image runs Airflow 3.3 with a current Amazon provider; Amazon
MWAA's newest Airflow is 3.0.6 with the providers of Airflow's 3.0.6
constraints (Amazon 9.12.0, common-compat 1.7.3; mwaa/README.md). Code that
runs on both imports these names from here. Each one is found by trying where
it lives now and then where it lived before (feature detection, not version
numbers), so the newer location wins wherever it exists and nothing here has
to change when MWAA moves on; tests/mwaa checks both sides.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.waiter import Waiter

# Task SDK exceptions: airflow.sdk.exceptions from Airflow 3.1, airflow.exceptions in 3.0.
try:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred
except ImportError:  # Airflow 3.0 (MWAA)
    from airflow.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred

# The provider-facing shims: common-compat's ``sdk`` module appeared after 1.7.3 (MWAA 3.0.6's pin).
try:
    from airflow.providers.common.compat.sdk import AirflowException, conf
except ImportError:  # common-compat < 1.8 (MWAA)
    from airflow.configuration import conf
    from airflow.exceptions import AirflowException

try:
    from airflow.providers.amazon.aws.utils.waiter_with_logging import RETRIABLE_ERROR_CODES
except ImportError:  # Amazon provider 9.12.0 (MWAA) retries no error codes in its waiters
    #: AWS's throttling and transient error codes (docs.aws.amazon.com/general/latest/gr/api-retries.html),
    #: the set later Amazon providers retry on.
    RETRIABLE_ERROR_CODES = frozenset({
        "BadGateway", "GatewayTimeout", "InternalFailure", "InternalServerError", "LimitExceededException",
        "ProvisionedThroughputExceededException", "RequestLimitExceeded", "RequestThrottled",
        "RequestThrottledException", "RequestTimeout", "RequestTimeoutException", "ServerException",
        "ServiceUnavailable", "Throttling", "ThrottlingException", "TooManyRequestsException",
    })

try:
    from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
    from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
except ImportError:  # Amazon provider 9.12.0 (MWAA): its wait() raises a bare AirflowException
    class WaiterTerminalFailure(AirflowException):
        """A waiter reached a terminal failure state; ``last_response`` is the service's last answer."""

        def __init__(self, message: str, last_response: dict[str, Any]):
            super().__init__(message)
            self.message = message
            self.last_response = last_response

        def __reduce__(self):
            return WaiterTerminalFailure, (self.message, self.last_response)

    def wait(waiter: Waiter, waiter_delay: int, waiter_max_attempts: int, args: dict[str, Any],
             failure_message: str, status_message: str, status_args: list[str]) -> None:
        """Poll ``waiter`` once per ``waiter_delay`` seconds, as the current provider's ``wait`` does.

        Like it (and unlike provider 9.12.0), a terminal failure raises
        :class:`WaiterTerminalFailure` carrying the last response, so callers can
        report why the resource failed; throttling and transient errors are retried
        without using up an attempt. ``status_args`` are JMESPath queries of the
        response that are logged after each poll.
        """
        import jmespath
        from botocore.exceptions import NoCredentialsError, WaiterError

        log = logging.getLogger(__name__)
        attempt = 0
        first = True
        while attempt < waiter_max_attempts:
            if not first:
                time.sleep(waiter_delay)
            first = False
            try:
                waiter.wait(**args, WaiterConfig={"MaxAttempts": 1})
                return
            except NoCredentialsError as error:
                log.info("%s", error)
            except WaiterError as error:
                response = error.last_response or {}
                status = " - ".join(str(jmespath.search(query, response)) for query in status_args)
                if "terminal failure" in str(error):
                    log.error("%s: %s", failure_message, status)
                    raise WaiterTerminalFailure(f"{failure_message}: {error}", last_response=response) from error
                code = (response.get("Error") or {}).get("Code") if isinstance(response.get("Error"), dict) else None
                if code is not None:
                    if code not in RETRIABLE_ERROR_CODES:
                        raise AirflowException(f"{failure_message}: {error}") from error
                    log.info("waiter: retriable error %s, polling again", code)
                    continue
                log.info("%s: %s", status_message, status)
            attempt += 1
        raise AirflowException("Waiter error: max attempts reached")


try:
    from airflow.task.trigger_rule import TriggerRule
except ImportError:  # Airflow 3.0 (MWAA)
    from airflow.utils.trigger_rule import TriggerRule

#: Whether the scheduler knows ``all_done_min_one_success`` (Airflow 3.1+; not MWAA's 3.0.6).
HAS_ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success" in {rule.value for rule in TriggerRule}
#: The trigger rule of a join that runs once every upstream task is done and one succeeded. Where the
#: scheduler lacks it, ``all_done``: the task then calls :func:`check_all_done_min_one_success` first.
ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success" if HAS_ALL_DONE_MIN_ONE_SUCCESS else "all_done"
#: Whether a step of a mapped task group may also wait on a mapped task outside the group. Airflow 3.0
#: (MWAA's 3.0.6) then expands the step once that task is skipped but never the steps after it (they stay
#: at map index -1 with no state and the DAG run fails: seen in tests/e2e/test_aws_profile.py under
#: .venv-mwaa); Airflow 3.1+ expands them. Same versions as :data:`HAS_ALL_DONE_MIN_ONE_SUCCESS`.
JOINS_INTO_MAPPED_GROUPS = HAS_ALL_DONE_MIN_ONE_SUCCESS


def check_all_done_min_one_success() -> None:
    """Inside a task with trigger rule :data:`ALL_DONE_MIN_ONE_SUCCESS`, make the decision the
    Airflow 3.1+ scheduler makes for that rule where the scheduler cannot (Airflow 3.0, trigger
    rule ``all_done``): skip when an upstream task was skipped, fail when none succeeded (the
    scheduler would mark the task upstream_failed; downstream tasks see the same). A no-op where
    the scheduler applies the rule itself."""
    if HAS_ALL_DONE_MIN_ONE_SUCCESS:
        return
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id],
                                task_ids=sorted(ti.task.upstream_task_ids)).get(ti.run_id, {})
    if any(state == "skipped" for state in states.values()):
        raise AirflowSkipException(f"an upstream task was skipped: {sorted(states.items())}")
    if not any(state == "success" for state in states.values()):
        raise AirflowFailException(f"no upstream task succeeded: {sorted(states.items())}")


def glue_job_operator() -> tuple[type, dict[str, bool]]:
    """The Glue operator class and its retry kwargs: ``GlueJobOperator`` with ``durable=True`` where
    it takes ``durable`` (it reattaches a retried task to its Glue run instead of starting a second
    one); else seqflow's :class:`~seqflow.aws.glue_reattach.ReattachingGlueJobOperator`, which does
    that itself: Amazon provider 9.12.0 (MWAA 3.0.6) has neither ``durable`` nor its predecessor
    ``resume_glue_job_on_retry``."""
    import inspect

    from airflow.providers.amazon.aws.operators.glue import GlueJobOperator

    if "durable" in inspect.signature(GlueJobOperator.__init__).parameters:
        return GlueJobOperator, {"durable": True}
    from seqflow.aws.glue_reattach import ReattachingGlueJobOperator

    return ReattachingGlueJobOperator, {}


def __getattr__(name: str):
    # DagBag moved to airflow.dag_processing.dagbag in Airflow 3.1; loaded lazily because only the
    # tests use these two and importing them is heavy.
    if name == "DagBag":
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:  # Airflow 3.0 (MWAA)
            from airflow.models.dagbag import DagBag
        return DagBag
    # DagSerialization is 3.1's name of SerializedDAG's to_dict/from_dict.
    if name == "DagSerialization":
        try:
            from airflow.serialization.serialized_objects import DagSerialization
        except ImportError:  # Airflow 3.0 (MWAA)
            from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization
        return DagSerialization
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALL_DONE_MIN_ONE_SUCCESS", "AirflowException", "AirflowFailException", "AirflowSkipException", "DagBag",
    "DagSerialization", "HAS_ALL_DONE_MIN_ONE_SUCCESS", "JOINS_INTO_MAPPED_GROUPS", "RETRIABLE_ERROR_CODES", "TaskDeferred",
    "WaiterTerminalFailure", "check_all_done_min_one_success", "conf", "glue_job_operator", "wait",
]
