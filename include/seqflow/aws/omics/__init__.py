"""AWS HealthOmics support the Amazon provider lacks: hook, operator, sensor, trigger, link.

Shaped like the provider's own modules so that DAGs use them the same way as, say,
the Glue or Batch operators. See README.md beside this file.
"""

from __future__ import annotations

from seqflow.aws.omics.hooks import OmicsHook, OmicsRunFailedError
from seqflow.aws.omics.links import OmicsRunLink
from seqflow.aws.omics.operators import OmicsStartRunOperator
from seqflow.aws.omics.sensors import OmicsRunSensor
from seqflow.aws.omics.triggers import OmicsRunCompleteTrigger

__all__ = [
    "OmicsHook",
    "OmicsRunCompleteTrigger",
    "OmicsRunFailedError",
    "OmicsRunLink",
    "OmicsRunSensor",
    "OmicsStartRunOperator",
]
