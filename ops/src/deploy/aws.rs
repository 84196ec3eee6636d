//! The AWS side of deploy: the clients (CloudFormation, S3, STS) from the standard credential
//! and region chain, and AWS errors as messages that say what was being done.

use anyhow::{anyhow, Context};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudformation as cfn;
use aws_sdk_s3 as s3;
use aws_sdk_sts as sts;
use aws_smithy_types::error::display::DisplayErrorContext;
use cfn::config::http::HttpResponse;
use cfn::error::{ProvideErrorMetadata, SdkError};

use super::AwsArgs;

/// The AWS clients deploy and destroy use.
pub struct Aws {
    pub cloudformation: cfn::Client,
    pub s3: s3::Client,
    pub sts: sts::Client,
    pub region: String,
    /// Set when AWS is replaced by a stand-in: objects are then addressed by path.
    pub endpoint_url: Option<String>,
}

impl Aws {
    /// Clients from the standard credential and region chain, with the given overrides, after
    /// checking that there are credentials and a region.
    pub(super) async fn connect(args: &AwsArgs, region: Option<String>) -> anyhow::Result<Aws> {
        let config = sdk_config(args, region).await?;
        Ok(Aws::new(&config, args.endpoint_url.clone()))
    }

    /// Clients of `config`, which has a region; `endpoint_url` is the stand-in's, if any.
    pub(super) fn new(config: &aws_config::SdkConfig, endpoint_url: Option<String>) -> Aws {
        let s3_config = s3::config::Builder::from(config)
            .force_path_style(endpoint_url.is_some())
            .build();
        Aws {
            cloudformation: cfn::Client::new(config),
            s3: s3::Client::from_conf(s3_config),
            sts: sts::Client::new(config),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            endpoint_url,
        }
    }
}

/// The AWS configuration of the standard credential and region chain, with the given overrides,
/// after checking that there are credentials and a region.
pub async fn sdk_config(
    args: &AwsArgs,
    region: Option<String>,
) -> anyhow::Result<aws_config::SdkConfig> {
    use aws_sdk_s3::config::ProvideCredentials;
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).http_client(aws_backend::http_client());
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    config.region().context(
        "no AWS region: pass --region, set region in infra/iot-api.toml, or configure one (AWS_REGION, or the profile's region)",
    )?;
    let credentials = config
        .credentials_provider()
        .context("no AWS credentials provider")?;
    credentials.provide_credentials().await.map_err(|e| {
        anyhow!(
            "no usable AWS credentials (pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID): {}",
            DisplayErrorContext(&e)
        )
    })?;
    Ok(config)
}

/// The HTTP status of a failed call's response, when there was one.
pub(super) fn status_of<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    error.raw_response().map(|r| r.status().as_u16())
}

/// An AWS call's failure: what was being done, and the service's code and message (or the HTTP
/// status, for replies without a body), or why no reply came.
pub fn aws_error<E>(doing: &str, error: SdkError<E, HttpResponse>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &error {
        let status = service.raw().status().as_u16();
        let e = service.err();
        return match (e.code(), e.message()) {
            (Some(code), Some(message)) => anyhow!("{doing}: {code}: {message}"),
            (Some(code), None) => anyhow!("{doing}: {code} (HTTP {status})"),
            _ if status == 403 => anyhow!("{doing}: access denied (HTTP 403)"),
            _ => {
                let body = service.raw().body().bytes().unwrap_or_default();
                let body = String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned();
                anyhow!("{doing}: HTTP {status} {}", body.trim())
            }
        };
    }
    anyhow!("{doing}: {}", DisplayErrorContext(&error))
}
