// Example.S3.Bucket.Encrypted: the bucket has a default encryption configuration.
//
// Reading EncryptionRules when the collector could not read it (it is named in the document's
// CollectionErrors) throws: the verdict is `error`, never `pass`.
rule({
  id: "Example.S3.Bucket.Encrypted",
  title: "S3 bucket has default encryption",
  severity: "high",
  resourceTypes: ["AWS.S3.Bucket"],
  description:
    "Default encryption makes S3 encrypt every new object at rest, whether or not the request asks for it.",
  remediation: "Set a default encryption configuration (SSE-S3 or SSE-KMS) on the bucket.",
  references: ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html"],
  compliance: ["CIS-AWS-7.0:2.1.1"],
  message: (bucket) => `bucket ${nameOf(bucket)} has no default encryption`,
}, (bucket) => Array.isArray(bucket.EncryptionRules) && bucket.EncryptionRules.length > 0);

/** The document's Name, or "" when it is null (or not text). */
function nameOf(resource) {
  return typeof resource.Name === "string" ? resource.Name : "";
}
