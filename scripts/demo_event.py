#!/usr/bin/env python3
"""The demo's real-time step on the local moto emulator.

`queue`: creates the SQS queue `palisade serve` consumes and prints its URL.
`open-ssh QUEUE_URL`: opens SSH to the world on the `web` security group of us-east-1, then
posts the EventBridge "AWS API Call via CloudTrail" event AWS would send for that call.
Uses boto3 against AWS_ENDPOINT_URL only.
"""

import json
import os
import sys
import uuid

import boto3

endpoint = os.environ["AWS_ENDPOINT_URL"]
if not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
    sys.exit(f"refusing to touch a non-local endpoint: {endpoint}")
ACCOUNT = "123456789012"
REGION = "us-east-1"


def client(service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def open_ssh(queue_url: str) -> None:
    ec2 = client("ec2")
    group = ec2.describe_security_groups(GroupNames=["web"])["SecurityGroups"][0]["GroupId"]
    permission = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
    record = {
        "eventVersion": "1.10",
        "userIdentity": {"type": "IAMUser", "accountId": ACCOUNT, "userName": "deploy-bot",
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/deploy-bot"},
        "eventTime": "2026-11-27T12:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"groupId": group, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
             "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": {"_return": True},
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
    }
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2", "account": ACCOUNT, "time": record["eventTime"], "region": REGION,
        "resources": [], "detail": record,
    }
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    print(f"opened tcp/22 to 0.0.0.0/0 on {group} and posted the CloudTrail event")


if sys.argv[1:2] == ["queue"]:
    print(client("sqs").create_queue(QueueName="palisade-events")["QueueUrl"])
elif sys.argv[1:2] == ["open-ssh"] and len(sys.argv) == 3:
    open_ssh(sys.argv[2])
else:
    sys.exit("usage: demo_event.py queue | open-ssh QUEUE_URL")
