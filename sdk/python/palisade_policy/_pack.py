"""Assembles a pack's rule list from its rule modules. Called by the app module that
``palisade_policy build`` generates, inside the component (and, to check a pack before building
it, in a plain Python process)."""

import importlib
import sys

from ._rule import _REGISTRY, Rule

__all__ = ["load"]


def load(modules, panther=(), registry_start=0):
    """Import ``modules`` (modules with ``@rule`` functions) and ``panther`` (pairs of module
    name and metadata dict, for Panther-style modules with ``policy``/``title`` functions) and
    return the pack's rules: every ``@rule`` registered while importing, in registration order,
    then the Panther-style rules. Raises on a duplicate rule id or when there is no rule."""
    for name in modules:
        importlib.import_module(name)
    # Inside a component (and in the build's check) every registered rule is the pack's. In a
    # test process that loads several packs, only those registered since `registry_start` or
    # by the pack's own modules (imported earlier) are.
    names = set(modules)
    rules = [r for i, r in enumerate(_REGISTRY) if i >= registry_start or r.module in names]
    for r in rules:
        # Panther style: a module-level title(resource) gives the failure message.
        title = getattr(sys.modules.get(r.module), "title", None)
        if callable(title):
            r.use_message(title)
    for name, meta in panther:
        module = importlib.import_module(name)
        policy = getattr(module, "policy", None)
        if not callable(policy):
            raise ValueError(f"{name}.py has no policy(resource) function")
        title = getattr(module, "title", None)
        rules.append(Rule(
            meta["id"], meta.get("title", ""), meta["severity"], meta["resource_types"], policy,
            description=meta.get("description", ""),
            remediation=meta.get("remediation", ""),
            references=meta.get("references", ()),
            compliance=meta.get("compliance", ()),
            default_enabled=meta.get("default_enabled", True),
            message=title if callable(title) else None,
            module=name,
        ))
    if not rules:
        raise ValueError("the pack has no rules")
    seen = {}
    for r in rules:
        if r.id in seen:
            raise ValueError(f"rule id {r.id} is defined twice (in {seen[r.id]} and {r.module})")
        seen[r.id] = r.module
    return rules
