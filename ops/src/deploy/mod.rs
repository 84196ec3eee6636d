//! `cargo xtask deploy` and `cargo xtask destroy`: the synthesized stack into an AWS account.
//!
//! Deploy builds the artifact, synthesizes the template for the settings (file and flags), puts
//! both in the artifact bucket under their sha256 (an object already there is not sent again),
//! and changes the stack through a change set: created with an explicit type, shown, executed
//! after confirmation, followed event by event until the stack settles. The AWS side is in
//! [`Deployer`], which tests drive with mocked clients; the commands only gather its inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudformation as cfn;
use aws_sdk_s3 as s3;
use aws_sdk_sts as sts;
use aws_smithy_types::error::display::DisplayErrorContext;
use base64::Engine;
use cfn::config::http::HttpResponse;
use cfn::error::{ProvideErrorMetadata, SdkError};
use cfn::types::{Capability, ChangeSetStatus, ChangeSetType, StackStatus};
use sha2::{Digest, Sha256};

use xtask::build;
use xtask::infra::{check_bucket, check_region, Overrides, Settings};
use xtask::synth;
use xtask::util::hex;

/// Where and as whom to call AWS; unset values come from the standard configuration.
#[derive(clap::Args, Debug, Default)]
pub struct AwsArgs {
    /// The named profile of ~/.aws/config and ~/.aws/credentials to use [default: AWS_PROFILE, or the default profile].
    #[arg(long)]
    profile: Option<String>,
    /// The AWS region [default: the settings' region, or AWS_REGION, or the profile's].
    #[arg(long)]
    region: Option<String>,
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
    async fn connect(args: &AwsArgs, region: Option<String>) -> anyhow::Result<Aws> {
        let config = sdk_config(args, region).await?;
        Ok(Aws::new(&config, args.endpoint_url.clone()))
    }

    /// Clients of `config`, which has a region; `endpoint_url` is the stand-in's, if any.
    fn new(config: &aws_config::SdkConfig, endpoint_url: Option<String>) -> Aws {
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

/// Questions to the user and lines for them.
pub trait Console {
    fn say(&mut self, line: &str);
    fn confirm(&mut self, question: &str) -> anyhow::Result<bool>;
}

/// The user's terminal: lines to standard output, answers from standard input.
struct Terminal;

impl Console for Terminal {
    fn say(&mut self, line: &str) {
        println!("{line}");
    }

    fn confirm(&mut self, question: &str) -> anyhow::Result<bool> {
        if !std::io::stdin().is_terminal() {
            bail!("{question} Standard input is not a terminal, so nobody can answer: pass --yes to go ahead without asking");
        }
        print!("{question} [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
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

/// The bucket to upload to, and the account that must own it when deploy chose it.
struct Bucket {
    name: String,
    expected_owner: Option<String>,
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

    /// The stack, or None when there is none of that name.
    async fn stack(&self, stack: &str) -> anyhow::Result<Option<cfn::types::Stack>> {
        match self
            .aws
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(output) => Ok(output.stacks().first().cloned()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("ValidationError")
                        && s.message().is_some_and(|m| m.contains("does not exist"))
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(&format!("describing stack {stack}"), e)),
        }
    }

    /// The bucket to upload to: the one named (which must exist), or deploy's own, created when
    /// missing.
    async fn artifact_bucket(&mut self, named: Option<&str>) -> anyhow::Result<Bucket> {
        if let Some(name) = named {
            self.aws
                .s3
                .head_bucket()
                .bucket(name)
                .send()
                .await
                .map_err(|e| match status_of(&e) {
                    Some(404) => anyhow!("bucket {name} does not exist; create it, or leave --bucket out to let deploy make its own"),
                    Some(403) => anyhow!("bucket {name} is not accessible with these credentials"),
                    _ => aws_error(&format!("looking at bucket {name}"), e),
                })?;
            return Ok(Bucket {
                name: name.to_owned(),
                expected_owner: None,
            });
        }
        let identity = self
            .aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("asking STS who these credentials are", e))?;
        let account = identity
            .account()
            .context("STS did not say the account")?
            .to_owned();
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned();
        let region = &self.aws.region;
        let name = format!("iot-api-artifacts-{account}-{region}");
        let head = self
            .aws
            .s3
            .head_bucket()
            .bucket(&name)
            .expected_bucket_owner(&account)
            .send()
            .await;
        match head {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(404) => {
                self.create_bucket(&name, &partition).await?;
            }
            Err(e) if status_of(&e) == Some(403) => bail!(
                "bucket {name} exists but is not this account's ({account}); name another with --bucket"
            ),
            Err(e) => return Err(aws_error(&format!("looking at bucket {name}"), e)),
        }
        Ok(Bucket {
            name,
            expected_owner: Some(account),
        })
    }

    /// Creates deploy's bucket: encrypted, versioned, closed to the public and to plain HTTP.
    async fn create_bucket(&mut self, name: &str, partition: &str) -> anyhow::Result<()> {
        use s3::types::*;
        let s3 = &self.aws.s3;
        let region = &self.aws.region;
        let mut create = s3.create_bucket().bucket(name);
        // us-east-1 is the default location, and S3 refuses it named as a constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating bucket {name}"), e))?;
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("blocking public access to bucket {name}"), e))?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()?,
                            )
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("encrypting bucket {name}"), e))?;
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("versioning bucket {name}"), e))?;
        s3.put_bucket_policy()
            .bucket(name)
            .policy(tls_only_policy(partition, name))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting the policy of bucket {name}"), e))?;
        self.console.say(&format!(
            "Created bucket {name}: encrypted, versioned, public access blocked, TLS only."
        ));
        Ok(())
    }

    /// Puts `body` at `key` unless an object is there already: keys carry the content's sha256.
    async fn upload(
        &mut self,
        bucket: &Bucket,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> anyhow::Result<()> {
        let s3 = &self.aws.s3;
        let head = s3
            .head_object()
            .bucket(&bucket.name)
            .key(key)
            .set_expected_bucket_owner(bucket.expected_owner.clone())
            .send()
            .await;
        match head {
            Ok(_) => {
                self.console.say(&format!(
                    "s3://{}/{key} is there already; not uploaded again.",
                    bucket.name
                ));
                return Ok(());
            }
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => {
                return Err(aws_error(
                    &format!("looking for s3://{}/{key}", bucket.name),
                    e,
                ))
            }
        }
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        s3.put_object()
            .bucket(&bucket.name)
            .key(key)
            .set_expected_bucket_owner(bucket.expected_owner.clone())
            .content_type(content_type)
            .checksum_sha256(sha256)
            .body(body.to_vec().into())
            .send()
            .await
            .map_err(|e| aws_error(&format!("uploading s3://{}/{key}", bucket.name), e))?;
        self.console.say(&format!(
            "Uploaded s3://{}/{key} ({} bytes).",
            bucket.name,
            body.len()
        ));
        Ok(())
    }

    /// The URL CloudFormation reads a template from.
    fn object_url(&self, bucket: &str, key: &str) -> String {
        match &self.aws.endpoint_url {
            Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
            None => {
                let region = &self.aws.region;
                let domain = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{bucket}.s3.{region}.{domain}/{key}")
            }
        }
    }

    /// Waits for the change set; its changes, or None when it holds none.
    async fn change_set_changes(
        &mut self,
        stack: &str,
        name: &str,
    ) -> anyhow::Result<Option<Vec<String>>> {
        loop {
            let mut changes = Vec::new();
            let mut token = None;
            let status = loop {
                let page = self
                    .aws
                    .cloudformation
                    .describe_change_set()
                    .stack_name(stack)
                    .change_set_name(name)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| aws_error("describing the change set", e))?;
                changes.extend(
                    page.changes()
                        .iter()
                        .filter_map(|c| c.resource_change())
                        .map(describe_change),
                );
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break (
                        page.status().cloned(),
                        page.status_reason().unwrap_or_default().to_owned(),
                    );
                }
            };
            match status {
                (Some(ChangeSetStatus::CreateComplete), _) => return Ok(Some(changes)),
                (Some(ChangeSetStatus::Failed), reason)
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed") =>
                {
                    return Ok(None)
                }
                (Some(ChangeSetStatus::Failed), reason) => {
                    bail!("change set {name} of stack {stack} failed: {reason}")
                }
                _ => tokio::time::sleep(self.poll).await,
            }
        }
    }

    async fn delete_change_set(&self, stack: &str, name: &str) -> anyhow::Result<()> {
        self.aws
            .cloudformation
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|e| aws_error("deleting the change set", e))?;
        Ok(())
    }

    /// The id of the stack's newest event, so that following it shows only what comes after.
    async fn latest_event(&self, stack: &str) -> anyhow::Result<Option<String>> {
        let page = self
            .aws
            .cloudformation
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_error("reading the stack's events", e))?;
        Ok(page
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(str::to_owned))
    }

    /// The stack's events after `since`, oldest first.
    async fn events_since(
        &self,
        stack: &str,
        since: Option<&str>,
    ) -> anyhow::Result<Vec<cfn::types::StackEvent>> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .aws
                .cloudformation
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("reading the stack's events", e))?;
            for event in page.stack_events() {
                if since.is_some() && event.event_id() == since {
                    events.reverse();
                    return Ok(events);
                }
                events.push(event.clone());
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                events.reverse();
                return Ok(events);
            }
        }
    }

    /// Prints the stack's events until it settles; its final status and the resources that
    /// failed on the way. `total` is the number of resources changing (0: unknown).
    async fn follow(
        &mut self,
        stack: &str,
        mut since: Option<String>,
        total: usize,
    ) -> anyhow::Result<(StackStatus, Vec<Failure>)> {
        let mut done = BTreeSet::new();
        let mut failures = Vec::new();
        loop {
            let status = self
                .stack(stack)
                .await?
                .and_then(|s| s.stack_status().cloned())
                .context(format!("stack {stack} has no status"))?;
            let events = self.events_since(stack, since.as_deref()).await?;
            if let Some(last) = events.last() {
                since = last.event_id().map(str::to_owned);
            }
            for event in &events {
                let logical_id = event.logical_resource_id().unwrap_or_default();
                let resource_status = event
                    .resource_status()
                    .map(|s| s.as_str())
                    .unwrap_or_default();
                let reason = event.resource_status_reason().unwrap_or_default();
                let is_stack = event.physical_resource_id() == event.stack_id();
                if !is_stack
                    && (resource_status.ends_with("_COMPLETE")
                        || resource_status == "DELETE_SKIPPED")
                {
                    done.insert(logical_id.to_owned());
                }
                if resource_status.ends_with("_FAILED")
                    && !reason.contains("cancelled")
                    && !is_stack
                {
                    failures.push(Failure {
                        logical_id: logical_id.to_owned(),
                        resource_type: event.resource_type().unwrap_or_default().to_owned(),
                        status: resource_status.to_owned(),
                        reason: reason.to_owned(),
                    });
                }
                let progress = if total > 0 {
                    format!("[{:>3}/{total}] ", done.len().min(total))
                } else {
                    String::new()
                };
                let time = event
                    .timestamp()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .and_then(|t| t.get(11..19).map(str::to_owned))
                    .unwrap_or_default();
                let reason = if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                };
                self.console.say(&format!(
                    "{progress}{time} {resource_status:<28} {:<36} {logical_id}{reason}",
                    event.resource_type().unwrap_or_default()
                ));
            }
            if !status.as_str().ends_with("_IN_PROGRESS") {
                return Ok((status, failures));
            }
            tokio::time::sleep(self.poll).await;
        }
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

/// A bucket policy refusing every request not made over TLS.
fn tls_only_policy(partition: &str, bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                format!("arn:{partition}:s3:::{bucket}"),
                format!("arn:{partition}:s3:::{bucket}/*"),
            ],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }],
    })
    .to_string()
}

/// The HTTP status of a failed call's response, when there was one.
fn status_of<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
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

#[cfg(test)]
mod tests;
