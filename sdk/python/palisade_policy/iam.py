"""IAM policy documents: parse one (JSON text, URL-encoded JSON text, or a dict) and ask what it
allows.

>>> doc = PolicyDocument.parse('{"Statement": {"Effect": "Allow", "Action": "s3:Get*",'
...                            ' "Resource": "arn:aws:s3:::b/*"}}')
>>> doc.allows("s3:GetObject", "arn:aws:s3:::b/key")
True
>>> doc.grants_admin()
False
"""

import json
import re
from urllib.parse import unquote

__all__ = ["PolicyDocument", "Statement", "wildcard_match"]

_patterns = {}


def _compile(pattern, ignore_case):
    key = (pattern, ignore_case)
    compiled = _patterns.get(key)
    if compiled is None:
        parts = []
        for ch in pattern:
            if ch == "*":
                parts.append(".*")
            elif ch == "?":
                parts.append(".")
            else:
                parts.append(re.escape(ch))
        flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        compiled = re.compile("".join(parts) + r"\Z", flags)
        _patterns[key] = compiled
    return compiled


def wildcard_match(pattern, value, ignore_case=False):
    """Whether ``value`` matches the IAM ``pattern`` (``*`` any run of characters, ``?`` one)."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _compile(pattern, ignore_case).match(value) is not None


def _strings(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _principals(value):
    """``Principal`` as a dict of principal type to list of principals; ``"*"`` is
    ``{"*": ["*"]}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"*": ["*"]} if value == "*" else {"AWS": [value]}
    if isinstance(value, dict):
        return {str(k): _strings(v) for k, v in value.items()}
    return {}


class Statement:
    """One statement of a policy document, every list field normalised to a list."""

    __slots__ = ("sid", "effect", "actions", "not_actions", "resources", "not_resources",
                 "principals", "not_principals", "conditions", "raw")

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("a policy statement must be a JSON object")
        self.raw = raw
        sid = raw.get("Sid")
        self.sid = sid if isinstance(sid, str) else None
        effect = raw.get("Effect")
        self.effect = effect if isinstance(effect, str) else ""
        self.actions = _strings(raw.get("Action"))
        self.not_actions = _strings(raw.get("NotAction"))
        self.resources = _strings(raw.get("Resource"))
        self.not_resources = _strings(raw.get("NotResource"))
        self.principals = _principals(raw.get("Principal"))
        self.not_principals = _principals(raw.get("NotPrincipal"))
        conditions = raw.get("Condition")
        self.conditions = conditions if isinstance(conditions, dict) else {}

    @property
    def is_allow(self):
        return self.effect == "Allow"

    @property
    def is_deny(self):
        return self.effect == "Deny"

    def matches_action(self, action):
        """Whether the statement covers ``action`` (case-insensitive, wildcards in the
        statement)."""
        if self.actions:
            return any(wildcard_match(p, action, True) for p in self.actions)
        if self.not_actions:
            return not any(wildcard_match(p, action, True) for p in self.not_actions)
        return False

    def matches_resource(self, resource):
        """Whether the statement covers ``resource``. A statement without ``Resource`` or
        ``NotResource`` (a trust or resource policy) covers any."""
        if self.resources:
            return any(wildcard_match(p, resource) for p in self.resources)
        if self.not_resources:
            return not any(wildcard_match(p, resource) for p in self.not_resources)
        return True

    @property
    def is_public(self):
        """Allows everyone (principal ``*`` or ``{"AWS": "*"}``) without a condition."""
        if not self.is_allow or self.conditions:
            return False
        return "*" in self.principals.get("*", ()) or "*" in self.principals.get("AWS", ())

    def __repr__(self):
        return f"Statement({self.raw!r})"


class PolicyDocument:
    """An IAM policy document."""

    __slots__ = ("version", "statements", "raw")

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("a policy document must be a JSON object")
        self.raw = raw
        version = raw.get("Version")
        self.version = version if isinstance(version, str) else None
        statements = raw.get("Statement")
        if statements is None:
            statements = []
        elif isinstance(statements, dict):
            statements = [statements]
        elif not isinstance(statements, list):
            raise ValueError("Statement must be an object or a list of objects")
        self.statements = [Statement(s) for s in statements]

    @classmethod
    def parse(cls, document):
        """A policy document from a dict, JSON text, or URL-encoded JSON text (as IAM returns
        policies). Raises ``ValueError`` when it is none of these."""
        if isinstance(document, PolicyDocument):
            return document
        if isinstance(document, (bytes, bytearray)):
            document = document.decode("utf-8")
        if isinstance(document, str):
            text = document.strip()
            if text.startswith("%"):
                text = unquote(text)
            try:
                document = json.loads(text)
            except ValueError as e:
                raise ValueError(f"policy document is not valid JSON: {e}") from None
        return cls(document)

    def allows(self, action, resource="*"):
        """Whether some ``Allow`` statement covers ``action`` on ``resource`` and no
        unconditional ``Deny`` statement does. Conditions on ``Allow`` statements are not
        evaluated (a conditional grant counts as a grant)."""
        allowed = False
        for s in self.statements:
            if s.is_deny:
                if not s.conditions and s.matches_action(action) and s.matches_resource(resource):
                    return False
            elif s.is_allow and not allowed:
                allowed = s.matches_action(action) and s.matches_resource(resource)
        return allowed

    def grants_admin(self):
        """Whether some statement allows every action (``*``) on every resource (``*``)."""
        for s in self.statements:
            if s.is_allow and any(a in ("*", "*:*") for a in s.actions) and "*" in s.resources:
                return True
        return False

    def public_statements(self):
        """The statements that allow anyone (principal ``*`` or ``{"AWS": "*"}``) without a
        condition."""
        return [s for s in self.statements if s.is_public]

    def __repr__(self):
        return f"PolicyDocument({self.raw!r})"
