//! The stack's settings: `infra/iot-api.toml` (every field optional), overridden by command-line
//! flags, checked once here so that synth and deploy work from valid values only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::util::project_root;

/// The settings file's format version this xtask reads.
pub const SETTINGS_VERSION: u32 = 1;

/// CloudWatch Logs accepts only these retention periods, in days.
const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// One function per operation, as the original package had.
    PerOperation,
    /// One function per OpenAPI tag (jobs, job-templates, things, thing-groups).
    PerTag,
    /// One function for the whole API.
    Single,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, clap::ValueEnum)]
pub enum AuthorizationType {
    #[serde(rename = "AWS_IAM")]
    #[value(name = "AWS_IAM")]
    AwsIam,
    #[serde(rename = "COGNITO_USER_POOLS")]
    #[value(name = "COGNITO_USER_POOLS")]
    CognitoUserPools,
    #[serde(rename = "CUSTOM")]
    #[value(name = "CUSTOM")]
    Custom,
    #[serde(rename = "NONE")]
    #[value(name = "NONE")]
    None,
}

/// `infra/iot-api.toml` as written: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    version: Option<u32>,
    stack_name: Option<String>,
    region: Option<String>,
    artifact_bucket: Option<String>,
    stage: Option<String>,
    architecture: Option<Architecture>,
    memory_mb: Option<u32>,
    timeout_seconds: Option<u32>,
    log_retention_days: Option<u32>,
    grouping: Option<Grouping>,
    authorization: Option<FileAuthorization>,
    cors: Option<FileCors>,
    throttling: Option<FileThrottling>,
    console: Option<FileConsole>,
    tracing: Option<bool>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConsole {
    enabled: Option<bool>,
    user_pool_client_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileAuthorization {
    #[serde(rename = "type")]
    kind: Option<AuthorizationType>,
    user_pool_arns: Option<Vec<String>>,
    authorizer_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileCors {
    allowed_origins: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileThrottling {
    rate_limit: Option<f64>,
    burst_limit: Option<u32>,
}

/// Command-line flags that override the settings file.
#[derive(clap::Args, Debug, Default)]
pub struct Overrides {
    /// The settings file.
    #[arg(long, default_value = "infra/iot-api.toml")]
    pub config: PathBuf,
    /// CloudFormation stack name [default: iot-device-api].
    #[arg(long)]
    pub stack_name: Option<String>,
    /// API Gateway stage name [default: v1].
    #[arg(long)]
    pub stage: Option<String>,
    /// Lambda architecture [default: arm64].
    #[arg(long, value_enum)]
    pub architecture: Option<Architecture>,
    /// Lambda memory in MB, 128 to 10240 [default: 256].
    #[arg(long)]
    pub memory_mb: Option<u32>,
    /// Lambda timeout in seconds, 11 to 29 [default: 15].
    #[arg(long)]
    pub timeout_seconds: Option<u32>,
    /// Days to keep logs, one of CloudWatch's retention periods [default: 30].
    #[arg(long)]
    pub log_retention_days: Option<u32>,
    /// How operations are grouped into functions [default: per-operation].
    #[arg(long, value_enum)]
    pub grouping: Option<Grouping>,
    /// Who may call the API [default: AWS_IAM].
    #[arg(long, value_enum)]
    pub authorization: Option<AuthorizationType>,
    /// A Cognito user pool ARN, for COGNITO_USER_POOLS (repeat for several).
    #[arg(long = "user-pool-arn")]
    pub user_pool_arns: Vec<String>,
    /// The Lambda authorizer's function ARN, for CUSTOM.
    #[arg(long)]
    pub authorizer_arn: Option<String>,
    /// An origin browsers may call the API from (repeat for several) [default: none, no CORS].
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Steady-state requests per second the stage allows [default: 100].
    #[arg(long)]
    pub throttling_rate_limit: Option<f64>,
    /// Burst of requests the stage allows [default: 200].
    #[arg(long)]
    pub throttling_burst_limit: Option<u32>,
    /// X-Ray tracing of the stage and the functions [default: on].
    #[arg(long)]
    pub tracing: Option<bool>,
    /// Serve the fleet console at <API URL>/console [default: off].
    #[arg(long)]
    pub console: Option<bool>,
    /// The user pool app client the console signs in with, for COGNITO_USER_POOLS.
    #[arg(long)]
    pub console_client_id: Option<String>,
}

/// Who may call the API, checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Authorization {
    AwsIam,
    Cognito { user_pool_arns: Vec<String> },
    Custom { authorizer_arn: String },
    None,
}

impl Authorization {
    /// Its name in the stack's `Authorization` output, as API Gateway names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Authorization::AwsIam => "AWS_IAM",
            Authorization::Cognito { .. } => "COGNITO_USER_POOLS",
            Authorization::Custom { .. } => "CUSTOM",
            Authorization::None => "NONE",
        }
    }
}

/// The stack's settings, complete and checked.
#[derive(Clone, Debug)]
pub struct Settings {
    pub stack_name: String,
    /// None: the region of the standard AWS configuration (AWS_REGION, the profile).
    pub region: Option<String>,
    /// None: deploy's own bucket, iot-api-artifacts-<account id>-<region>.
    pub artifact_bucket: Option<String>,
    pub stage: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    pub grouping: Grouping,
    pub authorization: Authorization,
    pub cors_origins: Vec<String>,
    pub throttling_rate_limit: f64,
    pub throttling_burst_limit: u32,
    pub tracing: bool,
    pub tags: BTreeMap<String, String>,
    /// The fleet console, when the stack serves it.
    pub console: Option<Console>,
}

/// The fleet console as the stack serves it, checked against the authorization.
#[derive(Clone, Debug, PartialEq)]
pub enum Console {
    /// The API is open (authorization NONE): the console signs in with nothing.
    Open,
    /// Signing in through an app client of the (first) user pool the API's authorizer trusts.
    Cognito { client_id: String, region: String },
}

impl Settings {
    /// Reads the settings file (a missing file means all defaults) and applies the flags.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Settings> {
        let path = if overrides.config.is_absolute() {
            overrides.config.clone()
        } else {
            project_root().join(&overrides.config)
        };
        let file = read_file(&path)?;
        Settings::resolve(file, overrides)
            .with_context(|| format!("settings from {}", path.display()))
    }

    fn resolve(file: File, flags: &Overrides) -> anyhow::Result<Settings> {
        if let Some(version) = file.version {
            if version != SETTINGS_VERSION {
                bail!(
                    "version: this xtask reads version {SETTINGS_VERSION}, the file says {version}"
                );
            }
        }
        let file_auth = file.authorization.unwrap_or_default();
        let kind = flags
            .authorization
            .or(file_auth.kind)
            .unwrap_or(AuthorizationType::AwsIam);
        let pools = if flags.user_pool_arns.is_empty() {
            file_auth.user_pool_arns.unwrap_or_default()
        } else {
            flags.user_pool_arns.clone()
        };
        let authorizer = flags.authorizer_arn.clone().or(file_auth.authorizer_arn);
        let authorization = match kind {
            AuthorizationType::AwsIam => Authorization::AwsIam,
            AuthorizationType::None => Authorization::None,
            AuthorizationType::CognitoUserPools => {
                if pools.is_empty() {
                    bail!("authorization.user-pool-arns: COGNITO_USER_POOLS needs at least one user pool ARN");
                }
                for arn in &pools {
                    check_arn(arn, ":cognito-idp:", "authorization.user-pool-arns")?;
                }
                Authorization::Cognito {
                    user_pool_arns: pools,
                }
            }
            AuthorizationType::Custom => {
                let arn = authorizer.context(
                    "authorization.authorizer-arn: CUSTOM needs the Lambda authorizer's function ARN",
                )?;
                check_arn(&arn, ":lambda:", "authorization.authorizer-arn")?;
                Authorization::Custom {
                    authorizer_arn: arn,
                }
            }
        };
        let cors = file.cors.unwrap_or_default();
        let cors_origins = if flags.cors_origins.is_empty() {
            cors.allowed_origins.unwrap_or_default()
        } else {
            flags.cors_origins.clone()
        };
        let throttling = file.throttling.unwrap_or_default();
        let file_console = file.console.unwrap_or_default();
        let console = console(
            &authorization,
            flags.console.or(file_console.enabled).unwrap_or(false),
            flags
                .console_client_id
                .clone()
                .or(file_console.user_pool_client_id),
        )?;
        let settings = Settings {
            stack_name: flags
                .stack_name
                .clone()
                .or(file.stack_name)
                .unwrap_or_else(|| "iot-device-api".into()),
            region: file.region,
            artifact_bucket: file.artifact_bucket,
            stage: flags
                .stage
                .clone()
                .or(file.stage)
                .unwrap_or_else(|| "v1".into()),
            architecture: flags
                .architecture
                .or(file.architecture)
                .unwrap_or(Architecture::Arm64),
            memory_mb: flags.memory_mb.or(file.memory_mb).unwrap_or(256),
            timeout_seconds: flags.timeout_seconds.or(file.timeout_seconds).unwrap_or(15),
            log_retention_days: flags
                .log_retention_days
                .or(file.log_retention_days)
                .unwrap_or(30),
            grouping: flags
                .grouping
                .or(file.grouping)
                .unwrap_or(Grouping::PerOperation),
            authorization,
            cors_origins,
            throttling_rate_limit: flags
                .throttling_rate_limit
                .or(throttling.rate_limit)
                .unwrap_or(100.0),
            throttling_burst_limit: flags
                .throttling_burst_limit
                .or(throttling.burst_limit)
                .unwrap_or(200),
            tracing: flags.tracing.or(file.tracing).unwrap_or(true),
            tags: file.tags.unwrap_or_default(),
            console,
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        let name = &self.stack_name;
        if name.is_empty()
            || name.len() > 64
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bail!("stack-name: {name:?} must be 1 to 64 letters, digits and hyphens, starting with a letter");
        }
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        if let Some(bucket) = &self.artifact_bucket {
            check_bucket(bucket)?;
        }
        if self.stage.is_empty()
            || self.stage.len() > 128
            || !self
                .stage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            bail!(
                "stage: {:?} must be 1 to 128 letters, digits and underscores",
                self.stage
            );
        }
        if !(128..=10_240).contains(&self.memory_mb) {
            bail!("memory-mb: {} must be from 128 to 10240", self.memory_mb);
        }
        // Above the AWS backend's 10 s operation timeout, below API Gateway's 29 s limit.
        if !(11..=29).contains(&self.timeout_seconds) {
            bail!("timeout-seconds: {} must be from 11 to 29 (the AWS calls time out after 10 s; API Gateway waits 29 s)", self.timeout_seconds);
        }
        if !RETENTION_DAYS.contains(&self.log_retention_days) {
            bail!(
                "log-retention-days: {} must be one of {RETENTION_DAYS:?}",
                self.log_retention_days
            );
        }
        for origin in &self.cors_origins {
            let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
            if origin != "*" && (!scheme_ok || origin.ends_with('/') || origin.contains(' ')) {
                bail!("cors.allowed-origins: {origin:?} must be \"*\" or a scheme and host such as https://console.example.com, without a path");
            }
        }
        if self.throttling_rate_limit.is_nan() || self.throttling_rate_limit <= 0.0 {
            bail!("throttling.rate-limit: must be above 0");
        }
        if self.throttling_burst_limit == 0 {
            bail!("throttling.burst-limit: must be above 0");
        }
        if self.tags.len() > 45 {
            bail!("tags: at most 45 (CloudFormation adds its own to the 50 AWS allows)");
        }
        for (key, value) in &self.tags {
            if key.is_empty() || key.len() > 128 || key.starts_with("aws:") || value.len() > 256 {
                bail!("tags: {key:?} = {value:?}: keys are 1 to 128 characters, not starting with aws:, values at most 256");
            }
        }
        Ok(())
    }
}

/// The console the settings ask for. A browser has no AWS credentials to sign requests with
/// (AWS_IAM) and no token a CUSTOM authorizer would take, so the console signs in through a
/// Cognito user pool, whose ID token API Gateway's authorizer checks, or the API is open.
fn console(
    authorization: &Authorization,
    enabled: bool,
    client_id: Option<String>,
) -> anyhow::Result<Option<Console>> {
    if !enabled {
        if client_id.is_some() {
            bail!("console.user-pool-client-id: set console.enabled = true too, or leave it out");
        }
        return Ok(None);
    }
    match authorization {
        Authorization::None => {
            if client_id.is_some() {
                bail!("console.user-pool-client-id: only with authorization COGNITO_USER_POOLS; with NONE the console signs in with nothing");
            }
            Ok(Some(Console::Open))
        }
        Authorization::Cognito { user_pool_arns } => {
            let client_id = client_id.context(
                "console.user-pool-client-id: with COGNITO_USER_POOLS the console signs in through an app client of the first user pool (a public client, no secret, that allows USER_PASSWORD_AUTH)",
            )?;
            // Cognito's ClientId: 1 to 128 word characters or "+".
            if client_id.is_empty()
                || client_id.len() > 128
                || !client_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+')
            {
                bail!("console.user-pool-client-id: {client_id:?} is not a Cognito app client id (1 to 128 letters, digits, _ and +)");
            }
            // arn:aws:cognito-idp:<region>:<account>:userpool/<id>
            let region = user_pool_arns
                .first()
                .and_then(|arn| arn.split(':').nth(3))
                .filter(|r| !r.is_empty())
                .context("authorization.user-pool-arns: the first ARN names no region")?
                .to_owned();
            Ok(Some(Console::Cognito { client_id, region }))
        }
        Authorization::AwsIam | Authorization::Custom { .. } => bail!(
            "console.enabled: the console signs in through a Cognito user pool, or not at all: it needs authorization COGNITO_USER_POOLS (with console.user-pool-client-id) or NONE, not {} (a browser holds no AWS credentials to sign with, nor a token for a custom authorizer)",
            authorization.kind()
        ),
    }
}

/// A region's name, such as eu-west-1 or us-gov-east-1.
pub fn check_region(region: &str) -> anyhow::Result<()> {
    let mut parts = region.split('-').collect::<Vec<_>>();
    let number = parts.pop().unwrap_or_default();
    let ok = parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit());
    if !ok {
        bail!("region: {region:?} is not a region name such as eu-west-1");
    }
    Ok(())
}

/// An S3 bucket name: 3 to 63 lowercase letters, digits, hyphens and dots, starting and ending
/// with a letter or digit.
pub fn check_bucket(bucket: &str) -> anyhow::Result<()> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&bucket.len())
        || !bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        || !edge(bucket.chars().next())
        || !edge(bucket.chars().last())
    {
        bail!("artifact-bucket: {bucket:?} must be 3 to 63 lowercase letters, digits, hyphens and dots, starting and ending with a letter or digit");
    }
    Ok(())
}

fn check_arn(arn: &str, service: &str, field: &str) -> anyhow::Result<()> {
    if !arn.starts_with("arn:") || !arn.contains(service) {
        bail!(
            "{field}: {arn:?} is not an ARN of{}",
            service.trim_matches(':')
        );
    }
    Ok(())
}

fn read_file(path: &Path) -> anyhow::Result<File> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml_text: &str, flags: &Overrides) -> anyhow::Result<Settings> {
        Settings::resolve(toml::from_str(toml_text)?, flags)
    }

    #[test]
    fn an_empty_file_gives_the_defaults() -> anyhow::Result<()> {
        let s = resolve("", &Overrides::default())?;
        assert_eq!(s.stack_name, "iot-device-api");
        assert_eq!(s.stage, "v1");
        assert_eq!(s.architecture, Architecture::Arm64);
        assert_eq!(s.grouping, Grouping::PerOperation);
        assert_eq!(s.authorization, Authorization::AwsIam);
        assert!(s.cors_origins.is_empty() && s.tracing);
        Ok(())
    }

    #[test]
    fn flags_override_the_file() -> anyhow::Result<()> {
        let flags = Overrides {
            stage: Some("prod".into()),
            grouping: Some(Grouping::Single),
            ..Overrides::default()
        };
        let s = resolve(
            "stage = \"dev\"\ngrouping = \"per-tag\"\nmemory-mb = 512",
            &flags,
        )?;
        assert_eq!(
            (s.stage.as_str(), s.grouping, s.memory_mb),
            ("prod", Grouping::Single, 512)
        );
        Ok(())
    }

    #[test]
    fn region_and_artifact_bucket_are_read_and_checked() -> anyhow::Result<()> {
        let s = resolve(
            "region = \"us-gov-east-1\"\nartifact-bucket = \"team.artifacts-1\"",
            &Overrides::default(),
        )?;
        assert_eq!(s.region.as_deref(), Some("us-gov-east-1"));
        assert_eq!(s.artifact_bucket.as_deref(), Some("team.artifacts-1"));
        for bad in ["-bucket", "ab", "bucket-", "Bucket"] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        for bad in ["eu-west-", "eu--1", "EU-WEST-1", "euwest1"] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        for (text, field) in [
            ("version = 2", "version"),
            ("memory-mb = 64", "memory-mb"),
            ("timeout-seconds = 5", "timeout-seconds"),
            ("log-retention-days = 10", "log-retention-days"),
            ("stage = \"my stage\"", "stage"),
            ("region = \"Europe\"", "region"),
            ("region = \"eu-west\"", "region"),
            ("artifact-bucket = \"My_Bucket\"", "artifact-bucket"),
            (
                "[authorization]\ntype = \"COGNITO_USER_POOLS\"",
                "user-pool-arns",
            ),
            ("[authorization]\ntype = \"CUSTOM\"", "authorizer-arn"),
            (
                "[cors]\nallowed-origins = [\"example.com\"]",
                "allowed-origins",
            ),
        ] {
            let error = resolve(text, &Overrides::default())
                .map(|_| ())
                .unwrap_err();
            assert!(format!("{error:#}").contains(field), "{text}: {error:#}");
        }
        let error = toml::from_str::<File>("colour = \"blue\"")
            .map(|_| ())
            .unwrap_err();
        assert!(error.to_string().contains("colour"), "{error}");
    }
}
