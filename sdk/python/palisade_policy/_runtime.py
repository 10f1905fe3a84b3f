"""Runs a rule list against WIT-shaped requests: the body of every exported pack function.

The component glue (``_component``) hands it the WIT binding types; tests hand it plain ones
(``testing.PLAIN_TYPES``), so the very same code path runs with and without a component.

Hot path: each document is parsed with ``json.loads`` once per batch, each request is resolved
(rule lookup, settings parsed, call prepared) once per batch, and a pass is one shared verdict.
"""

import json

from . import _host
from .resource import CollectionError, Resource as _PlainResource, _GuardedResource, make_resource

__all__ = ["Runtime", "Types", "MAX_MESSAGE_BYTES"]

#: Messages longer than this are cut (at a character boundary): the host keeps 4 KiB.
MAX_MESSAGE_BYTES = 4096


class Types:
    """The record and enum constructors a :class:`Runtime` builds its answers from."""

    def __init__(self, *, Verdict, Outcome, RuleInfo, Setting, pass_, fail, error,
                 severities, setting_kinds):
        self.Verdict = Verdict
        self.Outcome = Outcome
        self.RuleInfo = RuleInfo
        self.Setting = Setting
        self.PASS = pass_
        self.FAIL = fail
        self.ERROR = error
        # Severity / setting-kind name -> enum value.
        self.severities = severities
        self.setting_kinds = setting_kinds


def capped(message):
    """``message`` cut to :data:`MAX_MESSAGE_BYTES` of UTF-8 (ending in ``...`` when cut)."""
    if len(message) * 4 <= MAX_MESSAGE_BYTES:
        return message
    encoded = message.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    return encoded[: MAX_MESSAGE_BYTES - 3].decode("utf-8", "ignore") + "..."


def _exception_message(e):
    if isinstance(e, CollectionError):
        return str(e)
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class Runtime:
    """Evaluates ``rules`` (a list of :class:`~palisade_policy.Rule`), answering with ``types``."""

    def __init__(self, rules, types):
        self.rules = list(rules)
        self.by_id = {}
        for r in self.rules:
            if r.id in self.by_id:
                raise ValueError(f"two rules have the id {r.id}")
            self.by_id[r.id] = r
        self.types = types
        self._pass = types.Verdict(types.PASS, None)
        self._info = None

    # describe ------------------------------------------------------------------------------

    def describe(self):
        if self._info is None:
            t = self.types
            self._info = [
                t.RuleInfo(
                    id=r.id,
                    title=r.title,
                    severity=t.severities[r.severity],
                    resource_types=list(r.resource_types),
                    description=r.description,
                    remediation=r.remediation,
                    references=list(r.references),
                    compliance=list(r.compliance),
                    settings=[
                        t.Setting(
                            name=s.name,
                            description=s.description,
                            kind=t.setting_kinds[s.kind],
                            default_json=s.default_json,
                        )
                        for s in r.settings
                    ],
                    default_enabled=r.default_enabled,
                )
                for r in self.rules
            ]
        return self._info

    # evaluate ------------------------------------------------------------------------------

    def _error(self, message):
        return self.types.Verdict(self.types.ERROR, capped(message))

    def _prepare(self, request, resource_type):
        """A function of the resource giving the request's verdict (constant when the request
        itself is wrong: unknown rule, wrong resource type, bad settings)."""
        rule_id = request.rule_id
        r = self.by_id.get(rule_id)
        if r is None:
            return self._constant(f"this pack has no rule {rule_id}")
        if resource_type not in r.resource_types:
            return self._constant(f"{rule_id} does not apply to {resource_type}")
        settings = None
        if r.defaults or r.policy_takes_settings or r.message_takes_settings:
            settings = dict(r.defaults)
            settings_json = request.settings_json
            if settings_json and settings_json.strip():
                try:
                    given = json.loads(settings_json)
                except ValueError as e:
                    return self._constant(f"rule settings are not valid JSON: {e}")
                if not isinstance(given, dict):
                    return self._constant("rule settings must be a JSON object")
                settings.update(given)
        return self._runner(r, settings)

    def _constant(self, message):
        verdict = self._error(message)
        run = lambda res: verdict  # noqa: E731
        run.constant = verdict
        return run

    def _runner(self, r, settings):
        t = self.types
        Verdict, FAIL, ERROR, PASS_VERDICT = t.Verdict, t.FAIL, t.ERROR, self._pass
        policy = r.policy
        rule_id = r.id
        takes_settings = r.policy_takes_settings
        message_fn = r.message
        message_takes_settings = r.message_takes_settings

        def failure(res):
            if message_fn is not None:
                try:
                    text = (message_fn(res, settings) if message_takes_settings
                            else message_fn(res))
                except BaseException as e:  # SystemExit too: a trap would end the batch
                    return Verdict(ERROR, capped(_exception_message(e)))
                if text is not None:
                    return Verdict(FAIL, capped(str(text)))
            rid = dict.get(res, "ResourceId")
            if rid is None:
                rid = ""
            return Verdict(FAIL, capped(f"{rid} does not comply with {rule_id}"))

        def run(res):
            try:
                result = policy(res, settings) if takes_settings else policy(res)
            except BaseException as e:  # SystemExit too: a trap would end the batch
                return Verdict(ERROR, capped(_exception_message(e)))
            if result is True:
                return PASS_VERDICT
            if result is False:
                return failure(res)
            return Verdict(ERROR, f"policy returned {type(result).__name__}, not a bool")

        return run

    def _resource(self, text):
        """The resource for document ``text``, or the error verdict every rule gets on it."""
        try:
            document = json.loads(text)
        except ValueError as e:
            return self._error(f"resource document is not valid JSON: {e}")
        if type(document) is not dict:
            return self._error("resource document is not a JSON object")
        return make_resource(document)

    def _guarded_run(self, run, res):
        # A document with collection errors: a rule that read an uncollected field ends in
        # `error` even when it caught the CollectionError and went on to decide.
        res._tripped = None
        verdict = run(res)
        tripped = res._tripped
        if tripped is not None and verdict.status != self.types.ERROR:
            return self._error(str(tripped))
        return verdict

    def evaluate(self, request, resource_type, document):
        """``rules.evaluate``: one rule on one document."""
        _host._new_call()
        run = self._prepare(request, resource_type)
        constant = getattr(run, "constant", None)
        if constant is not None:
            return constant
        res = self._resource(document)
        if not isinstance(res, dict):
            return res
        if type(res) is _GuardedResource:
            return self._guarded_run(run, res)
        return run(res)

    def evaluate_batch(self, requests, resource_type, documents):
        """``rules.evaluate-batch``: every requested rule on every document, each document
        parsed once. One outcome per (rule, document) pair, documents outermost."""
        _host._new_call()
        Outcome = self.types.Outcome
        runs = list(enumerate(self._prepare(q, resource_type) for q in requests))
        out = []
        append = out.append
        loads = json.loads
        Resource = _PlainResource
        for d, text in enumerate(documents):
            try:
                document = loads(text)
            except ValueError as e:
                document = e
            if type(document) is dict:
                if "CollectionErrors" not in document:
                    res = Resource(document)
                    for r, run in runs:
                        append(Outcome(r, d, run(res)))
                    continue
                res = make_resource(document)
                if type(res) is _GuardedResource:
                    for r, run in runs:
                        append(Outcome(r, d, self._guarded_run(run, res)))
                else:
                    for r, run in runs:
                        append(Outcome(r, d, run(res)))
                continue
            if isinstance(document, ValueError):
                error = self._error(f"resource document is not valid JSON: {document}")
            else:
                error = self._error("resource document is not a JSON object")
            # A request error (unknown rule, bad settings) outranks a bad document.
            for r, run in runs:
                append(Outcome(r, d, getattr(run, "constant", None) or error))
        return out
