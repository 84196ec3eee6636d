//! `cargo xtask deploy` and `cargo xtask destroy`: the synthesized stack into an AWS account.
//!
//! Deploy builds the artifact, synthesizes the template for the settings (file and flags), puts
//! both in the artifact bucket under their sha256 (an object already there is not sent again),
//! and changes the stack through a change set: created with an explicit type, shown, executed
//! after confirmation, followed event by event until the stack settles. The AWS side is in
//! [`Deployer`], which tests drive with mocked clients; the commands only gather its inputs.
//! Here: the commands and the deploy and destroy sequences; the clients and AWS errors in `aws`,
//! the artifact bucket and uploads in `bucket`, reading and following the stack in `stack`, the
//! user's terminal in `console`.

mod aws;
mod bucket;
mod console;
mod stack;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use aws_sdk_cloudformation as cfn;
use cfn::types::{Capability, ChangeSetType, StackStatus};
use sha2::{Digest, Sha256};

use xtask::build;
use xtask::infra::{check_bucket, check_region, Overrides, Settings};
use xtask::synth;
use xtask::util::hex;

pub use aws::{aws_error, sdk_config, Aws};
pub use console::Console;
use console::Terminal;

/// Where and as whom to call AWS; unset values come from the standard configuration.
#[derive(clap::Args, Debug, Default)]
pub struct AwsArgs {
    /// The named profile of ~/.aws/config and ~/.aws/credentials to use [default: AWS_PROFILE, or the default profile].
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// The AWS region [default: the settings' region, or AWS_REGION, or the profile's].
    #[arg(long)]
    pub(crate) region: Option<String>,
    /// Send every AWS call to this endpoint instead of AWS's (for an AWS stand-in).
    #[arg(long)]
    endpoint_url: Option<String>,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    /// S3 bucket for the artifact and the template; it must exist [default: the settings' artifact-bucket, or iot-api-artifacts-<account id>-<region>, created when missing].
    #[arg(long)]
    bucket: Option<String>,
    /// Execute the change set without asking.
    #[arg(long)]
    yes: bool,
    /// Print what deploy would do, without building or calling AWS.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    settings: Overrides,
}

#[derive(clap::Args)]
pub struct DestroyArgs {
    /// The stack to delete [default: the settings' stack name].
    #[arg(long)]
    stack_name: Option<String>,
    /// The settings file.
    #[arg(long, default_value = "infra/iot-api.toml")]
    config: PathBuf,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

/// How often the stack and its change set are looked at while they change.
const POLL: Duration = Duration::from_secs(5);

pub fn run_deploy(args: DeployArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.settings)?;
    let region = region(&args.aws, &settings)?;
    let bucket = args.bucket.or_else(|| settings.artifact_bucket.clone());
    if let Some(bucket) = &bucket {
        check_bucket(bucket).context("--bucket")?;
    }
    let template = synth::render(&synth::template(&synth::read_spec()?, &settings)?)?;
    let runtime = tokio::runtime::Runtime::new()?;
    if args.dry_run {
        let region = match region {
            Some(region) => region,
            None => runtime
                .block_on(configured_region(args.aws.profile.as_deref()))
                .unwrap_or_else(|| "<no region: pass --region>".into()),
        };
        print!(
            "{}",
            dry_run(&settings, &region, bucket.as_deref(), &template)
        );
        return Ok(());
    }
    let artifact = build::build(settings.architecture)?;
    let zip = std::fs::read(&artifact.zip)
        .with_context(|| format!("reading {}", artifact.zip.display()))?;
    let release = Release {
        stack_name: settings.stack_name.clone(),
        template,
        artifact: zip,
        artifact_sha256: artifact.sha256,
        bucket,
        tags: settings.tags.clone(),
        change_set_name: change_set_name(),
        yes: args.yes,
    };
    runtime.block_on(async {
        let aws = Aws::connect(&args.aws, region).await?;
        Deployer::new(&aws, &mut Terminal, POLL)
            .deploy(&release)
            .await
    })?;
    Ok(())
}

pub fn run_destroy(args: DestroyArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&Overrides {
        config: args.config,
        stack_name: args.stack_name,
        ..Overrides::default()
    })?;
    let region = region(&args.aws, &settings)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let aws = Aws::connect(&args.aws, region).await?;
        Deployer::new(&aws, &mut Terminal, POLL)
            .destroy(&settings.stack_name, args.yes)
            .await
    })?;
    Ok(())
}

/// The region given by flag or settings, checked; None leaves it to the standard configuration.
pub fn region(aws: &AwsArgs, settings: &Settings) -> anyhow::Result<Option<String>> {
    let region = aws.region.clone().or_else(|| settings.region.clone());
    if let Some(region) = &region {
        check_region(region).context("--region")?;
    }
    Ok(region)
}

/// The region of the environment or the profile, read from files only (no instance metadata).
async fn configured_region(profile: Option<&str>) -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    if let Some(region) = aws_config::environment::EnvironmentVariableRegionProvider::new()
        .region()
        .await
    {
        return Some(region.to_string());
    }
    let mut builder = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(profile) = profile {
        builder = builder.profile_name(profile);
    }
    builder.build().region().await.map(|r| r.to_string())
}

/// A change set name that sorts by time: deploy-<unix seconds>.
fn change_set_name() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("deploy-{seconds}")
}

fn dry_run(settings: &Settings, region: &str, bucket: Option<&str>, template: &str) -> String {
    let architecture = settings.architecture.lambda_name();
    let zip = build::artifact_dir(settings.architecture).join("bootstrap.zip");
    let artifact = match std::fs::read(&zip) {
        Ok(bytes) => format!(
            "{} (built, sha256 {}; deploy rebuilds it first)",
            zip.display(),
            hex(&Sha256::digest(&bytes))
        ),
        Err(_) => format!("{} (not built yet; deploy builds it)", zip.display()),
    };
    let bucket = match bucket {
        Some(bucket) => format!("{bucket} (must exist)"),
        None => format!("iot-api-artifacts-<account id>-{region} (created when missing: encrypted, versioned, public access blocked, TLS only)"),
    };
    let stack = &settings.stack_name;
    format!(
        "Dry run: nothing is built and AWS is not called.\n\
         stack      {stack} in {region}\n\
         template   {} bytes, sha256 {}\n\
         artifact   {architecture}: {artifact}\n\
         bucket     {bucket}\n\
         uploads    bootstrap/<artifact sha256>.zip and templates/{stack}/<template sha256>.json, each skipped when already there\n\
         then       a change set (CREATE for a new stack, UPDATE otherwise), its changes shown and executed {}, \
         the stack's events until it settles, and its outputs {stack}-ApiUrl and {stack}-RestApiId\n",
        template.len(),
        hex(&Sha256::digest(template.as_bytes())),
        "after confirmation (--yes: without asking)",
    )
}

/// What to deploy.
pub struct Release {
    pub stack_name: String,
    /// The template as synth renders it.
    pub template: String,
    /// The Lambda artifact (a zip) and its sha256 in hex.
    pub artifact: Vec<u8>,
    pub artifact_sha256: String,
    /// None: iot-api-artifacts-<account id>-<region>, created when missing.
    pub bucket: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub change_set_name: String,
    /// Execute without asking.
    pub yes: bool,
}

/// How a deploy or destroy ended, when it did not fail.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// The stack changed and settled as asked.
    Done,
    /// Nothing differed from the stack as it is; nothing was changed.
    NothingToDo,
    /// The user said no; nothing was changed.
    Declined,
}

/// A failed resource, from the stack's events.
struct Failure {
    logical_id: String,
    resource_type: String,
    status: String,
    reason: String,
}

/// Deploys and destroys through the AWS clients, reporting to a console.
pub struct Deployer<'a> {
    aws: &'a Aws,
    console: &'a mut dyn Console,
    poll: Duration,
}

impl<'a> Deployer<'a> {
    pub fn new(aws: &'a Aws, console: &'a mut dyn Console, poll: Duration) -> Self {
        Deployer { aws, console, poll }
    }

    pub async fn deploy(&mut self, release: &Release) -> anyhow::Result<Outcome> {
        let stack = &release.stack_name;
        let region = &self.aws.region;
        let change_set_type = match self.stack(stack).await? {
            None => ChangeSetType::Create,
            Some(existing) => match existing.stack_status() {
                // A stack made by a change set never executed: it is still created, not updated.
                Some(StackStatus::ReviewInProgress) => ChangeSetType::Create,
                Some(StackStatus::RollbackComplete) => bail!(
                    "stack {stack} in {region} is ROLLBACK_COMPLETE: its first deploy failed and it cannot be updated. \
                     Run `cargo xtask destroy`, then deploy again"
                ),
                Some(status) if status.as_str().ends_with("_IN_PROGRESS") => bail!(
                    "stack {stack} in {region} is {}: another change is under way; deploy again when it has settled",
                    status.as_str()
                ),
                _ => ChangeSetType::Update,
            },
        };

        let bucket = self.artifact_bucket(release.bucket.as_deref()).await?;
        let artifact_key = format!("bootstrap/{}.zip", release.artifact_sha256);
        self.upload(&bucket, &artifact_key, &release.artifact, "application/zip")
            .await?;
        let template_sha256 = hex(&Sha256::digest(release.template.as_bytes()));
        let template_key = format!("templates/{stack}/{template_sha256}.json");
        self.upload(
            &bucket,
            &template_key,
            release.template.as_bytes(),
            "application/json",
        )
        .await?;

        let name = &release.change_set_name;
        let mut request = self
            .aws
            .cloudformation
            .create_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .change_set_type(change_set_type.clone())
            .template_url(self.object_url(&bucket.name, &template_key))
            .capabilities(Capability::CapabilityIam)
            .description("cargo xtask deploy")
            .parameters(parameter("ArtifactBucket", &bucket.name))
            .parameters(parameter("ArtifactKey", &artifact_key));
        for (key, value) in &release.tags {
            request = request.tags(cfn::types::Tag::builder().key(key).value(value).build());
        }
        request
            .send()
            .await
            .map_err(|e| aws_error("creating the change set", e))?;
        self.console.say(&format!(
            "Created change set {name} ({}) of stack {stack} in {region}.",
            change_set_type.as_str()
        ));

        let Some(changes) = self.change_set_changes(stack, name).await? else {
            self.delete_change_set(stack, name).await?;
            self.console.say(&format!(
                "No changes: stack {stack} in {region} is already what this deploy would make. Nothing was changed."
            ));
            return Ok(Outcome::NothingToDo);
        };
        self.console
            .say(&format!("{} resources change:", changes.len()));
        for change in &changes {
            self.console.say(&format!("  {change}"));
        }
        if !release.yes
            && !self.console.confirm(&format!(
                "Execute change set {name} on stack {stack} in {region}?"
            ))?
        {
            self.delete_change_set(stack, name).await?;
            self.console
                .say("Not executed; the change set was deleted and the stack is as it was.");
            return Ok(Outcome::Declined);
        }

        let since = self.latest_event(stack).await?;
        self.aws
            .cloudformation
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|e| aws_error("executing the change set", e))?;
        self.console.say(
            "Executing; following the stack's events (stopping this command does not stop the deploy).",
        );
        let (status, failures) = self.follow(stack, since, changes.len()).await?;
        if !matches!(
            status,
            StackStatus::CreateComplete | StackStatus::UpdateComplete
        ) {
            bail!(failed(stack, &status, &failures));
        }
        self.console
            .say(&format!("Stack {stack} is {}.", status.as_str()));
        let Some(settled) = self.stack(stack).await? else {
            bail!("stack {stack} disappeared after deploying");
        };
        for output in settled.outputs() {
            let export = output
                .export_name()
                .map(|name| format!(" (exported as {name})"))
                .unwrap_or_default();
            self.console.say(&format!(
                "  {} = {}{export}",
                output.output_key().unwrap_or_default(),
                output.output_value().unwrap_or_default()
            ));
        }
        Ok(Outcome::Done)
    }

    pub async fn destroy(&mut self, stack: &str, yes: bool) -> anyhow::Result<Outcome> {
        let region = &self.aws.region;
        let Some(existing) = self.stack(stack).await? else {
            self.console.say(&format!(
                "Stack {stack} does not exist in {region}; nothing to destroy."
            ));
            return Ok(Outcome::NothingToDo);
        };
        let status = existing
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS" {
            bail!("stack {stack} in {region} is {status}: another change is under way; destroy again when it has settled");
        }
        let id = existing.stack_id().unwrap_or(stack).to_owned();
        self.console.say(&format!(
            "Stack {stack} ({status}) in {region} will be deleted with the API, functions, roles and log groups in it. \
             Resources whose DeletionPolicy is Retain and the artifact bucket are kept."
        ));
        if !yes && !self.console.confirm(&format!("Delete stack {stack}?"))? {
            self.console.say("Not deleted.");
            return Ok(Outcome::Declined);
        }
        let since = self.latest_event(&id).await?;
        self.aws
            .cloudformation
            .delete_stack()
            .stack_name(&id)
            .send()
            .await
            .map_err(|e| aws_error("deleting the stack", e))?;
        let (status, failures) = self.follow(&id, since, 0).await?;
        if status != StackStatus::DeleteComplete {
            bail!(failed(stack, &status, &failures));
        }
        self.console.say(&format!("Stack {stack} is deleted."));
        Ok(Outcome::Done)
    }
}

fn parameter(key: &str, value: &str) -> cfn::types::Parameter {
    cfn::types::Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// One line of a change set: action, logical id, type, and whether it replaces the resource.
fn describe_change(change: &cfn::types::ResourceChange) -> String {
    let replacement = match change.replacement().map(|r| r.as_str()) {
        Some("True") => " (replaced)",
        Some("Conditional") => " (may be replaced)",
        _ => "",
    };
    format!(
        "{:<7} {:<44} {}{replacement}",
        change.action().map(|a| a.as_str()).unwrap_or_default(),
        change.logical_resource_id().unwrap_or_default(),
        change.resource_type().unwrap_or_default(),
    )
}

/// The error of a stack that settled in `status` instead of where it was going.
fn failed(stack: &str, status: &StackStatus, failures: &[Failure]) -> String {
    let mut message = format!("stack {stack} ended {}", status.as_str());
    if failures.is_empty() {
        message.push_str("; see its events for why");
    }
    for f in failures {
        message.push_str(&format!(
            "\n  {} ({}) {}: {}",
            f.logical_id, f.resource_type, f.status, f.reason
        ));
    }
    message
}
