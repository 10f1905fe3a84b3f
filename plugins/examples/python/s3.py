"""Example.S3.Bucket.Encrypted, decorator style: metadata and failure message in `@rule`."""

from palisade_policy import rule


def _name(resource):
    name = resource.get("Name")
    return name if isinstance(name, str) else ""


@rule(
    id="Example.S3.Bucket.Encrypted",
    severity="high",
    resource_types=["AWS.S3.Bucket"],
    title="S3 bucket has default encryption",
    description="Buckets without default encryption store new objects unencrypted unless every "
    "writer asks for encryption.",
    remediation="Enable default encryption (SSE-S3 or SSE-KMS) on the bucket.",
    references=[
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html",
    ],
    compliance=["CIS-AWS-7.0:2.1.1"],
    message=lambda resource: f"bucket {_name(resource)} has no default encryption",
)
def encrypted(resource) -> bool:
    # Reading a field named in CollectionErrors raises: the rule ends in `error`, never `pass`.
    rules = resource.get("EncryptionRules")
    return isinstance(rules, list) and len(rules) > 0
