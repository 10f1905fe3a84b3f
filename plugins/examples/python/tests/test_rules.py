"""Unit tests of the example rules in plain Python (no component, no host):

    PYTHONPATH=sdk/python python3 -m unittest discover -s plugins/examples/python/tests

Runs tests/cases.yaml too when PyYAML is installed. `palisade policy test` runs the same cases
against the built component.
"""

import os
import unittest

from palisade_policy.testing import check, load_pack

PACK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = load_pack(PACK)

try:
    import yaml
except ImportError:
    yaml = None


def sg(*permissions, name="sg"):
    return {"ResourceId": "sg-1", "ResourceType": "AWS.EC2.SecurityGroup", "Name": name,
            "IpPermissions": list(permissions)}


def perm(protocol="tcp", low=22, high=22, v4=(), v6=()):
    p = {"IpProtocol": protocol, "IpRanges": [{"CidrIp": c} for c in v4],
         "Ipv6Ranges": [{"CidrIpv6": c} for c in v6]}
    if low is not None:
        p["FromPort"], p["ToPort"] = low, high
    return p


class ExampleRulesTest(unittest.TestCase):
    def ssh(self, document):
        return check(RULES, document, rule_id="Example.EC2.SecurityGroup.NoWorldSSH")

    def test_describe(self):
        self.assertEqual(
            sorted((r.id, r.severity, r.title) for r in RULES),
            [("Example.EC2.SecurityGroup.NoWorldSSH", "high",
              "Security group does not open SSH to the internet"),
             ("Example.IAM.User.ConsoleMFA", "medium", "IAM user with a console password has MFA"),
             ("Example.S3.Bucket.Encrypted", "high", "S3 bucket has default encryption")],
        )

    def test_ssh_port_ranges_and_protocols(self):
        world = ("0.0.0.0/0",)
        self.assertEqual(self.ssh(sg(perm("6", 20, 25, v4=world), name="a")),
                         ("fail", "security group a allows SSH from 0.0.0.0/0"))
        self.assertEqual(self.ssh(sg(perm("tcp", 23, 30, v4=world))).status, "pass")
        self.assertEqual(self.ssh(sg(perm("udp", 22, 22, v4=world))).status, "pass")
        self.assertEqual(self.ssh(sg(perm("tcp", None, v4=world))).status, "pass")  # no ports
        self.assertEqual(self.ssh(sg(perm("-1", None, v4=world))).status, "fail")
        # The first offending permission, IPv4 before IPv6.
        self.assertEqual(
            self.ssh(sg(perm("tcp", 443, 443, v4=world), perm("-1", None, v4=world, v6=("::/0",)),
                        name=None)),
            ("fail", "security group  allows SSH from 0.0.0.0/0"),
        )

    def test_uncollected_fields_are_errors(self):
        v = check(RULES, {"ResourceId": "u", "ResourceType": "AWS.IAM.User", "Name": "u",
                          "CredentialReport": None,
                          "CollectionErrors": {"CredentialReport": "throttled"}},
                  rule_id="Example.IAM.User.ConsoleMFA")
        self.assertEqual(v, ("error", "field CredentialReport could not be collected: throttled"))

    @unittest.skipIf(yaml is None, "PyYAML is not installed")
    def test_cases_yaml(self):
        with open(os.path.join(PACK, "tests", "cases.yaml")) as f:
            cases = yaml.safe_load(f)
        for case in cases:
            v = check(RULES, case["resource"], rule_id=case["rule"])
            self.assertEqual(v.status, case["expect"], case["name"])
            if "message" in case:
                self.assertEqual(v.message, case["message"], case["name"])


if __name__ == "__main__":
    unittest.main()
