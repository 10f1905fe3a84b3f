"""The host services a rule may use: the evaluation time, other resources, the log.

Inside a pack component these are the ``palisade:policy/host`` imports (installed by
``palisade_policy._component`` when the pack loads). Outside one, install any object with
``now() -> (seconds, nanoseconds)``, ``lookup(resource_id) -> str | None`` and
``log(level, message)`` with :func:`set_host` (``palisade_policy.testing.FakeHost`` is one).
"""

import json
from datetime import datetime, timedelta, timezone

from .resource import make_resource

__all__ = ["LOG_LEVELS", "set_host", "get_host", "now", "lookup", "log"]

#: Log levels, as in the WIT ``host`` interface.
LOG_LEVELS = ("trace", "debug", "info", "warn", "error")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_host = None
# The evaluation time of the current call, read from the host at most once per call.
_now = None


def set_host(host):
    """Install ``host`` as the provider of :func:`now`, :func:`lookup` and :func:`log`."""
    global _host, _now
    _host = host
    _now = None


def get_host():
    """The installed host; inside a component, the component imports."""
    if _host is None:
        try:
            from . import _component  # noqa: F401  (installs the component host)
        except ImportError:
            pass
        if _host is None:
            raise RuntimeError(
                "palisade_policy host functions (now, lookup, log) are only available inside a "
                "pack component; in tests install one with palisade_policy.set_host("
                "palisade_policy.testing.FakeHost(...))"
            )
    return _host


def _new_call():
    """Forget the cached evaluation time: called by the runtime at the start of every call."""
    global _now
    _now = None


def now():
    """The evaluation time as a timezone-aware UTC ``datetime``. Use it for every age; never
    the system clock (a pack has none, and results must be reproducible)."""
    global _now
    if _now is None:
        seconds, nanoseconds = get_host().now()
        _now = _EPOCH + timedelta(seconds=seconds, microseconds=nanoseconds // 1000)
    return _now


def lookup(resource_id):
    """Another resource of the same account by its ``ResourceId``, as a
    :class:`~palisade_policy.Resource`; ``None`` when the account has no such resource."""
    text = get_host().lookup(resource_id)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError as e:
        raise ValueError(f"looked-up resource {resource_id} is not valid JSON: {e}") from None
    if not isinstance(document, dict):
        raise ValueError(f"looked-up resource {resource_id} is not a JSON object")
    return make_resource(document)


def log(level, message):
    """Write ``message`` to the host log at ``level`` (``trace``, ``debug``, ``info``, ``warn``
    or ``error``); the host tags it with the pack and rule."""
    name = str(getattr(level, "name", level)).lower()
    if name == "warning":
        name = "warn"
    if name not in LOG_LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
    get_host().log(name, str(message))
