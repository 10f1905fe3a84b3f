"""Panther policy specs (``foo.yml`` beside ``foo.py``), read at build time.

Python's standard library has no YAML parser, and a pack must not depend on one, so this module
carries a small parser for the subset policy specs use: a top-level mapping whose values are
scalars (plain, ``'single'`` or ``"double"`` quoted, over several lines), block scalars (``|``,
``>``, with ``-``/``+`` chomping), block lists (``- x``), flow lists and maps (``[a, b]``,
``{k: v}``, nested) and nested block mappings (``Reports``), with comments. Keys it does not need
(``Tests``, ``Filename``, ...) are skipped without being interpreted. When a spec uses YAML this
parser does not support (anchors, tags, ...) and PyYAML is importable, PyYAML reads it instead.

Every scalar stays a string: ``Reports: {CIS: [1.10]}`` keeps ``1.10`` (PyYAML would read 1.1).
"""

import json
import re

__all__ = ["SpecError", "parse_yaml", "read_spec", "spec_metadata"]


class SpecError(ValueError):
    """A spec that cannot be read or does not describe a valid rule."""


# `key: rest` with the key double-quoted, single-quoted or plain (not starting like a list item,
# a flow collection or a comment).
_KEY = re.compile(
    r"^(?P<key>"
    r'"(?:[^"\\]|\\.)*"'
    r"|'(?:[^']|'')*'"
    r"|[^\s#'\"\-\[\]{},][^#]*?"
    r"|-[^\s#][^#]*?"
    r")\s*:(?:\s+(?P<rest>.*)|)$"
)
_BLOCK_HEADER = re.compile(r"^([|>])([+-]?)([1-9]?)([+-]?)\s*(?:#.*)?$")


class _Lazy:
    """A mapping value not interpreted yet: the text after ``key:`` and the indented lines
    below it (dedented)."""

    __slots__ = ("rest", "lines", "lineno")

    def __init__(self, rest, lines, lineno):
        self.rest = rest
        self.lines = lines
        self.lineno = lineno


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _strip_comment(text):
    """``text`` without a trailing ``# comment`` (outside quotes), right-stripped."""
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                if quote == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif ch in "\"'" and (i == 0 or text[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
        i += 1
    return text.rstrip()


def _dedent(lines):
    width = min((_indent(l) for l in lines if l.strip()), default=0)
    return [l[width:] if l.strip() else "" for l in lines]


def _split_mapping(lines, first_lineno=1):
    """A block mapping (lines at column 0 are keys) as an ordered dict of key -> _Lazy."""
    out = {}
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            i += 1
            continue
        if "\t" in line[: _indent(line) + 1]:
            raise SpecError(f"line {first_lineno + i}: tabs are not allowed for indentation")
        if _indent(line) != 0:
            raise SpecError(f"line {first_lineno + i}: unexpected indentation")
        m = _KEY.match(line.rstrip())
        if m is None:
            raise SpecError(f"line {first_lineno + i}: expected `key: value`, got {stripped!r}")
        key = _scalar(m.group("key"), first_lineno + i)
        rest = m.group("rest") or ""
        lineno = first_lineno + i
        i += 1
        block = []
        # A flow collection may close on a later line, even at column 0.
        depth = _flow_depth(_strip_comment(rest)) if rest.lstrip().startswith(("[", "{")) else 0
        while depth > 0 and i < n:
            block.append(lines[i])
            depth += _flow_depth(_strip_comment(lines[i]))
            i += 1
        # The value's lines: indented, blank, or (a YAML quirk) a `- item` list at column 0.
        while i < n:
            nxt = lines[i]
            if nxt.strip() == "" or _indent(nxt) > 0 or (
                nxt.startswith("-") and (nxt[1:2] in ("", " ")) and not nxt.startswith("---")
            ):
                block.append(nxt)
                i += 1
            else:
                break
        if key in out:
            raise SpecError(f"line {lineno}: key {key!r} appears twice")
        out[key] = _Lazy(rest, block, lineno + 1)
    return out


def _flow_depth(text):
    """How many more brackets ``text`` opens than it closes (outside quotes)."""
    depth = 0
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'" and (i == 0 or text[i - 1] in " \t[{,:"):
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


def _block_scalar(header, lines, lineno):
    m = _BLOCK_HEADER.match(header)
    if m is None:
        raise SpecError(f"line {lineno}: bad block scalar header {header!r}")
    style, chomp = m.group(1), m.group(2) or m.group(4)
    if m.group(3):
        width = min((_indent(l) for l in lines if l.strip()), default=0)
        width = min(width, int(m.group(3)))
        body = [l[width:] if l.strip() else "" for l in lines]
    else:
        body = _dedent(lines)
    # Trailing blank lines belong to chomping.
    trailing = 0
    while body and body[-1] == "":
        body.pop()
        trailing += 1
    if style == "|":
        text = "\n".join(body)
    else:
        # Folded: a break between two ordinary lines becomes a space; blank lines are kept as
        # line breaks; lines indented further than the block keep their breaks.
        text = ""
        previous = None
        blanks = 0
        for line in body:
            if line == "":
                blanks += 1
                continue
            more = line.startswith((" ", "\t"))
            if previous is None:
                text += "\n" * blanks + line
            elif previous == "normal" and not more:
                text += ("\n" * blanks if blanks else " ") + line
            else:
                text += "\n" * (blanks + 1) + line
            blanks = 0
            previous = "more" if more else "normal"
    if not body:
        return ""
    if chomp == "-":
        return text
    if chomp == "+":
        return text + "\n" * (1 + trailing)
    return text + "\n"


def _scalar(text, lineno):
    """A one-line scalar: quoted or plain, always text (``None`` for null)."""
    text = text.strip()
    if not text:
        return None
    if text[0] == '"':
        if len(text) < 2 or text[-1] != '"':
            raise SpecError(f"line {lineno}: unterminated double-quoted string")
        body = text[1:-1]
        try:
            return json.loads('"' + body.replace("\\/", "/").replace("\t", "\\t") + '"')
        except ValueError:
            raise SpecError(f"line {lineno}: unsupported escape in {text}") from None
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise SpecError(f"line {lineno}: unterminated single-quoted string")
        return text[1:-1].replace("''", "'")
    if text[0] in "&*!%@`|>":
        raise SpecError(f"line {lineno}: unsupported YAML syntax {text!r}")
    if text in ("~", "null", "Null", "NULL"):
        return None
    if ": " in text or text.endswith(":"):
        raise SpecError(
            f"line {lineno}: mapping values are not allowed here ({text!r}); quote the text"
        )
    return text


class _Flow:
    """A recursive-descent reader for flow collections: ``[a, "b", {c: d}]``."""

    def __init__(self, text, lineno):
        self.s = text
        self.i = 0
        self.lineno = lineno

    def fail(self, what):
        raise SpecError(f"line {self.lineno}: {what} in flow collection {self.s.strip()!r}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n\r":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            self.fail("unexpected end")
        ch = self.s[self.i]
        if ch == "[":
            return self.seq()
        if ch == "{":
            return self.map()
        if ch in "\"'":
            return self.quoted(ch)
        return self.plain()

    def quoted(self, q):
        start = self.i
        self.i += 1
        while self.i < len(self.s):
            ch = self.s[self.i]
            if q == '"' and ch == "\\":
                self.i += 2
                continue
            if ch == q:
                if q == "'" and self.s[self.i + 1:self.i + 2] == "'":
                    self.i += 2
                    continue
                self.i += 1
                return _scalar(" ".join(self.s[start:self.i].split("\n")), self.lineno)
            self.i += 1
        self.fail("unterminated string")

    def plain(self):
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ",]}":
                break
            if ch == ":" and self.s[self.i + 1:self.i + 2] in (" ", "\n", ",", "]", "}", ""):
                break
            self.i += 1
        text = " ".join(self.s[start:self.i].split())
        return _scalar(text, self.lineno) if text else None

    def seq(self):
        self.i += 1
        out = []
        while True:
            self.ws()
            if self.s[self.i:self.i + 1] == "]":
                self.i += 1
                return out
            out.append(self.value())
            self.ws()
            ch = self.s[self.i:self.i + 1]
            if ch == ",":
                self.i += 1
            elif ch != "]":
                self.fail("expected , or ]")

    def map(self):
        self.i += 1
        out = {}
        while True:
            self.ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return out
            key = self.value()
            self.ws()
            value = None
            if self.s[self.i:self.i + 1] == ":":
                self.i += 1
                self.ws()
                if self.s[self.i:self.i + 1] not in (",", "}"):
                    value = self.value()
            out[key] = value
            self.ws()
            ch = self.s[self.i:self.i + 1]
            if ch == ",":
                self.i += 1
            elif ch != "}":
                self.fail("expected , or }")

    def whole(self):
        value = self.value()
        self.ws()
        if self.i != len(self.s):
            self.fail("unexpected text after the collection")
        return value


def _sequence(lines, lineno):
    """A block sequence (``- item`` lines at column 0 of ``lines``)."""
    items = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if not line.strip() or line.strip().startswith("#"):
            i += 1
            continue
        if not (line.startswith("-") and line[1:2] in ("", " ")):
            raise SpecError(f"line {lineno + i}: expected `- item`, got {line.strip()!r}")
        first = line[1:]
        width = 1 + _indent(first) if first.strip() else 2
        rest = [first.strip()]
        i += 1
        body = []
        while i < n and (not lines[i].strip() or _indent(lines[i]) > 0):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        head = rest[0]
        if head and _KEY.match(head) and head[0] not in "\"'[{":
            # A mapping item: `- Key: value` plus its indented lines.
            items.append(_mapping_value([head] + [l[width:] if l.strip() else "" for l in body],
                                        lineno + i))
        else:
            items.append(_value(_Lazy(head, body, lineno + i)))
    return items


def _mapping_value(lines, lineno):
    return {k: _value(v) for k, v in _split_mapping(lines, lineno).items()}


def _value(lazy):
    """Interpret a mapping value: scalar, block scalar, flow or block collection."""
    rest = _strip_comment(lazy.rest) if not lazy.rest.lstrip().startswith(("|", ">")) else lazy.rest
    rest = rest.strip()
    lines = lazy.lines
    if rest.startswith(("|", ">")):
        return _block_scalar(rest, lines, lazy.lineno)
    if rest.startswith(("[", "{")):
        text = "\n".join([rest] + [_strip_comment(l) for l in lines])
        return _Flow(text, lazy.lineno).whole()
    if rest:
        if lines:
            # A plain or quoted scalar continued on the following lines: folded with spaces.
            joined = " ".join([rest] + [_strip_comment(l).strip() for l in lines if l.strip()])
            return _scalar(joined, lazy.lineno)
        return _scalar(rest, lazy.lineno)
    body = _dedent(lines)
    if not any(l.strip() and not l.strip().startswith("#") for l in body):
        return None
    first = next(l for l in body if l.strip() and not l.strip().startswith("#"))
    if first.startswith("-") and first[1:2] in ("", " "):
        return _sequence(body, lazy.lineno)
    if first.startswith(("[", "{")):
        return _Flow("\n".join(_strip_comment(l) for l in body), lazy.lineno).whole()
    return _mapping_value(body, lazy.lineno)


def parse_yaml(text, keys=None):
    """Parse ``text`` (a YAML mapping in the subset above) into a dict of strings, lists and
    dicts. With ``keys``, only those keys are interpreted (the rest are dropped unread)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it adds no empty line
    mapping = _split_mapping(lines)
    return {k: _value(v) for k, v in mapping.items() if keys is None or k in keys}


# --- Panther policy spec -> rule metadata -------------------------------------------------

_SPEC_KEYS = ("PolicyID", "RuleID", "Severity", "ResourceTypes", "DisplayName", "Description",
              "Runbook", "Reference", "Tags", "Reports", "Enabled")
_SEVERITIES = ("info", "low", "medium", "high", "critical")


def _text(value, key, source):
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        raise SpecError(f"{source}: {key} must be text")
    return str(value).strip() if not isinstance(value, bool) else str(value).lower()


def _text_list(value, key, source):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, (list, dict)):
                raise SpecError(f"{source}: {key} must be a list of text")
            if item is not None:
                out.append(_text(item, key, source))
        return out
    if isinstance(value, dict):
        raise SpecError(f"{source}: {key} must be text or a list of text")
    return [_text(value, key, source)]


def spec_metadata(spec, source="spec"):
    """The rule metadata (the keyword arguments of ``palisade_policy.Rule``) a parsed Panther
    policy spec describes. Raises :class:`SpecError` on a spec that is not a valid rule."""
    if not isinstance(spec, dict):
        raise SpecError(f"{source}: a policy spec must be a mapping")
    rule_id = spec.get("PolicyID") if spec.get("PolicyID") is not None else spec.get("RuleID")
    rule_id = _text(rule_id, "PolicyID", source)
    if not rule_id:
        raise SpecError(f"{source}: PolicyID (or RuleID) is required")
    severity = _text(spec.get("Severity"), "Severity", source).lower()
    if severity not in _SEVERITIES:
        raise SpecError(
            f"{source}: Severity must be one of Info, Low, Medium, High, Critical, "
            f"not {spec.get('Severity')!r}"
        )
    resource_types = _text_list(spec.get("ResourceTypes"), "ResourceTypes", source)
    if not resource_types:
        raise SpecError(f"{source}: ResourceTypes must name at least one resource type")
    compliance = _text_list(spec.get("Tags"), "Tags", source)
    reports = spec.get("Reports")
    if reports is not None:
        if not isinstance(reports, dict):
            raise SpecError(f"{source}: Reports must map frameworks to lists of controls")
        for framework, controls in reports.items():
            for control in _text_list(controls, f"Reports.{framework}", source):
                compliance.append(f"{framework}:{control}")
    enabled = spec.get("Enabled", True)
    if isinstance(enabled, str):
        lowered = enabled.strip().lower()
        if lowered in ("true", "yes", "on"):
            enabled = True
        elif lowered in ("false", "no", "off"):
            enabled = False
        else:
            raise SpecError(f"{source}: Enabled must be true or false, not {enabled!r}")
    elif enabled is None:
        enabled = True
    elif not isinstance(enabled, bool):
        raise SpecError(f"{source}: Enabled must be true or false, not {enabled!r}")
    return {
        "id": rule_id,
        "title": _text(spec.get("DisplayName"), "DisplayName", source) or rule_id,
        "severity": severity,
        "resource_types": resource_types,
        "description": _text(spec.get("Description"), "Description", source),
        "remediation": _text(spec.get("Runbook"), "Runbook", source),
        "references": _text_list(spec.get("Reference"), "Reference", source),
        "compliance": compliance,
        "default_enabled": enabled,
    }


def _pyyaml(text):
    try:
        import yaml
    except ImportError:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(str(e)) from None

    def strings(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return {str(k): strings(x) for k, x in v.items()}
        if isinstance(v, list):
            return [strings(x) for x in v]
        return v if v is None or isinstance(v, str) else str(v)

    if not isinstance(data, dict):
        raise SpecError("a policy spec must be a mapping")
    return {k: strings(v) for k, v in data.items() if k in _SPEC_KEYS}


def read_spec(path):
    """The rule metadata of the Panther policy spec at ``path``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        spec = parse_yaml(text, keys=_SPEC_KEYS)
    except SpecError as e:
        spec = _pyyaml(text)
        if spec is None:
            raise SpecError(f"{path}: {e} (install PyYAML to read full YAML)") from None
    return spec_metadata(spec, str(path))
