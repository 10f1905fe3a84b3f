"""The build script: rule discovery, the generated modules, the pre-build check, the CLI."""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

import _support

from palisade_policy import build as b
from palisade_policy.cli import main

DECORATED = '''\
from palisade_policy import rule
import helpers


@rule(id="T.S3.Encrypted", severity="high", resource_types=["AWS.S3.Bucket"],
      title="encrypted", message=lambda r: "bucket " + helpers.name(r) + " is plain")
def encrypted(resource):
    return bool(resource.get("EncryptionRules"))


@rule(id="T.S3.Versioned", severity="low", resource_types=["AWS.S3.Bucket"])
def versioned(resource, settings):
    return resource.get("Versioning") == "Enabled"
'''
ALIASED = '''\
import palisade_policy as pp
from palisade_policy import rule as r


@pp.rule(id="T.A", severity="info", resource_types=["T"])
def a(resource):
    return True


@r(id="T.B", severity="info", resource_types=["T"])
def b(resource):
    return True
'''
PANTHER_PY = '''\
def policy(resource):
    return resource.get("MfaActive") is True


def title(resource):
    return f"user {resource.get('Name')} has no MFA"
'''
PANTHER_YML = '''\
AnalysisType: policy
Filename: users.py
PolicyID: T.IAM.MFA
DisplayName: Users have MFA
Severity: Medium
ResourceTypes: [AWS.IAM.User]
Reports:
  CIS: ["1.10"]
'''


class PackFolder:
    def __init__(self, files):
        self.dir = tempfile.mkdtemp(prefix="palisade-test-pack-")
        for name, text in files.items():
            path = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)

    def __enter__(self):
        return self.dir

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


FULL = {
    "buckets.py": DECORATED,
    "aliased.py": ALIASED,
    "users.py": PANTHER_PY,
    "users.yml": PANTHER_YML,
    "helpers.py": "def name(r):\n    return r.get('Name') or ''\n",
    "_private.py": "raise SystemExit('never imported')\n",
    "test_buckets.py": "from palisade_policy import rule\n"
                       "@rule(id='X', severity='low', resource_types=['T'])\n"
                       "def x(r):\n    return True\n",
    "__init__.py": "",
    "tests/cases.yaml": "- name: x\n",
    "README.md": "# a pack\n",
}


class DiscoverTest(unittest.TestCase):
    def test_styles_helpers_and_skipped_files(self):
        with PackFolder(FULL) as d:
            found = b.discover(d)
        self.assertEqual([(f.module, f.style) for f in found],
                         [("aliased", "decorated"), ("buckets", "decorated"), ("users", "panther")])
        users = found[2]
        self.assertTrue(users.spec_path.endswith("users.yml"))
        self.assertEqual(users.metadata["id"], "T.IAM.MFA")
        self.assertEqual(users.metadata["compliance"], ["CIS:1.10"])
        self.assertEqual(users.metadata["resource_types"], ["AWS.IAM.User"])

    def test_yaml_extension_also_works(self):
        with PackFolder({"users.py": PANTHER_PY, "users.yaml": PANTHER_YML}) as d:
            self.assertEqual([f.style for f in b.discover(d)], ["panther"])

    def test_no_rules_is_a_clear_error(self):
        for files in ({}, {"helpers.py": "X = 1\n", "test_x.py": "def policy(r):\n  return 1\n"}):
            with PackFolder(files) as d:
                with self.assertRaises(b.BuildError) as ctx:
                    b.discover(d)
                self.assertIn("no rules found", str(ctx.exception))
        with self.assertRaises(b.BuildError):
            b.discover("/nonexistent/pack")

    def test_mistakes_are_reported_together(self):
        files = {
            "orphan.py": "def policy(resource):\n    return True\n",
            "broken.py": "def policy(:\n",
            "badspec.py": "def policy(r):\n    return True\n",
            "badspec.yml": "PolicyID: X\nSeverity: Terrible\nResourceTypes: [T]\n",
            "json.py": DECORATED,
        }
        with PackFolder(files) as d:
            with self.assertRaises(b.BuildError) as ctx:
                b.discover(d)
        message = str(ctx.exception)
        self.assertIn("orphan.py defines policy() but has neither a @rule decorator nor a "
                      "orphan.yml spec", message)
        self.assertIn("broken.py", message)
        self.assertIn("Severity must be one of", message)
        self.assertIn("'json' is taken", message)


class CheckTest(unittest.TestCase):
    def test_check_imports_every_rule_in_a_fresh_process(self):
        with PackFolder(FULL) as d:
            rules = b.check(d)
        self.assertEqual([r[0] for r in rules],
                         ["T.A", "T.B", "T.S3.Encrypted", "T.S3.Versioned", "T.IAM.MFA"])
        self.assertEqual(rules[-1], ("T.IAM.MFA", "medium", "users", ["AWS.IAM.User"]))

    def test_errors_at_import_are_reported_with_the_traceback(self):
        files = {"a.py": DECORATED.replace("import helpers", "import missing_helpers")}
        with PackFolder(files) as d:
            with self.assertRaises(b.BuildError) as ctx:
                b.check(d)
        self.assertIn("No module named 'missing_helpers'", str(ctx.exception))
        dup = {"a.py": ALIASED, "b.py": ALIASED.replace("T.B", "T.C")}
        with PackFolder(dup) as d:
            with self.assertRaises(b.BuildError) as ctx:
                b.check(d)
        self.assertIn("rule id T.A is defined twice", str(ctx.exception))

    def test_generated_modules(self):
        with PackFolder(FULL) as d, tempfile.TemporaryDirectory() as out:
            b.generate(b.discover(d), out)
            with open(os.path.join(out, b.RULES_MODULE + ".py")) as f:
                rules_module = f.read()
            with open(os.path.join(out, b.APP_MODULE + ".py")) as f:
                app = f.read()
        self.assertIn("modules=['aliased', 'buckets']", rules_module)
        self.assertIn("('users', {'id': 'T.IAM.MFA'", rules_module)
        self.assertIn("Rules = rules_class(RULES)", app)


class CliTest(unittest.TestCase):
    def run_cli(self, *args, env=None):
        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = main(list(args))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return code, out.getvalue(), err.getvalue()

    def test_missing_componentize_py_exits_3_naming_the_fix(self):
        with PackFolder(FULL) as d:
            saved = os.environ.get("PATH", "")
            os.environ.pop("COMPONENTIZE_PY", None)
            os.environ["PATH"] = "/nonexistent"
            try:
                code, _, err = self.run_cli("build", d, "-o", os.path.join(d, "x.wasm"),
                                            "--wit", d)
            finally:
                os.environ["PATH"] = saved
        self.assertEqual(code, 3)
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("pip install componentize-py", err)

    def test_an_empty_folder_exits_1(self):
        with PackFolder({}) as d:
            code, _, err = self.run_cli("build", d, "-o", os.path.join(d, "x.wasm"), "--wit", d,
                                        env={"COMPONENTIZE_PY": sys.executable})
        self.assertEqual(code, 1)
        self.assertIn("no rules found", err)

    def test_check_lists_the_rules(self):
        with PackFolder(FULL) as d:
            code, out, _ = self.run_cli("check", d)
        self.assertEqual(code, 0)
        self.assertIn("T.IAM.MFA\tmedium\tAWS.IAM.User\tusers.py", out)

    def test_module_entry_point(self):
        proc = subprocess.run([sys.executable, "-m", "palisade_policy", "--help"],
                              capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=_support.SDK))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("build", proc.stdout)


WIT = os.environ.get("PALISADE_WIT") or os.path.join(_support.SDK, "..", "..", "wit")


@unittest.skipUnless(os.environ.get("PALISADE_PY_BUILD_TEST") and b.find_componentize_py(),
                     "set PALISADE_PY_BUILD_TEST=1 (and install componentize-py) to build a pack")
class ComponentTest(unittest.TestCase):
    def test_build_a_component(self):
        with PackFolder(FULL) as d:
            out = os.path.join(d, "pack.wasm")
            b.build(d, out, WIT, quiet=True)
            with open(out, "rb") as f:
                self.assertEqual(f.read(8), b"\0asm\x0d\0\x01\0")  # a component


if __name__ == "__main__":
    unittest.main()
