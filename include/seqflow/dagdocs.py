"""DAG docs for the profile that is running: one Markdown docstring per DAG, with the parts
that hold for one profile only marked, so the UI's DAG docs describe this deployment.

A block (a paragraph, a list item with its continuation lines, or the lines of an item from
a marked line on) whose text starts with ``[local]`` or ``[aws]`` is kept, without the marker,
in that profile's docs only; every other block is kept in both.
"""

from __future__ import annotations

import re

PROFILES = ("local", "aws")
_MARKER = re.compile(r"^(?P<indent>\s*(?:[*-]|\d+\.)?\s*)\[(?P<profile>local|aws)\]\s?")
_BLOCK_START = re.compile(r"^\s*(?:[*-]|\d+\.)\s")

PROFILE_LINES = {
    "local": "*Profile **local**: the real tools run as processes on this machine; folders stand in for "
             "S3, SQLite for DynamoDB, DuckDB for Athena (docs/local-profile.md).*",
    "aws": "*Profile **aws**: S3, AWS Batch or HealthOmics, Glue, Athena, DynamoDB (docs/aws.md).*",
}


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in lines:
        # a marked line inside a list item starts a block of its own (the rest of that item)
        if (not line.strip() or not blocks or _BLOCK_START.match(line) or _MARKER.match(line)
                or not blocks[-1][-1].strip()):
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return blocks


def for_profile(doc: str, profile: str) -> str:
    """``doc`` with the blocks of other profiles left out, and a line naming ``profile`` after its heading."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    out: list[str] = []
    for block in _blocks(doc.strip("\n").splitlines()):
        match = _MARKER.match(block[0])
        if match:
            if match["profile"] != profile:
                continue
            block = [match["indent"] + block[0][match.end():], *block[1:]]
        out.extend(block)
    text = "\n".join(out)
    # collapse the blank lines a dropped paragraph leaves behind
    text = re.sub(r"\n{3,}", "\n\n", text)
    heading, _, rest = text.partition("\n")
    return f"{heading}\n\n{PROFILE_LINES[profile]}\n{rest}\n"
