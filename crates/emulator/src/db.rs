//! The SQLite store: schema, connections, and running work off the async runtime.
//!
//! One writer thread owns the writer connection and serialises every change. It takes the
//! changes waiting for it in one batch: one transaction, each change in a savepoint of its own,
//! so a failed request changes nothing and the others of its batch still commit, and a request
//! is answered only once its batch has committed. Under load, many changes share one commit
//! instead of each paying for its own and for a thread hand-off. On a file, a few reader
//! connections serve reads concurrently in WAL mode; in memory, the writer serves reads too,
//! because a private in-memory database has one connection.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use models::DomainError;
use rusqlite::{Connection, OpenFlags};

/// A failure inside the store: a domain error to return as it is, or a SQLite fault.
#[derive(Debug)]
pub(crate) enum Fail {
    Domain(DomainError),
    Sql(rusqlite::Error),
}

impl From<DomainError> for Fail {
    fn from(e: DomainError) -> Self {
        Fail::Domain(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<Fail> for DomainError {
    fn from(fail: Fail) -> Self {
        match fail {
            Fail::Domain(e) => e,
            Fail::Sql(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                DomainError::Unavailable("the local database is busy; retry the request".into())
            }
            Fail::Sql(e) => DomainError::Internal(format!("sqlite: {e}")),
        }
    }
}

pub(crate) type Res<T> = Result<T, Fail>;

/// Where the emulator keeps its state.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Nothing survives the process.
    Memory,
    /// A SQLite database file, created when missing.
    File(PathBuf),
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS things (
    seq         INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    thing_id    TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    thing_type  TEXT
);
CREATE INDEX IF NOT EXISTS things_by_type ON things (thing_type) WHERE thing_type IS NOT NULL;
CREATE TABLE IF NOT EXISTS thing_values (
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    number     REAL,
    thing_seq  INTEGER NOT NULL,
    PRIMARY KEY (field, value, thing_seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS thing_values_by_number ON thing_values (field, number) WHERE number IS NOT NULL;
CREATE INDEX IF NOT EXISTS thing_values_by_thing ON thing_values (thing_seq);
CREATE TABLE IF NOT EXISTS thing_types (
    seq               INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    type_id           TEXT NOT NULL,
    description       TEXT,
    searchable        TEXT NOT NULL,
    deprecated_at     INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shadows (
    thing_name   TEXT NOT NULL,
    shadow_name  TEXT NOT NULL,
    document     TEXT NOT NULL,
    PRIMARY KEY (thing_name, shadow_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS thing_groups (
    seq          INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    group_id     TEXT NOT NULL,
    parent_name  TEXT,
    description  TEXT,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    attributes   TEXT NOT NULL DEFAULT '{}',
    query        TEXT
);
CREATE INDEX IF NOT EXISTS thing_groups_by_parent ON thing_groups (parent_name);
-- Whether a group is static, read with its name alone: a thing's static groups cost one seek each.
CREATE INDEX IF NOT EXISTS thing_groups_by_name_query ON thing_groups (name, query);
CREATE TABLE IF NOT EXISTS group_members (
    group_name  TEXT NOT NULL,
    thing_name  TEXT NOT NULL,
    PRIMARY KEY (group_name, thing_name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_by_thing ON group_members (thing_name);
CREATE TABLE IF NOT EXISTS jobs (
    seq                   INTEGER PRIMARY KEY,
    job_id                TEXT NOT NULL UNIQUE,
    target_selection      TEXT NOT NULL,
    status                TEXT NOT NULL,
    description           TEXT,
    document              TEXT NOT NULL,
    force_canceled        INTEGER NOT NULL DEFAULT 0,
    comment               TEXT,
    reason_code           TEXT,
    job_template_arn      TEXT,
    timeout_config        TEXT,
    rollout_config        TEXT,
    presigned_url_config  TEXT,
    created_at            INTEGER NOT NULL,
    last_updated_at       INTEGER NOT NULL,
    completed_at          INTEGER,
    abort_config          TEXT,
    retry_config          TEXT,
    scheduling_config     TEXT,
    start_due             INTEGER,
    end_due               INTEGER,
    rollout_next_at       INTEGER,
    rollout_rate          INTEGER,
    rollout_mark          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS job_targets (
    job_id      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    arn         TEXT NOT NULL,
    thing_name  TEXT,
    group_name  TEXT,
    PRIMARY KEY (job_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_targets_by_group ON job_targets (group_name) WHERE group_name IS NOT NULL;
CREATE TABLE IF NOT EXISTS job_executions (
    seq               INTEGER PRIMARY KEY,
    job_id            TEXT NOT NULL,
    thing_name        TEXT NOT NULL,
    execution_number  INTEGER NOT NULL,
    latest            INTEGER NOT NULL,
    status            TEXT NOT NULL,
    status_details    TEXT NOT NULL,
    force_canceled    INTEGER NOT NULL DEFAULT 0,
    version_number    INTEGER NOT NULL,
    queued_at         INTEGER NOT NULL,
    started_at        INTEGER,
    last_updated_at   INTEGER NOT NULL,
    in_progress_deadline  INTEGER,
    step_deadline         INTEGER,
    retry_attempt         INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, thing_name, execution_number)
);
CREATE INDEX IF NOT EXISTS job_executions_by_thing ON job_executions (thing_name, seq);
CREATE INDEX IF NOT EXISTS job_executions_by_job_status ON job_executions (job_id, status) WHERE latest = 1;
-- How many of a job's things have their latest execution in each status, kept by the triggers
-- below in the same transaction as every change of job_executions, so a job's progress is read
-- in a few rows however many things it targets.
CREATE TABLE IF NOT EXISTS job_execution_counts (
    job_id  TEXT NOT NULL,
    status  TEXT NOT NULL,
    count   INTEGER NOT NULL,
    PRIMARY KEY (job_id, status)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS job_execution_counts_insert AFTER INSERT ON job_executions
WHEN NEW.latest = 1 BEGIN
    INSERT INTO job_execution_counts (job_id, status, count) VALUES (NEW.job_id, NEW.status, 1)
        ON CONFLICT (job_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TRIGGER IF NOT EXISTS job_execution_counts_delete AFTER DELETE ON job_executions
WHEN OLD.latest = 1 BEGIN
    UPDATE job_execution_counts SET count = count - 1
        WHERE job_id = OLD.job_id AND status = OLD.status;
END;
CREATE TRIGGER IF NOT EXISTS job_execution_counts_update
AFTER UPDATE OF job_id, status, latest ON job_executions
WHEN OLD.latest = 1 OR NEW.latest = 1 BEGIN
    UPDATE job_execution_counts SET count = count - 1
        WHERE OLD.latest = 1 AND job_id = OLD.job_id AND status = OLD.status;
    INSERT INTO job_execution_counts (job_id, status, count)
        SELECT NEW.job_id, NEW.status, 1 WHERE NEW.latest = 1
        ON CONFLICT (job_id, status) DO UPDATE SET count = count + 1;
END;
CREATE TABLE IF NOT EXISTS rollout_pending (
    seq         INTEGER PRIMARY KEY,
    job_id      TEXT NOT NULL,
    thing_name  TEXT NOT NULL,
    UNIQUE (job_id, thing_name)
);
CREATE TABLE IF NOT EXISTS manual_clock (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    now  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS categories (
    seq          INTEGER PRIMARY KEY,
    category_id  TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    parent_id    TEXT,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS categories_by_parent ON categories (parent_id, seq);
CREATE TABLE IF NOT EXISTS files (
    seq            INTEGER PRIMARY KEY,
    file_id        TEXT NOT NULL UNIQUE,
    category_id    TEXT NOT NULL,
    version        TEXT NOT NULL,
    locale         TEXT NOT NULL,
    checksum       TEXT NOT NULL,
    checksum_type  TEXT NOT NULL,
    summary        TEXT NOT NULL,
    description    TEXT NOT NULL,
    state          TEXT NOT NULL,
    verified       INTEGER NOT NULL,
    size           INTEGER,
    location       TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    upload_id      TEXT,
    upload_size    INTEGER,
    part_size      INTEGER,
    upload_error   TEXT,
    UNIQUE (checksum, version)
);
CREATE INDEX IF NOT EXISTS files_by_category ON files (category_id, seq);
CREATE TABLE IF NOT EXISTS job_files (
    job_id   TEXT NOT NULL,
    file_id  TEXT NOT NULL,
    PRIMARY KEY (file_id, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS job_files_by_job ON job_files (job_id);
CREATE TABLE IF NOT EXISTS job_templates (
    seq                   INTEGER PRIMARY KEY,
    template_id           TEXT NOT NULL UNIQUE,
    description           TEXT NOT NULL,
    document              TEXT NOT NULL,
    timeout_config        TEXT,
    rollout_config        TEXT,
    presigned_url_config  TEXT,
    created_at            INTEGER NOT NULL,
    abort_config          TEXT,
    retry_config          TEXT
);
"#;

/// The layout `SCHEMA` creates, kept in SQLite's `user_version`. An older database is brought up
/// to date by `MIGRATIONS`; a newer one is refused rather than misread.
const SCHEMA_VERSION: i64 = 9;

/// `MIGRATIONS[n]` turns a database of version n + 1 into version n + 2: the table it changes
/// and how. A database older than that table gets it whole from `SCHEMA` instead.
const MIGRATIONS: [(&str, &str); 8] = [
    // 2: the timers of IN_PROGRESS executions.
    (
        "job_executions",
        "ALTER TABLE job_executions ADD COLUMN in_progress_deadline INTEGER;
     ALTER TABLE job_executions ADD COLUMN step_deadline INTEGER;",
    ),
    // 3: abort and retry configurations, and which retry an execution is.
    (
        "jobs",
        "ALTER TABLE jobs ADD COLUMN abort_config TEXT;
     ALTER TABLE jobs ADD COLUMN retry_config TEXT;
     ALTER TABLE job_templates ADD COLUMN abort_config TEXT;
     ALTER TABLE job_templates ADD COLUMN retry_config TEXT;
     ALTER TABLE job_executions ADD COLUMN retry_attempt INTEGER NOT NULL DEFAULT 0;",
    ),
    // 4: scheduling, and the rollout's progress.
    (
        "jobs",
        "ALTER TABLE jobs ADD COLUMN scheduling_config TEXT;
     ALTER TABLE jobs ADD COLUMN start_due INTEGER;
     ALTER TABLE jobs ADD COLUMN end_due INTEGER;
     ALTER TABLE jobs ADD COLUMN rollout_next_at INTEGER;
     ALTER TABLE jobs ADD COLUMN rollout_rate INTEGER;
     ALTER TABLE jobs ADD COLUMN rollout_mark INTEGER NOT NULL DEFAULT 0;",
    ),
    // 5: thing types, group attributes, dynamic groups' queries (thing types and shadows are
    // new tables, which SCHEMA creates).
    (
        "things",
        "ALTER TABLE things ADD COLUMN thing_type TEXT;
     ALTER TABLE thing_groups ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
     ALTER TABLE thing_groups ADD COLUMN query TEXT;",
    ),
    // 6: the firmware catalog, all new tables, which SCHEMA creates.
    ("files", ""),
    // 7: a file's multipart upload in progress, and why its last upload was refused.
    (
        "files",
        "ALTER TABLE files ADD COLUMN upload_id TEXT;
     ALTER TABLE files ADD COLUMN upload_size INTEGER;
     ALTER TABLE files ADD COLUMN part_size INTEGER;
     ALTER TABLE files ADD COLUMN upload_error TEXT;",
    ),
    // 8: things' searchable values, a new table that SCHEMA creates and `create_schema` fills.
    ("thing_values", ""),
    // 9: jobs' executions counted by status, a new table that SCHEMA creates and `create_schema`
    // fills.
    ("job_execution_counts", ""),
];

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("opening the directory of files' bytes beside the database: {0}")]
    Objects(std::io::Error),
    #[error("starting the local database's writer thread: {0}")]
    Writer(std::io::Error),
    #[error("indexing the things of a database written before the fleet index: {0}")]
    Index(String),
    #[error("the database has schema version {found}, newer than this emulator's {SCHEMA_VERSION}; use another --db file or a newer emulator")]
    SchemaVersion { found: i64 },
}

pub(crate) fn create_schema(conn: &Connection) -> Result<(), OpenError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has_tables: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table')",
        [],
        |r| r.get(0),
    )?;
    if has_tables && !(1..=SCHEMA_VERSION).contains(&found) {
        return Err(OpenError::SchemaVersion { found });
    }
    if has_tables {
        for (from, (table, migration)) in MIGRATIONS.iter().enumerate().skip((found - 1) as usize) {
            tracing::info!(from = from + 1, "migrating the local database");
            let to = from + 2;
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                [table],
                |r| r.get(0),
            )?;
            let migration = if exists { migration } else { "" };
            conn.execute_batch(&format!(
                "BEGIN; {migration} PRAGMA user_version = {to}; COMMIT;"
            ))?;
        }
    }
    conn.execute_batch(SCHEMA)?;
    if has_tables && found < 8 {
        tracing::info!("indexing the things of the local database");
        let tx = conn.unchecked_transaction()?;
        crate::index::rebuild(&tx)
            .map_err(|e| OpenError::Index(DomainError::from(e).to_string()))?;
        tx.commit()?;
    }
    if has_tables && found < 9 {
        tracing::info!("counting the job executions of the local database");
        conn.execute_batch(
            "BEGIN;
             DELETE FROM job_execution_counts;
             INSERT INTO job_execution_counts (job_id, status, count)
                 SELECT job_id, status, COUNT(*) FROM job_executions WHERE latest = 1
                 GROUP BY job_id, status;
             COMMIT;",
        )?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Reader connections kept open for a database file: at least one per async worker thread.
fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(4)
}

/// Most changes committed together: a batch waits for none, it takes what is already queued.
const MAX_BATCH: usize = 256;

/// A change waiting for the writer thread: it runs its work inside the batch's transaction (or
/// fails with the error that kept the transaction from starting) and returns how to deliver its
/// result once the batch's commit succeeded or failed.
type Job = Box<dyn FnOnce(Result<&Connection, DomainError>) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce(Result<(), DomainError>) + Send>;

pub(crate) struct Db {
    writer: Arc<Mutex<Connection>>,
    jobs: mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// How many batches the writer has committed; it counts each before answering its changes.
    commits: Arc<AtomicU64>,
}

impl Db {
    pub(crate) fn open(storage: &Storage) -> Result<Arc<Self>, OpenError> {
        let (writer, readers) = match storage {
            Storage::Memory => {
                let writer = Connection::open_in_memory()?;
                create_schema(&writer)?;
                (writer, Vec::new())
            }
            Storage::File(path) => {
                let writer = Connection::open(path)?;
                writer.pragma_update(None, "journal_mode", "WAL")?;
                writer.pragma_update(None, "synchronous", "NORMAL")?;
                // Checkpoints copy the WAL into the database and sync it; fewer, larger ones
                // copy hot pages once instead of many times.
                writer.pragma_update(None, "wal_autocheckpoint", 8000)?;
                writer.pragma_update(None, "cache_size", -32768)?;
                create_schema(&writer)?;
                let readers = (0..reader_count())
                    .map(|_| open_reader(path))
                    .collect::<Result<Vec<_>, _>>()?;
                (writer, readers)
            }
        };
        writer.busy_timeout(std::time::Duration::from_secs(5))?;
        let writer = Arc::new(Mutex::new(writer));
        let (jobs, queue) = mpsc::channel();
        let connection = Arc::clone(&writer);
        let commits = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_batches(&connection, &queue, &counted))
            .map_err(OpenError::Writer)?;
        Ok(Arc::new(Db {
            writer,
            jobs,
            readers: readers.into_iter().map(Mutex::new).collect(),
            next_reader: AtomicUsize::new(0),
            commits,
        }))
    }

    /// How many batches have been committed so far. A read that starts after seeing this
    /// count sees every change answered before it was taken.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// The time a manual clock last showed on this store, if one ever ran on it.
    pub(crate) fn manual_clock(&self) -> models::Result<Option<i64>> {
        use rusqlite::OptionalExtension;
        let conn = lock(&self.writer);
        conn.prepare_cached("SELECT now FROM manual_clock WHERE id = 1")
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map_err(|e| DomainError::from(Fail::Sql(e)))
    }

    /// The ids of the multipart uploads in progress.
    pub(crate) fn uploads_in_progress(&self) -> models::Result<Vec<String>> {
        let conn = lock(&self.writer);
        conn.prepare_cached("SELECT upload_id FROM files WHERE upload_id IS NOT NULL")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| DomainError::from(Fail::Sql(e)))
    }

    /// Runs `work` on the writer thread; what it changes is committed only if it succeeds, and
    /// its result comes back once it is committed.
    pub(crate) async fn write<T, F>(self: &Arc<Self>, work: F) -> models::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Res<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = conn.and_then(|conn| in_savepoint(conn, work).map_err(DomainError::from));
            Box::new(move |committed| {
                let _ = reply.send(result.and_then(|value| committed.map(|()| value)));
            })
        });
        let stopped = || DomainError::Internal("the local database's writer stopped".into());
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `work` on a reader connection, or on the writer when there are none.
    ///
    /// With reader connections (a database file), the read runs right here on the async worker:
    /// reads are short indexed lookups, and there are at least as many readers as workers, so it
    /// never waits for a connection, and it saves two thread hops per request. In memory, reads
    /// share the writer, which a long write may hold, so they go to the blocking pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> models::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Res<T> + Send + 'static,
    {
        if self.readers.is_empty() {
            let db = Arc::clone(self);
            return run_blocking(move || read_snapshot(&db.reader(), work)).await;
        }
        read_snapshot(&self.reader(), work).map_err(DomainError::from)
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return lock(&self.writer);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for offset in 0..self.readers.len() {
            if let Ok(conn) = self.readers[(start + offset) % self.readers.len()].try_lock() {
                return conn;
            }
        }
        lock(&self.readers[start % self.readers.len()])
    }
}

/// The writer thread: takes the changes queued, up to `MAX_BATCH`, runs them in one transaction
/// and answers each once it is committed and counted, until the store is dropped.
fn write_batches(writer: &Mutex<Connection>, queue: &mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let conn = lock(writer);
        if let Err(e) = conn
            .prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
        {
            // Nothing is written outside a transaction: each change fails without running.
            let error = DomainError::from(Fail::Sql(e));
            for job in batch {
                job(Err(error.clone()))(Ok(()));
            }
            continue;
        }
        let deliveries: Vec<Deliver> = batch.into_iter().map(|job| job(Ok(&conn))).collect();
        let committed = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map(drop)
            .map_err(|e| DomainError::from(Fail::Sql(e)));
        if committed.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        drop(conn);
        commits.fetch_add(1, Ordering::Release);
        for deliver in deliveries {
            deliver(committed.clone());
        }
    }
}

/// Runs one change in a savepoint of the batch's transaction, undone if it fails or panics.
fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
    conn.prepare_cached("SAVEPOINT change")?.execute([])?;
    let result =
        std::panic::catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(DomainError::Internal(format!("a change panicked: {message}")).into())
        });
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO change")?.execute([])?;
    }
    conn.prepare_cached("RELEASE change")?.execute([])?;
    result
}

/// Runs `work` in one read transaction, so a read of several statements sees one snapshot.
fn read_snapshot<T>(conn: &Connection, work: impl FnOnce(&Connection) -> Res<T>) -> Res<T> {
    if !conn.is_autocommit() {
        // A panic left a read open on this connection; end it before starting another.
        conn.prepare_cached("ROLLBACK")?.execute([])?;
    }
    conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
    let result = work(conn);
    conn.prepare_cached("COMMIT")?.execute([])?;
    result
}

fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// A poisoned lock only means another request panicked while holding it; SQLite rolled that
/// request's transaction back, so the connection is still sound.
fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Res<T> + Send + 'static,
) -> models::Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(DomainError::from),
        Err(e) => Err(DomainError::Internal(format!("storage task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_another_schema_version_is_refused() {
        let dir = std::env::temp_dir().join(format!("iot-api-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let storage = Storage::File(dir.join("state.db"));
        drop(Db::open(&storage).unwrap());
        drop(Db::open(&storage).expect("the same version opens again"));
        Connection::open(dir.join("state.db"))
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let error = Db::open(&storage).err().unwrap();
        assert!(error.to_string().contains("schema version 99"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_version_1_database_is_migrated() {
        let dir = std::env::temp_dir().join(format!("iot-api-migrate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        drop(Db::open(&Storage::File(path.clone())).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE job_executions DROP COLUMN in_progress_deadline;
             ALTER TABLE job_executions DROP COLUMN step_deadline;
             ALTER TABLE job_executions DROP COLUMN retry_attempt;
             ALTER TABLE jobs DROP COLUMN abort_config;
             ALTER TABLE jobs DROP COLUMN retry_config;
             ALTER TABLE job_templates DROP COLUMN abort_config;
             ALTER TABLE job_templates DROP COLUMN retry_config;
             ALTER TABLE jobs DROP COLUMN scheduling_config;
             ALTER TABLE jobs DROP COLUMN start_due;
             ALTER TABLE jobs DROP COLUMN end_due;
             ALTER TABLE jobs DROP COLUMN rollout_next_at;
             ALTER TABLE jobs DROP COLUMN rollout_rate;
             ALTER TABLE jobs DROP COLUMN rollout_mark;
             DROP INDEX things_by_type;
             ALTER TABLE things DROP COLUMN thing_type;
             ALTER TABLE thing_groups DROP COLUMN attributes;
             DROP INDEX thing_groups_by_name_query;
             ALTER TABLE thing_groups DROP COLUMN query;
             DROP TABLE thing_types;
             DROP TABLE shadows;
             DROP TABLE categories;
             DROP TABLE files;
             DROP TABLE job_files;
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        drop(Db::open(&Storage::File(path.clone())).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.prepare(
            "SELECT in_progress_deadline, step_deadline, retry_attempt FROM job_executions",
        )
        .unwrap();
        conn.prepare("SELECT abort_config, retry_config FROM jobs")
            .unwrap();
        conn.prepare("SELECT thing_type FROM things").unwrap();
        conn.prepare("SELECT attributes, query FROM thing_groups")
            .unwrap();
        conn.prepare("SELECT document FROM shadows").unwrap();
        conn.prepare("SELECT deprecated_at FROM thing_types")
            .unwrap();
        conn.prepare("SELECT upload_id, upload_error FROM files")
            .unwrap();
        drop(conn);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A database file of this emulator taken back to an older version by `downgrade`, then
    /// opened again: its folder (to remove) and a connection to what the migration made of it.
    fn migrated(version: i64, downgrade: &str) -> (std::path::PathBuf, Connection) {
        let dir =
            std::env::temp_dir().join(format!("iot-api-migrate-{version}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.db");
        drop(Db::open(&Storage::File(path.clone())).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("{downgrade} PRAGMA user_version = {version};"))
            .unwrap();
        drop(Db::open(&Storage::File(path.clone())).unwrap());
        (dir, Connection::open(&path).unwrap())
    }

    #[test]
    fn a_version_6_catalog_gains_the_upload_columns() {
        let (dir, conn) = migrated(
            6,
            "ALTER TABLE files DROP COLUMN upload_id;
             ALTER TABLE files DROP COLUMN upload_size;
             ALTER TABLE files DROP COLUMN part_size;
             ALTER TABLE files DROP COLUMN upload_error;",
        );
        conn.prepare("SELECT upload_id, upload_size, part_size, upload_error FROM files")
            .unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_version_7_database_gets_its_things_indexed() {
        let (dir, conn) = migrated(
            7,
            "INSERT INTO things (name, thing_id, attributes, version, created_at) \
             VALUES ('lamp-1', 'id', '{\"floor\":\"3\"}', 1, 0);
             DROP TABLE thing_values;",
        );
        let indexed: (String, String, f64) = conn
            .query_row("SELECT field, value, number FROM thing_values", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(indexed, ("attributes.floor".into(), "3".into(), 3.0));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// One change of `job_executions`, as the jobs code makes them.
    #[derive(Clone, Debug)]
    enum Change {
        /// A new latest execution of a thing (a job reaching it, or a retry).
        Queue { job: u8, thing: u8 },
        /// Its latest execution moves to another status.
        Status { job: u8, thing: u8, status: u8 },
        /// Its latest execution is deleted (DeleteJobExecution, DeleteThing).
        Delete { job: u8, thing: u8 },
        /// Its latest execution is deleted and the one before becomes the latest again.
        Restore { job: u8, thing: u8 },
    }

    const STATUSES: [&str; 4] = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED"];

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        let (job, thing) = (0..2u8, 0..3u8);
        prop_oneof![
            (job.clone(), thing.clone()).prop_map(|(job, thing)| Change::Queue { job, thing }),
            (job.clone(), thing.clone(), 0..4u8).prop_map(|(job, thing, status)| Change::Status {
                job,
                thing,
                status
            }),
            (job.clone(), thing.clone()).prop_map(|(job, thing)| Change::Delete { job, thing }),
            (job, thing).prop_map(|(job, thing)| Change::Restore { job, thing }),
        ]
    }

    fn apply(conn: &Connection, change: &Change) {
        let (job, thing) = match change {
            Change::Queue { job, thing }
            | Change::Status { job, thing, .. }
            | Change::Delete { job, thing }
            | Change::Restore { job, thing } => (format!("job-{job}"), format!("thing-{thing}")),
        };
        let sql = match change {
            Change::Queue { .. } => {
                "UPDATE job_executions SET latest = 0 WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1;
                 INSERT INTO job_executions (job_id, thing_name, execution_number, latest, status,
                     status_details, version_number, queued_at, last_updated_at)
                 SELECT ?1, ?2, COALESCE(MAX(execution_number), 0) + 1, 1, 'QUEUED', '{}', 1, 0, 0
                 FROM job_executions WHERE job_id = ?1 AND thing_name = ?2;"
            }
            Change::Status { .. } => {
                "UPDATE job_executions SET status = ?3 WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1;"
            }
            Change::Delete { .. } => {
                "DELETE FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1;"
            }
            Change::Restore { .. } => {
                "DELETE FROM job_executions WHERE job_id = ?1 AND thing_name = ?2 AND latest = 1;
                 UPDATE job_executions SET latest = 1 WHERE job_id = ?1 AND thing_name = ?2
                     AND execution_number = (SELECT MAX(execution_number) FROM job_executions
                                             WHERE job_id = ?1 AND thing_name = ?2);"
            }
        };
        let status = match change {
            Change::Status { status, .. } => STATUSES[*status as usize],
            _ => "",
        };
        for statement in sql.split_terminator(';').filter(|s| !s.trim().is_empty()) {
            let mut statement = conn.prepare(statement).unwrap();
            let wanted = statement.parameter_count();
            let values = [job.as_str(), thing.as_str(), status];
            statement
                .execute(rusqlite::params_from_iter(&values[..wanted]))
                .unwrap();
        }
    }

    proptest::proptest! {
        /// Whatever happens to executions, the counts the triggers keep are what counting the
        /// latest executions gives.
        #[test]
        fn job_execution_counts_follow_every_change(
            changes in proptest::collection::vec(change(), 0..40)
        ) {
            let conn = Connection::open_in_memory().unwrap();
            create_schema(&conn).unwrap();
            for change in &changes {
                apply(&conn, change);
            }
            let read = |sql: &str| -> Vec<(String, String, i64)> {
                conn.prepare(sql)
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            let kept = read(
                "SELECT job_id, status, count FROM job_execution_counts WHERE count > 0 \
                 ORDER BY job_id, status",
            );
            let counted = read(
                "SELECT job_id, status, COUNT(*) FROM job_executions WHERE latest = 1 \
                 GROUP BY job_id, status ORDER BY job_id, status",
            );
            proptest::prop_assert_eq!(kept, counted);
        }
    }

    #[test]
    fn a_version_8_database_gets_its_job_executions_counted() {
        let (dir, conn) = migrated(
            8,
            "DROP TRIGGER job_execution_counts_insert;
             DROP TRIGGER job_execution_counts_delete;
             DROP TRIGGER job_execution_counts_update;
             DROP TABLE job_execution_counts;
             INSERT INTO job_executions (job_id, thing_name, execution_number, latest, status,
                 status_details, version_number, queued_at, last_updated_at)
             VALUES ('fw', 'lamp-1', 1, 0, 'FAILED', '{}', 1, 0, 0),
                    ('fw', 'lamp-1', 2, 1, 'SUCCEEDED', '{}', 1, 0, 0),
                    ('fw', 'lamp-2', 1, 1, 'SUCCEEDED', '{}', 1, 0, 0);",
        );
        let counts: Vec<(String, i64)> = conn
            .prepare("SELECT status, count FROM job_execution_counts WHERE job_id = 'fw'")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(counts, [("SUCCEEDED".to_string(), 2)]);
        drop(conn);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_that_fails_or_panics_leaves_the_others_of_its_batch_committed() {
        let db = Db::open(&Storage::Memory).unwrap();
        let mut changes = tokio::task::JoinSet::new();
        for n in 0..200i64 {
            let db = Arc::clone(&db);
            changes.spawn(async move {
                let result = db
                    .write(move |conn| {
                        conn.execute(
                            "INSERT INTO manual_clock (id, now) VALUES (1, ?1) \
                             ON CONFLICT (id) DO UPDATE SET now = now + ?1",
                            [n],
                        )?;
                        match n % 3 {
                            0 => Ok(n),
                            1 => Err(DomainError::Conflict(format!("change {n}")).into()),
                            _ => panic!("change {n}"),
                        }
                    })
                    .await;
                (n, result)
            });
        }
        let mut committed = 0;
        while let Some(done) = changes.join_next().await {
            let (n, result) = done.unwrap();
            match n % 3 {
                0 => {
                    assert_eq!(result, Ok(n));
                    committed += n;
                }
                1 => assert_eq!(result, Err(DomainError::Conflict(format!("change {n}")))),
                _ => assert!(
                    matches!(&result, Err(DomainError::Internal(m)) if m.contains(&format!("change {n}"))),
                    "{result:?}"
                ),
            }
        }
        assert_eq!(db.manual_clock().unwrap(), Some(committed));
    }
}
