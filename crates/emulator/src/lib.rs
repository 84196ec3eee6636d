//! An embedded emulator of AWS IoT jobs and the thing registry, on SQLite.
//!
//! It implements [`models::Backend`] with AWS IoT's rules (states, force, versions, continuous
//! jobs, groups), so the API behaves locally as it does on AWS. Rules the AWS documentation does
//! not settle are marked **[inferred]** where they are made.

mod clock;
mod db;
mod device;
mod index;
mod jobs;
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
use models::{Backend, Page, PageRequest, Registry, Result};

pub use clock::Clock;
pub use db::{OpenError, Storage};
pub use thing_types::DEFAULT_DELETE_WAIT as DEFAULT_THING_TYPE_DELETE_WAIT;

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
    clock: Clock,
    /// How long a deprecated thing type must wait before it may be deleted.
    thing_type_delete_wait: std::time::Duration,
}

impl Emulator {
    /// Opens (creating when missing) the store and its schema.
    pub fn open(storage: &Storage, location: Location) -> std::result::Result<Self, OpenError> {
        Ok(Emulator {
            location,
            db: db::Db::open(storage)?,
            clock: Clock::System,
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
        let job_id = job_id.clone();
        self.read(move |here, conn| jobs::describe(conn, here, &job_id))
            .await
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
        self.write(move |_, tx, now| device::start_next(tx, &thing, body, now))
            .await
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
        self.read(move |_, conn| {
            device::describe(
                conn,
                &thing,
                job,
                execution_number,
                include_job_document,
                now,
            )
        })
        .await
    }

    async fn update_device_execution(&self, update: DeviceUpdate) -> Result<UpdateReply> {
        self.write(move |_, tx, now| device::update(tx, update, now))
            .await
    }
}
