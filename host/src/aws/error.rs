//! `AwsError`: one AWS call that failed, classified by what the scanner should do about it.
//! Classification only; retries are the SDK's job (adaptive retry mode) and recording errors on
//! resources is the collectors' job.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure a call met; decides whether a scan can go on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The role may not make this call (AccessDenied, UnauthorizedOperation, ...).
    AccessDenied,
    /// Still throttled after the SDK's retries.
    Throttled,
    /// The endpoint does not implement the call (emulators answer 500/501).
    NotImplemented,
    /// The entity does not exist (e.g. no bucket policy).
    NotFound,
    /// The endpoint could not be reached or timed out.
    Unreachable,
    /// Credentials are missing, invalid or expired.
    Credentials,
    /// The answer could not be understood.
    MalformedResponse,
    /// Anything else the service said.
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AccessDenied => "access-denied",
            ErrorKind::Throttled => "throttled",
            ErrorKind::NotImplemented => "not-implemented",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Credentials => "credentials",
            ErrorKind::MalformedResponse => "malformed-response",
            ErrorKind::Other => "other",
        }
    }
}

/// A failed AWS call: the operation, its classification, the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    /// Operation name, e.g. `GetBucketPolicy`.
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    /// Human-readable detail.
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

const ACCESS_DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AllAccessDisabled",
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
];
const CREDENTIALS: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "AuthFailure",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidToken",
];
const NOT_IMPLEMENTED: &[&str] = &[
    "NotImplemented",
    "NotImplementedException",
    "InternalFailure",
];

impl AwsError {
    /// Classifies an SDK error from `operation`.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            // A 2xx answer that failed to parse surfaces as a service error without a code.
            SdkError::ServiceError(service)
                if service.err().code().is_none() && status.is_some_and(|s| s < 300) =>
            {
                AwsError {
                    operation,
                    kind: ErrorKind::MalformedResponse,
                    code: None,
                    message: format!("the answer could not be parsed: {}", chain(&err)),
                }
            }
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().map(str::to_owned);
                let message = e
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(0)));
                let kind = classify(code.as_deref(), status);
                AwsError {
                    operation,
                    kind,
                    code,
                    message,
                }
            }
            // Credentials are resolved while dispatching: a refused AssumeRole surfaces here.
            SdkError::DispatchFailure(_) if credentials_failure(&err).is_some() => {
                let (kind, code, message) = credentials_failure(&err).unwrap_or((
                    ErrorKind::Credentials,
                    None,
                    String::new(),
                ));
                AwsError {
                    operation,
                    kind,
                    code,
                    message,
                }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsError {
                operation,
                kind: ErrorKind::Unreachable,
                code: None,
                message: chain(&err),
            },
            SdkError::ResponseError(_) => AwsError {
                operation,
                kind: if status.is_some_and(|s| s >= 500) {
                    ErrorKind::NotImplemented
                } else {
                    ErrorKind::MalformedResponse
                },
                code: None,
                message: chain(&err),
            },
            SdkError::ConstructionFailure(_) => {
                let message = chain(&err);
                let kind = if message.contains("credential") {
                    ErrorKind::Credentials
                } else {
                    ErrorKind::Other
                };
                AwsError {
                    operation,
                    kind,
                    code: None,
                    message,
                }
            }
            _ => AwsError {
                operation,
                kind: ErrorKind::Other,
                code: None,
                message: chain(&err),
            },
        }
    }

    /// An error that did not come from a call (e.g. an unparseable document in an answer).
    pub fn malformed(operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            operation,
            kind: ErrorKind::MalformedResponse,
            code: None,
            message: message.into(),
        }
    }

    /// Whether the failure ends the whole scan rather than one part of it.
    pub fn is_fatal(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable | ErrorKind::Credentials)
    }
}

fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some(c) if ACCESS_DENIED.contains(&c) => ErrorKind::AccessDenied,
        Some(c) if THROTTLED.contains(&c) => ErrorKind::Throttled,
        Some(c) if CREDENTIALS.contains(&c) => ErrorKind::Credentials,
        Some(c) if NOT_IMPLEMENTED.contains(&c) => ErrorKind::NotImplemented,
        // NoSuchBucketPolicy, NoSuchEntity, ServerSideEncryptionConfigurationNotFoundError, ...
        Some(c) if c.starts_with("NoSuch") || c.contains("NotFound") => ErrorKind::NotFound,
        _ => match status {
            Some(403) => ErrorKind::AccessDenied,
            Some(404) => ErrorKind::NotFound,
            Some(429) | Some(503) => ErrorKind::Throttled,
            Some(500) | Some(501) => ErrorKind::NotImplemented,
            _ => ErrorKind::Other,
        },
    }
}

/// When resolving credentials failed: why. STS refusing the role is a credentials problem
/// (with its code and message); STS out of reach is the endpoint's. `None` when the failure was
/// not about credentials.
fn credentials_failure(
    err: &(dyn std::error::Error + 'static),
) -> Option<(ErrorKind, Option<String>, String)> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;

    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut is_credentials = false;
    while let Some(e) = source {
        is_credentials |= e.downcast_ref::<CredentialsError>().is_some();
        if let Some(call) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            return Some(match call {
                SdkError::ServiceError(refused) => {
                    let refused = refused.err();
                    let message = refused.message().unwrap_or("AssumeRole was refused");
                    (
                        ErrorKind::Credentials,
                        refused.code().map(str::to_owned),
                        format!("cannot get credentials: AssumeRole: {message}"),
                    )
                }
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
                    ErrorKind::Unreachable,
                    None,
                    format!("cannot reach STS to assume the role: {}", chain(call)),
                ),
                other => (
                    ErrorKind::Credentials,
                    None,
                    format!("cannot get credentials: AssumeRole: {}", chain(other)),
                ),
            });
        }
        source = e.source();
    }
    is_credentials.then(|| {
        (
            ErrorKind::Credentials,
            None,
            format!("cannot get credentials: {}", chain(err)),
        )
    })
}

/// The error and its sources on one line; the SDK's top-level text alone says "dispatch failure".
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert_eq!(
            classify(Some("AccessDenied"), Some(403)),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            classify(Some("UnauthorizedOperation"), Some(403)),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            classify(Some("Throttling"), Some(400)),
            ErrorKind::Throttled
        );
        assert_eq!(
            classify(Some("NoSuchBucketPolicy"), Some(404)),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(Some("NoSuchEntity"), Some(404)),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(Some("ExpiredToken"), Some(400)),
            ErrorKind::Credentials
        );
        assert_eq!(classify(None, Some(501)), ErrorKind::NotImplemented);
        assert_eq!(classify(None, Some(503)), ErrorKind::Throttled);
        assert_eq!(classify(Some("Weird"), Some(400)), ErrorKind::Other);
    }
}
