"""Which reference a run's samples are aligned to: never a guess.

In order, the first that applies:

1. the trigger's ``reference`` param (every selected sample);
2. the sample sheet, through the deployment's mapping table: a rule
   ``(field, value) -> reference`` matches a sample when its data row has the
   column ``field`` with ``value`` (``Sample_Project`` = ``CancerWGS``), or when
   ``field`` is ``<Section>.<Key>`` of a settings section of the sheet
   (``DragenGermline_Settings.ReferenceGenomeDir`` = ``hg38-alt_masked``);
3. the deployment's default reference, if one is set.

A sample that none of these gives a reference stops the analysis at ``plan``
with a message that says how to set one. The default and the mapping table
live in the reference catalogue (``seqflow reference default``, ``seqflow
reference map``), beside the references they name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from seqflow.samplesheet import SampleRecord, SampleSheet

RULES_FILE = "_rules.json"


class UnresolvedReference(ValueError):
    """No reference for some samples; the message says how to give one."""


@dataclass(frozen=True)
class MappingRule:
    """``field`` = ``value`` in the sample sheet means ``reference``."""

    field: str
    value: str
    reference: str

    def matches(self, record: SampleRecord, sheet: SampleSheet) -> bool:
        section, dot, key = self.field.partition(".")
        if dot:
            values = {k.lower(): v for k, v in sheet.settings.get(section, {}).items()}
            return values.get(key.lower()) == self.value
        columns = {k.lower(): v for k, v in record.columns.items()}
        return columns.get(self.field.lower()) == self.value

    def describe(self) -> str:
        return f"{self.field}={self.value}"


@dataclass(frozen=True)
class ReferenceRules:
    """The deployment's default reference and its sample-sheet mapping table."""

    default: str | None = None
    mapping: tuple[MappingRule, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        return json.dumps({
            "default": self.default,
            "map": [{"field": r.field, "value": r.value, "reference": r.reference} for r in self.mapping],
        }, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str | None) -> ReferenceRules:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        return cls(
            default=data.get("default") or None,
            mapping=tuple(MappingRule(r["field"], r["value"], r["reference"]) for r in data.get("map", [])),
        )

    def with_default(self, name: str | None) -> ReferenceRules:
        return ReferenceRules(name, self.mapping)

    def with_rule(self, rule: MappingRule) -> ReferenceRules:
        kept = tuple(r for r in self.mapping if (r.field.lower(), r.value) != (rule.field.lower(), rule.value))
        return ReferenceRules(self.default, (*kept, rule))

    def without_rule(self, field_name: str, value: str) -> ReferenceRules:
        return ReferenceRules(
            self.default, tuple(r for r in self.mapping if (r.field.lower(), r.value) != (field_name.lower(), value))
        )

    def names(self) -> set[str]:
        """Every reference the rules name."""
        return {r.reference for r in self.mapping} | ({self.default} if self.default else set())


@dataclass(frozen=True)
class Resolution:
    """The reference of one sample and where it came from."""

    sample_id: str
    reference: str | None
    origin: str


def resolve_references(
    records: Sequence[SampleRecord], sheet: SampleSheet, rules: ReferenceRules, param: str | None = None
) -> list[Resolution]:
    """The reference of each sample (``reference`` None where nothing gives one)."""
    out = []
    for record in records:
        if param:
            out.append(Resolution(record.sample_id, param, "the reference param"))
            continue
        rule = next((r for r in rules.mapping if r.matches(record, sheet)), None)
        if rule is not None:
            out.append(Resolution(record.sample_id, rule.reference, f"sample sheet {rule.describe()}"))
        elif rules.default:
            out.append(Resolution(record.sample_id, rules.default, "the deployment's default reference"))
        else:
            out.append(Resolution(record.sample_id, None, "nothing"))
    return out


def group_by_reference(resolutions: Iterable[Resolution]) -> dict[str | None, list[str]]:
    """Sample ids per resolved reference (``None``: unresolved), in sheet order."""
    groups: dict[str | None, list[str]] = {}
    for r in resolutions:
        groups.setdefault(r.reference, []).append(r.sample_id)
    return groups


def single_reference(resolutions: Sequence[Resolution], run_id: str) -> str:
    """The one reference of the selected samples; :class:`UnresolvedReference` otherwise."""
    groups = group_by_reference(resolutions)
    missing = groups.pop(None, [])
    if missing:
        raise UnresolvedReference(
            f"run {run_id}: no reference for sample(s) {', '.join(missing)}: nothing names one. "
            "Set the trigger's reference param, map the run's sample sheet to a reference "
            "(seqflow reference map Sample_Project <project> <reference>), or set the deployment's default "
            "(seqflow reference default <reference>); seqflow reference list shows the registered ones"
        )
    if len(groups) > 1:
        listed = "; ".join(f"{ref}: {', '.join(samples)}" for ref, samples in groups.items())
        raise UnresolvedReference(
            f"run {run_id}: the selected samples map to {len(groups)} references ({listed}); "
            "one analysis aligns to one reference: trigger one per reference with the samples param "
            "(the daily ingest does this itself)"
        )
    return next(iter(groups))
