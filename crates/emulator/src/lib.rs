//! An embedded emulator of AWS IoT jobs and the thing registry, on SQLite.
//!
//! It implements [`models::Backend`] with AWS IoT's rules (states, force, versions, continuous
//! jobs, groups), so the API behaves locally as it does on AWS. Rules the AWS documentation does
//! not settle are marked **[inferred]** where they are made.

mod catalog;
mod clock;
mod db;
mod device;
mod index;
mod jobs;
mod memo;
pub mod objects;
mod paging;
mod registry;
mod rows;
mod shadows;
mod thing_types;
mod timers;

use std::sync::Arc;

use async_trait::async_trait;
use models::device::{
    DeviceExecution, DeviceUpdate, JobOrNext, JobsDataPlane, PendingExecutions, StartNextBody,
    UpdateReply,
};
use models::fields::Text;
use models::files::{
    sha256_header_value, Category, CategoryDetail, CategoryId, Checksum, CreateCategory,
    Description, Download, File, FileFilter, FileId, FileState, FileUpdate, FileVersion,
    MultipartUpload, NewFile, PartPlan, PresignedRequest, Transition, Upload, UploadPart,
    SHA256_HEADER,
};
use models::ids::{JobId, JobTemplateId, Location, Target, ThingGroupName, ThingName};
use models::ids::{ShadowName, ThingTypeName};
use models::job::{
    CancelJob, CancelJobExecution, ExecutionStatus, ExecutionSummaryForJob,
    ExecutionSummaryForThing, Job, JobCreated, JobExecution, JobFilter, JobSummary, JobTemplate,
    JobTemplateCreated, JobTemplateSummary, NewJob, NewJobTemplate, UpdateJob,
};
use models::query::Query;
use models::registry::{
    CreateDynamicThingGroup, CreateThing, CreateThingGroup, CreateThingType, Created, GroupFilter,
    GroupNameAndArn, Thing, ThingDocument, ThingFilter, ThingGroup, ThingSummary, ThingType,
    UpdateDynamicThingGroup, UpdateThing, UpdateThingGroup,
};
use models::shadow::{ShadowDocument, ShadowUpdate};
use models::{Backend, Catalog, DomainError, Page, PageRequest, Registry, Result};

pub use clock::Clock;
pub use db::{OpenError, Storage};
pub use thing_types::DEFAULT_DELETE_WAIT as DEFAULT_THING_TYPE_DELETE_WAIT;

/// How many described jobs are remembered between two commits.
const DESCRIBED_JOBS_KEPT: usize = 1024;

/// The account and region the emulator pretends to be, unless told otherwise.
pub fn default_location() -> Location {
    Location {
        region: "us-east-1".into(),
        account: "000000000000".into(),
    }
}

pub struct Emulator {
    location: Location,
    db: Arc<db::Db>,
    /// Where files' bytes are kept: the local stand-in for the S3 bucket.
    objects: Arc<objects::Objects>,
    clock: Clock,
    /// Jobs described since the last commit: a console or a deploy script polls a job far more
    /// often than it changes.
    described_jobs: Arc<memo::Memo<JobId, Job>>,
    /// How long a deprecated thing type must wait before it may be deleted.
    thing_type_delete_wait: std::time::Duration,
}

impl Emulator {
    /// Opens (creating when missing) the store and its schema.
    pub fn open(storage: &Storage, location: Location) -> std::result::Result<Self, OpenError> {
        let objects = match storage {
            Storage::Memory => objects::Objects::temporary(),
            Storage::File(path) => objects::Objects::beside(path),
        }
        .map_err(OpenError::Objects)?;
        let db = db::Db::open(storage)?;
        let live = db
            .uploads_in_progress()
            .map_err(|e| OpenError::Objects(std::io::Error::other(e.to_string())))?;
        objects
            .remove_leftovers(&live)
            .map_err(OpenError::Objects)?;
        Ok(Emulator {
            location,
            db,
            objects: Arc::new(objects),
            clock: Clock::System,
            described_jobs: Arc::new(memo::Memo::new(DESCRIBED_JOBS_KEPT)),
            thing_type_delete_wait: thing_types::DEFAULT_DELETE_WAIT,
        })
    }

    /// How long a deprecated thing type must wait before it may be deleted (AWS IoT's five
    /// minutes unless told otherwise).
    pub fn with_thing_type_delete_wait(mut self, wait: std::time::Duration) -> Self {
        self.thing_type_delete_wait = wait;
        self
    }

    /// The emulator on `clock` instead of the system's. A manual clock resumes from the time a
    /// manual clock last showed on this store, if that is later: time does not go back across
    /// a restart.
    pub fn with_clock(mut self, clock: Clock) -> Result<Self> {
        if let Some(stored) = self.db.manual_clock()? {
            clock.set_at_least(clock::timestamp(stored));
        }
        self.clock = clock;
        Ok(self)
    }

    /// Moves a manual clock forward and applies what that makes due; returns the new time and
    /// how many changes were applied. The system clock cannot be moved: a Conflict.
    pub async fn advance(&self, by: std::time::Duration) -> Result<(time::OffsetDateTime, usize)> {
        if !self.clock.advance(by) {
            return Err(models::DomainError::Conflict(
                "the emulator runs on the system clock, which cannot be advanced; start it with a manual clock".into(),
            ));
        }
        let applied = self
            .write(|_, tx, now| {
                tx.prepare_cached(
                    "INSERT INTO manual_clock (id, now) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET now = excluded.now",
                )?
                .execute([now])?;
                timers::run_due(tx, now)
            })
            .await?;
        Ok((self.clock.now(), applied))
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Whether `upload_id` is the multipart upload in progress of the file whose object is `key`:
    /// a part of any other upload is refused, as S3 refuses parts of an aborted upload.
    pub async fn takes_part(&self, key: &str, upload_id: &str) -> Result<bool> {
        let Some(id) = key
            .strip_prefix("files/")
            .and_then(|id| FileId::parse(id).ok())
        else {
            return Ok(false);
        };
        let current = self.multipart_in_progress(&id).await?;
        Ok(current.is_some_and(|(current, _)| current == upload_id))
    }

    /// The store of files' bytes, which the local server serves at [`objects::ROUTE_PREFIX`].
    pub fn objects(&self) -> &objects::Objects {
        &self.objects
    }

    /// Applies every change that time has made due by now (timeouts, in the order they fell
    /// due), each with its effects in one transaction; returns how many. The server calls it
    /// every second; a test calls it after advancing a manual clock.
    pub async fn tick(&self) -> Result<usize> {
        self.write(|_, tx, now| timers::run_due(tx, now)).await
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Location, &rusqlite::Connection, clock::Millis) -> db::Res<T>
            + Send
            + 'static,
    ) -> Result<T> {
        let location = self.location.clone();
        let now = self.clock.millis();
        self.db.write(move |tx| work(&location, tx, now)).await
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Location, &rusqlite::Connection) -> db::Res<T> + Send + 'static,
    ) -> Result<T> {
        let location = self.location.clone();
        self.db.read(move |conn| work(&location, conn)).await
    }
}

fn internal(error: objects::ObjectError) -> DomainError {
    DomainError::Internal(error.to_string())
}

impl Emulator {
    /// Refuses an upload larger than the object store takes.
    fn check_size(&self, size: u64) -> Result<()> {
        let max = self.objects.max_size();
        if size > max {
            return Err(DomainError::LimitExceeded(format!(
                "size: {size} bytes is more than this server accepts ({max} bytes; \
                 iot-api-local --max-file-size)"
            )));
        }
        Ok(())
    }

    fn upload_expiry(&self) -> time::OffsetDateTime {
        self.clock.now() + time::Duration::seconds(models::files::DEFAULT_URL_EXPIRY_SECONDS)
    }

    async fn multipart_in_progress(&self, id: &FileId) -> Result<Option<(String, PartPlan)>> {
        let id = id.clone();
        self.read(move |_, conn| catalog::multipart_upload(conn, &id))
            .await
    }

    /// Records the upload a file's bytes now come through, discarding the parts of an earlier
    /// multipart upload.
    async fn begin_upload(&self, id: &FileId, multipart: Option<(String, PartPlan)>) -> Result<()> {
        let id = id.clone();
        let earlier = self
            .write(move |_, tx, now| {
                let multipart = multipart
                    .as_ref()
                    .map(|(upload, plan)| (upload.as_str(), *plan));
                catalog::begin_upload(tx, &id, multipart, now)
            })
            .await?;
        if let Some(upload_id) = earlier {
            self.discard_parts(&upload_id).await;
        }
        Ok(())
    }

    async fn discard_parts(&self, upload_id: &str) {
        if let Err(error) = self.objects.discard_parts(upload_id).await {
            tracing::warn!(%upload_id, %error, "removing an upload's parts failed");
        }
    }

    /// Puts a multipart upload's parts together while hashing them: DRAFT when the whole has the
    /// file's sha256; otherwise the bytes are discarded and the file stays PENDING_UPLOAD with
    /// the reason, which the answer (a 409) gives too.
    async fn complete_multipart(
        &self,
        id: &FileId,
        upload_id: &str,
        plan: PartPlan,
    ) -> Result<File> {
        let file = self.describe_file(id).await?;
        let parts = self.objects.parts(upload_id).await.map_err(internal)?;
        if let Some(refused) = plan.refuse_parts(id, &parts) {
            return Err(refused);
        }
        let key = catalog::object_key(id);
        let assembled = self
            .objects
            .assemble(&key, upload_id, plan.part_count, file.checksum.as_str())
            .await;
        let (id, objects, upload) = (id.clone(), self.objects.clone(), upload_id.to_owned());
        let outcome = match assembled {
            Ok(stored) => Ok(stored.size),
            Err(objects::ObjectError::BadDigest { actual, .. }) => Err(actual),
            Err(e) => return Err(internal(e)),
        };
        let result = self
            .write(move |_, tx, now| {
                // Another request may have completed or restarted this upload meanwhile.
                let current = catalog::multipart_upload(tx, &id)?;
                if current.as_ref().map(|(u, _)| u.as_str()) != Some(upload.as_str()) {
                    return Err(DomainError::Conflict(format!(
                        "file {id}: upload {upload} was completed or replaced meanwhile"
                    ))
                    .into());
                }
                match outcome {
                    Ok(size) => {
                        catalog::set_state(tx, &id, FileState::Draft, Some(size), now)?;
                        Ok(Ok(catalog::describe_file(tx, &objects, &id)?))
                    }
                    Err(actual) => {
                        let file = catalog::describe_file(tx, &objects, &id)?;
                        let why = models::files::digest_mismatch(&actual, &file.checksum);
                        catalog::refuse_upload(tx, &id, &why, now)?;
                        Ok(Err(DomainError::Conflict(format!("file {id}: {why}"))))
                    }
                }
            })
            .await;
        self.discard_parts(upload_id).await;
        result?
    }

    /// A device's execution with its job document's file placeholders presigned.
    async fn presigned_for_device(
        &self,
        mut execution: DeviceExecution,
    ) -> Result<DeviceExecution> {
        if let Some(document) = execution.job_document.take() {
            execution.job_document =
                Some(self.presign_document(&execution.job_id, document).await?);
        }
        Ok(execution)
    }

    /// A job document as a device receives it: as AWS IoT does for a job with a presigned URL
    /// configuration, each placeholder naming one of this store's objects becomes a URL that
    /// allows a GET until the configuration's `expiresInSec` from now.
    async fn presign_document(&self, job_id: &JobId, document: String) -> Result<String> {
        if !document.contains(models::files::PLACEHOLDER_PREFIX) {
            return Ok(document);
        }
        let id = job_id.clone();
        let config = self
            .read(move |_, conn| jobs::presigned_url_config(conn, &id))
            .await?;
        let Some(config) = config else {
            return Ok(document);
        };
        let expires_at = self.clock.now() + time::Duration::seconds(config.expires_in_sec);
        Ok(models::files::replace_placeholders(&document, |url| {
            objects::Objects::key_of(url).map(|key| {
                self.objects
                    .presign(objects::Access::Get, key, None, expires_at)
            })
        }))
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[async_trait]
impl Backend for Emulator {
    fn location(&self) -> &Location {
        &self.location
    }

    async fn create_job(&self, job: NewJob) -> Result<JobCreated> {
        self.write(move |here, tx, now| jobs::create(tx, here, job, now))
            .await
    }

    async fn update_job(&self, job_id: &JobId, update: UpdateJob) -> Result<()> {
        let job_id = job_id.clone();
        self.write(move |_, tx, now| jobs::update(tx, &job_id, update, now))
            .await
    }

    async fn cancel_job(&self, cancel: CancelJob) -> Result<()> {
        self.write(move |_, tx, now| jobs::cancel(tx, cancel, now))
            .await
    }

    async fn delete_job(&self, job_id: &JobId, force: bool) -> Result<()> {
        let job_id = job_id.clone();
        self.write(move |_, tx, _| jobs::delete(tx, &job_id, force))
            .await
    }

    async fn describe_job(&self, job_id: &JobId) -> Result<Job> {
        let commits = self.db.commits();
        if let Some(job) = self.described_jobs.get(job_id, commits) {
            return Ok(job);
        }
        let id = job_id.clone();
        let job = self
            .read(move |here, conn| jobs::describe(conn, here, &id))
            .await?;
        self.described_jobs
            .put(job_id.clone(), commits, job.clone());
        Ok(job)
    }

    async fn get_job_document(&self, job_id: &JobId) -> Result<String> {
        let job_id = job_id.clone();
        self.read(move |_, conn| jobs::document(conn, &job_id))
            .await
    }

    async fn list_jobs(&self, filter: JobFilter, page: PageRequest) -> Result<Page<JobSummary>> {
        self.read(move |here, conn| jobs::list(conn, here, filter, page))
            .await
    }

    async fn associate_targets_with_job(
        &self,
        job_id: &JobId,
        targets: Vec<Target>,
        comment: Option<Text>,
    ) -> Result<()> {
        let job_id = job_id.clone();
        let comment = comment.map(String::from);
        self.write(move |here, tx, now| {
            jobs::targets::associate(tx, here, &job_id, targets, comment, now)
        })
        .await
    }

    async fn cancel_job_execution(&self, cancel: CancelJobExecution) -> Result<()> {
        self.write(move |_, tx, now| jobs::executions::cancel_execution(tx, cancel, now))
            .await
    }

    async fn delete_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: i64,
        force: bool,
    ) -> Result<()> {
        let (job_id, thing) = (job_id.clone(), thing_name.clone());
        self.write(move |_, tx, now| {
            jobs::executions::delete_execution(tx, &job_id, &thing, execution_number, force, now)
        })
        .await
    }

    async fn describe_job_execution(
        &self,
        job_id: &JobId,
        thing_name: &ThingName,
        execution_number: Option<i64>,
    ) -> Result<JobExecution> {
        let (job_id, thing) = (job_id.clone(), thing_name.clone());
        self.read(move |here, conn| {
            jobs::executions::describe_execution(conn, here, &job_id, &thing, execution_number)
        })
        .await
    }

    async fn list_job_executions_for_job(
        &self,
        job_id: &JobId,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForJob>> {
        let job_id = job_id.clone();
        self.read(move |here, conn| {
            jobs::executions::list_executions_for_job(conn, here, &job_id, status, page)
        })
        .await
    }

    async fn list_job_executions_for_thing(
        &self,
        thing_name: &ThingName,
        status: Option<ExecutionStatus>,
        page: PageRequest,
    ) -> Result<Page<ExecutionSummaryForThing>> {
        let thing = thing_name.clone();
        self.read(move |_, conn| {
            jobs::executions::list_executions_for_thing(conn, &thing, status, page)
        })
        .await
    }

    async fn create_job_template(&self, template: NewJobTemplate) -> Result<JobTemplateCreated> {
        self.write(move |here, tx, now| jobs::templates::create(tx, here, template, now))
            .await
    }

    async fn describe_job_template(&self, id: &JobTemplateId) -> Result<JobTemplate> {
        let id = id.clone();
        self.read(move |here, conn| jobs::templates::describe(conn, here, &id))
            .await
    }

    async fn delete_job_template(&self, id: &JobTemplateId) -> Result<()> {
        let id = id.clone();
        self.write(move |_, tx, _| jobs::templates::delete(tx, &id))
            .await
    }

    async fn list_job_templates(&self, page: PageRequest) -> Result<Page<JobTemplateSummary>> {
        self.read(move |here, conn| jobs::templates::list(conn, here, page))
            .await
    }
}

#[async_trait]
impl Registry for Emulator {
    async fn create_thing(&self, thing: CreateThing) -> Result<Created> {
        self.write(move |here, tx, now| {
            registry::things::create_thing(tx, here, thing, new_id(), now)
        })
        .await
    }

    async fn describe_thing(&self, name: &ThingName) -> Result<Thing> {
        let name = name.clone();
        self.read(move |here, conn| registry::things::describe_thing(conn, here, &name))
            .await
    }

    async fn list_things(
        &self,
        filter: ThingFilter,
        page: PageRequest,
    ) -> Result<Page<ThingSummary>> {
        self.read(move |here, conn| registry::things::list_things(conn, here, filter, page))
            .await
    }

    async fn update_thing(&self, name: &ThingName, update: UpdateThing) -> Result<()> {
        let name = name.clone();
        self.write(move |_, tx, now| registry::things::update_thing(tx, &name, update, now))
            .await
    }

    async fn delete_thing(&self, name: &ThingName, expected_version: Option<i64>) -> Result<()> {
        let name = name.clone();
        self.write(move |_, tx, now| {
            registry::things::delete_thing(tx, &name, expected_version, now)
        })
        .await
    }

    async fn list_thing_groups_for_thing(
        &self,
        name: &ThingName,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>> {
        let name = name.clone();
        self.read(move |here, conn| {
            registry::groups::list_groups_for_thing(conn, here, &name, page)
        })
        .await
    }

    async fn search_things(&self, query: &Query, page: PageRequest) -> Result<Page<ThingDocument>> {
        let query = query.clone();
        self.read(move |_, conn| index::search(conn, &query, page))
            .await
    }

    async fn create_thing_type(&self, thing_type: CreateThingType) -> Result<Created> {
        self.write(move |here, tx, now| thing_types::create(tx, here, thing_type, new_id(), now))
            .await
    }

    async fn describe_thing_type(&self, name: &ThingTypeName) -> Result<ThingType> {
        let name = name.clone();
        self.read(move |here, conn| thing_types::describe(conn, here, &name))
            .await
    }

    async fn list_thing_types(
        &self,
        name: Option<ThingTypeName>,
        page: PageRequest,
    ) -> Result<Page<ThingType>> {
        self.read(move |here, conn| thing_types::list(conn, here, name, page))
            .await
    }

    async fn deprecate_thing_type(&self, name: &ThingTypeName, undo: bool) -> Result<()> {
        let name = name.clone();
        self.write(move |_, tx, now| thing_types::deprecate(tx, &name, undo, now))
            .await
    }

    async fn delete_thing_type(&self, name: &ThingTypeName) -> Result<()> {
        let name = name.clone();
        let wait = self.thing_type_delete_wait;
        self.write(move |_, tx, now| thing_types::delete(tx, &name, wait, now))
            .await
    }

    async fn create_thing_group(&self, group: CreateThingGroup) -> Result<Created> {
        self.write(move |here, tx, now| {
            registry::groups::create_group(tx, here, group, new_id(), now)
        })
        .await
    }

    async fn describe_thing_group(&self, name: &ThingGroupName) -> Result<ThingGroup> {
        let name = name.clone();
        self.read(move |here, conn| registry::groups::describe_group(conn, here, &name))
            .await
    }

    async fn list_thing_groups(
        &self,
        filter: GroupFilter,
        page: PageRequest,
    ) -> Result<Page<GroupNameAndArn>> {
        self.read(move |here, conn| registry::groups::list_groups(conn, here, filter, page))
            .await
    }

    async fn update_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateThingGroup,
    ) -> Result<i64> {
        let name = name.clone();
        self.write(move |_, tx, _| registry::groups::update_group(tx, &name, update))
            .await
    }

    async fn delete_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let name = name.clone();
        self.write(move |_, tx, _| registry::groups::delete_group(tx, &name, expected_version))
            .await
    }

    async fn add_thing_to_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()> {
        let (group, thing) = (group.clone(), thing.clone());
        self.write(move |_, tx, now| registry::membership::add_member(tx, &group, &thing, now))
            .await
    }

    async fn remove_thing_from_thing_group(
        &self,
        group: &ThingGroupName,
        thing: &ThingName,
    ) -> Result<()> {
        let (group, thing) = (group.clone(), thing.clone());
        self.write(move |_, tx, now| registry::membership::remove_member(tx, &group, &thing, now))
            .await
    }

    async fn list_things_in_thing_group(
        &self,
        group: &ThingGroupName,
        recursive: bool,
        page: PageRequest,
    ) -> Result<Page<ThingName>> {
        let group = group.clone();
        self.read(move |_, conn| registry::membership::list_members(conn, &group, recursive, page))
            .await
    }

    async fn create_dynamic_thing_group(&self, group: CreateDynamicThingGroup) -> Result<Created> {
        self.write(move |here, tx, now| {
            registry::groups::create_dynamic_group(tx, here, group, new_id(), now)
        })
        .await
    }

    async fn update_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        update: UpdateDynamicThingGroup,
    ) -> Result<i64> {
        let name = name.clone();
        self.write(move |_, tx, now| registry::groups::update_dynamic_group(tx, &name, update, now))
            .await
    }

    async fn delete_dynamic_thing_group(
        &self,
        name: &ThingGroupName,
        expected_version: Option<i64>,
    ) -> Result<()> {
        let name = name.clone();
        self.write(move |_, tx, now| {
            registry::groups::delete_dynamic_group(tx, &name, expected_version, now)
        })
        .await
    }

    async fn get_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
    ) -> Result<ShadowDocument> {
        let (thing, shadow) = (thing.clone(), shadow.cloned());
        let now = self.clock.millis();
        self.read(move |_, conn| shadows::get(conn, &thing, shadow.as_ref(), now))
            .await
    }

    async fn update_shadow(
        &self,
        thing: &ThingName,
        shadow: Option<&ShadowName>,
        update: ShadowUpdate,
    ) -> Result<i64> {
        let (thing, shadow) = (thing.clone(), shadow.cloned());
        self.write(move |_, tx, now| shadows::update(tx, &thing, shadow.as_ref(), &update, now))
            .await
    }

    async fn delete_shadow(&self, thing: &ThingName, shadow: Option<&ShadowName>) -> Result<()> {
        let (thing, shadow) = (thing.clone(), shadow.cloned());
        self.write(move |_, tx, now| shadows::delete(tx, &thing, shadow.as_ref(), now))
            .await
    }

    async fn list_named_shadows(
        &self,
        thing: &ThingName,
        page: PageRequest,
    ) -> Result<Page<ShadowName>> {
        let thing = thing.clone();
        self.read(move |_, conn| shadows::list_named(conn, &thing, page))
            .await
    }
}

#[async_trait]
impl Catalog for Emulator {
    async fn create_category(&self, category: CreateCategory) -> Result<Category> {
        self.write(move |_, tx, now| catalog::create_category(tx, category, now))
            .await
    }

    async fn describe_category(&self, id: &CategoryId) -> Result<CategoryDetail> {
        let id = id.clone();
        self.read(move |_, conn| catalog::describe_category(conn, &id))
            .await
    }

    async fn list_categories(
        &self,
        parent: Option<CategoryId>,
        page: PageRequest,
    ) -> Result<Page<Category>> {
        self.read(move |_, conn| catalog::list_categories(conn, parent, page))
            .await
    }

    async fn update_category(&self, id: &CategoryId, description: Description) -> Result<()> {
        let id = id.clone();
        self.write(move |_, tx, now| catalog::update_category(tx, &id, description, now))
            .await
    }

    async fn delete_category(&self, id: &CategoryId) -> Result<()> {
        let id = id.clone();
        self.write(move |_, tx, _| catalog::delete_category(tx, &id))
            .await
    }

    async fn create_files(&self, files: Vec<NewFile>) -> Result<Vec<File>> {
        let objects = self.objects.clone();
        self.write(move |_, tx, now| catalog::create_files(tx, &objects, files, now))
            .await
    }

    async fn describe_file(&self, id: &FileId) -> Result<File> {
        let (id, objects) = (id.clone(), self.objects.clone());
        self.read(move |_, conn| catalog::describe_file(conn, &objects, &id))
            .await
    }

    async fn list_files(&self, filter: FileFilter, page: PageRequest) -> Result<Page<File>> {
        let objects = self.objects.clone();
        self.read(move |_, conn| catalog::list_files(conn, &objects, filter, page))
            .await
    }

    async fn find_file(&self, checksum: &Checksum, version: &FileVersion) -> Result<File> {
        let (checksum, version) = (checksum.clone(), version.clone());
        let objects = self.objects.clone();
        self.read(move |_, conn| catalog::find_file(conn, &objects, &checksum, &version))
            .await
    }

    async fn update_files(&self, updates: Vec<FileUpdate>) -> Result<()> {
        self.write(move |_, tx, now| catalog::update_files(tx, updates, now))
            .await
    }

    async fn delete_files(&self, ids: Vec<FileId>) -> Result<()> {
        let deleted = ids.clone();
        self.write(move |_, tx, _| catalog::delete_files(tx, &ids))
            .await?;
        // The rows are gone; bytes left behind by a failure here are unreachable, never wrong.
        for id in deleted {
            if let Err(error) = self.objects.delete(&catalog::object_key(&id)).await {
                tracing::warn!(%id, %error, "removing a deleted file's bytes failed");
            }
        }
        Ok(())
    }

    async fn transition_file(&self, id: &FileId, step: Transition) -> Result<File> {
        let (id, objects) = (id.clone(), self.objects.clone());
        self.write(move |_, tx, now| catalog::transition(tx, &objects, &id, step, now))
            .await
    }

    async fn start_upload(&self, id: &FileId, size: u64) -> Result<Upload> {
        let file = self.describe_file(id).await?;
        if let Some(refused) = file.refuse_upload() {
            return Err(refused);
        }
        self.check_size(size)?;
        self.begin_upload(id, None).await?;
        let expires_at = self.upload_expiry();
        let url = self.objects.presign(
            objects::Access::Put,
            &catalog::object_key(id),
            Some(file.checksum.as_str()),
            expires_at,
        );
        Ok(Upload {
            file_id: id.clone(),
            size,
            request: PresignedRequest {
                method: "PUT".into(),
                url,
                headers: [(
                    SHA256_HEADER.to_owned(),
                    sha256_header_value(&file.checksum)?,
                )]
                .into(),
                expires_at,
            },
        })
    }

    async fn start_multipart_upload(&self, id: &FileId, plan: PartPlan) -> Result<MultipartUpload> {
        let file = self.describe_file(id).await?;
        if let Some(refused) = file.refuse_upload() {
            return Err(refused);
        }
        self.check_size(plan.size)?;
        let upload_id = match self.multipart_in_progress(id).await? {
            Some((upload_id, current)) if current == plan => upload_id,
            _ => {
                let upload_id = uuid::Uuid::new_v4().to_string();
                self.begin_upload(id, Some((upload_id.clone(), plan)))
                    .await?;
                upload_id
            }
        };
        let expires_at = self.upload_expiry();
        let key = catalog::object_key(id);
        let parts = (1..=plan.part_count)
            .map(|number| UploadPart {
                part_number: number,
                size: plan.part_len(number),
                request: PresignedRequest {
                    method: "PUT".into(),
                    url: self
                        .objects
                        .presign_part(&key, &upload_id, number, expires_at),
                    headers: Default::default(),
                    expires_at,
                },
            })
            .collect();
        Ok(MultipartUpload::new(id.clone(), upload_id, plan, parts))
    }

    async fn complete_upload(&self, id: &FileId) -> Result<File> {
        if let Some((upload_id, plan)) = self.multipart_in_progress(id).await? {
            return self.complete_multipart(id, &upload_id, plan).await;
        }
        let stored = match self.objects.stat(&catalog::object_key(id)).await {
            Ok(stored) => Some(stored),
            Err(objects::ObjectError::NotFound(_)) => None,
            Err(e) => return Err(DomainError::Internal(e.to_string())),
        };
        let (id, objects) = (id.clone(), self.objects.clone());
        self.write(move |_, tx, now| {
            let file = catalog::describe_file(tx, &objects, &id)?;
            if file.state != FileState::PendingUpload {
                return Err(DomainError::InvalidStateTransition(format!(
                    "file {id} is {}: its upload was completed already",
                    file.state.as_str()
                ))
                .into());
            }
            let Some(stored) = stored.filter(|s| s.sha256 == file.checksum.as_str()) else {
                return Err(DomainError::Conflict(format!(
                    "file {id} has no verified bytes yet: PUT them to the URL of \
                     POST /files/by-id/{id}/upload (bytes whose sha256 is not the file's \
                     checksum are refused) and complete again"
                ))
                .into());
            };
            catalog::set_state(tx, &id, FileState::Draft, Some(stored.size), now)?;
            catalog::describe_file(tx, &objects, &id)
        })
        .await
    }

    async fn download_file(&self, id: &FileId, expires_in_sec: i64) -> Result<Download> {
        if let Some(download) = self
            .describe_file(id)
            .await?
            .download_without_presigning()?
        {
            return Ok(download);
        }
        let expires_at = self.clock.now() + time::Duration::seconds(expires_in_sec);
        Ok(Download {
            url: self.objects.presign(
                objects::Access::Get,
                &catalog::object_key(id),
                None,
                expires_at,
            ),
            expires_at: Some(expires_at),
        })
    }
}

#[async_trait]
impl JobsDataPlane for Emulator {
    async fn get_pending_job_executions(&self, thing: &ThingName) -> Result<PendingExecutions> {
        let thing = thing.clone();
        self.read(move |_, conn| device::pending(conn, &thing))
            .await
    }

    async fn start_next_pending_job_execution(
        &self,
        thing: &ThingName,
        body: StartNextBody,
    ) -> Result<Option<DeviceExecution>> {
        let thing = thing.clone();
        let started = self
            .write(move |_, tx, now| device::start_next(tx, &thing, body, now))
            .await?;
        match started {
            Some(execution) => Ok(Some(self.presigned_for_device(execution).await?)),
            None => Ok(None),
        }
    }

    async fn describe_device_execution(
        &self,
        thing: &ThingName,
        job: JobOrNext,
        execution_number: Option<i64>,
        include_job_document: bool,
    ) -> Result<DeviceExecution> {
        let thing = thing.clone();
        let now = self.clock.millis();
        let execution = self
            .read(move |_, conn| {
                device::describe(
                    conn,
                    &thing,
                    job,
                    execution_number,
                    include_job_document,
                    now,
                )
            })
            .await?;
        self.presigned_for_device(execution).await
    }

    async fn update_device_execution(&self, update: DeviceUpdate) -> Result<UpdateReply> {
        let job_id = update.job_id.clone();
        let mut reply = self
            .write(move |_, tx, now| device::update(tx, update, now))
            .await?;
        if let Some(document) = reply.job_document.take() {
            reply.job_document = Some(self.presign_document(&job_id, document).await?);
        }
        Ok(reply)
    }
}
