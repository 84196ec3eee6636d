//! The Backend on AWS IoT: each method is one call of aws-sdk-iot (or, for shadows, of the IoT
//! data plane), with AWS errors mapped to domain errors by their code.
//!
//! Clients are built once per process from the standard credential and region chain, with the
//! SDK's standard retries and an operation timeout. `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_IOT` point it at any IoT-compatible endpoint.

mod catalog;
mod convert;
pub mod error;
mod registry;

use std::time::Duration;

use async_trait::async_trait;
use convert::{required, required_timestamp, timestamp};
use error::map_sdk_error;
use models::fields::Text;
use models::files::{
    Category, CategoryDetail, CategoryId, Checksum, CreateCategory, Description, Download, File,
    FileFilter, FileId, FileUpdate, FileVersion, MultipartUpload, NewFile, PartPlan, Transition,
    Upload,
};
use models::ids::{JobId, JobTemplateId, Location, Target, ThingName};
use models::job::{
    CancelJob, CancelJobExecution, ExecutionStatus, ExecutionStatusDetails, ExecutionSummaryForJob,
    ExecutionSummaryForThing, Job, JobCreated, JobExecution, JobFilter, JobSummary, JobTemplate,
    JobTemplateCreated, JobTemplateSummary, NewJob, NewJobTemplate, UpdateJob,
};
use models::{Backend, Catalog, DomainError, NextToken, Page, PageRequest, Result};
use tokio::sync::OnceCell;

/// How long one operation may take, retries included; shorter than API Gateway's 29 s limit.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTPS client every AWS call goes through: the SDK's hyper client on rustls with ring.
pub fn http_client() -> aws_sdk_iot::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

pub use catalog::{FileStorage, Verification};

pub struct AwsIot {
    /// The IoT control plane client, built on the first IoT call.
    iot: OnceCell<aws_sdk_iot::Client>,
    /// The region to load the standard AWS configuration for, on the first call that needs it;
    /// None when the configuration (or the clients) were given.
    load_in: Option<String>,
    /// Where the firmware catalog lives, when this backend serves it.
    files: Option<FileStorage>,
    /// The catalog's DynamoDB and S3 clients, built on the first catalog call.
    catalog: OnceCell<catalog::Catalog>,
    /// What every client is built from: given, or loaded on first use (`load_in`).
    config: OnceCell<aws_config::SdkConfig>,
    /// The device shadow data plane, found once per process (`data_plane`).
    shadows: OnceCell<aws_sdk_iotdataplane::Client>,
    location: Location,
}

impl AwsIot {
    /// A backend for the environment: the region from `AWS_REGION` (Lambda sets it) and the
    /// account from `AWS_ACCOUNT_ID` (the deployed stack sets it), so thing names become ARNs
    /// without a call per request. Nothing else happens here: the standard AWS configuration is
    /// loaded, and each client built, when a request first needs it, so a cold start pays only
    /// for what its first request uses.
    pub fn from_env() -> std::result::Result<Self, ConfigError> {
        let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = variable("AWS_REGION")
            .or_else(|| variable("AWS_DEFAULT_REGION"))
            .ok_or(ConfigError::NoRegion)?;
        let account = variable("AWS_ACCOUNT_ID").ok_or(ConfigError::NoAccount)?;
        let backend = AwsIot {
            iot: OnceCell::new(),
            load_in: Some(region.clone()),
            files: None,
            catalog: OnceCell::new(),
            config: OnceCell::new(),
            shadows: OnceCell::new(),
            location: Location { region, account },
        };
        Ok(match FileStorage::from_env() {
            Some(files) => backend.with_files(files),
            None => backend,
        })
    }

    /// The AWS configuration: the one given, or the standard one for `load_in`, loaded once.
    async fn config(&self) -> Result<&aws_config::SdkConfig> {
        self.config
            .get_or_try_init(|| async {
                let region = self.load_in.clone().ok_or_else(|| {
                    DomainError::Internal(
                        "no AWS configuration was given to load clients from".into(),
                    )
                })?;
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(region))
                    .http_client(http_client())
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
                            .build(),
                    );
                // Lambda gives the role's credentials in the environment, which the default
                // chain would take first anyway; naming them spares building the chain's other
                // providers (an STS client among them) on a cold start.
                if ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
                    .iter()
                    .all(|name| std::env::var_os(name).is_some())
                {
                    loader = loader.credentials_provider(
                        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                    );
                }
                Ok(loader.load().await)
            })
            .await
    }

    /// The IoT control plane client, built on the first IoT call.
    async fn iot(&self) -> Result<&aws_sdk_iot::Client> {
        self.iot
            .get_or_try_init(|| async { Ok(aws_sdk_iot::Client::new(self.config().await?)) })
            .await
    }

    /// This backend with the firmware catalog in `files`' table and bucket.
    pub fn with_files(mut self, files: FileStorage) -> Self {
        self.files = Some(files);
        self
    }

    /// This backend with the firmware catalog on clients built elsewhere (tests give mocked ones).
    pub fn with_catalog_clients(
        mut self,
        files: FileStorage,
        dynamodb: aws_sdk_dynamodb::Client,
        s3: aws_sdk_s3::Client,
    ) -> Self {
        let region = self.location.region.clone();
        self.catalog = OnceCell::new_with(Some(catalog::Catalog::from_clients(
            files.clone(),
            dynamodb,
            s3,
            region,
        )));
        self.files = Some(files);
        self
    }

    /// Whether the firmware catalog's table and bucket were given.
    pub fn serves_files(&self) -> bool {
        self.files.is_some()
    }

    /// Verifies the object S3 reports at `key` once a multipart upload has put it together: the
    /// work of the verifier function, which the bucket's notifications start.
    pub async fn verify_upload(&self, key: &str) -> Result<Verification> {
        self.catalog().await?.verify_upload(key).await
    }

    async fn catalog(&self) -> Result<&catalog::Catalog> {
        self.catalog
            .get_or_try_init(|| async {
                let storage = self.files.clone().ok_or_else(|| {
                    DomainError::Internal(format!(
                        "the firmware catalog is not configured: set {}, {} and {}",
                        catalog::TABLE_VARIABLE,
                        catalog::BUCKET_VARIABLE,
                        catalog::PRESIGN_ROLE_VARIABLE
                    ))
                })?;
                Ok(catalog::Catalog::new(self.config().await?, storage))
            })
            .await
    }

    /// A backend over an already loaded configuration.
    pub fn new(config: aws_config::SdkConfig, location: Location) -> Self {
        AwsIot {
            iot: OnceCell::new(),
            load_in: None,
            files: None,
            catalog: OnceCell::new(),
            config: OnceCell::new_with(Some(config)),
            shadows: OnceCell::new(),
            location,
        }
    }

    /// A backend over clients built elsewhere (tests give mocked ones).
    pub fn with_clients(
        iot: aws_sdk_iot::Client,
        shadows: aws_sdk_iotdataplane::Client,
        location: Location,
    ) -> Self {
        AwsIot {
            iot: OnceCell::new_with(Some(iot)),
            load_in: None,
            files: None,
            catalog: OnceCell::new(),
            config: OnceCell::new(),
            shadows: OnceCell::new_with(Some(shadows)),
            location,
        }
    }

    /// A backend over a given IoT client whose data plane endpoints are found as in production:
    /// from `config`'s endpoint when it has one, else asked of IoT (tests give a mocked client).
    pub fn with_discovery(
        iot: aws_sdk_iot::Client,
        config: aws_config::SdkConfig,
        location: Location,
    ) -> Self {
        AwsIot {
            iot: OnceCell::new_with(Some(iot)),
            load_in: None,
            files: None,
            catalog: OnceCell::new(),
            config: OnceCell::new_with(Some(config)),
            shadows: OnceCell::new(),
            location,
        }
    }

    /// Where a data plane is: its configuration, and the endpoint to give it when the
    /// configuration's own is not to be used. Data plane
    /// endpoints are account-specific: an explicit endpoint (`env_var`, or the configuration's)
    /// is used when there is one, otherwise IoT is asked for the `endpoint_type` one.
    async fn data_plane(
        &self,
        env_var: &str,
        endpoint_type: &str,
    ) -> Result<(&aws_config::SdkConfig, Option<String>)> {
        let config = self.config().await.map_err(|_| {
            DomainError::Internal(format!(
                "no configuration to reach the {endpoint_type} endpoint"
            ))
        })?;
        if std::env::var_os(env_var).is_some() || config.endpoint_url().is_some() {
            return Ok((config, None));
        }
        let endpoint = self
            .iot()
            .await?
            .describe_endpoint()
            .endpoint_type(endpoint_type)
            .send()
            .await
            .map_err(|e| map_sdk_error("DescribeEndpoint", e))?;
        let address = required(
            endpoint.endpoint_address(),
            "DescribeEndpoint",
            "endpointAddress",
        )?;
        Ok((config, Some(format!("https://{address}"))))
    }

    /// The device shadow data plane client, found once per process.
    async fn shadows(&self) -> Result<&aws_sdk_iotdataplane::Client> {
        self.shadows
            .get_or_try_init(|| async {
                let (config, endpoint) = self
                    .data_plane("AWS_ENDPOINT_URL_IOT_DATA_PLANE", "iot:Data-ATS")
                    .await?;
                let mut builder = aws_sdk_iotdataplane::config::Builder::from(config);
                if endpoint.is_some() {
                    builder.set_endpoint_url(endpoint);
                }
                Ok(aws_sdk_iotdataplane::Client::from_conf(builder.build()))
            })
            .await
    }

    fn target_arn(&self, target: &Target) -> String {
        match target {
            Target::Thing { name, location } => {
                location.as_ref().unwrap_or(&self.location).thing_arn(name)
            }
            Target::ThingGroup { name, location } => location.thing_group_arn(name),
        }
    }
}

/// Why the backend could not be configured at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no AWS region: set AWS_REGION (Lambda sets it) or configure a profile")]
    NoRegion,
    #[error("AWS_ACCOUNT_ID is not set: the account id names thing and thing group ARNs")]
    NoAccount,
}

/// AWS's not-found and already-exists messages vary by endpoint and rarely name the resource; the
/// API's own message names it, as the emulator's does.
fn named(error: DomainError, message: impl FnOnce() -> String) -> DomainError {
    match error {
        DomainError::NotFound(_) => DomainError::NotFound(message()),
        DomainError::AlreadyExists(_) => DomainError::AlreadyExists(message()),
        other => other,
    }
}

/// The edge validated every field of a list request but the token, which only AWS can read, so
/// what AWS refuses in a list request is the token: the same error the emulator gives.
fn paged(error: DomainError) -> DomainError {
    match error {
        DomainError::Conflict(_) => NextToken::invalid(),
        other => other,
    }
}

/// A read names only what the edge validated, so what AWS still refuses in one is that name.
fn refused(field: &'static str, error: DomainError) -> DomainError {
    match error {
        DomainError::Conflict(message) => {
            DomainError::validation(field, format!("AWS IoT refused it: {message}"))
        }
        other => other,
    }
}

fn job_missing(job_id: &JobId) -> impl FnOnce() -> String + '_ {
    move || format!("job {:?} does not exist", job_id.as_str())
}

fn execution_missing<'a>(job_id: &'a JobId, thing: &'a ThingName) -> impl FnOnce() -> String + 'a {
    move || {
        format!(
            "job {:?} has no execution on thing {:?}, or does not exist",
            job_id.as_str(),
            thing.as_str()
        )
    }
}

/// The ARN AWS returned, or the one the ARN scheme gives when it returned none.
fn arn_or(returned: Option<&str>, built: impl FnOnce() -> String) -> String {
    returned.map_or_else(built, str::to_owned)
}

fn page_size(page: &PageRequest) -> i32 {
    i32::try_from(page.max_results.get()).unwrap_or(i32::MAX)
}

fn token(page: &PageRequest) -> Option<String> {
    page.next_token.as_ref().map(|t| t.as_str().to_owned())
}

fn next(token: Option<&str>) -> Option<NextToken> {
    token
        .filter(|t| !t.is_empty())
        .map(|t| NextToken::new(t.to_owned()))
}

fn parse_id<T>(parsed: std::result::Result<T, String>, operation: &str) -> Result<T> {
    parsed.map_err(|e| {
        DomainError::Internal(format!(
            "{operation}: AWS IoT returned an invalid identifier: {e}"
        ))
    })
}

#[async_trait]
impl Backend for AwsIot {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn create_job(&self, mut job: NewJob) -> Result<JobCreated> {
        if !job.files.is_empty() {
            let catalog = self.catalog().await?;
            catalog.deliver(&job.job_id, &job.files).await?;
            // AWS IoT presigns the files' placeholders with the stack's role, which reads the
            // bucket only.
            let role = Some(catalog.storage.presign_role_arn.clone());
            match &mut job.presigned_url_config {
                Some(config) if config.role_arn.is_none() => config.role_arn = role,
                Some(_) => {}
                None => {
                    job.presigned_url_config = Some(models::fields::PresignedUrlConfig {
                        role_arn: role,
                        expires_in_sec: models::files::DEFAULT_URL_EXPIRY_SECONDS,
                    })
                }
            }
        }
        let targets: Vec<String> = job.targets.iter().map(|t| self.target_arn(t)).collect();
        let rollout = job
            .job_executions_rollout_config
            .as_ref()
            .map(convert::to_rollout_config)
            .transpose()?;
        let output = self
            .iot()
            .await?
            .create_job()
            .job_id(job.job_id.as_str())
            .set_targets(Some(targets))
            .target_selection(convert::to_target_selection(&job.target_selection))
            .set_document(job.source.document().map(|d| d.as_str().to_owned()))
            .set_description(job.description.map(String::from))
            .set_job_template_arn(
                job.source
                    .template()
                    .map(|id| self.location.job_template_arn(id)),
            )
            .set_timeout_config(job.timeout_config.as_ref().map(convert::to_timeout_config))
            .set_job_executions_rollout_config(rollout)
            .set_presigned_url_config(
                job.presigned_url_config
                    .as_ref()
                    .map(convert::to_presigned_url_config),
            )
            .set_abort_config(
                job.abort_config
                    .as_ref()
                    .map(convert::to_abort_config)
                    .transpose()?,
            )
            .set_job_executions_retry_config(
                job.job_executions_retry_config
                    .as_ref()
                    .map(convert::to_retry_config)
                    .transpose()?,
            )
            .set_scheduling_config(
                job.scheduling_config
                    .as_ref()
                    .map(convert::to_scheduling_config),
            )
            .send()
            .await
            .map_err(|e| match map_sdk_error("CreateJob", e) {
                DomainError::AlreadyExists(_) => DomainError::AlreadyExists(format!(
                    "job {:?} already exists",
                    job.job_id.as_str()
                )),
                // AWS's message says which one; the emulator's names the target it checked.
                DomainError::NotFound(message) => DomainError::NotFound(format!(
                    "a target or the job template does not exist: {message}"
                )),
                other => other,
            })?;
        let job_arn = arn_or(output.job_arn(), || self.location.job_arn(&job.job_id));
        Ok(JobCreated {
            job_id: job.job_id,
            job_arn,
        })
    }

    async fn update_job(&self, job_id: &JobId, update: UpdateJob) -> Result<()> {
        let rollout = update
            .job_executions_rollout_config
            .as_ref()
            .map(convert::to_rollout_config)
            .transpose()?;
        self.iot()
            .await?
            .update_job()
            .job_id(job_id.as_str())
            .set_description(update.description.map(String::from))
            .set_timeout_config(
                update
                    .timeout_config
                    .as_ref()
                    .map(convert::to_timeout_config),
            )
            .set_job_executions_rollout_config(rollout)
            .set_presigned_url_config(
                update
                    .presigned_url_config
                    .as_ref()
                    .map(convert::to_presigned_url_config),
            )
            .set_abort_config(
                update
                    .abort_config
                    .as_ref()
                    .map(convert::to_abort_config)
                    .transpose()?,
            )
            .set_job_executions_retry_config(
                update
                    .job_executions_retry_config
                    .as_ref()
                    .map(convert::to_retry_config)
                    .transpose()?,
            )
            .send()
            .await
            .map_err(|e| named(map_sdk_error("UpdateJob", e), job_missing(job_id)))?;
        Ok(())
    }

    async fn cancel_job(&self, cancel: CancelJob) -> Result<()> {
        self.iot()
            .await?
            .cancel_job()
            .job_id(cancel.job_id.as_str())
            .force(cancel.force)
            .set_comment(cancel.comment.map(String::from))
            .set_reason_code(cancel.reason_code.map(String::from))
            .send()
            .await
            .map_err(|e| named(map_sdk_error("CancelJob", e), job_missing(&cancel.job_id)))?;
        Ok(())
    }

    async fn delete_job(&self, job_id: &JobId, force: bool) -> Result<()> {
        self.iot()
            .await?
            .delete_job()
            .job_id(job_id.as_str())
            .force(force)
            .send()
            .await
            .map_err(|e| named(map_sdk_error("DeleteJob", e), job_missing(job_id)))?;
        Ok(())
    }

    async fn describe_job(&self, job_id: &JobId) -> Result<Job> {
        const OP: &str = "DescribeJob";
        let output = self
            .iot()
            .await?
            .describe_job()
            .job_id(job_id.as_str())
            .send()
            .await
            .map_err(|e| refused("jobId", named(map_sdk_error(OP, e), job_missing(job_id))))?;
        let job = required(output.job(), OP, "job")?;
        Ok(Job {
            job_arn: arn_or(job.job_arn(), || self.location.job_arn(job_id)),
            job_id: job_id.clone(),
            targets: job.targets().to_vec(),
            target_selection: job
                .target_selection()
                .map(convert::target_selection)
                .unwrap_or_default(),
            status: convert::job_status(required(job.status(), OP, "status")?),
            description: job.description().map(str::to_owned),
            force_canceled: job.force_canceled().unwrap_or(false),
            comment: job.comment().map(str::to_owned),
            reason_code: job.reason_code().map(str::to_owned),
            job_template_arn: job.job_template_arn().map(str::to_owned),
            created_at: required_timestamp(job.created_at(), OP, "createdAt")?,
            last_updated_at: required_timestamp(job.last_updated_at(), OP, "lastUpdatedAt")?,
            completed_at: job.completed_at().map(timestamp),
            job_process_details: convert::process_details(job.job_process_details()),
            timeout_config: convert::timeout_config(job.timeout_config()),
            job_executions_rollout_config: convert::rollout_config(
                job.job_executions_rollout_config(),
            ),
            presigned_url_config: convert::presigned_url_config(job.presigned_url_config()),
            abort_config: convert::abort_config(job.abort_config()),
            scheduling_config: convert::scheduling_config(job.scheduling_config()),
            job_executions_retry_config: convert::retry_config(job.job_executions_retry_config()),
        })
    }

    async fn get_job_document(&self, job_id: &JobId) -> Result<String> {
        const OP: &str = "GetJobDocument";
        let output = self
            .iot()
            .await?
            .get_job_document()
            .job_id(job_id.as_str())
            .send()
            .await
            .map_err(|e| refused("jobId", named(map_sdk_error(OP, e), job_missing(job_id))))?;
        Ok(required(output.document(), OP, "document")?.to_owned())
    }

    async fn list_jobs(&self, filter: JobFilter, page: PageRequest) -> Result<Page<JobSummary>> {
        const OP: &str = "ListJobs";
        let output = self
            .iot()
            .await?
            .list_jobs()
            .set_status(filter.status.as_ref().map(convert::to_job_status))
            .set_target_selection(
                filter
                    .target_selection
                    .as_ref()
                    .map(convert::to_target_selection),
            )
            .set_thing_group_name(filter.thing_group_name.clone().map(String::from))
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| {
                // The one thing a job list names is the group it filters by.
                let error = named(map_sdk_error(OP, e), || {
                    format!(
                        "thingGroupName: thing group {:?} does not exist",
                        filter
                            .thing_group_name
                            .as_ref()
                            .map(|g| g.as_str())
                            .unwrap_or_default()
                    )
                });
                paged(error)
            })?;
        let mut items = Vec::with_capacity(output.jobs().len());
        for job in output.jobs() {
            let job_id = parse_id(JobId::parse(required(job.job_id(), OP, "jobId")?), OP)?;
            items.push(JobSummary {
                job_arn: arn_or(job.job_arn(), || self.location.job_arn(&job_id)),
                job_id,
                target_selection: job
                    .target_selection()
                    .map(convert::target_selection)
                    .unwrap_or_default(),
                status: convert::job_status(required(job.status(), OP, "status")?),
                created_at: required_timestamp(job.created_at(), OP, "createdAt")?,
                last_updated_at: required_timestamp(job.last_updated_at(), OP, "lastUpdatedAt")?,
                completed_at: job.completed_at().map(timestamp),
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn associate_targets_with_job(
        &self,
        job_id: &JobId,
        targets: Vec<Target>,
        comment: Option<Text>,
    ) -> Result<()> {
        let targets: Vec<String> = targets.iter().map(|t| self.target_arn(t)).collect();
        self.iot()
            .await?
            .associate_targets_with_job()
            .job_id(job_id.as_str())
            .set_targets(Some(targets))
            .set_comment(comment.map(String::from))
            .send()
            .await
            .map_err(|e| {
                named(
                    map_sdk_error("AssociateTargetsWithJob", e),
                    job_missing(job_id),
                )
            })?;
        Ok(())
    }

    async fn cancel_job_execution(&self, cancel: CancelJobExecution) -> Result<()> {
        let details = cancel
            .status_details
            .map(|d| d.as_map().clone().into_iter().collect());
        self.iot()
            .await?
            .cancel_job_execution()
            .job_id(cancel.job_id.as_str())
            .thing_name(cancel.thing_name.as_str())
            .force(cancel.force)
            .set_expected_version(cancel.expected_version)
            .set_status_details(details)
            .send()
            .await
            .map_err(|e| {
                named(
                    map_sdk_error("CancelJobExecution", e),
                    execution_missing(&cancel.job_id, &cancel.thing_name),
                )
            })?;
        Ok(())
    }

    async fn delete_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: i64,
        force: bool,
    ) -> Result<()> {
        self.iot()
            .await?
            .delete_job_execution()
            .job_id(job_id.as_str())
            .thing_name(thing_name.as_str())
            .execution_number(execution_number)
            .force(force)
            .send()
            .await
            .map_err(|e| {
                named(
                    map_sdk_error("DeleteJobExecution", e),
                    execution_missing(job_id, thing_name),
                )
            })?;
        Ok(())
    }

    async fn describe_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: Option<i64>,
    ) -> Result<JobExecution> {
        const OP: &str = "DescribeJobExecution";
        let output = self
            .iot()
            .await?
            .describe_job_execution()
            .job_id(job_id.as_str())
            .thing_name(thing_name.as_str())
            .set_execution_number(execution_number)
            .send()
            .await
            .map_err(|e| {
                refused(
                    "jobId",
                    named(map_sdk_error(OP, e), execution_missing(job_id, thing_name)),
                )
            })?;
        let execution = required(output.execution(), OP, "execution")?;
        Ok(JobExecution {
            job_id: job_id.clone(),
            thing_name: thing_name.clone(),
            thing_arn: arn_or(execution.thing_arn(), || {
                self.location.thing_arn(thing_name)
            }),
            status: convert::execution_status(required(execution.status(), OP, "status")?),
            status_details: ExecutionStatusDetails {
                details_map: convert::sorted(
                    execution.status_details().and_then(|d| d.details_map()),
                ),
            },
            force_canceled: execution.force_canceled().unwrap_or(false),
            queued_at: required_timestamp(execution.queued_at(), OP, "queuedAt")?,
            started_at: execution.started_at().map(timestamp),
            last_updated_at: required_timestamp(execution.last_updated_at(), OP, "lastUpdatedAt")?,
            execution_number: required(execution.execution_number(), OP, "executionNumber")?,
            version_number: execution.version_number(),
        })
    }

    async fn list_job_executions_for_job(
        &self,
        job_id: &JobId,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForJob>> {
        const OP: &str = "ListJobExecutionsForJob";
        let output = self
            .iot()
            .await?
            .list_job_executions_for_job()
            .job_id(job_id.as_str())
            .set_status(status.as_ref().map(convert::to_execution_status))
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(named(map_sdk_error(OP, e), job_missing(job_id))))?;
        let mut items = Vec::with_capacity(output.execution_summaries().len());
        for summary in output.execution_summaries() {
            items.push(ExecutionSummaryForJob {
                thing_arn: required(summary.thing_arn(), OP, "thingArn")?.to_owned(),
                job_execution: convert::execution_summary(summary.job_execution_summary(), OP)?,
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn list_job_executions_for_thing(
        &self,
        thing_name: &ThingName,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForThing>> {
        const OP: &str = "ListJobExecutionsForThing";
        let output = self
            .iot()
            .await?
            .list_job_executions_for_thing()
            .thing_name(thing_name.as_str())
            .set_status(status.as_ref().map(convert::to_execution_status))
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| {
                paged(named(map_sdk_error(OP, e), || {
                    format!("thing {:?} does not exist", thing_name.as_str())
                }))
            })?;
        let mut items = Vec::with_capacity(output.execution_summaries().len());
        for summary in output.execution_summaries() {
            items.push(ExecutionSummaryForThing {
                job_id: parse_id(JobId::parse(required(summary.job_id(), OP, "jobId")?), OP)?,
                job_execution: convert::execution_summary(summary.job_execution_summary(), OP)?,
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }

    async fn create_job_template(&self, template: NewJobTemplate) -> Result<JobTemplateCreated> {
        let rollout = template
            .job_executions_rollout_config
            .as_ref()
            .map(convert::to_rollout_config)
            .transpose()?;
        let output = self
            .iot()
            .await?
            .create_job_template()
            .job_template_id(template.job_template_id.as_str())
            .description(template.description.as_str())
            .document(template.document.as_str())
            .set_timeout_config(
                template
                    .timeout_config
                    .as_ref()
                    .map(convert::to_timeout_config),
            )
            .set_job_executions_rollout_config(rollout)
            .set_presigned_url_config(
                template
                    .presigned_url_config
                    .as_ref()
                    .map(convert::to_presigned_url_config),
            )
            .set_abort_config(
                template
                    .abort_config
                    .as_ref()
                    .map(convert::to_abort_config)
                    .transpose()?,
            )
            .set_job_executions_retry_config(
                template
                    .job_executions_retry_config
                    .as_ref()
                    .map(convert::to_retry_config)
                    .transpose()?,
            )
            .send()
            .await
            .map_err(|e| {
                named(map_sdk_error("CreateJobTemplate", e), || {
                    format!(
                        "job template {:?} already exists",
                        template.job_template_id.as_str()
                    )
                })
            })?;
        let job_template_arn = arn_or(output.job_template_arn(), || {
            self.location.job_template_arn(&template.job_template_id)
        });
        Ok(JobTemplateCreated {
            job_template_id: template.job_template_id,
            job_template_arn,
        })
    }

    async fn describe_job_template(&self, id: &JobTemplateId) -> Result<JobTemplate> {
        const OP: &str = "DescribeJobTemplate";
        let t = self
            .iot()
            .await?
            .describe_job_template()
            .job_template_id(id.as_str())
            .send()
            .await
            .map_err(|e| {
                let error = named(map_sdk_error(OP, e), || {
                    format!("job template {:?} does not exist", id.as_str())
                });
                refused("jobTemplateId", error)
            })?;
        Ok(JobTemplate {
            job_template_arn: arn_or(t.job_template_arn(), || self.location.job_template_arn(id)),
            job_template_id: id.clone(),
            description: t.description().unwrap_or_default().to_owned(),
            document: t.document().unwrap_or_default().to_owned(),
            created_at: required_timestamp(t.created_at(), OP, "createdAt")?,
            timeout_config: convert::timeout_config(t.timeout_config()),
            job_executions_rollout_config: convert::rollout_config(
                t.job_executions_rollout_config(),
            ),
            presigned_url_config: convert::presigned_url_config(t.presigned_url_config()),
            abort_config: convert::abort_config(t.abort_config()),
            job_executions_retry_config: convert::retry_config(t.job_executions_retry_config()),
        })
    }

    async fn delete_job_template(&self, id: &JobTemplateId) -> Result<()> {
        self.iot()
            .await?
            .delete_job_template()
            .job_template_id(id.as_str())
            .send()
            .await
            .map_err(|e| {
                let error = named(map_sdk_error("DeleteJobTemplate", e), || {
                    format!("job template {:?} does not exist", id.as_str())
                });
                refused("jobTemplateId", error)
            })?;
        Ok(())
    }

    async fn list_job_templates(&self, page: PageRequest) -> Result<Page<JobTemplateSummary>> {
        const OP: &str = "ListJobTemplates";
        let output = self
            .iot()
            .await?
            .list_job_templates()
            .max_results(page_size(&page))
            .set_next_token(token(&page))
            .send()
            .await
            .map_err(|e| paged(map_sdk_error(OP, e)))?;
        let mut items = Vec::with_capacity(output.job_templates().len());
        for t in output.job_templates() {
            let id = parse_id(
                JobTemplateId::parse(required(t.job_template_id(), OP, "jobTemplateId")?),
                OP,
            )?;
            items.push(JobTemplateSummary {
                job_template_arn: arn_or(t.job_template_arn(), || {
                    self.location.job_template_arn(&id)
                }),
                job_template_id: id,
                description: t.description().unwrap_or_default().to_owned(),
                created_at: required_timestamp(t.created_at(), OP, "createdAt")?,
            });
        }
        Ok(Page {
            items,
            next_token: next(output.next_token()),
        })
    }
}

#[async_trait]
impl Catalog for AwsIot {
    async fn create_category(&self, category: CreateCategory) -> Result<Category> {
        self.catalog().await?.create_category(category).await
    }

    async fn describe_category(&self, id: &CategoryId) -> Result<CategoryDetail> {
        self.catalog().await?.describe_category(id).await
    }

    async fn list_categories(
        &self,
        parent: Option<CategoryId>,
        page: PageRequest,
    ) -> Result<Page<Category>> {
        self.catalog().await?.list_categories(parent, page).await
    }

    async fn update_category(&self, id: &CategoryId, description: Description) -> Result<()> {
        self.catalog().await?.update_category(id, description).await
    }

    async fn delete_category(&self, id: &CategoryId) -> Result<()> {
        self.catalog().await?.delete_category(id).await
    }

    async fn create_files(&self, files: Vec<NewFile>) -> Result<Vec<File>> {
        self.catalog().await?.create_files(files).await
    }

    async fn describe_file(&self, id: &FileId) -> Result<File> {
        self.catalog().await?.describe_file(id).await
    }

    async fn list_files(&self, filter: FileFilter, page: PageRequest) -> Result<Page<File>> {
        self.catalog().await?.list_files(filter, page).await
    }

    async fn find_file(&self, checksum: &Checksum, version: &FileVersion) -> Result<File> {
        self.catalog().await?.find_file(checksum, version).await
    }

    async fn update_files(&self, updates: Vec<FileUpdate>) -> Result<()> {
        self.catalog().await?.update_files(updates).await
    }

    async fn delete_files(&self, ids: Vec<FileId>) -> Result<()> {
        // A job that no longer exists, or has ended, no longer holds its files.
        let job_running = |job_id: JobId| async move {
            match self.describe_job(&job_id).await {
                Ok(job) => Ok(!matches!(
                    job.status,
                    models::job::JobStatus::Completed | models::job::JobStatus::Canceled
                )),
                Err(DomainError::NotFound(_)) => Ok(false),
                Err(other) => Err(other),
            }
        };
        self.catalog().await?.delete_files(ids, job_running).await
    }

    async fn transition_file(&self, id: &FileId, step: Transition) -> Result<File> {
        self.catalog().await?.transition(id, step).await
    }

    async fn start_upload(&self, id: &FileId, size: u64) -> Result<Upload> {
        self.catalog().await?.start_upload(id, size).await
    }

    async fn start_multipart_upload(&self, id: &FileId, plan: PartPlan) -> Result<MultipartUpload> {
        self.catalog().await?.start_multipart_upload(id, plan).await
    }

    async fn complete_upload(&self, id: &FileId) -> Result<File> {
        self.catalog().await?.complete_upload(id).await
    }

    async fn download_file(&self, id: &FileId, expires_in_sec: i64) -> Result<Download> {
        self.catalog()
            .await?
            .download_file(id, expires_in_sec)
            .await
    }
}
