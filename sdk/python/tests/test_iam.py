import json
import unittest
from urllib.parse import quote

import _support  # noqa: F401

from palisade_policy import PolicyDocument, wildcard_match

ADMIN = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
S3 = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:Get*", "s3:List?ucket"],
         "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:*",
         "Resource": "arn:aws:s3:::data/secret/*"},
        {"Sid": "MaybeDeny", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:ec2:*"},
    ],
}
BUCKET_POLICY = {
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::w/*"},
        {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:root", "*"]},
         "Action": "s3:PutObject", "Resource": "arn:aws:s3:::w/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
    ]
}


class PolicyDocumentTest(unittest.TestCase):
    def test_parse_forms(self):
        text = json.dumps(S3)
        for form in (S3, text, quote(text), text.encode(), PolicyDocument.parse(S3)):
            doc = PolicyDocument.parse(form)
            self.assertEqual(len(doc.statements), 4)
            self.assertEqual(doc.version, "2012-10-17")
        single = PolicyDocument.parse({"Statement": {"Effect": "Allow", "Action": "a:b"}})
        self.assertEqual(single.statements[0].actions, ["a:b"])
        self.assertEqual(PolicyDocument.parse("{}").statements, [])
        for bad in ("{not json", "[1]", {"Statement": 3}, {"Statement": [1]}):
            with self.assertRaises(ValueError):
                PolicyDocument.parse(bad)

    def test_statement_fields(self):
        s = PolicyDocument.parse(S3).statements
        self.assertEqual(s[0].sid, "Read")
        self.assertEqual(s[0].effect, "Allow")
        self.assertEqual(s[0].actions, ["s3:Get*", "s3:List?ucket"])
        self.assertEqual(s[0].resources, ["arn:aws:s3:::data", "arn:aws:s3:::data/*"])
        self.assertEqual(s[2].conditions, {"Bool": {"aws:SecureTransport": "false"}})
        self.assertEqual(s[3].not_actions, ["iam:*"])
        p = PolicyDocument.parse(BUCKET_POLICY).statements
        self.assertEqual(p[0].principals, {"*": ["*"]})
        self.assertEqual(p[1].principals, {"AWS": ["arn:aws:iam::1:root", "*"]})
        self.assertEqual(p[3].principals, {"Service": ["cloudtrail.amazonaws.com"]})
        self.assertEqual(p[0].not_actions, [])

    def test_allows(self):
        doc = PolicyDocument.parse(S3)
        self.assertTrue(doc.allows("s3:GetObject", "arn:aws:s3:::data/key"))
        self.assertTrue(doc.allows("S3:getobject", "arn:aws:s3:::data/key"))  # actions ignore case
        self.assertTrue(doc.allows("s3:ListBucket", "arn:aws:s3:::data"))
        self.assertFalse(doc.allows("s3:ListBuckets", "arn:aws:s3:::data"))
        self.assertFalse(doc.allows("s3:PutObject", "arn:aws:s3:::data/key"))
        self.assertFalse(doc.allows("s3:GetObject", "arn:aws:s3:::DATA/key"))  # resources do not
        self.assertFalse(doc.allows("s3:GetObject", "arn:aws:s3:::data/secret/k"))  # explicit deny
        self.assertTrue(doc.allows("ec2:RunInstances", "arn:aws:ec2:us-east-1:1:instance/i"))
        self.assertFalse(doc.allows("iam:CreateUser", "arn:aws:ec2:x"))  # NotAction
        self.assertTrue(PolicyDocument.parse(ADMIN).allows("iam:CreateUser"))
        denied = PolicyDocument.parse(BUCKET_POLICY)
        self.assertFalse(denied.allows("s3:GetObject", "arn:aws:s3:::w/k"))

    def test_grants_admin(self):
        self.assertTrue(PolicyDocument.parse(ADMIN).grants_admin())
        self.assertTrue(PolicyDocument.parse(
            {"Statement": [{"Effect": "Allow", "Action": ["s3:*", "*"], "Resource": ["*"]}]}
        ).grants_admin())
        self.assertFalse(PolicyDocument.parse(S3).grants_admin())
        self.assertFalse(PolicyDocument.parse(
            {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}).grants_admin())
        self.assertFalse(PolicyDocument.parse(
            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:x"}]}
        ).grants_admin())

    def test_public_statements(self):
        public = PolicyDocument.parse(BUCKET_POLICY).public_statements()
        self.assertEqual([s.actions for s in public], [["s3:GetObject"], ["s3:PutObject"]])
        self.assertEqual(PolicyDocument.parse(S3).public_statements(), [])

    def test_wildcards(self):
        self.assertTrue(wildcard_match("*", "anything"))
        self.assertTrue(wildcard_match("a*c", "abbbc"))
        self.assertTrue(wildcard_match("a?c", "abc"))
        self.assertFalse(wildcard_match("a?c", "abbc"))
        self.assertFalse(wildcard_match("a.c", "abc"))  # regex characters are literal
        self.assertTrue(wildcard_match("a.c", "a.c"))
        self.assertTrue(wildcard_match("A*", "abc", ignore_case=True))
        self.assertFalse(wildcard_match("A*", "abc"))
        self.assertTrue(wildcard_match("a*", "a\nb"))


if __name__ == "__main__":
    unittest.main()
