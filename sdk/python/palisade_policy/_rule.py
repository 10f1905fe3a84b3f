"""What a rule is: its metadata and its functions, and the ``@rule`` decorator that registers one.

Nothing here talks to the host or to the WIT bindings; this module is plain Python so rules can
be imported and unit-tested outside a component.
"""

import inspect
import json

__all__ = ["Rule", "Setting", "rule", "SEVERITIES", "SETTING_KINDS", "registered"]

#: Severity names, least to most severe (the WIT ``severity`` enum).
SEVERITIES = ("info", "low", "medium", "high", "critical")

#: Setting kinds (the WIT ``setting-kind`` enum).
SETTING_KINDS = ("boolean", "integer", "number", "text", "text-list", "text-map")

# Every rule registered by `@rule`, in registration order. The pack loader takes the rules a
# module registered while it imported it.
_REGISTRY = []


def registered():
    """The rules registered so far with ``@rule`` (a copy)."""
    return list(_REGISTRY)


class Setting:
    """An operator-tunable parameter of a rule, with its default (a JSON-able Python value)."""

    __slots__ = ("name", "kind", "default", "description", "default_json")

    def __init__(self, name, kind, default, description=""):
        kind = str(kind).lower().replace("_", "-")
        if kind not in SETTING_KINDS:
            raise ValueError(
                f"setting {name!r}: kind {kind!r} is not one of {', '.join(SETTING_KINDS)}"
            )
        self.name = str(name)
        self.kind = kind
        self.default = default
        self.description = str(description)
        self.default_json = json.dumps(default)

    def __repr__(self):
        return f"Setting({self.name!r}, {self.kind!r}, {self.default!r})"


def _severity(value, where):
    name = str(getattr(value, "name", value)).strip().lower()
    if name not in SEVERITIES:
        raise ValueError(f"{where}: severity {value!r} is not one of {', '.join(SEVERITIES)}")
    return name


def _strings(value, what, where):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{where}: {what} must be a string or a list of strings") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{where}: {what} must be strings, not {type(item).__name__}")
    return items


def _takes_settings(func, where):
    """Whether ``func`` takes a second positional parameter (the rule's settings)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return True
    if not positional:
        raise TypeError(f"{where}: {getattr(func, '__name__', func)} must take the resource")
    return len(positional) >= 2


class Rule:
    """One rule: metadata plus the ``policy`` function and an optional message function."""

    __slots__ = (
        "id", "title", "severity", "resource_types", "description", "remediation",
        "references", "compliance", "settings", "default_enabled",
        "policy", "message", "policy_takes_settings", "message_takes_settings",
        "module", "defaults",
    )

    def __init__(self, id, title, severity, resource_types, policy, *, description="",
                 remediation="", references=(), compliance=(), settings=(),
                 default_enabled=True, message=None, module=None):
        where = f"rule {id!r}"
        if not isinstance(id, str) or not id:
            raise ValueError(f"a rule needs a non-empty string id, not {id!r}")
        if not callable(policy):
            raise TypeError(f"{where}: policy must be a function")
        if message is not None and not callable(message):
            raise TypeError(f"{where}: message must be a function of the resource")
        self.id = id
        self.title = str(title) if title else id
        self.severity = _severity(severity, where)
        self.resource_types = _strings(resource_types, "resource_types", where)
        if not self.resource_types:
            raise ValueError(f"{where}: resource_types must name at least one resource type")
        self.description = str(description or "")
        self.remediation = str(remediation or "")
        self.references = _strings(references, "references", where)
        self.compliance = _strings(compliance, "compliance", where)
        self.settings = list(settings or ())
        for s in self.settings:
            if not isinstance(s, Setting):
                raise TypeError(f"{where}: settings must be Setting(...) values")
        self.default_enabled = bool(default_enabled)
        self.policy = policy
        self.message = message
        self.policy_takes_settings = _takes_settings(policy, where)
        self.message_takes_settings = (
            _takes_settings(message, where) if message is not None else False
        )
        self.module = module if module is not None else getattr(policy, "__module__", None)
        self.defaults = {s.name: s.default for s in self.settings}

    def use_message(self, message):
        """Use ``message`` (a function of the resource) for failures unless one is set."""
        if self.message is None and message is not None:
            self.message = message
            self.message_takes_settings = _takes_settings(message, f"rule {self.id!r}")

    def __repr__(self):
        return f"Rule({self.id!r})"


def rule(*, id, severity, resource_types, title="", description="", remediation="",
         references=(), compliance=(), settings=(), default_enabled=True, message=None):
    """Register the decorated function as the ``policy`` of a rule.

    The function takes the resource (a :class:`~palisade_policy.Resource`) and, when it has a
    second parameter, the rule's settings (a ``dict``); it returns ``True`` when the resource
    complies and ``False`` when it does not. ``message`` (a function of the resource, optionally
    also of the settings) gives the failure message; without it a module-level ``title(resource)``
    function is used (Panther style), else ``"<ResourceId> does not comply with <id>"``.

    The function is returned unchanged (with the :class:`Rule` as ``__palisade_rule__``), so it
    can still be called directly in unit tests.
    """

    def register(func):
        r = Rule(
            id, title, severity, resource_types, func, description=description,
            remediation=remediation, references=references, compliance=compliance,
            settings=settings, default_enabled=default_enabled, message=message,
        )
        _REGISTRY.append(r)
        try:
            func.__palisade_rule__ = r
        except (AttributeError, TypeError):
            pass
        return func

    return register
