"""``palisade_policy build``: a folder of Python rule files -> one pack component.

1. Discover the rule files: every ``*.py`` at the top level of the folder except
   ``__init__.py``, ``test_*.py`` and names starting with ``_``. A file is a *decorated* rule
   file when it uses ``@rule(...)`` (found by reading its syntax tree, without running it); it is
   a *Panther-style* rule file when it has no ``@rule`` but a module-level ``policy`` function and
   a ``<name>.yml``/``<name>.yaml`` spec beside it. Other files are helpers, imported only by the
   rules that import them.
2. Read the Panther specs (``spec.read_spec``) and generate, in a temporary folder, the rule
   list module (imports the rule files, registers the Panther rules with their metadata) and the
   app module (exports the ``rules`` interface through ``palisade_policy._component``).
3. Check the pack in a plain Python process (imports every rule, checks the metadata and that
   rule ids are unique), so mistakes are reported before the slow step.
4. Run ``componentize-py -d <wit> -w pack componentize <app> -p <tmp> -p <rules> -p <sdk> -o
   <out>``. Only the modules the app imports end up in the component.
"""

import ast
import os
import shutil
import subprocess
import sys
import tempfile

from .spec import SpecError, read_spec

__all__ = [
    "BuildError", "ToolMissing", "RuleFile", "discover", "generate", "check", "build",
    "APP_MODULE", "RULES_MODULE",
]

APP_MODULE = "palisade_pack_app"
RULES_MODULE = "palisade_pack_rules"
WORLD = "pack"
# Module names a rule file may not take: they would shadow what the component needs.
_RESERVED = {"palisade_policy", "wit_world", "componentize_py_types", "componentize_py_runtime",
             "componentize_py_async_support", APP_MODULE, RULES_MODULE, WORLD}


class BuildError(Exception):
    """The pack cannot be built; the message says why (exit code 2)."""


class ToolMissing(BuildError):
    """componentize-py is not installed (exit code 3)."""


class RuleFile:
    """A rule file found in the pack folder."""

    __slots__ = ("path", "module", "style", "spec_path", "metadata")

    def __init__(self, path, module, style, spec_path=None, metadata=None):
        self.path = path
        self.module = module
        self.style = style  # "decorated" or "panther"
        self.spec_path = spec_path
        self.metadata = metadata

    def __repr__(self):
        return f"RuleFile({self.module!r}, {self.style!r})"


def _is_candidate(name):
    return (name.endswith(".py") and name != "__init__.py" and not name.startswith("_")
            and not name.startswith("test_") and not name.startswith("."))


def _uses_rule_decorator(tree):
    """Whether the module decorates a function with ``rule(...)`` from ``palisade_policy``
    (imported as a name, under an alias, or through the module)."""
    names = {"rule"}
    modules = {"palisade_policy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "palisade_policy":
            for alias in node.names:
                if alias.name == "rule":
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "palisade_policy":
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Name) and target.id in names:
                return True
            if (isinstance(target, ast.Attribute) and target.attr == "rule"
                    and isinstance(target.value, ast.Name) and target.value.id in modules):
                return True
    return False


def _defines_policy(tree):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "policy":
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "policy" for t in node.targets
        ):
            return True
    return False


def discover(folder):
    """The rule files of ``folder``, sorted by name. Raises :class:`BuildError` when the folder
    is missing, a file does not parse, a Panther spec is invalid, or there is no rule at all."""
    if not os.path.isdir(folder):
        raise BuildError(f"{folder} is not a directory")
    found = []
    problems = []
    names = sorted(os.listdir(folder))
    for name in names:
        path = os.path.join(folder, name)
        if not _is_candidate(name) or not os.path.isfile(path):
            continue
        module = name[:-3]
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
            tree = ast.parse(source, filename=path)
        except (SyntaxError, UnicodeDecodeError) as e:
            problems.append(f"{path}: {e}")
            continue
        if _uses_rule_decorator(tree):
            style, spec_path, metadata = "decorated", None, None
        elif _defines_policy(tree):
            spec_path = next(
                (os.path.join(folder, module + ext) for ext in (".yml", ".yaml")
                 if os.path.isfile(os.path.join(folder, module + ext))),
                None,
            )
            if spec_path is None:
                problems.append(
                    f"{path} defines policy() but has neither a @rule decorator nor a "
                    f"{module}.yml spec beside it"
                )
                continue
            try:
                metadata = read_spec(spec_path)
            except (SpecError, OSError) as e:
                problems.append(str(e))
                continue
            style = "panther"
        else:
            continue  # a helper module
        if not module.isidentifier():
            problems.append(f"{path}: the file name must be a Python module name")
            continue
        if module in _RESERVED or module in getattr(sys, "stdlib_module_names", ()):
            problems.append(
                f"{path}: the module name {module!r} is taken (standard library or the pack "
                f"runtime); rename the file"
            )
            continue
        found.append(RuleFile(path, module, style, spec_path, metadata))
    if problems:
        raise BuildError("\n".join(problems))
    if not found:
        raise BuildError(
            f"no rules found in {folder}: add a *.py file with a @rule-decorated policy function "
            f"(from palisade_policy import rule), or a Panther-style policy(resource) function "
            f"with a .yml spec beside it"
        )
    return found


def generate(rule_files, out_dir):
    """Write the rule list module and the app module for ``rule_files`` into ``out_dir``."""
    decorated = [f.module for f in rule_files if f.style == "decorated"]
    panther = [(f.module, f.metadata) for f in rule_files if f.style == "panther"]
    lines = [
        "# Generated by `palisade_policy build`; do not edit.",
        "from palisade_policy import _pack",
        "",
        "RULES = _pack.load(",
        f"    modules={decorated!r},",
        "    panther=[",
    ]
    for module, metadata in panther:
        lines.append(f"        ({module!r}, {metadata!r}),")
    lines += ["    ],", ")", ""]
    with open(os.path.join(out_dir, RULES_MODULE + ".py"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    app = (
        "# Generated by `palisade_policy build`; do not edit.\n"
        "# The pack component's app module: exports the `rules` interface of\n"
        "# palisade:policy/pack for the rules of the pack.\n"
        f"from {RULES_MODULE} import RULES\n"
        "from palisade_policy._component import rules_class\n"
        "\n"
        "Rules = rules_class(RULES)\n"
    )
    with open(os.path.join(out_dir, APP_MODULE + ".py"), "w", encoding="utf-8") as f:
        f.write(app)


def _sdk_path():
    """The folder holding the ``palisade_policy`` package."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_path(gen_dir, folder):
    return [gen_dir, os.path.abspath(folder), _sdk_path()]


_CHECK = """
import json, sys
from palisade_pack_rules import RULES
json.dump([[r.id, r.severity, r.module, r.resource_types] for r in RULES], sys.stdout)
"""


def check(folder, gen_dir=None, python=None):
    """Import the pack's rules in a plain Python process; returns ``[(id, severity, module,
    resource_types)]``. Raises :class:`BuildError` with the traceback when that fails."""
    import json

    rule_files = discover(folder)
    own = gen_dir is None
    if own:
        gen_dir = tempfile.mkdtemp(prefix="palisade-py-")
    try:
        if own:
            generate(rule_files, gen_dir)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(_python_path(gen_dir, folder))
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(
            [python or sys.executable, "-c", _CHECK], env=env, capture_output=True, text=True,
            cwd=gen_dir,
        )
        if proc.returncode != 0:
            raise BuildError(f"loading the rules of {folder} failed:\n{proc.stderr.rstrip()}")
        return [tuple(r) for r in json.loads(proc.stdout)]
    finally:
        if own:
            shutil.rmtree(gen_dir, ignore_errors=True)


def find_componentize_py():
    """The componentize-py command: ``$COMPONENTIZE_PY`` or ``componentize-py`` on PATH."""
    configured = os.environ.get("COMPONENTIZE_PY")
    if configured:
        return configured
    return shutil.which("componentize-py")


def build(folder, output, wit, world=WORLD, keep=False, quiet=False, log=print):
    """Build the pack in ``folder`` into the component ``output`` against the WIT in ``wit``.
    Returns the checked rule list (see :func:`check`)."""
    tool = find_componentize_py()
    if tool is None:
        raise ToolMissing(
            "componentize-py not found: install it with `pip install componentize-py`"
        )
    if not os.path.exists(wit):
        raise BuildError(f"WIT directory {wit} does not exist")
    rule_files = discover(folder)
    gen_dir = tempfile.mkdtemp(prefix="palisade-py-")
    try:
        generate(rule_files, gen_dir)
        rules = check(folder, gen_dir)
        out = os.path.abspath(output)
        parent = os.path.dirname(out)
        if parent:
            os.makedirs(parent, exist_ok=True)
        command = [tool, "-d", os.path.abspath(wit), "-w", world, "componentize", APP_MODULE]
        for p in _python_path(gen_dir, folder):
            command += ["-p", p]
        command += ["-o", out]
        env = dict(os.environ)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.run(command, cwd=gen_dir, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).rstrip()
            raise BuildError(f"componentize-py failed (exit {proc.returncode}):\n{detail}")
        if not quiet:
            log(f"built {out}: {len(rules)} rule(s)")
            for rule_id, severity, module, _ in rules:
                log(f"  {rule_id} ({severity}, {module}.py)")
        return rules
    finally:
        if keep:
            log(f"generated modules kept in {gen_dir}")
        else:
            shutil.rmtree(gen_dir, ignore_errors=True)
