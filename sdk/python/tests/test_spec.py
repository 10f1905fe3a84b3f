import os
import tempfile
import unittest

import _support  # noqa: F401

from palisade_policy.spec import SpecError, parse_yaml, read_spec, spec_metadata

try:
    import yaml
except ImportError:  # the comparison with PyYAML is optional
    yaml = None

PANTHER = """\
AnalysisType: policy
Filename: aws_s3_bucket_encryption.py
PolicyID: AWS.S3.Bucket.Encryption
DisplayName: AWS S3 Bucket Encryption   # a comment
Enabled: true
ResourceTypes:
  - AWS.S3.Bucket
Tags:
  - AWS
  - Data Protection
  - Collection:Data From Cloud Storage Object
Reports:
  PCI:
    - 2.2.3
    - 3.4
  MITRE ATT&CK:
    - TA0009:T1530
  CIS: ["1.10", 2.1.1]
Severity: High
Description: >
  Ensures that the S3 bucket has
  encryption enabled.
Runbook: >
  https://docs.runpanther.io/alert-runbooks/built-in-policies/aws-s3-encryption-enabled
Reference: https://docs.aws.amazon.com/AmazonS3/latest/dev/bucket-encryption.html
Tests:
  -
    Name: Bucket Has No Encryption Rules
    ExpectedResult: false
    Resource:
      {
        "CreationDate": "2019-01-01T00:00:00Z",
        "EncryptionRules": null,
        "Grants": [{"Grantee": {"URI": null}, "Permission": "FULL_CONTROL"}],
        "Name": "bucket-name"
      }
  - Name: Inline
    ExpectedResult: true
    Resource: {"Name": "x", "Tags": {"a": "b # not a comment"}}
"""


def strings(value):
    """PyYAML's result with scalars as text, as this parser keeps them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {str(k): strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strings(v) for v in value]
    return value if value is None or isinstance(value, str) else str(value)


class ParserTest(unittest.TestCase):
    def test_panther_spec(self):
        spec = parse_yaml(PANTHER)
        self.assertEqual(spec["PolicyID"], "AWS.S3.Bucket.Encryption")
        self.assertEqual(spec["DisplayName"], "AWS S3 Bucket Encryption")
        self.assertEqual(spec["ResourceTypes"], ["AWS.S3.Bucket"])
        self.assertEqual(spec["Reports"]["PCI"], ["2.2.3", "3.4"])
        self.assertEqual(spec["Reports"]["CIS"], ["1.10", "2.1.1"])  # text, never 1.1
        self.assertEqual(spec["Description"],
                         "Ensures that the S3 bucket has encryption enabled.\n")
        self.assertEqual(spec["Tests"][0]["Resource"]["Grants"][0]["Permission"], "FULL_CONTROL")
        self.assertIsNone(spec["Tests"][0]["Resource"]["EncryptionRules"])
        self.assertEqual(spec["Tests"][1]["Resource"]["Tags"], {"a": "b # not a comment"})

    def test_only_the_keys_asked_for_are_interpreted(self):
        broken = "PolicyID: X\nTests:\n  - &anchor {unsupported\n"
        self.assertEqual(parse_yaml(broken, keys={"PolicyID"}), {"PolicyID": "X"})
        with self.assertRaises(SpecError):
            parse_yaml(broken)

    def test_scalars(self):
        spec = parse_yaml(
            "a: 'quoted text: with colon'\n"
            "b: 'it''s'\n"
            'c: "tab\\tand \\"quote\\" \\u00e9"\n'
            "d: ~\n"
            "e:\n"
            "f: a plain scalar\n"
            "  continued on the next line\n"
            "g: http://example.com/#anchor # comment\n"
            "h: '# not a comment'\n"
            "'quoted key': 1\n"
        )
        self.assertEqual(spec["a"], "quoted text: with colon")
        self.assertEqual(spec["b"], "it's")
        self.assertEqual(spec["c"], 'tab\tand "quote" é')
        self.assertIsNone(spec["d"])
        self.assertIsNone(spec["e"])
        self.assertEqual(spec["f"], "a plain scalar continued on the next line")
        self.assertEqual(spec["g"], "http://example.com/#anchor")
        self.assertEqual(spec["h"], "# not a comment")
        self.assertEqual(spec["quoted key"], "1")

    def test_block_scalars(self):
        spec = parse_yaml(
            "lit: |\n  one\n    two\n  three\n\n"
            "strip: |-\n  x\n  y\n\n"
            "keep: |+\n  x\n\n"
            "fold: >\n  a\n  b\n\n  c\n    indented\n  d\n"
            "foldstrip: >-\n  a\n  b\n"
            "empty: >\n"
            "after: z\n"
        )
        self.assertEqual(spec["lit"], "one\n  two\nthree\n")
        self.assertEqual(spec["strip"], "x\ny")
        self.assertEqual(spec["keep"], "x\n\n")
        self.assertEqual(spec["fold"], "a b\nc\n  indented\nd\n")
        self.assertEqual(spec["foldstrip"], "a b")
        self.assertEqual(spec["empty"], "")
        self.assertEqual(spec["after"], "z")

    def test_collections(self):
        spec = parse_yaml(
            "flow: [a, 'b c', \"d\", [e, f], {g: h}]\n"
            "multi: [\n  a,\n  b,  # comment\n]\n"
            "zerocol: [a,\nb]\n"
            "zero:\n- a\n- b\n"
            "map:\n  x:\n    - 1\n  y: [2, 3]\n  z: scalar\n"
            "items:\n  - k: v\n    k2: v2\n  - plain\n"
            "emptylist: []\n"
        )
        self.assertEqual(spec["flow"], ["a", "b c", "d", ["e", "f"], {"g": "h"}])
        self.assertEqual(spec["multi"], ["a", "b"])
        self.assertEqual(spec["zerocol"], ["a", "b"])
        self.assertEqual(spec["zero"], ["a", "b"])
        self.assertEqual(spec["map"], {"x": ["1"], "y": ["2", "3"], "z": "scalar"})
        self.assertEqual(spec["items"], [{"k": "v", "k2": "v2"}, "plain"])
        self.assertEqual(spec["emptylist"], [])

    def test_errors_name_the_line(self):
        for text in ("a: 1\n  b: 2\n", "a: plain: colon\n", "a: [1, 2\n", "a: 'x\n",
                     "a: 1\na: 2\n", "just text\n",
                     "a: *alias\n", "\tb: 1\n"):
            with self.assertRaises(SpecError, msg=text):
                parse_yaml(text)

    @unittest.skipIf(yaml is None, "PyYAML is not installed")
    def test_agrees_with_pyyaml(self):
        samples = [
            PANTHER,
            "lit: |\n  one\n    two\n  three\n\nstrip: |-\n  x\n  y\n\nkeep: |+\n  x\n\n"
            "fold: >\n  a\n  b\n\n  c\n    indented\n  d\nfoldstrip: >-\n  a\n  b\n"
            "after: z\n",
            "flow: [a, 'b c', \"d\", [e, f], {g: h}]\nmulti: [\n  a,\n  b,  # comment\n]\n"
            "zero:\n- a\n- b\nmap:\n  x:\n    - 1\n  y: [2, 3]\n  z: scalar\n"
            "items:\n  - k: v\n    k2: v2\n  - plain\nemptylist: []\nzerocol: [it's,\nb]\n",
            "---\na: 'it''s'\nb: \"tab\\tq \\\"x\\\" \\u00e9\"\nc: ~\nd:\ne: plain\n  continued\n"
            "f: http://x/#y # comment\ng: '# no'\n'k k': 1\n",
        ]
        for text in samples:
            self.assertEqual(parse_yaml(text), strings(yaml.safe_load(text)), text)


class MetadataTest(unittest.TestCase):
    def test_panther_keys_map_to_rule_metadata(self):
        meta = spec_metadata(parse_yaml(PANTHER), "x.yml")
        self.assertEqual(meta, {
            "id": "AWS.S3.Bucket.Encryption",
            "title": "AWS S3 Bucket Encryption",
            "severity": "high",
            "resource_types": ["AWS.S3.Bucket"],
            "description": "Ensures that the S3 bucket has encryption enabled.",
            "remediation": "https://docs.runpanther.io/alert-runbooks/built-in-policies/"
                           "aws-s3-encryption-enabled",
            "references": [
                "https://docs.aws.amazon.com/AmazonS3/latest/dev/bucket-encryption.html"],
            "compliance": ["AWS", "Data Protection", "Collection:Data From Cloud Storage Object",
                           "PCI:2.2.3", "PCI:3.4", "MITRE ATT&CK:TA0009:T1530", "CIS:1.10",
                           "CIS:2.1.1"],
            "default_enabled": True,
        })

    def test_variants(self):
        meta = spec_metadata(parse_yaml(
            "RuleID: R.1\nSeverity: CRITICAL\nResourceTypes: AWS.X\nEnabled: False\n"
            "Reference: [https://a, https://b]\n"
        ))
        self.assertEqual(meta["id"], "R.1")
        self.assertEqual(meta["title"], "R.1")
        self.assertEqual(meta["severity"], "critical")
        self.assertEqual(meta["resource_types"], ["AWS.X"])
        self.assertFalse(meta["default_enabled"])
        self.assertEqual(meta["references"], ["https://a", "https://b"])
        self.assertEqual(meta["compliance"], [])
        self.assertEqual(spec_metadata({"PolicyID": "P", "Severity": "info",
                                        "ResourceTypes": ["T"]})["severity"], "info")

    def test_invalid_specs(self):
        base = {"PolicyID": "P", "Severity": "Low", "ResourceTypes": ["T"]}
        for change in ({"PolicyID": None}, {"Severity": "Severe"}, {"Severity": None},
                       {"ResourceTypes": []}, {"Enabled": "maybe"}, {"Reports": ["x"]},
                       {"DisplayName": ["a"]}):
            spec = dict(base, **change)
            with self.assertRaises(SpecError, msg=change):
                spec_metadata(spec)

    def test_read_spec_reports_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.yml")
            with open(path, "w") as f:
                f.write("PolicyID: P\nSeverity: Low\n")
            with self.assertRaises(SpecError) as ctx:
                read_spec(path)
            self.assertIn("p.yml", str(ctx.exception))
            self.assertIn("ResourceTypes", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
