//! Bucket names that work as DNS labels, so virtual-hosted-style HTTPS requests and S3 Transfer
//! Acceleration work with them.

use std::borrow::Cow;

use palisade_sdk::{Ctx, Error, Resource, Result, Rule, Severity, Verdict};

use crate::BUCKET;

pub const NAME_DNS_COMPLIANCE: Rule = Rule::new(
    "AWS.S3.Bucket.NameDNSCompliance",
    "S3 bucket name is DNS-compatible",
    Severity::Info,
    BUCKET,
    name_dns_compliance,
)
.description(
    "A DNS-compatible bucket name is 3 to 63 characters of lowercase letters, digits and \
     hyphens, starting and ending with a letter or digit. Dots break the wildcard TLS \
     certificate of virtual-hosted-style requests (`https://NAME.s3.amazonaws.com`) and rule \
     out Transfer Acceleration; uppercase letters and underscores are legacy names that newer \
     features refuse.",
)
.remediation(
    "Bucket names cannot be changed: create a bucket with a compliant name, copy the objects \
     (`aws s3 sync s3://OLD s3://NEW`), move clients over, then delete the old bucket.",
)
.references(&["https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"]);

fn name_dns_compliance(res: &Resource<'_>, _ctx: &Ctx<'_>) -> Result<Verdict> {
    let name: Option<Cow<'_, str>> = res.field("Name")?;
    let id = res.id();
    let name = match name {
        Some(name) => name,
        None => match id.strip_prefix("arn:aws:s3:::") {
            Some(name) if !name.is_empty() => Cow::Borrowed(name),
            _ => {
                return Err(Error::new(
                    "the bucket has no Name, and its id is no bucket ARN",
                ));
            }
        },
    };
    let problems = dns_problems(&name);
    Ok(if problems.is_empty() {
        Verdict::Pass
    } else {
        Verdict::fail(format!(
            "bucket name {name:?} is not DNS-compatible: {}",
            problems.join(", ")
        ))
    })
}

/// What keeps `name` from being a DNS-compatible bucket name; empty when nothing does.
fn dns_problems(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let length = name.chars().count();
    if !(3..=63).contains(&length) {
        problems.push(format!("it is {length} characters long (3 to 63 allowed)"));
    }
    if name.contains('.') {
        problems.push("it contains a dot".to_owned());
    }
    if name.contains('_') {
        problems.push("it contains an underscore".to_owned());
    }
    let uppercase: String = name.chars().filter(char::is_ascii_uppercase).collect();
    if !uppercase.is_empty() {
        problems.push(format!("it contains uppercase letters ({uppercase})"));
    }
    let other: String = name
        .chars()
        .filter(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '.' | '_' | 'A'..='Z'))
        .collect();
    if !other.is_empty() {
        problems.push(format!(
            "it contains characters other than lowercase letters, digits and hyphens ({other:?})"
        ));
    }
    if name.starts_with('-') {
        problems.push("it starts with a hyphen".to_owned());
    }
    if name.ends_with('-') {
        problems.push("it ends with a hyphen".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::dns_problems;

    #[test]
    fn compliant_names_have_no_problems() {
        for name in [
            "abc",
            "acme-prod-invoices",
            "0day",
            "a1-b2-c3",
            &"a".repeat(63),
        ] {
            assert!(
                dns_problems(name).is_empty(),
                "{name}: {:?}",
                dns_problems(name)
            );
        }
    }

    #[test]
    fn each_problem_is_named() {
        let cases = [
            ("ab", "2 characters long"),
            (&"a".repeat(64), "64 characters long"),
            ("", "0 characters long"),
            ("logs.example.com", "a dot"),
            ("my_bucket", "an underscore"),
            ("MyBucket", "uppercase letters (MB)"),
            ("bücket", "\"ü\""),
            ("buck et", "\" \""),
            ("-bucket", "starts with a hyphen"),
            ("bucket-", "ends with a hyphen"),
        ];
        for (name, problem) in cases {
            let problems = dns_problems(name).join(", ");
            assert!(problems.contains(problem), "{name:?}: {problems}");
        }
        assert_eq!(dns_problems("A.b_").len(), 3, "{:?}", dns_problems("A.b_"));
    }
}
