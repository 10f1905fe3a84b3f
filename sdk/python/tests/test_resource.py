import json
import unittest

import _support  # noqa: F401

from palisade_policy import CollectionError, Resource, deep_get, make_resource


def doc(**fields):
    base = {"ResourceId": "arn:aws:s3:::b", "ResourceType": "AWS.S3.Bucket", "Name": "b"}
    base.update(fields)
    return base


class CollectionErrorsTest(unittest.TestCase):
    def setUp(self):
        self.res = make_resource(doc(
            Policy=None, Versioning="Enabled", Logging={"TargetBucket": "logs"},
            CollectionErrors={"Policy": "AccessDenied: GetBucketPolicy", "Logging": {"code": 403},
                              "Tags": None},
        ))

    def test_reads_of_uncollected_fields_raise(self):
        with self.assertRaises(CollectionError) as ctx:
            self.res["Policy"]
        self.assertEqual(str(ctx.exception),
                         "Policy was not collected: AccessDenied: GetBucketPolicy")
        self.assertEqual(ctx.exception.field, "Policy")
        with self.assertRaises(CollectionError):
            self.res.get("Policy")
        with self.assertRaises(CollectionError):
            self.res.get("Policy", "default")
        with self.assertRaises(CollectionError):
            "Policy" in self.res  # noqa: B015

    def test_non_string_reasons_are_json_and_null_reasons_are_no_error(self):
        with self.assertRaises(CollectionError) as ctx:
            self.res.get("Logging")
        self.assertEqual(ctx.exception.reason, '{"code": 403}')
        self.assertIsNone(self.res.get("Tags"))
        self.assertEqual(self.res.collection_errors,
                         {"Policy": "AccessDenied: GetBucketPolicy", "Logging": '{"code": 403}'})

    def test_other_fields_read_normally(self):
        self.assertEqual(self.res["Versioning"], "Enabled")
        self.assertEqual(self.res.get("Name"), "b")
        self.assertIsNone(self.res.get("Missing"))
        self.assertIn("Versioning", self.res)
        self.assertNotIn("Missing", self.res)
        with self.assertRaises(KeyError):
            self.res["Missing"]
        self.assertEqual(self.res.get("CollectionErrors")["Policy"],
                         "AccessDenied: GetBucketPolicy")

    def test_nested_reads_go_through_the_top_level_key(self):
        with self.assertRaises(CollectionError):
            deep_get(self.res, "Logging", "TargetBucket")
        with self.assertRaises(CollectionError):
            self.res.deep_get("Policy", "Statement")
        self.assertEqual(deep_get(self.res, "Versioning"), "Enabled")

    def test_a_collection_error_is_not_a_key_error(self):
        self.assertFalse(issubclass(CollectionError, LookupError))

    def test_documents_without_errors_are_plain_resources(self):
        for errors in (None, {}, {"Policy": None}, "garbage"):
            res = make_resource(doc(CollectionErrors=errors))
            self.assertIs(type(res), Resource)
            self.assertEqual(res.collection_errors, {})
        self.assertIs(type(make_resource(doc())), Resource)

    def test_envelope_properties_and_of(self):
        res = Resource.of(json.dumps(doc()))
        self.assertIsInstance(res, dict)
        self.assertEqual(res.id, "arn:aws:s3:::b")
        self.assertEqual(res.resource_type, "AWS.S3.Bucket")
        self.assertEqual(Resource.of({"ResourceId": None}).id, "")


class DeepGetTest(unittest.TestCase):
    SG = {
        "GroupName": "web",
        "IpPermissions": [
            {"FromPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}]},
            {"FromPort": 443, "IpRanges": []},
            {"FromPort": 80, "IpRanges": None},
            {"FromPort": 3389, "IpRanges": [{"Description": "no cidr"}, {"CidrIp": "1.2.3.4/32"}]},
        ],
        "Tags": [{"Key": "env", "Value": "prod"}],
        "Nested": {"A": {"B": 0, "C": None, "D": False}},
    }

    def test_dicts(self):
        self.assertEqual(deep_get(self.SG, "GroupName"), "web")
        self.assertEqual(deep_get(self.SG, "Nested", "A", "B"), 0)
        self.assertIs(deep_get(self.SG, "Nested", "A", "D"), False)
        self.assertIsNone(deep_get(self.SG, "Nested", "A", "C"))
        self.assertEqual(deep_get(self.SG, "Nested", "A", "C", default="x"), "x")
        self.assertEqual(deep_get(self.SG, "Nested", "X", "Y", default=[]), [])
        self.assertIsNone(deep_get(self.SG, "GroupName", "Deeper"))
        self.assertIs(deep_get(self.SG), self.SG)

    def test_lists_fan_out_flatten_and_skip_nulls(self):
        self.assertEqual(deep_get(self.SG, "IpPermissions", "FromPort"), [22, 443, 80, 3389])
        self.assertEqual(deep_get(self.SG, "IpPermissions", "IpRanges", "CidrIp"),
                         ["10.0.0.0/8", "0.0.0.0/0", "1.2.3.4/32"])
        self.assertEqual(deep_get(self.SG, "Tags", "Key"), ["env"])
        self.assertEqual(deep_get(self.SG, "IpPermissions", "Missing", default="d"), "d")
        self.assertEqual(deep_get([[{"a": 1}], {"a": [2, None, 3]}, "x"], "a"), [1, 2, 3])

    def test_indexes(self):
        self.assertEqual(deep_get(self.SG, "IpPermissions", 0, "FromPort"), 22)
        self.assertEqual(deep_get(self.SG, "IpPermissions", "1", "FromPort"), 443)
        self.assertIsNone(deep_get(self.SG, "IpPermissions", 9, "FromPort"))
        self.assertIsNone(deep_get(self.SG, "IpPermissions", -1, "FromPort"))


if __name__ == "__main__":
    unittest.main()
