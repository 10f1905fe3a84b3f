//! AWS access: the SDK configuration every client shares (one rustls HTTPS stack, the endpoint
//! override, adaptive retries, call counting), the host's own identity, and per-account sessions
//! through an assumed read-only role. Resource shapes and collectors live in `scan`, not here.

mod error;
mod retry;
pub mod role_template;

pub use error::{AwsError, ErrorKind};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// Region for global services (IAM, STS, S3 listing) and `DescribeRegions`.
pub const DEFAULT_HOME_REGION: &str = "us-east-1";

/// How the host reaches AWS.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    /// Send every call here instead of AWS (an emulator such as moto); also `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Region for global calls.
    pub home_region: String,
    /// Attempts per call, first included; adaptive retry spaces them and backs off on throttling.
    pub max_attempts: u32,
    /// Give up on a call after this long, retries included.
    pub call_timeout: Duration,
    /// Use these instead of the standard credential chain (tests and benchmarks against an
    /// emulator, where the chain must not go looking for instance metadata).
    pub credentials: Option<Credentials>,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            endpoint_url: None,
            home_region: DEFAULT_HOME_REGION.to_owned(),
            // The SDK's standard: adaptive mode also slows the client down under throttling, and
            // a persistently failing call (an emulator's 500) costs about a second, not ten.
            max_attempts: 3,
            // Long enough for a slow paginated page, short enough that a hung endpoint fails a scan.
            call_timeout: Duration::from_secs(60),
            credentials: None,
        }
    }
}

/// Counts every attempt (retries included) made by the clients that share it.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "palisade-call-counter"
    }

    fn read_before_attempt(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One identity's configuration: the host's own, or an account's assumed role. Cheap to clone;
/// clients made from it share credentials (refreshed before they expire) and the call counter.
#[derive(Debug, Clone)]
pub struct Session {
    config: SdkConfig,
    options: AwsOptions,
    calls: CallCounter,
}

impl Session {
    /// The host's identity from the standard credential chain (environment, profile, web
    /// identity, container or instance metadata).
    pub async fn host(options: AwsOptions) -> Session {
        // One HTTPS stack for every client: rustls with ring, roots from the OS.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(options.home_region.clone()))
            .retry_config(RetryConfig::adaptive().with_max_attempts(options.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(options.call_timeout)
                    // Connecting is quick or never: a dead endpoint fails fast.
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
            );
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &options.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        Session {
            config,
            options,
            calls: CallCounter::default(),
        }
    }

    /// A session as `role_arn`, assumed with this session's credentials. Credentials are
    /// fetched on first use and refreshed before they expire.
    pub async fn assume(
        &self,
        role_arn: &str,
        external_id: Option<&str>,
        session_name: &str,
    ) -> Session {
        let mut builder = AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .configure(&self.config);
        if let Some(id) = external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.build().await;
        let config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        Session {
            config,
            options: self.options.clone(),
            // Counted apart from the identity it was assumed with: one account's scan, one count.
            calls: CallCounter::default(),
        }
    }

    /// The same identity, sharing its cached credentials, with a call count of its own (one
    /// refresh's calls on a session kept between refreshes).
    pub fn recounted(&self) -> Session {
        Session {
            config: self.config.clone(),
            options: self.options.clone(),
            calls: CallCounter::default(),
        }
    }

    /// The account id of this session's identity (`sts:GetCallerIdentity`).
    pub async fn caller_account(&self) -> Result<String, AwsError> {
        let out = self
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
        out.account
            .ok_or_else(|| AwsError::malformed("GetCallerIdentity", "the answer has no account"))
    }

    /// Calls made so far by this session's clients (retries included; sessions assumed from it
    /// count their own).
    pub fn api_calls(&self) -> u64 {
        self.calls.get()
    }

    pub fn home_region(&self) -> &str {
        &self.options.home_region
    }

    /// Whether calls go to an endpoint override rather than AWS.
    pub fn has_endpoint_override(&self) -> bool {
        self.options.endpoint_url.is_some()
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.config)
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::config::Builder::from(&self.config)
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    /// An S3 client for `region`. Path-style against an endpoint override: virtual-host names
    /// such as `bucket.127.0.0.1` do not resolve.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .force_path_style(self.has_endpoint_override())
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// An S3 Control client (account-level S3 settings). S3 Control names the account in the
    /// host (`<account>.s3-control.<region>.amazonaws.com`); an endpoint override is used as
    /// given instead, since a loopback emulator has no such host names.
    pub fn s3control(&self, region: &str) -> aws_sdk_s3control::Client {
        let mut conf = aws_sdk_s3control::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier);
        if let Some(url) = &self.options.endpoint_url {
            conf = conf.endpoint_resolver(FixedEndpoint(url.clone()));
        }
        aws_sdk_s3control::Client::from_conf(conf.build())
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_ec2::Client::from_conf(conf)
    }

    pub fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        let conf = aws_sdk_cloudtrail::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_cloudtrail::Client::from_conf(conf)
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    /// An SNS client for `region` (confirming the event topics' subscriptions to the queue).
    pub fn sns(&self, region: &str) -> aws_sdk_sns::Client {
        let conf = aws_sdk_sns::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    }

    /// An SQS client for `region` (the event queue is read with the host's own identity).
    pub fn sqs(&self, region: &str) -> aws_sdk_sqs::Client {
        let conf = aws_sdk_sqs::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .interceptor(self.calls.clone())
            .retry_classifier(retry::NotImplementedClassifier)
            .build();
        aws_sdk_sqs::Client::from_conf(conf)
    }
}

/// An endpoint used exactly as configured, whatever the operation's parameters.
#[derive(Debug)]
struct FixedEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_sdk_s3control::config::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}
