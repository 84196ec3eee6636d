//! The one way handlers reach state. Each method is one AWS IoT operation, so the emulator and
//! the AWS adapter implement the same contract.

use async_trait::async_trait;

use crate::error::Result;
use crate::fields::Text;
use crate::ids::{JobId, JobTemplateId, Location, Target, ThingGroupName, ThingName};
use crate::job::{
    CancelJob, CancelJobExecution, ExecutionStatus, ExecutionSummaryForJob,
    ExecutionSummaryForThing, Job, JobCreated, JobExecution, JobFilter, JobSummary, JobTemplate,
    JobTemplateCreated, JobTemplateSummary, NewJob, NewJobTemplate, UpdateJob, UpdateJobExecution,
};
use crate::page::{Page, PageRequest};
use crate::registry::{
    CreateThing, CreateThingGroup, Created, GroupNameAndArn, Thing, ThingGroup, ThingSummary,
};

/// An AWS IoT control plane (plus the one jobs data-plane call a device makes).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The region and account the backend's resources live in; ARNs are built from it.
    fn location(&self) -> &Location;

    // Jobs.
    async fn create_job(&self, job: NewJob) -> Result<JobCreated>;
    async fn update_job(&self, job_id: &JobId, update: UpdateJob) -> Result<()>;
    async fn cancel_job(&self, cancel: CancelJob) -> Result<()>;
    async fn delete_job(&self, job_id: &JobId, force: bool) -> Result<()>;
    async fn describe_job(&self, job_id: &JobId) -> Result<Job>;
    async fn get_job_document(&self, job_id: &JobId) -> Result<String>;
    async fn list_jobs(&self, filter: JobFilter, page: PageRequest) -> Result<Page<JobSummary>>;
    async fn associate_targets_with_job(
        &self,
        job_id: &JobId,
        targets: Vec<Target>,
        comment: Option<Text>,
    ) -> Result<()>;

    // Job executions.
    async fn cancel_job_execution(&self, cancel: CancelJobExecution) -> Result<()>;
    async fn delete_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: i64,
        force: bool,
    ) -> Result<()>;
    /// The execution with that number, or the latest one when `execution_number` is None.
    async fn describe_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: Option<i64>,
    ) -> Result<JobExecution>;
    async fn list_job_executions_for_job(
        &self,
        job_id: &JobId,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForJob>>;
    async fn list_job_executions_for_thing(
        &self,
        thing_name: &ThingName,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForThing>>;
    /// The jobs data plane's UpdateJobExecution: what a device reports.
    async fn update_job_execution(&self, update: UpdateJobExecution) -> Result<()>;

    // Job templates.
    async fn create_job_template(&self, template: NewJobTemplate) -> Result<JobTemplateCreated>;
    async fn describe_job_template(&self, id: &JobTemplateId) -> Result<JobTemplate>;
    async fn delete_job_template(&self, id: &JobTemplateId) -> Result<()>;
    async fn list_job_templates(&self, page: PageRequest) -> Result<Page<JobTemplateSummary>>;

    // Things.
    async fn create_thing(&self, thing: CreateThing) -> Result<Created>;
    async fn describe_thing(&self, name: &ThingName) -> Result<Thing>;
    async fn list_things(&self, page: PageRequest) -> Result<Page<ThingSummary>>;
    /// Succeeds when the thing does not exist, as AWS IoT's DeleteThing does.
    async fn delete_thing(&self, name: &ThingName) -> Result<()>;

    // Thing groups.
    async fn create_thing_group(&self, group: CreateThingGroup) -> Result<Created>;
    async fn describe_thing_group(&self, name: &ThingGroupName) -> Result<ThingGroup>;
    async fn list_thing_groups(
        &self,
        name_prefix: Option<String>,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>>;
    /// Succeeds when the group does not exist, as AWS IoT's DeleteThingGroup does.
    async fn delete_thing_group(&self, name: &ThingGroupName) -> Result<()>;
    async fn add_thing_to_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()>;
    async fn remove_thing_from_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()>;
    async fn list_things_in_thing_group(
        &self,
        group: &ThingGroupName,
        recursive: bool,
        page: PageRequest,
    ) -> Result<Page<ThingName>>;
}
