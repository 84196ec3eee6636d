//! `cargo xtask smoke`: what a user runs after `cargo xtask deploy` to see the deployed API work
//! end to end, through the typed client (`crates/client`): it reads the stack's `ApiUrl` and
//! `Authorization` outputs, signs with SigV4 when the stack uses AWS_IAM, creates a thing and a
//! job, reads them back, cancels and deletes them, and prints what passed. The test command runs
//! the same scenario against the local server.

use std::path::PathBuf;

use anyhow::{bail, Context};
use aws_sdk_cloudformation as cfn;
use client::types;
use client::Signer;

use crate::deploy::{self, AwsArgs};
use xtask::infra::{Overrides, Settings};

#[derive(clap::Args)]
pub struct Args {
    /// The deployed stack to check [default: the settings' stack name]; its `ApiUrl` and
    /// `Authorization` outputs say where and how to call it.
    #[arg(long)]
    stack: Option<String>,
    /// Check the API at this URL instead of a stack's (the local server: http://127.0.0.1:8080).
    #[arg(long, conflicts_with = "stack")]
    url: Option<String>,
    /// The settings file.
    #[arg(long, default_value = "infra/iot-api.toml")]
    config: PathBuf,
    #[command(flatten)]
    aws: AwsArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (url, signer) = match args.url {
            Some(url) => (url, Signer::None),
            None => {
                let settings = Settings::load(&Overrides {
                    config: args.config.clone(),
                    ..Overrides::default()
                })?;
                let stack = args.stack.unwrap_or_else(|| settings.stack_name.clone());
                let region = deploy::region(&args.aws, &settings)?;
                let config = deploy::sdk_config(&args.aws, region).await?;
                stack_target(&cfn::Client::new(&config), &stack, &config).await?
            }
        };
        println!("smoke test of {url}");
        scenario(&url, signer).await
    })
}

/// Where the stack's API is and how to sign for it, from its outputs.
pub async fn stack_target(
    cloudformation: &cfn::Client,
    stack: &str,
    config: &aws_config::SdkConfig,
) -> anyhow::Result<(String, Signer)> {
    let described = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| deploy::aws_error(&format!("reading stack {stack:?}"), e))?;
    let outputs = described
        .stacks()
        .first()
        .with_context(|| format!("there is no stack {stack:?}"))?
        .outputs();
    let output = |key: &str| {
        outputs
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
            .map(str::to_owned)
    };
    let url = output("ApiUrl").with_context(|| {
        format!("stack {stack:?} has no ApiUrl output: was it deployed by `cargo xtask deploy`?")
    })?;
    let signer = match output("Authorization").as_deref() {
        Some("AWS_IAM") => {
            use aws_credential_types::provider::ProvideCredentials;
            let credentials = config
                .credentials_provider()
                .context("no AWS credentials provider to sign with")?
                .provide_credentials()
                .await
                .context("no AWS credentials to sign with")?;
            let region = config
                .region()
                .context("no AWS region to sign for")?
                .to_string();
            Signer::SigV4 {
                credentials,
                region,
            }
        }
        Some("NONE") => Signer::None,
        Some(other) => bail!(
            "stack {stack:?} authorizes callers with {other}; smoke signs requests for AWS_IAM \
             stacks only (or calls NONE ones)"
        ),
        None => bail!("stack {stack:?} has no Authorization output: deploy it again"),
    };
    Ok((url, signer))
}

/// A thing and a job, each created, read back, and removed; every step printed. On a failure
/// what was made is removed before the error is returned.
pub async fn scenario(url: &str, signer: Signer) -> anyhow::Result<()> {
    let api = client::connect(url, signer);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let thing = format!("smoke-thing-{stamp}");
    let job = format!("smoke-job-{stamp}");
    let outcome = steps(&api, &thing, &job).await;
    if outcome.is_err() {
        let _ = api
            .delete_job()
            .job_id(job.as_str())
            .force(true)
            .send()
            .await;
        let _ = api.delete_thing().thing_name(thing.as_str()).send().await;
    }
    outcome?;
    println!("smoke: 9 passed, 0 failed");
    Ok(())
}

async fn steps(api: &client::Client, thing: &str, job: &str) -> anyhow::Result<()> {
    let step = |name: &str| println!("ok   {name}");
    api.create_thing()
        .body_map(|b| b.thing_name(thing))
        .send()
        .await
        .map_err(failed("create thing"))?;
    step(&format!("create thing {thing}"));
    let read = api
        .describe_thing()
        .thing_name(thing)
        .send()
        .await
        .map_err(failed("read thing"))?
        .into_inner();
    expect(
        read.thing.thing_name.as_str() == thing,
        "read thing: another name",
    )?;
    step("read the thing back");
    let untyped = client::UpdateThingRequest {
        thing_type_name: Some(None),
        ..Default::default()
    };
    api.update_thing()
        .thing_name(thing)
        .body(untyped)
        .send()
        .await
        .map_err(failed("update thing"))?;
    step("update the thing: no thing type (thingTypeName null)");
    api.create_job()
        .body_map(|b| {
            b.job_id(Some(job.parse().expect("a valid job id")))
                .targets(vec![thing.parse().expect("a valid target")])
                .document(Some(r#"{"operation":"smoke-test"}"#.parse().expect("JSON")))
        })
        .send()
        .await
        .map_err(failed("create job"))?;
    step(&format!("create job {job}"));
    let read = api
        .describe_job()
        .job_id(job)
        .send()
        .await
        .map_err(failed("read job"))?
        .into_inner();
    expect(
        read.job.job_process_details.number_of_queued_things == 1,
        "read job: one QUEUED execution expected",
    )?;
    step("read the job back: one execution QUEUED");
    api.cancel_job()
        .job_id(job)
        .body_map(|b| b.comment(Some("smoke test".parse().expect("text"))))
        .send()
        .await
        .map_err(failed("cancel job"))?;
    step("cancel the job");
    api.delete_job()
        .job_id(job)
        .send()
        .await
        .map_err(failed("delete job"))?;
    step("delete the job");
    api.delete_thing()
        .thing_name(thing)
        .send()
        .await
        .map_err(failed("delete thing"))?;
    step("delete the thing");
    match api.describe_thing().thing_name(thing).send().await {
        Err(client::Error::ErrorResponse(reply)) if reply.status().as_u16() == 404 => {}
        other => bail!("the deleted thing is still read: {other:?}"),
    }
    step("the thing is gone");
    Ok(())
}

fn expect(holds: bool, what: &str) -> anyhow::Result<()> {
    if holds {
        Ok(())
    } else {
        bail!("FAIL {what}")
    }
}

/// The error of a step, with the API's own message when it answered one.
fn failed(step: &'static str) -> impl Fn(client::Error<types::Error>) -> anyhow::Error {
    move |error| match error {
        client::Error::ErrorResponse(reply) => anyhow::anyhow!(
            "FAIL {step}: {} {}: {}",
            reply.status(),
            reply.code,
            reply.error
        ),
        other => anyhow::anyhow!("FAIL {step}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};
    use aws_credential_types::Credentials;
    use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn config() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    "AKIDEXAMPLE",
                    "secret",
                    Some("token".into()),
                    None,
                    "test",
                )),
            )
            .build()
    }

    async fn target(outputs: &[(&str, &str)]) -> anyhow::Result<(String, Signer)> {
        let outputs: Vec<Output> = outputs
            .iter()
            .map(|(k, v)| Output::builder().output_key(*k).output_value(*v).build())
            .collect();
        let rule = mock!(aws_sdk_cloudformation::Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("iot-device-api"))
            .then_output(move || {
                DescribeStacksOutput::builder()
                    .stacks(
                        Stack::builder()
                            .stack_name("iot-device-api")
                            .stack_status(StackStatus::CreateComplete)
                            .creation_time(aws_smithy_types::DateTime::from_secs(0))
                            .set_outputs(Some(outputs.clone()))
                            .build(),
                    )
                    .build()
            });
        let cloudformation = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, [&rule]);
        stack_target(&cloudformation, "iot-device-api", &config()).await
    }

    const URL: &str = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/";

    #[tokio::test]
    async fn an_aws_iam_stack_is_called_with_sigv4_for_its_region() {
        let (url, signer) = target(&[("ApiUrl", URL), ("Authorization", "AWS_IAM")])
            .await
            .unwrap();
        assert_eq!(url, URL);
        let Signer::SigV4 {
            credentials,
            region,
        } = signer
        else {
            panic!("not signed: {signer:?}");
        };
        assert_eq!(region, "eu-west-1");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[tokio::test]
    async fn other_stacks_are_called_as_they_authorize_or_refused_with_the_reason() {
        let (_, signer) = target(&[("ApiUrl", URL), ("Authorization", "NONE")])
            .await
            .unwrap();
        assert!(matches!(signer, Signer::None));
        let cognito = target(&[("ApiUrl", URL), ("Authorization", "COGNITO_USER_POOLS")])
            .await
            .unwrap_err()
            .to_string();
        assert!(cognito.contains("COGNITO_USER_POOLS"), "{cognito}");
        let no_url = target(&[("Authorization", "AWS_IAM")])
            .await
            .unwrap_err()
            .to_string();
        assert!(no_url.contains("no ApiUrl output"), "{no_url}");
        let old = target(&[("ApiUrl", URL)]).await.unwrap_err().to_string();
        assert!(old.contains("no Authorization output"), "{old}");
    }
}
