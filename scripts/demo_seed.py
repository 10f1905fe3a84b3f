#!/usr/bin/env python3
"""Seed the demo account on a local moto emulator with a few classic misconfigurations.

Uses boto3 against AWS_ENDPOINT_URL (never AWS itself). Prints the id of the access key it
wants back-dated, so the demo can age it through the emulator's control channel.
"""

import json
import os
import sys

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL"]
if not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
    sys.exit(f"refusing to seed a non-local endpoint: {endpoint}")


def client(service: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=endpoint)


s3 = client("s3")
s3.create_bucket(Bucket="acme-payments")
s3.put_bucket_encryption(
    Bucket="acme-payments",
    ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
    },
)
s3.put_bucket_versioning(Bucket="acme-payments", VersioningConfiguration={"Status": "Enabled"})
s3.create_bucket(Bucket="acme-scratch")
eu_s3 = client("s3", "eu-west-1")
eu_s3.create_bucket(
    Bucket="acme-marketing-eu",
    CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
)
eu_s3.put_bucket_acl(Bucket="acme-marketing-eu", ACL="public-read")

for region in ("us-east-1", "eu-west-1"):
    ec2 = client("ec2", region)
    group = ec2.create_security_group(GroupName="bastion", Description="SSH bastion")
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            }
        ],
    )
web = client("ec2").create_security_group(GroupName="web", Description="HTTPS only")
client("ec2").authorize_security_group_ingress(
    GroupId=web["GroupId"],
    IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ],
)

iam = client("iam")
admin = iam.create_policy(
    PolicyName="break-glass",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ),
)
iam.create_policy(
    PolicyName="read-reports",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-payments/*"}
            ],
        }
    ),
)
for user in ("deploy-bot", "carol"):
    iam.create_user(UserName=user)
iam.attach_user_policy(UserName="deploy-bot", PolicyArn=admin["Policy"]["Arn"])
old_key = iam.create_access_key(UserName="deploy-bot")["AccessKey"]["AccessKeyId"]
iam.update_account_password_policy(MinimumPasswordLength=6)
print(f"backdate-key 123456789012 deploy-bot {old_key} 200")
