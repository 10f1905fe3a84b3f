#!/usr/bin/env python3
"""Run the moto AWS emulator on 127.0.0.1 for Palisade's tests, demo and benchmark.

Prints `READY <port>` once the server answers, then reads commands from stdin, one per line,
answering `ok` or `error <reason>` on stdout:

    backdate-key ACCOUNT USER ACCESS_KEY_ID DAYS   make an access key DAYS days older

The server stops when stdin closes, so a test process that dies takes its emulator with it.
`POST /moto-api/reset` drops all state.

Two fixes to moto's answers are applied unless --stock is given (see emulator-notes.md):
GetBucketVersioning answers with a `VersioningConfiguration` root, as S3 does, instead of the
root the strict AWS SDK parsers reject; and DescribeNetworkAcls accepts the `network-acl-id`
filter, which EC2 documents and moto (5.2) answers with a 500.
"""

import argparse
import datetime
import json
import os
import sys
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--stock", action="store_true", help="do not patch moto's answers")
    args = parser.parse_args()

    # moto loads ~1,300 public AMIs per region otherwise, which slows every EC2 call and
    # pollutes image listings. Must be set before moto is imported.
    if "MOTO_AMIS_PATH" not in os.environ:
        amis = os.path.join(tempfile.gettempdir(), "palisade-moto-amis.json")
        with open(amis, "w", encoding="utf-8") as f:
            json.dump([], f)
        os.environ["MOTO_AMIS_PATH"] = amis

    from moto.server import ThreadedMotoServer

    if not args.stock:
        patch_versioning()
        patch_network_acl_filter()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"READY {port}", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                run(words)
                print("ok", flush=True)
            except Exception as e:  # a bad command must not kill the emulator
                print(f"error {type(e).__name__}: {e}", flush=True)
    finally:
        server.stop()
    return 0


def run(words: list[str]) -> None:
    command, rest = words[0], words[1:]
    if command == "backdate-key":
        account, user, key_id, days = rest
        backdate_key(account, user, key_id, int(days))
    else:
        raise ValueError(f"unknown command {command!r}")


def backdate_key(account: str, user_name: str, key_id: str, days: int) -> None:
    from moto.iam.models import iam_backends

    user = iam_backends[account]["aws"].get_user(user_name)
    for key in user.access_keys:
        if key.access_key_id == key_id:
            key.create_date = key.create_date - datetime.timedelta(days=days)
            return
    raise KeyError(f"user {user_name} has no access key {key_id}")


def patch_versioning() -> None:
    from moto.s3.responses import S3Response

    def get_bucket_versioning(self):  # type: ignore[no-untyped-def]
        status = self.backend.get_bucket_versioning(self.bucket_name)
        body = '<?xml version="1.0" encoding="UTF-8"?>'
        body += '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        if status:
            body += f"<Status>{status}</Status>"
        body += "</VersioningConfiguration>"
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning


def patch_network_acl_filter() -> None:
    from moto.ec2.models.network_acls import NetworkAcl

    stock = NetworkAcl.get_filter_value

    def get_filter_value(self, filter_name, method_name=None):  # type: ignore[no-untyped-def]
        if filter_name == "network-acl-id":
            return self.id
        return stock(self, filter_name, method_name)

    NetworkAcl.get_filter_value = get_filter_value


if __name__ == "__main__":
    sys.exit(main())
