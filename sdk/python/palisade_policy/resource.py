"""A resource document as a rule sees it: a ``dict`` that refuses to answer for fields the
collector could not read.

A document names such fields in its top-level ``CollectionErrors`` object (field name to reason).
Reading one of them (``resource["F"]``, ``resource.get("F")``, ``"F" in resource`` or
``deep_get(resource, "F", ...)``) raises :class:`CollectionError`, which the pack runtime turns
into an ``error`` verdict: "could not read" must never look like "not configured".
"""

import json

__all__ = ["CollectionError", "Resource", "deep_get", "make_resource"]


class CollectionError(Exception):
    """A rule read a field that the collector could not read. Becomes an ``error`` verdict.

    Deliberately not a ``KeyError``: a rule's ``except KeyError`` must not swallow it.
    """

    def __init__(self, field, reason):
        self.field = field
        self.reason = reason
        super().__init__(f"{field} was not collected: {reason}")


class Resource(dict):
    """A resource document (a ``dict`` of its top-level fields).

    Documents without collection errors are instances of this class and read at plain ``dict``
    speed; documents with some are instances of a subclass whose reads of the named fields raise
    :class:`CollectionError`. Build one with :func:`make_resource` (or ``Resource.of``).
    """

    __slots__ = ()

    @staticmethod
    def of(document):
        """A resource for ``document``: a ``dict`` or JSON text of an object."""
        if isinstance(document, (str, bytes, bytearray)):
            document = json.loads(document)
        return make_resource(document)

    @property
    def id(self):
        """``ResourceId`` (``""`` when absent)."""
        value = dict.get(self, "ResourceId")
        return value if isinstance(value, str) else ""

    @property
    def resource_type(self):
        """``ResourceType`` (``""`` when absent)."""
        value = dict.get(self, "ResourceType")
        return value if isinstance(value, str) else ""

    @property
    def collection_errors(self):
        """Field name to reason, for the fields the collector could not read."""
        return {}

    def deep_get(self, *keys, default=None):
        """``deep_get(self, *keys, default=default)``."""
        return deep_get(self, *keys, default=default)


class _GuardedResource(Resource):
    """A resource with collection errors: reads of the named fields raise."""

    __slots__ = ("_errors", "_tripped")

    def __getitem__(self, key):
        reason = self._errors.get(key)
        if reason is not None:
            raise self._trip(key, reason)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        reason = self._errors.get(key)
        if reason is not None:
            raise self._trip(key, reason)
        return dict.get(self, key, default)

    def __contains__(self, key):
        reason = self._errors.get(key)
        if reason is not None:
            raise self._trip(key, reason)
        return dict.__contains__(self, key)

    def _trip(self, key, reason):
        # Remembered so that a rule that catches the error (a broad `except Exception`) still
        # ends in `error`: the runtime checks this after every rule.
        error = CollectionError(key, reason)
        if self._tripped is None:
            self._tripped = error
        return error

    @property
    def collection_errors(self):
        return dict(self._errors)


def _reasons(errors):
    """The non-null entries of a ``CollectionErrors`` value, reasons as text."""
    if not isinstance(errors, dict):
        return None
    out = {}
    for field, reason in errors.items():
        if reason is None:
            continue
        out[field] = reason if isinstance(reason, str) else json.dumps(reason)
    return out or None


def make_resource(document):
    """Wrap a parsed document (a ``dict``) as a :class:`Resource`. Copies the top level only."""
    errors = document.get("CollectionErrors")
    if errors:
        reasons = _reasons(errors)
        if reasons is not None:
            res = _GuardedResource(document)
            res._errors = reasons
            res._tripped = None
            return res
    return Resource(document)


def _is_index(key):
    return isinstance(key, int) and not isinstance(key, bool) or (
        isinstance(key, str) and key.isdigit() and key.isascii()
    )


def _fan_out(items, key, out):
    """Apply ``key`` to every element of ``items`` (recursing into nested lists), appending the
    non-null results to ``out`` and flattening results that are lists."""
    for item in items:
        if isinstance(item, dict):
            value = item.get(key)
        elif isinstance(item, list):
            _fan_out(item, key, out)
            continue
        else:
            continue
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        else:
            out.append(value)


def deep_get(obj, *keys, default=None):
    """The value at ``keys`` below ``obj``, or ``default`` when a step is missing or null.

    Like Panther's ``deep_get``/``deep_walk``: each key is looked up in a dict; when the current
    value is a list, an integer key (or a string of digits) indexes it, and any other key is
    applied to every element, the results flattened into one list with nulls skipped (an empty
    result is ``default``). ``None`` counts as absent, as everywhere in the resource model.

    >>> sg = {"IpPermissions": [{"IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
    ...                         {"IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    >>> deep_get(sg, "IpPermissions", "IpRanges", "CidrIp")
    ['10.0.0.0/8', '0.0.0.0/0']

    On a :class:`Resource` the first step goes through ``Resource.get``, so a path starting at
    a field named in ``CollectionErrors`` raises :class:`CollectionError`.
    """
    current = obj
    for key in keys:
        if isinstance(current, dict):
            current = current.get(key)
        elif isinstance(current, list):
            if _is_index(key):
                index = int(key)
                current = current[index] if 0 <= index < len(current) else None
            else:
                found = []
                _fan_out(current, key, found)
                current = found or None
        else:
            return default
        if current is None:
            return default
    return current
