"""Run rules in plain Python, without a component: for a pack's unit tests.

    from palisade_policy.testing import check, load_pack

    RULES = load_pack("path/to/pack")
    verdict = check(RULES, {"ResourceId": "b", "ResourceType": "AWS.S3.Bucket", ...},
                    rule_id="Example.S3.Bucket.Encrypted")
    assert verdict == ("fail", "bucket b has no default encryption")

The verdicts come from the same runtime the component runs (only the WIT types are swapped for
the named tuples below), so the outcome mapping is exactly the pack's.
"""

import json
from collections import namedtuple
from datetime import datetime, timezone

from . import _host
from ._rule import SETTING_KINDS, SEVERITIES, Rule
from ._runtime import Runtime, Types
from ._time import parse_time

__all__ = ["FakeHost", "Verdict", "Outcome", "RuleRequest", "PLAIN_TYPES", "load_pack", "runtime",
           "check"]

#: A verdict: ``status`` is ``"pass"``, ``"fail"`` or ``"error"``.
Verdict = namedtuple("Verdict", "status message")
Outcome = namedtuple("Outcome", "rule document verdict")
RuleRequest = namedtuple("RuleRequest", "rule_id settings_json")
RuleInfo = namedtuple(
    "RuleInfo",
    "id title severity resource_types description remediation references compliance settings "
    "default_enabled",
)
SettingInfo = namedtuple("SettingInfo", "name description kind default_json")

#: Plain-Python stand-ins for the WIT types: enums are their names as strings.
PLAIN_TYPES = Types(
    Verdict=Verdict, Outcome=Outcome, RuleInfo=RuleInfo, Setting=SettingInfo,
    pass_="pass", fail="fail", error="error",
    severities={s: s for s in SEVERITIES},
    setting_kinds={k: k for k in SETTING_KINDS},
)


class FakeHost:
    """A host for tests: a fixed time, a set of resources lookups can see, and a list of the
    log lines written (``(level, message)`` pairs)."""

    def __init__(self, now="2026-01-01T00:00:00Z", resources=()):
        when = parse_time(now) if isinstance(now, str) else now
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
        self.seconds = delta.days * 86400 + delta.seconds
        self.nanoseconds = delta.microseconds * 1000
        self.resources = {}
        self.logs = []
        for document in resources:
            self.add(document)

    def add(self, document):
        """Make ``document`` (a dict) visible to lookups under its ``ResourceId``."""
        self.resources[document["ResourceId"]] = json.dumps(document)
        return self

    def now(self):
        return self.seconds, self.nanoseconds

    def lookup(self, resource_id):
        return self.resources.get(resource_id)

    def log(self, level, message):
        self.logs.append((level, message))


def _rules(rules):
    if isinstance(rules, Rule):
        return [rules]
    if callable(rules) and hasattr(rules, "__palisade_rule__"):
        return [rules.__palisade_rule__]
    out = []
    for r in rules:
        out.extend(_rules(r))
    return out


def load_pack(folder):
    """The rules of the pack folder ``folder`` (as ``palisade_policy build`` finds them: decorated
    rule files and Panther-style files with their specs), imported into this process. The folder
    goes on ``sys.path`` so its modules can import each other."""
    import os
    import sys

    from . import _pack, _rule
    from .build import discover

    rule_files = discover(folder)
    path = os.path.abspath(folder)
    if path not in sys.path:
        sys.path.insert(0, path)
    return _pack.load(
        [f.module for f in rule_files if f.style == "decorated"],
        [(f.module, f.metadata) for f in rule_files if f.style == "panther"],
        registry_start=len(_rule._REGISTRY),
    )


def runtime(rules):
    """A runtime over ``rules`` (Rules, ``@rule`` functions, or lists of them) answering with
    :data:`PLAIN_TYPES`."""
    return Runtime(_rules(rules), PLAIN_TYPES)


def check(rules, document, rule_id=None, settings=None, host=None):
    """Evaluate one rule of ``rules`` on ``document`` (a dict or JSON text) and return its
    :class:`Verdict`. ``rule_id`` may be left out when there is one rule; ``settings`` is a dict
    of setting values; ``host`` defaults to a :class:`FakeHost` at 2026-01-01."""
    rt = runtime(rules)
    if rule_id is None:
        if len(rt.rules) != 1:
            raise ValueError("several rules: name the one to check with rule_id=")
        rule_id = rt.rules[0].id
    text = document if isinstance(document, str) else json.dumps(document)
    parsed = json.loads(text) if isinstance(document, str) else document
    resource_type = parsed.get("ResourceType") if isinstance(parsed, dict) else None
    if not resource_type:
        r = rt.by_id.get(rule_id)
        resource_type = r.resource_types[0] if r else ""
    request = RuleRequest(rule_id, json.dumps(settings) if settings is not None else "")
    _host.set_host(host if host is not None else FakeHost())
    return rt.evaluate(request, resource_type, text)
