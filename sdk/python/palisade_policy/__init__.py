"""Write Palisade policy packs in Python.

A pack is a folder of rule files; ``python3 -m palisade_policy build <dir> -o pack.wasm
--wit <wit-dir>`` turns it into one WebAssembly component (with componentize-py).

>>> from palisade_policy import rule
>>> @rule(id="Example.S3.Bucket.Encrypted", severity="high", resource_types=["AWS.S3.Bucket"],
...       title="S3 bucket has default encryption")
... def policy(resource):
...     return bool(resource.get("EncryptionRules"))

Everything here is plain Python and importable outside a component (for unit tests); only the
host functions ``now``, ``lookup`` and ``log`` need the component, or a host installed with
``set_host`` (see ``palisade_policy.testing``).
"""

from ._host import LOG_LEVELS, log, lookup, now, set_host
from ._rule import SETTING_KINDS, SEVERITIES, Rule, Setting, rule
from ._time import parse_time
from .iam import PolicyDocument, Statement, wildcard_match
from .net import cidr_contains, is_world_cidr
from .resource import CollectionError, Resource, deep_get, make_resource

__version__ = "0.1.0"

__all__ = [
    "CollectionError",
    "LOG_LEVELS",
    "PolicyDocument",
    "Resource",
    "Rule",
    "SETTING_KINDS",
    "SEVERITIES",
    "Setting",
    "Statement",
    "cidr_contains",
    "deep_get",
    "is_world_cidr",
    "log",
    "lookup",
    "make_resource",
    "now",
    "parse_time",
    "rule",
    "set_host",
    "wildcard_match",
]
