//! `NotImplementedClassifier`: stops the SDK retrying answers that mean "this endpoint does not
//! implement the operation". The standard classifiers retry every HTTP 500; an emulator's 500
//! for an unimplemented call (a page, not an AWS error document) or a 501 will never succeed,
//! so retrying only adds back-off to the scan. A real 500 from AWS carries an error code and is
//! still retried.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

#[derive(Debug, Clone, Copy, Default)]
pub struct NotImplementedClassifier;

impl ClassifyRetry for NotImplementedClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        let status = response.status().as_u16();
        let body = response.body().bytes().unwrap_or_default();
        if status == 501 || (status == 500 && !is_aws_error(body)) {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "palisade-not-implemented"
    }

    fn priority(&self) -> RetryClassifierPriority {
        // After the HTTP-status classifier, whose "retry every 500" this overrides.
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether a body is an AWS error document (XML `<Code>` or JSON `__type`/`code`), which
/// an AWS service sends with every error it means.
fn is_aws_error(body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    has(b"<Code>") || has(b"\"__type\"") || has(b"\"code\"") || has(b"\"Code\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_error_documents_are_recognised() {
        assert!(is_aws_error(
            b"<Response><Errors><Error><Code>InternalError</Code></Error></Errors></Response>"
        ));
        assert!(is_aws_error(
            br#"{"__type":"InternalFailure","message":"x"}"#
        ));
        assert!(!is_aws_error(
            b"<!doctype html><title>500 Internal Server Error</title>"
        ));
        assert!(!is_aws_error(b""));
    }
}
