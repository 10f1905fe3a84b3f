//! The CloudFormation template a monitored account deploys (per region, or as a StackSet) to
//! forward its CloudTrail API calls to Palisade's queue (EventBridge rule → SNS topic → SQS),
//! the policy Palisade's queue needs to accept them, and the validation of the queue's ARN.
//! Documents only: nothing here calls AWS or deploys anything.

use serde_json::{Value, json};

use crate::account::is_account_id;

/// Event sources the rule forwards: the services whose calls the mapper turns into targets.
pub const SOURCES: [&str; 5] = ["aws.s3", "aws.ec2", "aws.iam", "aws.cloudtrail", "aws.kms"];

/// Name of the SNS topic the template creates; the default queue policy trusts it by name.
pub const TOPIC_NAME: &str = "palisade-events";

/// The EventBridge detail-type of CloudTrail-recorded API calls.
const API_CALL: &str = "AWS API Call via CloudTrail";

/// Event-name prefixes of calls that change nothing, kept out of the queue. The services'
/// read verbs (`Get`, `List`, `Describe`, `Head`, `Lookup`, `Search`, `Simulate`, IAM's report
/// `Generate`s) plus KMS's cryptographic operations (`Decrypt`, `Encrypt`, `ReEncrypt`,
/// `GenerateDataKey…`, `Sign`, `Verify…`), which are by far the loudest management events.
const READ_ONLY_PREFIXES: [&str; 13] = [
    "Get",
    "List",
    "Describe",
    "Head",
    "Lookup",
    "Search",
    "Simulate",
    "Generate",
    "Decrypt",
    "Encrypt",
    "ReEncrypt",
    "Sign",
    "Verify",
];

// Logical ids of the template's resources.
const TOPIC: &str = "PalisadeEventsTopic";
const TOPIC_POLICY: &str = "PalisadeEventsTopicPolicy";
const SUBSCRIPTION: &str = "PalisadeEventsSubscription";
const RULE: &str = "PalisadeEventsRule";

/// Why a queue ARN or a source account is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "queue ARN {arn:?} is invalid: {reason}; expected \
         arn:<partition>:sqs:<region>:<12-digit account id>:<queue name>"
    )]
    QueueArn { arn: String, reason: &'static str },
    #[error("source account {0:?} is invalid: an AWS account id is exactly 12 digits")]
    SourceAccount(String),
}

/// The parts of an SQS queue ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueArn {
    pub partition: String,
    pub region: String,
    pub account_id: String,
    pub name: String,
}

impl QueueArn {
    /// The queue's URL, which the SQS API addresses it by.
    pub fn url(&self) -> String {
        let domain = match self.partition.as_str() {
            "aws-cn" => "amazonaws.com.cn",
            _ => "amazonaws.com",
        };
        format!(
            "https://sqs.{}.{domain}/{}/{}",
            self.region, self.account_id, self.name
        )
    }

    /// FIFO queues (`.fifo`) cannot subscribe to the template's standard topic.
    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// Validates a queue ARN (`arn:<partition>:sqs:<region>:<12 digits>:<name>`).
pub fn parse_queue_arn(arn: &str) -> Result<QueueArn, TemplateError> {
    let invalid = |reason| TemplateError::QueueArn {
        arn: arn.to_owned(),
        reason,
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account_id, name] = parts[..] else {
        return Err(invalid("it has fewer than six ':'-separated parts"));
    };
    if prefix != "arn" {
        return Err(invalid("it does not start with \"arn:\""));
    }
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    if !partition_ok {
        return Err(invalid(
            "the partition is not aws, aws-cn, aws-us-gov or the like",
        ));
    }
    if service != "sqs" {
        return Err(invalid("it is not an SQS ARN"));
    }
    let region_ok = region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(invalid("the region is missing or malformed"));
    }
    if !is_account_id(account_id) {
        return Err(invalid("the account id is not 12 digits"));
    }
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let name_ok = !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(invalid(
            "the queue name is not 1-80 letters, digits, '-' or '_' (with an optional .fifo)",
        ));
    }
    Ok(QueueArn {
        partition: partition.to_owned(),
        region: region.to_owned(),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
    })
}

/// Checks the accounts given to [`queue_policy`]: each must be a 12-digit account id.
pub fn check_source_accounts(accounts: &[String]) -> Result<(), TemplateError> {
    match accounts.iter().find(|a| !is_account_id(a)) {
        Some(bad) => Err(TemplateError::SourceAccount(bad.clone())),
        None => Ok(()),
    }
}

/// The template as JSON (which CloudFormation accepts, and which is also valid YAML). The queue
/// ARN becomes the `QueueArn` parameter's default; a stack or StackSet may still set it.
pub fn events_template(queue_arn: &str) -> Value {
    // Write calls are selected by excluding read-only event-name prefixes (one anything-but
    // over a list of prefixes, which event buses accept) rather than by listing write verbs or
    // matching `readOnly: [false]`:
    // - a forgotten read verb costs a message the mapper drops, while a forgotten write verb
    //   (Allocate…, Accept…, Restore…, or whatever a service adds next) would silently hide a
    //   change from Palisade: the exclusion fails safe, the allow-list does not;
    // - `readOnly` is absent from some records, and a pattern on a missing field never
    //   matches, so `readOnly: [false]` drops writes that lack it.
    // Failed calls (those with an `errorCode`) changed nothing and are dropped too.
    let pattern = json!({
        "source": SOURCES,
        "detail-type": [API_CALL],
        "detail": {
            "errorCode": [{"exists": false}],
            "eventName": [{"anything-but": {"prefix": READ_ONLY_PREFIXES}}],
        },
    });
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Palisade real-time events: forwards this account's CloudTrail write API \
            calls (S3, EC2, IAM, CloudTrail, KMS) in this region to Palisade's SQS queue through \
            an EventBridge rule and an SNS topic. Deploy in every monitored region, including \
            us-east-1 (IAM calls are delivered only there); the account needs a CloudTrail trail \
            logging management events. Palisade's queue policy must let the topic send messages: \
            see Metadata.",
        "Metadata": {
            "Palisade": {
                "QueuePolicy": "The queue's policy (in Palisade's account) must allow \
                    sns.amazonaws.com to sqs:SendMessage with aws:SourceArn matching this \
                    topic; print one with `palisade account events-template --queue-arn ARN \
                    --queue-policy [--source-account ID ...]`. If the queue is encrypted with a \
                    customer managed KMS key, its key policy must also let sns.amazonaws.com use \
                    kms:GenerateDataKey and kms:Decrypt.",
                "Subscription": "The queue is in another account, so SNS sends it a \
                    SubscriptionConfirmation first. palisade serve confirms it (with its own \
                    identity, sns:ConfirmSubscription) once this account is onboarded; \
                    topics of other accounts are left pending.",
                "Delivery": "RawMessageDelivery is off: Palisade reads the SNS envelope around \
                    each EventBridge event.",
            },
        },
        "Parameters": {
            "QueueArn": {
                "Type": "String",
                "Description": "ARN of the SQS queue Palisade consumes.",
                "AllowedPattern": "^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:.+$",
                "ConstraintDescription": "an SQS queue ARN: arn:<partition>:sqs:<region>:<account id>:<queue name>",
                "Default": queue_arn,
            },
        },
        "Resources": {
            TOPIC: {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": TOPIC_NAME,
                    "DisplayName": "Palisade events",
                    "Tags": [{"Key": "managed-by", "Value": "palisade"}],
                },
            },
            TOPIC_POLICY: {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": TOPIC}],
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "EventBridgePublishes",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": {"Ref": TOPIC},
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [RULE, "Arn"]}},
                            },
                        }],
                    },
                },
            },
            SUBSCRIPTION: {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": TOPIC},
                    "Protocol": "sqs",
                    "Endpoint": {"Ref": "QueueArn"},
                    "RawMessageDelivery": false,
                },
            },
            RULE: {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": TOPIC_NAME,
                    "Description": "CloudTrail write API calls Palisade rescans after.",
                    "State": "ENABLED",
                    "EventPattern": pattern,
                    "Targets": [{"Id": "palisade-events-topic", "Arn": {"Ref": TOPIC}}],
                },
            },
        },
        "Outputs": {
            "TopicArn": {
                "Description": "The SNS topic the rule publishes to; Palisade's queue policy must trust it.",
                "Value": {"Ref": TOPIC},
            },
            "RuleArn": {
                "Description": "The EventBridge rule that selects the events.",
                "Value": {"Fn::GetAtt": [RULE, "Arn"]},
            },
        },
    })
}

/// An SQS queue policy letting the template's topics send to the queue: the topics of
/// `source_accounts` (any of their topics), or with no accounts, any account's topic named
/// `palisade-events…`. The open form lets any AWS account that names a topic so write to the
/// queue, so prefer listing the accounts; either way the consumer must treat messages as
/// untrusted input.
pub fn queue_policy(queue_arn: &str, source_accounts: &[String]) -> Value {
    let partition = queue_arn
        .split(':')
        .nth(1)
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    let mut topics: Vec<String> = Vec::new();
    for account in source_accounts {
        let topic = format!("arn:{partition}:sns:*:{account}:*");
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        topics.push(format!("arn:{partition}:sns:*:*:{TOPIC_NAME}*"));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PalisadeEventsTopicsSend",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": topics}},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: &str = "arn:aws:sqs:eu-west-1:111122223333:palisade-events";

    /// The template as `palisade account events-template` prints it, read back.
    fn printed_template() -> Value {
        let text = serde_json::to_string_pretty(&events_template(QUEUE)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_template_wires_rule_topic_policy_and_subscription() {
        let t = printed_template();
        let resources = t["Resources"].as_object().unwrap();
        assert_eq!(resources.len(), 4);

        let topic = &t["Resources"][TOPIC];
        assert_eq!(topic["Type"], "AWS::SNS::Topic");
        assert_eq!(topic["Properties"]["TopicName"], TOPIC_NAME);

        let policy = &t["Resources"][TOPIC_POLICY];
        assert_eq!(policy["Type"], "AWS::SNS::TopicPolicy");
        assert_eq!(policy["Properties"]["Topics"], json!([{"Ref": TOPIC}]));
        let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(statement["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(statement["Action"], "sns:Publish");
        assert_eq!(statement["Resource"], json!({"Ref": TOPIC}));
        assert_eq!(
            statement["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!({"Ref": "AWS::AccountId"})
        );
        assert_eq!(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            json!({"Fn::GetAtt": [RULE, "Arn"]})
        );

        let subscription = &t["Resources"][SUBSCRIPTION];
        assert_eq!(subscription["Type"], "AWS::SNS::Subscription");
        assert_eq!(
            subscription["Properties"]["TopicArn"],
            json!({"Ref": TOPIC})
        );
        assert_eq!(subscription["Properties"]["Protocol"], "sqs");
        assert_eq!(
            subscription["Properties"]["Endpoint"],
            json!({"Ref": "QueueArn"})
        );
        assert_eq!(subscription["Properties"]["RawMessageDelivery"], false);

        let rule = &t["Resources"][RULE];
        assert_eq!(rule["Type"], "AWS::Events::Rule");
        assert_eq!(rule["Properties"]["State"], "ENABLED");
        assert_eq!(
            rule["Properties"]["Targets"][0]["Arn"],
            json!({"Ref": TOPIC})
        );

        assert_eq!(t["Outputs"]["TopicArn"]["Value"], json!({"Ref": TOPIC}));
        assert_eq!(
            t["Outputs"]["RuleArn"]["Value"],
            json!({"Fn::GetAtt": [RULE, "Arn"]})
        );
        // The description fits CloudFormation's 1024-byte limit.
        assert!(t["Description"].as_str().unwrap().len() <= 1024);
    }

    #[test]
    fn every_ref_and_getatt_names_a_parameter_or_resource() {
        fn walk(v: &Value, names: &mut Vec<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(name)) = map.get("Ref") {
                        names.push(name.clone());
                    }
                    if let Some(name) = map.get("Fn::GetAtt").and_then(|a| a[0].as_str()) {
                        names.push(name.to_owned());
                    }
                    map.values().for_each(|v| walk(v, names));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, names)),
                _ => {}
            }
        }
        let t = printed_template();
        let mut names = Vec::new();
        walk(&t, &mut names);
        assert!(!names.is_empty());
        for name in names {
            let known = name.starts_with("AWS::")
                || t["Parameters"].get(&name).is_some()
                || t["Resources"].get(&name).is_some();
            assert!(known, "dangling reference to {name}");
        }
    }

    #[test]
    fn the_pattern_selects_successful_write_calls_of_the_mapped_services() {
        let t = printed_template();
        let pattern = &t["Resources"][RULE]["Properties"]["EventPattern"];
        assert_eq!(pattern["source"], json!(SOURCES));
        assert_eq!(
            pattern["detail-type"],
            json!(["AWS API Call via CloudTrail"])
        );
        assert_eq!(pattern["detail"]["errorCode"], json!([{"exists": false}]));
        let excluded = &pattern["detail"]["eventName"][0]["anything-but"]["prefix"];
        for read in ["Get", "List", "Describe", "Head", "Lookup"] {
            assert!(
                excluded.as_array().unwrap().contains(&json!(read)),
                "{read}"
            );
        }
        // No excluded prefix starts a write call the mapper needs.
        let writes = [
            "PutBucketPolicy",
            "AuthorizeSecurityGroupIngress",
            "CreateAccessKey",
            "StopLogging",
            "ScheduleKeyDeletion",
            "DisableKeyRotation",
            "AttachRolePolicy",
            "ModifyInstanceAttribute",
        ];
        for write in writes {
            let hit = excluded
                .as_array()
                .unwrap()
                .iter()
                .any(|p| write.starts_with(p.as_str().unwrap()));
            assert!(!hit, "{write} would be filtered out");
        }
    }

    #[test]
    fn the_queue_arn_is_the_parameter_default() {
        let t = printed_template();
        let parameter = &t["Parameters"]["QueueArn"];
        assert_eq!(parameter["Default"], QUEUE);
        assert_eq!(
            parameter["AllowedPattern"],
            "^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:.+$"
        );
    }

    #[test]
    fn queue_arns_parse_into_parts_and_a_url() {
        let arn = parse_queue_arn(QUEUE).unwrap();
        assert_eq!(
            arn,
            QueueArn {
                partition: "aws".into(),
                region: "eu-west-1".into(),
                account_id: "111122223333".into(),
                name: "palisade-events".into(),
            }
        );
        assert_eq!(
            arn.url(),
            "https://sqs.eu-west-1.amazonaws.com/111122223333/palisade-events"
        );
        assert!(!arn.is_fifo());

        let gov = parse_queue_arn("arn:aws-us-gov:sqs:us-gov-west-1:111122223333:q_1").unwrap();
        assert_eq!(
            gov.url(),
            "https://sqs.us-gov-west-1.amazonaws.com/111122223333/q_1"
        );
        let cn = parse_queue_arn("arn:aws-cn:sqs:cn-north-1:111122223333:q").unwrap();
        assert_eq!(
            cn.url(),
            "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q"
        );
        assert!(
            parse_queue_arn("arn:aws:sqs:us-east-1:111122223333:q.fifo")
                .unwrap()
                .is_fifo()
        );
    }

    #[test]
    fn bad_queue_arns_are_refused_with_the_reason() {
        let cases = [
            ("", "fewer than six"),
            ("arn:aws:sqs:us-east-1:111122223333", "fewer than six"),
            (
                "urn:aws:sqs:us-east-1:111122223333:q",
                "does not start with \"arn:\"",
            ),
            ("arn:gcp:sqs:us-east-1:111122223333:q", "the partition"),
            ("arn:aws:sns:us-east-1:111122223333:q", "not an SQS ARN"),
            ("arn:aws:sqs::111122223333:q", "the region"),
            ("arn:aws:sqs:US-EAST-1:111122223333:q", "the region"),
            ("arn:aws:sqs:us-east-1:11112222333:q", "not 12 digits"),
            ("arn:aws:sqs:us-east-1:111122223333:", "the queue name"),
            ("arn:aws:sqs:us-east-1:111122223333:a/b", "the queue name"),
            ("arn:aws:sqs:us-east-1:111122223333:.fifo", "the queue name"),
        ];
        for (arn, reason) in cases {
            let text = parse_queue_arn(arn).unwrap_err().to_string();
            assert!(
                text.starts_with(&format!("queue ARN {arn:?} is invalid: ")),
                "{text}"
            );
            assert!(text.contains(reason), "{arn}: {text}");
            assert!(text.ends_with("<queue name>"), "{text}");
        }
        let long = format!("arn:aws:sqs:us-east-1:111122223333:{}", "q".repeat(81));
        assert!(parse_queue_arn(&long).is_err());
    }

    #[test]
    fn the_queue_policy_trusts_each_source_accounts_topics() {
        let accounts = vec![
            "111111111111".to_owned(),
            "222222222222".to_owned(),
            "111111111111".to_owned(),
        ];
        check_source_accounts(&accounts).unwrap();
        let policy = queue_policy(QUEUE, &accounts);
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Principal"]["Service"], "sns.amazonaws.com");
        assert_eq!(statement["Action"], "sqs:SendMessage");
        assert_eq!(statement["Resource"], QUEUE);
        assert_eq!(
            statement["Condition"]["ArnLike"]["aws:SourceArn"],
            json!([
                "arn:aws:sns:*:111111111111:*",
                "arn:aws:sns:*:222222222222:*"
            ])
        );
    }

    #[test]
    fn without_accounts_the_queue_policy_trusts_palisade_topics_anywhere() {
        let policy = queue_policy("arn:aws-cn:sqs:cn-north-1:111122223333:q", &[]);
        assert_eq!(
            policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            json!(["arn:aws-cn:sns:*:*:palisade-events*"])
        );
    }

    #[test]
    fn source_accounts_must_be_account_ids() {
        let err = check_source_accounts(&["111111111111".into(), "me".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "source account \"me\" is invalid: an AWS account id is exactly 12 digits"
        );
    }
}
