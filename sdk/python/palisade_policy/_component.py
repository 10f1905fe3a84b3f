"""Glue between the rule runtime and the componentize-py bindings of the ``pack`` world.

Imported only inside a pack component (by the app module the build generates): importing it
installs the component's ``host`` imports as the provider of ``now``/``lookup``/``log``.
"""

from wit_world import exports
from wit_world.imports import host as _wit_host
from wit_world.imports import types as _wit

from . import _host
from ._runtime import Runtime, Types

TYPES = Types(
    Verdict=_wit.Verdict,
    Outcome=_wit.Outcome,
    RuleInfo=_wit.RuleInfo,
    Setting=_wit.Setting,
    pass_=_wit.Status.PASS,
    fail=_wit.Status.FAIL,
    error=_wit.Status.ERROR,
    severities={
        "info": _wit.Severity.INFO,
        "low": _wit.Severity.LOW,
        "medium": _wit.Severity.MEDIUM,
        "high": _wit.Severity.HIGH,
        "critical": _wit.Severity.CRITICAL,
    },
    setting_kinds={
        "boolean": _wit.SettingKind.BOOLEAN,
        "integer": _wit.SettingKind.INTEGER,
        "number": _wit.SettingKind.NUMBER,
        "text": _wit.SettingKind.TEXT,
        "text-list": _wit.SettingKind.TEXT_LIST,
        "text-map": _wit.SettingKind.TEXT_MAP,
    },
)

_LEVELS = {
    "trace": _wit_host.LogLevel.TRACE,
    "debug": _wit_host.LogLevel.DEBUG,
    "info": _wit_host.LogLevel.INFO,
    "warn": _wit_host.LogLevel.WARN,
    "error": _wit_host.LogLevel.ERROR,
}


class ComponentHost:
    """The ``palisade:policy/host`` imports."""

    def now(self):
        instant = _wit_host.now()
        return instant.seconds, instant.nanoseconds

    def lookup(self, resource_id):
        return _wit_host.lookup(resource_id)

    def log(self, level, message):
        _wit_host.log(_LEVELS[level], message)


_host.set_host(ComponentHost())


def rules_class(rules):
    """The class implementing the exported ``rules`` interface for ``rules``."""
    runtime = Runtime(rules, TYPES)

    class Rules(exports.Rules):
        def describe(self):
            return runtime.describe()

        def evaluate(self, rule, resource_type, document):
            return runtime.evaluate(rule, resource_type, document)

        def evaluate_batch(self, rules, resource_type, documents):
            return runtime.evaluate_batch(rules, resource_type, documents)

    return Rules
