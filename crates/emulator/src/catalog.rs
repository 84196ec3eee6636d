//! The firmware catalog's rows: categories and files, each batch in one transaction, and the
//! jobs that deliver files (a file a running job names cannot be deleted).

use models::files::{
    Category, CategoryDetail, CategoryId, Checksum, CreateCategory, Description, File, FileFilter,
    FileId, FileState, FileUpdate, FileVersion, NewFile, PartPlan, Transition,
};
use models::ids::JobId;
use models::{DomainError, Page, PageRequest};
use rusqlite::{named_params, params, Connection, OptionalExtension, Row};

use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::objects::Objects;
use crate::{paging, rows};

/// The object key of a file's bytes.
pub(crate) fn object_key(id: &FileId) -> String {
    format!("files/{id}")
}

fn category_not_found(id: &CategoryId) -> Fail {
    DomainError::NotFound(format!("category {id} does not exist")).into()
}

fn file_not_found(id: &FileId) -> Fail {
    DomainError::NotFound(format!("file {id} does not exist")).into()
}

fn category_from_row(r: &Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        category_id: rows::text(r, "category_id")?,
        name: rows::text(r, "name")?,
        parent_id: rows::text_opt(r, "parent_id")?,
        description: rows::text_opt(r, "description")?,
        created_at: timestamp(r.get("created_at")?),
        updated_at: timestamp(r.get("updated_at")?),
    })
}

const CATEGORY_COLUMNS: &str =
    "seq, category_id, name, parent_id, description, created_at, updated_at";

pub(crate) fn create_category(
    conn: &Connection,
    new: CreateCategory,
    now: Millis,
) -> Res<Category> {
    if let Some(parent) = &new.parent_id {
        describe_category_row(conn, parent).map_err(|_| {
            Fail::from(DomainError::NotFound(format!(
                "parentId: category {parent} does not exist"
            )))
        })?;
    }
    let id = CategoryId::derive(&new.name, new.parent_id.as_ref());
    let inserted = conn
        .prepare_cached(
            "INSERT INTO categories (category_id, name, parent_id, description, created_at, updated_at) \
             VALUES (:id, :name, :parent, :description, :now, :now) ON CONFLICT (category_id) DO NOTHING",
        )?
        .execute(named_params! {
            ":id": id.as_str(),
            ":name": new.name.as_str(),
            ":parent": new.parent_id.as_ref().map(CategoryId::as_str),
            ":description": new.description.as_ref().map(Description::as_str),
            ":now": now,
        })?;
    if inserted == 0 {
        return Err(DomainError::AlreadyExists(format!(
            "category {:?} already exists under this parent (id {id})",
            new.name.as_str()
        ))
        .into());
    }
    describe_category_row(conn, &id)
}

fn describe_category_row(conn: &Connection, id: &CategoryId) -> Res<Category> {
    conn.prepare_cached(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE category_id = ?1"
    ))?
    .query_row([id.as_str()], category_from_row)
    .optional()?
    .ok_or_else(|| category_not_found(id))
}

pub(crate) fn describe_category(conn: &Connection, id: &CategoryId) -> Res<CategoryDetail> {
    let category = describe_category_row(conn, id)?;
    let children = match category.parent_id {
        None => Some(list_categories(
            conn,
            Some(id.clone()),
            CategoryDetail::children_page(),
        )?),
        Some(_) => None,
    };
    Ok(CategoryDetail::new(category, children))
}

pub(crate) fn list_categories(
    conn: &Connection,
    parent: Option<CategoryId>,
    page: PageRequest,
) -> Res<Page<Category>> {
    let list = match &parent {
        Some(parent) => format!("categories-{parent}"),
        None => "categories".to_owned(),
    };
    if let Some(parent) = &parent {
        describe_category_row(conn, parent).map_err(|_| {
            Fail::from(DomainError::NotFound(format!(
                "parentId: category {parent} does not exist"
            )))
        })?;
    }
    let after = paging::after_seq(&list, &page)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE parent_id IS ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(
            params![
                parent.as_ref().map(CategoryId::as_str),
                after,
                paging::fetch_limit(&page)
            ],
            |r| Ok((r.get::<_, i64>("seq")?.to_string(), category_from_row(r)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paging::finish(&list, &page, rows))
}

pub(crate) fn update_category(
    conn: &Connection,
    id: &CategoryId,
    description: Description,
    now: Millis,
) -> Res<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE categories SET description = ?2, updated_at = MAX(?3, updated_at + 1) WHERE category_id = ?1",
        )?
        .execute(params![id.as_str(), description.as_str(), now])?;
    if changed == 0 {
        return Err(category_not_found(id));
    }
    Ok(())
}

pub(crate) fn delete_category(conn: &Connection, id: &CategoryId) -> Res<()> {
    describe_category_row(conn, id)?;
    let count = |sql: &str| -> Res<i64> {
        Ok(conn
            .prepare_cached(sql)?
            .query_row([id.as_str()], |r| r.get(0))?)
    };
    let children = count("SELECT COUNT(*) FROM categories WHERE parent_id = ?1")?;
    let files = count("SELECT COUNT(*) FROM files WHERE category_id = ?1")?;
    if children > 0 || files > 0 {
        return Err(DomainError::Conflict(format!(
            "category {id} still has {children} child categories and {files} files; delete them first"
        ))
        .into());
    }
    conn.prepare_cached("DELETE FROM categories WHERE category_id = ?1")?
        .execute([id.as_str()])?;
    Ok(())
}

const FILE_COLUMNS: &str = "seq, file_id, category_id, version, locale, checksum, checksum_type, \
     summary, description, state, verified, size, location, created_at, updated_at, upload_error";

fn file_from_row(objects: &Objects, r: &Row<'_>) -> rusqlite::Result<File> {
    let file_id: FileId = rows::text(r, "file_id")?;
    let location: Option<models::files::ExternalLocation> = rows::text_opt(r, "location")?;
    let document_url = match &location {
        Some(location) => location.as_str().to_owned(),
        None => models::files::placeholder(&objects.object_url(&object_key(&file_id))),
    };
    Ok(File {
        category_id: rows::text(r, "category_id")?,
        version: rows::text(r, "version")?,
        locale: rows::text(r, "locale")?,
        checksum: rows::text(r, "checksum")?,
        checksum_type: rows::text(r, "checksum_type")?,
        summary: rows::text(r, "summary")?,
        description: rows::text(r, "description")?,
        state: rows::text(r, "state")?,
        verified: r.get("verified")?,
        size: r.get::<_, Option<i64>>("size")?.map(|s| s as u64),
        upload_error: r.get("upload_error")?,
        location,
        document_url,
        created_at: timestamp(r.get("created_at")?),
        updated_at: timestamp(r.get("updated_at")?),
        file_id,
    })
}

pub(crate) fn describe_file(conn: &Connection, objects: &Objects, id: &FileId) -> Res<File> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE file_id = ?1"
    ))?
    .query_row([id.as_str()], |r| file_from_row(objects, r))
    .optional()?
    .ok_or_else(|| file_not_found(id))
}

pub(crate) fn create_files(
    conn: &Connection,
    objects: &Objects,
    files: Vec<NewFile>,
    now: Millis,
) -> Res<Vec<File>> {
    let mut created = Vec::with_capacity(files.len());
    for (i, file) in files.into_iter().enumerate() {
        describe_category_row(conn, &file.category_id).map_err(|_| {
            Fail::from(DomainError::NotFound(format!(
                "files[{i}].categoryId: category {} does not exist",
                file.category_id
            )))
        })?;
        let id =
            FileId::from_uuid(&uuid::Uuid::new_v4().to_string()).map_err(DomainError::Internal)?;
        let state = if file.location.is_some() {
            FileState::Draft
        } else {
            FileState::PendingUpload
        };
        let inserted = conn
            .prepare_cached(
                "INSERT INTO files (file_id, category_id, version, locale, checksum, checksum_type, summary, \
                 description, state, verified, location, created_at, updated_at) \
                 VALUES (:id, :category, :version, :locale, :checksum, :type, :summary, :description, \
                 :state, 0, :location, :now, :now) ON CONFLICT (checksum, version) DO NOTHING",
            )?
            .execute(named_params! {
                ":id": id.as_str(),
                ":category": file.category_id.as_str(),
                ":version": file.version.as_str(),
                ":locale": file.locale.as_str(),
                ":checksum": file.checksum.as_str(),
                ":type": file.checksum_type.as_str(),
                ":summary": file.summary.as_ref().map_or("", |s| s.as_str()),
                ":description": file.description.as_ref().map_or("", |d| d.as_str()),
                ":state": state.as_str(),
                ":location": file.location.as_ref().map(|l| l.as_str()),
                ":now": now,
            })?;
        if inserted == 0 {
            return Err(DomainError::AlreadyExists(format!(
                "files[{i}]: a file with checksum {} and version {} already exists",
                file.checksum, file.version
            ))
            .into());
        }
        created.push(describe_file(conn, objects, &id)?);
    }
    Ok(created)
}

pub(crate) fn list_files(
    conn: &Connection,
    objects: &Objects,
    filter: FileFilter,
    page: PageRequest,
) -> Res<Page<File>> {
    let list = match &filter.category_id {
        Some(category) => {
            describe_category_row(conn, category)?;
            format!("files-{category}")
        }
        None => "files".to_owned(),
    };
    let after = paging::after_seq(&list, &page)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE (:category IS NULL OR category_id = :category) \
         AND (:locale IS NULL OR locale = :locale) AND (:state IS NULL OR state = :state) \
         AND seq > :after ORDER BY seq LIMIT :limit"
    ))?;
    let rows = stmt
        .query_map(
            named_params! {
                ":category": filter.category_id.as_ref().map(CategoryId::as_str),
                ":locale": filter.locale.as_ref().map(|l| l.as_str()),
                ":state": filter.state.map(FileState::as_str),
                ":after": after,
                ":limit": paging::fetch_limit(&page),
            },
            |r| {
                Ok((
                    r.get::<_, i64>("seq")?.to_string(),
                    file_from_row(objects, r)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paging::finish(&list, &page, rows))
}

pub(crate) fn find_file(
    conn: &Connection,
    objects: &Objects,
    checksum: &Checksum,
    version: &FileVersion,
) -> Res<File> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE checksum = ?1 AND version = ?2"
    ))?
    .query_row([checksum.as_str(), version.as_str()], |r| {
        file_from_row(objects, r)
    })
    .optional()?
    .ok_or_else(|| {
        DomainError::NotFound(format!(
            "no file has checksum {checksum} and version {version}"
        ))
        .into()
    })
}

pub(crate) fn update_files(conn: &Connection, updates: Vec<FileUpdate>, now: Millis) -> Res<()> {
    for (i, update) in updates.into_iter().enumerate() {
        let changed = conn
            .prepare_cached(
                "UPDATE files SET summary = COALESCE(:summary, summary), \
                 description = COALESCE(:description, description), \
                 updated_at = MAX(:now, updated_at + 1) WHERE file_id = :id",
            )?
            .execute(named_params! {
                ":summary": update.summary.as_ref().map(|s| s.as_str()),
                ":description": update.description.as_ref().map(|d| d.as_str()),
                ":now": now,
                ":id": update.file_id.as_str(),
            })?;
        if changed == 0 {
            return Err(DomainError::NotFound(format!(
                "files[{i}].fileId: file {} does not exist",
                update.file_id
            ))
            .into());
        }
    }
    Ok(())
}

/// Deletes the files' rows; the caller removes their bytes once this commits.
pub(crate) fn delete_files(conn: &Connection, ids: &[FileId]) -> Res<()> {
    for (i, id) in ids.iter().enumerate() {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE file_id = ?1)")?
            .query_row([id.as_str()], |r| r.get(0))?;
        if !exists {
            return Err(DomainError::NotFound(format!(
                "files[{i}].fileId: file {id} does not exist"
            ))
            .into());
        }
        let in_use: Option<String> = conn
            .prepare_cached(
                "SELECT j.job_id FROM job_files f JOIN jobs j ON j.job_id = f.job_id \
                 WHERE f.file_id = ?1 AND j.status NOT IN ('COMPLETED', 'CANCELED') LIMIT 1",
            )?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(job) = in_use {
            return Err(DomainError::Conflict(format!(
                "files[{i}]: file {id} is delivered by job {job:?}, which is not COMPLETED or \
                 CANCELED; cancel the job or wait for it to end"
            ))
            .into());
        }
        for sql in [
            "DELETE FROM job_files WHERE file_id = ?1",
            "DELETE FROM files WHERE file_id = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([id.as_str()])?;
        }
    }
    Ok(())
}

pub(crate) fn transition(
    conn: &Connection,
    objects: &Objects,
    id: &FileId,
    step: Transition,
    now: Millis,
) -> Res<File> {
    let file = describe_file(conn, objects, id)?;
    if let Some(refused) = step.refuse(id, file.state) {
        return Err(refused.into());
    }
    let (_, to) = step.states();
    set_state(conn, id, to, None, now)?;
    describe_file(conn, objects, id)
}

/// The multipart upload in progress of a file: its id and plan.
pub(crate) fn multipart_upload(conn: &Connection, id: &FileId) -> Res<Option<(String, PartPlan)>> {
    let row = conn
        .prepare_cached(
            "SELECT upload_id, upload_size, part_size FROM files \
             WHERE file_id = ?1 AND upload_id IS NOT NULL",
        )?
        .query_row([id.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    Ok(row.map(|(upload_id, size, part_size)| {
        let (size, part_size) = (size as u64, part_size as u64);
        let part_count = size.div_ceil(part_size);
        (
            upload_id,
            PartPlan {
                size,
                part_size,
                part_count,
            },
        )
    }))
}

/// Records the upload a PENDING_UPLOAD file's bytes now come through (a multipart upload's id
/// and plan, or None for a single PUT), forgetting any earlier one and its refusal. Answers the
/// id of the multipart upload it replaced, read in the same transaction, whose parts are no
/// longer wanted.
pub(crate) fn begin_upload(
    conn: &Connection,
    id: &FileId,
    multipart: Option<(&str, PartPlan)>,
    now: Millis,
) -> Res<Option<String>> {
    let earlier = multipart_upload(conn, id)?.map(|(upload_id, _)| upload_id);
    conn.prepare_cached(
        "UPDATE files SET upload_id = :upload, upload_size = :size, part_size = :part, \
         upload_error = NULL, updated_at = MAX(:now, updated_at + 1) WHERE file_id = :id",
    )?
    .execute(named_params! {
        ":upload": multipart.map(|(upload, _)| upload),
        ":size": multipart.map(|(_, plan)| plan.size as i64),
        ":part": multipart.map(|(_, plan)| plan.part_size as i64),
        ":now": now,
        ":id": id.as_str(),
    })?;
    Ok(earlier)
}

/// Ends a file's upload whose bytes were refused: it stays PENDING_UPLOAD, saying why.
pub(crate) fn refuse_upload(conn: &Connection, id: &FileId, why: &str, now: Millis) -> Res<()> {
    conn.prepare_cached(
        "UPDATE files SET upload_id = NULL, upload_size = NULL, part_size = NULL, \
         upload_error = :why, updated_at = MAX(:now, updated_at + 1) WHERE file_id = :id",
    )?
    .execute(named_params! {":why": why, ":now": now, ":id": id.as_str()})?;
    Ok(())
}

/// Moves a file to `state`, recording its size (and ending its upload) when its bytes have just
/// been verified.
pub(crate) fn set_state(
    conn: &Connection,
    id: &FileId,
    state: FileState,
    verified_size: Option<u64>,
    now: Millis,
) -> Res<()> {
    conn.prepare_cached(
        "UPDATE files SET state = :state, updated_at = MAX(:now, updated_at + 1), \
         size = COALESCE(:size, size), verified = verified OR :size IS NOT NULL, \
         upload_id = CASE WHEN :size IS NULL THEN upload_id END, \
         upload_size = CASE WHEN :size IS NULL THEN upload_size END, \
         part_size = CASE WHEN :size IS NULL THEN part_size END, \
         upload_error = CASE WHEN :size IS NULL THEN upload_error END WHERE file_id = :id",
    )?
    .execute(named_params! {
        ":state": state.as_str(),
        ":now": now,
        ":size": verified_size.map(|s| s as i64),
        ":id": id.as_str(),
    })?;
    Ok(())
}

/// Records that `job` delivers `files`, refusing any a job may not deliver; in the transaction
/// that creates the job.
pub(crate) fn deliver(conn: &Connection, job: &JobId, files: &[FileId]) -> Res<()> {
    for id in files {
        let state: FileState = conn
            .prepare_cached("SELECT state FROM files WHERE file_id = ?1")?
            .query_row([id.as_str()], |r| rows::text(r, "state"))
            .optional()?
            .ok_or_else(|| DomainError::NotFound(format!("files: file {id} does not exist")))?;
        if !state.deliverable() {
            return Err(DomainError::InvalidStateTransition(format!(
                "files: file {id} is {}; a job may deliver only PUBLISHED or DEPRECATED files",
                state.as_str()
            ))
            .into());
        }
        conn.prepare_cached("INSERT OR IGNORE INTO job_files (job_id, file_id) VALUES (?1, ?2)")?
            .execute([job.as_str(), id.as_str()])?;
    }
    Ok(())
}
