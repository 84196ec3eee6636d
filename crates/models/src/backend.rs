//! The one way handlers reach state. Each method is one AWS IoT operation, so the emulator and
//! the AWS adapter implement the same contract: [`Backend`] for jobs, [`Registry`] (which every
//! backend is too) for things, thing types, thing groups, shadows and search.

use async_trait::async_trait;

use crate::error::Result;
use crate::fields::Text;
use crate::files::{
    Category, CategoryDetail, CategoryId, Checksum, CreateCategory, Description, Download, File,
    FileFilter, FileId, FileUpdate, FileVersion, MultipartUpload, NewFile, PartPlan, Transition,
    Upload,
};
use crate::ids::{JobId, JobTemplateId, Location, Target, ThingGroupName, ThingName};
use crate::ids::{ShadowName, ThingTypeName};
use crate::job::{
    CancelJob, CancelJobExecution, ExecutionStatus, ExecutionSummaryForJob,
    ExecutionSummaryForThing, Job, JobCreated, JobExecution, JobFilter, JobSummary, JobTemplate,
    JobTemplateCreated, JobTemplateSummary, NewJob, NewJobTemplate, UpdateJob,
};
use crate::page::{Page, PageRequest};
use crate::query::Query;
use crate::registry::{
    CreateDynamicThingGroup, CreateThing, CreateThingGroup, CreateThingType, Created, GroupFilter,
    GroupNameAndArn, Thing, ThingDocument, ThingFilter, ThingGroup, ThingSummary, ThingType,
    UpdateDynamicThingGroup, UpdateThing, UpdateThingGroup,
};
use crate::shadow::{ShadowDocument, ShadowUpdate};

/// An AWS IoT control plane, with the firmware catalog whose files its jobs deliver.
#[async_trait]
pub trait Backend: Registry + Catalog {
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

    // Job templates.
    async fn create_job_template(&self, template: NewJobTemplate) -> Result<JobTemplateCreated>;
    async fn describe_job_template(&self, id: &JobTemplateId) -> Result<JobTemplate>;
    async fn delete_job_template(&self, id: &JobTemplateId) -> Result<()>;
    async fn list_job_templates(&self, page: PageRequest) -> Result<Page<JobTemplateSummary>>;
}

/// The thing registry, its shadows and its search index, as AWS IoT offers them.
#[async_trait]
pub trait Registry: Send + Sync + 'static {
    // Things.
    async fn create_thing(&self, thing: CreateThing) -> Result<Created>;
    async fn describe_thing(&self, name: &ThingName) -> Result<Thing>;
    async fn list_things(
        &self,
        filter: ThingFilter,
        page: PageRequest,
    ) -> Result<Page<ThingSummary>>;
    async fn update_thing(&self, name: &ThingName, update: UpdateThing) -> Result<()>;
    /// Succeeds when the thing does not exist, as AWS IoT's DeleteThing does.
    async fn delete_thing(&self, name: &ThingName, expected_version: Option<i64>) -> Result<()>;
    async fn list_thing_groups_for_thing(
        &self,
        name: &ThingName,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>>;
    /// Things matching a query of the supported subset.
    async fn search_things(&self, query: &Query, page: PageRequest) -> Result<Page<ThingDocument>>;

    // Thing types.
    async fn create_thing_type(&self, thing_type: CreateThingType) -> Result<Created>;
    async fn describe_thing_type(&self, name: &ThingTypeName) -> Result<ThingType>;
    async fn list_thing_types(
        &self,
        name: Option<ThingTypeName>,
        page: PageRequest,
    ) -> Result<Page<ThingType>>;
    /// Deprecates a thing type, or (with `undo`) takes the deprecation back.
    async fn deprecate_thing_type(&self, name: &ThingTypeName, undo: bool) -> Result<()>;
    async fn delete_thing_type(&self, name: &ThingTypeName) -> Result<()>;

    // Thing groups.
    async fn create_thing_group(&self, group: CreateThingGroup) -> Result<Created>;
    async fn describe_thing_group(&self, name: &ThingGroupName) -> Result<ThingGroup>;
    async fn list_thing_groups(
        &self,
        filter: GroupFilter,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>>;
    /// Returns the group's new version.
    async fn update_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateThingGroup,
    ) -> Result<i64>;
    /// Succeeds when the group does not exist, as AWS IoT's DeleteThingGroup does.
    async fn delete_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()>;
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
    async fn create_dynamic_thing_group(&self, group: CreateDynamicThingGroup) -> Result<Created>;
    /// Returns the group's new version.
    async fn update_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateDynamicThingGroup,
    ) -> Result<i64>;
    async fn delete_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()>;

    // Shadows: `shadow` None is the classic (unnamed) shadow.
    async fn get_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
    ) -> Result<ShadowDocument>;
    /// Returns the shadow's new version.
    async fn update_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
        update: ShadowUpdate,
    ) -> Result<i64>;
    async fn delete_shadow(&self, thing: &ThingName, shadow: Option<&ShadowName>) -> Result<()>;
    async fn list_named_shadows(
        &self,
        thing: &ThingName,
        page: PageRequest,
    ) -> Result<Page<ShadowName>>;
}

/// The firmware catalog: categories, files and their bytes. Batches apply whole or not at all.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    // Categories.
    async fn create_category(&self, category: CreateCategory) -> Result<Category>;
    async fn describe_category(&self, id: &CategoryId) -> Result<CategoryDetail>;
    /// Children of `parent`, or the roots when None.
    async fn list_categories(
        &self,
        parent: Option<CategoryId>,
        page: PageRequest,
    ) -> Result<Page<Category>>;
    async fn update_category(&self, id: &CategoryId, description: Description) -> Result<()>;
    /// Refused (Conflict) while the category has children or files.
    async fn delete_category(&self, id: &CategoryId) -> Result<()>;

    // Files.
    async fn create_files(&self, files: Vec<NewFile>) -> Result<Vec<File>>;
    async fn describe_file(&self, id: &FileId) -> Result<File>;
    async fn list_files(&self, filter: FileFilter, page: PageRequest) -> Result<Page<File>>;
    /// The file with this checksum and version (at most one exists); NotFound when none.
    async fn find_file(&self, checksum: &Checksum, version: &FileVersion) -> Result<File>;
    async fn update_files(&self, updates: Vec<FileUpdate>) -> Result<()>;
    /// Refused (Conflict) while a job not yet COMPLETED or CANCELED names one of the files.
    async fn delete_files(&self, ids: Vec<FileId>) -> Result<()>;
    async fn transition_file(&self, id: &FileId, step: Transition) -> Result<File>;

    // Bytes.
    /// A presigned PUT for a PENDING_UPLOAD file's `size` bytes, checked against its sha256.
    async fn start_upload(&self, id: &FileId, size: u64) -> Result<Upload>;
    /// Starts (or, for the same plan, resumes with fresh URLs) a multipart upload of a
    /// PENDING_UPLOAD file: a presigned PUT per part.
    async fn start_multipart_upload(&self, id: &FileId, plan: PartPlan) -> Result<MultipartUpload>;
    /// Records the uploaded bytes' size once their sha256 is verified: PENDING_UPLOAD to DRAFT.
    /// A multipart upload's parts are put together first; where its bytes cannot be hashed
    /// within the request (AWS), the file is VERIFYING until a verifier has read them.
    async fn complete_upload(&self, id: &FileId) -> Result<File>;
    /// A presigned GET living `expires_in_sec`, or an external file's location.
    async fn download_file(&self, id: &FileId, expires_in_sec: i64) -> Result<Download>;
}
