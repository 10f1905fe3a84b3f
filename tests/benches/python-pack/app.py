"""A policy pack in Python for the server benchmark: one rule on S3 buckets, so the
benchmark can time hot-loading a component of the size componentize-py produces (~40 MB,
the interpreter included)."""

import json

from wit_world import exports
from wit_world.imports.types import (
    Outcome, RuleInfo, Severity, Status, Verdict,
)

RULE = RuleInfo(
    id="Py.Bucket.Named",
    title="bucket name has no uppercase letters (Python)",
    severity=Severity.LOW,
    resource_types=["AWS.S3.Bucket"],
    description="A rule written in Python.",
    remediation="Rename the bucket.",
    references=[],
    compliance=[],
    settings=[],
    default_enabled=True,
)


def verdict(document: str) -> Verdict:
    name = json.loads(document).get("Name") or ""
    if name != name.lower():
        return Verdict(status=Status.FAIL, message=f"{name} has uppercase letters")
    return Verdict(status=Status.PASS, message=None)


class Rules(exports.Rules):
    def describe(self):
        return [RULE]

    def evaluate(self, rule, resource_type, document):
        return verdict(document)

    def evaluate_batch(self, rules, resource_type, documents):
        return [
            Outcome(rule=r, document=d, verdict=verdict(doc))
            for r in range(len(rules))
            for d, doc in enumerate(documents)
        ]
