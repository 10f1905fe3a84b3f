"""The dispatch of rules.describe / evaluate / evaluate-batch, driven with plain types and a fake
host: the outcome mapping every SDK shares."""

import json
import sys
import types
import unittest
from datetime import datetime, timezone

import _support  # noqa: F401

from palisade_policy import CollectionError, Rule, Setting, log, lookup, now, set_host
from palisade_policy import _pack, _rule
from palisade_policy._runtime import MAX_MESSAGE_BYTES
from palisade_policy.testing import FakeHost, RuleRequest, check, runtime

BUCKET = "AWS.S3.Bucket"


def bucket(**fields):
    base = {"ResourceId": "arn:aws:s3:::b", "ResourceType": BUCKET, "Name": "b"}
    base.update(fields)
    return json.dumps(base)


def mk(rule_id, policy, **kw):
    return Rule(rule_id, kw.pop("title", rule_id), kw.pop("severity", "high"),
                kw.pop("resource_types", [BUCKET]), policy, **kw)


def req(rule_id, settings=""):
    return RuleRequest(rule_id, settings)


class OutcomeTest(unittest.TestCase):
    def setUp(self):
        set_host(FakeHost(now="2026-01-01T00:00:00Z"))

    def one(self, policy, document=None, **kw):
        rt = runtime([mk("T.Rule", policy, **kw)])
        return rt.evaluate(req("T.Rule"), BUCKET, document or bucket())

    def test_true_passes_without_message(self):
        self.assertEqual(self.one(lambda r: True), ("pass", None))

    def test_false_fails_with_the_default_message(self):
        self.assertEqual(self.one(lambda r: False),
                         ("fail", "arn:aws:s3:::b does not comply with T.Rule"))
        v = self.one(lambda r: False, document=json.dumps({"Name": "x"}))
        self.assertEqual(v, ("fail", " does not comply with T.Rule"))

    def test_the_message_function_names_the_failure(self):
        v = self.one(lambda r: False, message=lambda r: f"bucket {r['Name']} is bad")
        self.assertEqual(v, ("fail", "bucket b is bad"))
        # A message function returning None falls back to the default message.
        v = self.one(lambda r: False, message=lambda r: None)
        self.assertEqual(v, ("fail", "arn:aws:s3:::b does not comply with T.Rule"))

    def test_a_message_function_that_raises_is_an_error(self):
        v = self.one(lambda r: False, message=lambda r: r["Nope"])
        self.assertEqual(v, ("error", "KeyError: 'Nope'"))

    def test_non_bool_results_are_errors(self):
        for value, name in ((None, "NoneType"), (1, "int"), ([1], "list"), ("yes", "str")):
            self.assertEqual(self.one((lambda v: lambda r: v)(value)),
                             ("error", f"policy returned {name}, not a bool"))

    def test_exceptions_are_errors_named_by_type(self):
        def boom(r):
            raise ValueError("boom")
        self.assertEqual(self.one(boom), ("error", "ValueError: boom"))

        def bare(r):
            raise RuntimeError()
        self.assertEqual(self.one(bare), ("error", "RuntimeError"))

        def leaves(r):
            raise SystemExit(2)
        self.assertEqual(self.one(leaves), ("error", "SystemExit: 2"))

    def test_collection_errors_are_errors_even_when_caught(self):
        doc = bucket(Policy=None, CollectionErrors={"Policy": "AccessDenied"})
        self.assertEqual(self.one(lambda r: r.get("Policy") is None, document=doc),
                         ("error", "Policy was not collected: AccessDenied"))

        def sneaky(r):
            try:
                return r["Policy"] is None
            except Exception:
                return True
        self.assertEqual(self.one(sneaky, document=doc),
                         ("error", "Policy was not collected: AccessDenied"))
        # Fields that were collected read normally on the same document.
        self.assertEqual(self.one(lambda r: r["Name"] == "b", document=doc), ("pass", None))
        # A failure message that reads an uncollected field is an error too.
        v = self.one(lambda r: False, document=doc, message=lambda r: f"{r.get('Policy')}")
        self.assertEqual(v, ("error", "Policy was not collected: AccessDenied"))

    def test_raising_collection_error_directly(self):
        def raises(r):
            raise CollectionError("X", "why")
        self.assertEqual(self.one(raises), ("error", "X was not collected: why"))

    def test_bad_documents_are_errors(self):
        v = self.one(lambda r: True, document='{"Name": ')
        self.assertEqual(v.status, "error")
        self.assertTrue(v.message.startswith("resource document is not valid JSON: "), v.message)
        self.assertEqual(self.one(lambda r: True, document="[1]"),
                         ("error", "resource document is not a JSON object"))

    def test_long_messages_are_capped_on_a_character_boundary(self):
        v = self.one(lambda r: False, message=lambda r: "é" * 5000)
        self.assertEqual(v.status, "fail")
        self.assertLessEqual(len(v.message.encode()), MAX_MESSAGE_BYTES)
        self.assertTrue(v.message.endswith("..."))
        self.assertEqual(self.one(lambda r: False, message=lambda r: "a" * 4096).message,
                         "a" * 4096)


class RequestTest(unittest.TestCase):
    def setUp(self):
        set_host(FakeHost())
        self.seen = []

        def age(resource, settings):
            self.seen.append(settings)
            return resource["Age"] <= settings["max-age-days"]

        self.rt = runtime([
            mk("T.Enc", lambda r: bool(r.get("EncryptionRules")),
               message=lambda r: f"bucket {r['Name']} has no default encryption"),
            mk("T.Age", age, resource_types=[BUCKET, "T.Key"],
               settings=[Setting("max-age-days", "integer", 90, "days"),
                         Setting("exempt", "text-list", [])]),
        ])

    def test_unknown_rules_and_wrong_types_are_errors(self):
        self.assertEqual(self.rt.evaluate(req("T.Nope"), BUCKET, bucket()),
                         ("error", "this pack has no rule T.Nope"))
        self.assertEqual(self.rt.evaluate(req("T.Enc"), "T.Key", bucket()),
                         ("error", "T.Enc does not apply to T.Key"))

    def test_settings_default_and_override(self):
        doc = bucket(Age=60)
        self.assertEqual(self.rt.evaluate(req("T.Age"), BUCKET, doc).status, "pass")
        self.assertEqual(self.seen[-1], {"max-age-days": 90, "exempt": []})
        self.assertEqual(self.rt.evaluate(req("T.Age", '{"max-age-days": 30}'), BUCKET, doc),
                         ("fail", "arn:aws:s3:::b does not comply with T.Age"))
        self.assertEqual(self.seen[-1], {"max-age-days": 30, "exempt": []})
        v = self.rt.evaluate(req("T.Age", "[1"), BUCKET, doc)
        self.assertEqual(v.status, "error")
        self.assertIn("rule settings are not valid JSON", v.message)
        self.assertEqual(self.rt.evaluate(req("T.Age", "[1]"), BUCKET, doc),
                         ("error", "rule settings must be a JSON object"))

    def test_batch_gives_one_outcome_per_pair_parsing_each_document_once(self):
        docs = [bucket(Name="a", EncryptionRules=[{}], Age=10),
                bucket(Name="z", EncryptionRules=None, Age=100),
                "not json",
                bucket(Name="c", Age=1, CollectionErrors={"EncryptionRules": "denied"})]
        loads = []
        real = json.loads

        def counting(text, *a, **k):
            loads.append(text)
            return real(text, *a, **k)

        import palisade_policy._runtime as rt_module
        rt_module.json.loads = counting
        try:
            out = self.rt.evaluate_batch([req("T.Enc"), req("T.Age", '{"max-age-days": 50}'),
                                          req("T.Nope")], BUCKET, docs)
        finally:
            rt_module.json.loads = real
        # Settings once per request, documents once each.
        for doc in docs:
            self.assertEqual(loads.count(doc), 1, doc)
        got = {(o.rule, o.document): o.verdict for o in out}
        self.assertEqual(len(out), 12)
        self.assertEqual(got[0, 0], ("pass", None))
        self.assertEqual(got[0, 1], ("fail", "bucket z has no default encryption"))
        self.assertEqual(got[1, 0], ("pass", None))
        self.assertEqual(got[1, 1].status, "fail")
        for r in range(2):
            self.assertEqual(got[r, 2].status, "error")
            self.assertIn("not valid JSON", got[r, 2].message)
        self.assertEqual(got[0, 3],
                         ("error", "EncryptionRules was not collected: denied"))
        self.assertEqual(got[1, 3], ("pass", None))
        for d in range(4):
            self.assertEqual(got[2, d], ("error", "this pack has no rule T.Nope"))

    def test_describe_carries_every_field(self):
        rt = runtime([mk("T.Full", lambda r: True, title="A title", severity="Critical",
                         description="d", remediation="fix", references=["https://x"],
                         compliance=["CIS:1"], default_enabled=False,
                         settings=[Setting("n", "text_map", {"a": "b"}, "desc")])])
        info, = rt.describe()
        self.assertEqual(info.id, "T.Full")
        self.assertEqual(info.title, "A title")
        self.assertEqual(info.severity, "critical")
        self.assertEqual(info.resource_types, [BUCKET])
        self.assertEqual((info.description, info.remediation), ("d", "fix"))
        self.assertEqual((info.references, info.compliance), (["https://x"], ["CIS:1"]))
        self.assertFalse(info.default_enabled)
        self.assertEqual(info.settings[0], ("n", "desc", "text-map", '{"a": "b"}'))

    def test_duplicate_ids_are_refused(self):
        with self.assertRaises(ValueError):
            runtime([mk("T.X", lambda r: True), mk("T.X", lambda r: False)])

    def test_bad_metadata_is_refused(self):
        with self.assertRaises(ValueError):
            mk("T.X", lambda r: True, severity="severe")
        with self.assertRaises(ValueError):
            mk("T.X", lambda r: True, resource_types=[])
        with self.assertRaises(TypeError):
            mk("T.X", lambda: True)
        with self.assertRaises(ValueError):
            Setting("x", "float", 1)


class HostTest(unittest.TestCase):
    def test_now_lookup_and_log_use_the_host(self):
        host = FakeHost(now="2026-03-04T05:06:07.5Z",
                        resources=[{"ResourceId": "arn:b", "Name": "logs",
                                    "CollectionErrors": {"Policy": "denied"}}])
        seen = {}

        def peer(r):
            seen["now"] = now()
            other = lookup(r["Peer"])
            log("info", f"peer {r['Peer']}")
            if other is None:
                return False
            seen["name"] = other["Name"]
            other.get("Policy")  # uncollected in the looked-up resource
            return True

        v = check(mk("T.Peer", peer), bucket(Peer="arn:b"), host=host)
        self.assertEqual(seen["now"], datetime(2026, 3, 4, 5, 6, 7, 500000, tzinfo=timezone.utc))
        self.assertEqual(seen["name"], "logs")
        self.assertEqual(v, ("error", "Policy was not collected: denied"))
        self.assertEqual(host.logs, [("info", "peer arn:b")])
        self.assertEqual(check(mk("T.Peer", peer), bucket(Peer="arn:none"), host=host).status,
                         "fail")

    def test_now_is_read_once_per_call(self):
        calls = []

        class Counting(FakeHost):
            def now(self):
                calls.append(1)
                return super().now()

        set_host(Counting())
        rt = runtime([mk("T.Now", lambda r: now().year == 2026)])
        out = rt.evaluate_batch([req("T.Now")], BUCKET, [bucket()] * 5)
        self.assertTrue(all(o.verdict.status == "pass" for o in out))
        self.assertEqual(len(calls), 1)

    def test_without_a_host_the_host_functions_say_how_to_get_one(self):
        set_host(None)
        with self.assertRaises(RuntimeError) as ctx:
            now()
        self.assertIn("set_host", str(ctx.exception))
        with self.assertRaises(ValueError):
            set_host(FakeHost())
            log("loud", "x")


class PackLoadTest(unittest.TestCase):
    """`_pack.load`, as the generated rules module calls it: decorated rules take a module-level
    title() as their message (Panther style) unless they have a message of their own."""

    def setUp(self):
        self.saved = list(_rule._REGISTRY)
        del _rule._REGISTRY[:]

    def tearDown(self):
        _rule._REGISTRY[:] = self.saved
        for name in ("fake_decorated", "fake_panther"):
            sys.modules.pop(name, None)

    def test_load(self):
        from palisade_policy import rule

        decorated = types.ModuleType("fake_decorated")
        sys.modules["fake_decorated"] = decorated
        exec(
            "from palisade_policy import rule\n"
            "@rule(id='T.A', severity='low', resource_types=['AWS.S3.Bucket'])\n"
            "def a(resource):\n    return False\n"
            "@rule(id='T.B', severity='low', resource_types=['AWS.S3.Bucket'],\n"
            "      message=lambda r: 'own message')\n"
            "def b(resource):\n    return False\n"
            "def title(resource):\n    return 'module title ' + resource['Name']\n",
            decorated.__dict__,
        )
        panther = types.ModuleType("fake_panther")
        sys.modules["fake_panther"] = panther
        exec("def policy(resource):\n    return resource.get('Name') == 'ok'\n", panther.__dict__)
        rules = _pack.load(["fake_decorated"], [("fake_panther", {
            "id": "T.P", "title": "P", "severity": "medium", "resource_types": [BUCKET],
            "compliance": ["CIS:1"], "default_enabled": False})])
        self.assertEqual([r.id for r in rules], ["T.A", "T.B", "T.P"])
        set_host(FakeHost())
        rt = runtime(rules)
        self.assertEqual(rt.evaluate(req("T.A"), BUCKET, bucket()), ("fail", "module title b"))
        self.assertEqual(rt.evaluate(req("T.B"), BUCKET, bucket()), ("fail", "own message"))
        self.assertEqual(rt.evaluate(req("T.P"), BUCKET, bucket()),
                         ("fail", "arn:aws:s3:::b does not comply with T.P"))
        self.assertEqual(rt.evaluate(req("T.P"), BUCKET, bucket(Name="ok")), ("pass", None))
        self.assertFalse(rt.describe()[2].default_enabled)
        with self.assertRaises(ValueError):
            _pack.load([], [("fake_panther", {"id": "T.A", "severity": "low",
                                              "resource_types": [BUCKET]})])
        self.assertIsNotNone(rule)


if __name__ == "__main__":
    unittest.main()
