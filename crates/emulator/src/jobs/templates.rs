//! Job templates: a document and configurations stored once, which a job names instead of
//! repeating them (`jobs::create` takes what the job leaves out from its template).

use models::ids::{JobTemplateId, Location};
use models::job::{JobTemplate, JobTemplateCreated, JobTemplateSummary, NewJobTemplate};
use models::{DomainError, Page, PageRequest};
use rusqlite::{named_params, params, Connection, OptionalExtension};

use crate::clock::{timestamp, Millis};
use crate::db::{Fail, Res};
use crate::{paging, rows};

fn template_not_found(id: &JobTemplateId) -> Fail {
    DomainError::NotFound(format!("job template {:?} does not exist", id.as_str())).into()
}

pub(crate) fn create(
    conn: &Connection,
    here: &Location,
    t: NewJobTemplate,
    now: Millis,
) -> Res<JobTemplateCreated> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO job_templates (template_id, description, document, timeout_config, rollout_config, \
             presigned_url_config, abort_config, retry_config, created_at) \
             VALUES (:template_id, :description, :document, :timeout_config, :rollout_config, \
             :presigned_url_config, :abort_config, :retry_config, :now) \
             ON CONFLICT (template_id) DO NOTHING",
        )?
        .execute(named_params! {
            ":template_id": t.job_template_id.as_str(),
            ":description": t.description.as_str(),
            ":document": t.document.as_str(),
            ":timeout_config": rows::to_json_opt(&t.timeout_config)?,
            ":rollout_config": rows::to_json_opt(&t.job_executions_rollout_config)?,
            ":presigned_url_config": rows::to_json_opt(&t.presigned_url_config)?,
            ":abort_config": rows::to_json_opt(&t.abort_config)?,
            ":retry_config": rows::to_json_opt(&t.job_executions_retry_config)?,
            ":now": now,
        })?;
    if inserted == 0 {
        return Err(DomainError::AlreadyExists(format!(
            "job template {:?} already exists",
            t.job_template_id.as_str()
        ))
        .into());
    }
    Ok(JobTemplateCreated {
        job_template_arn: here.job_template_arn(&t.job_template_id),
        job_template_id: t.job_template_id,
    })
}

pub(crate) fn describe(conn: &Connection, here: &Location, id: &JobTemplateId) -> Res<JobTemplate> {
    conn.prepare_cached(
        "SELECT description, document, created_at, timeout_config, rollout_config, presigned_url_config, \
         abort_config, retry_config FROM job_templates WHERE template_id = ?1",
    )?
    .query_row([id.as_str()], |r| {
        Ok(JobTemplate {
            job_template_arn: here.job_template_arn(id),
            job_template_id: id.clone(),
            description: r.get("description")?,
            document: r.get("document")?,
            created_at: timestamp(r.get("created_at")?),
            timeout_config: rows::json_opt(r, "timeout_config")?,
            job_executions_rollout_config: rows::json_opt(r, "rollout_config")?,
            presigned_url_config: rows::json_opt(r, "presigned_url_config")?,
            abort_config: rows::json_opt(r, "abort_config")?,
            job_executions_retry_config: rows::json_opt(r, "retry_config")?,
        })
    })
    .optional()?
    .ok_or_else(|| template_not_found(id))
}

pub(crate) fn delete(conn: &Connection, id: &JobTemplateId) -> Res<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM job_templates WHERE template_id = ?1")?
        .execute([id.as_str()])?;
    if deleted == 0 {
        return Err(template_not_found(id));
    }
    Ok(())
}

pub(crate) fn list(
    conn: &Connection,
    here: &Location,
    page: PageRequest,
) -> Res<Page<JobTemplateSummary>> {
    let after = paging::after_seq("templates", &page)?;
    let items = conn
        .prepare_cached(
            "SELECT seq, template_id, description, created_at FROM job_templates WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map(params![after, paging::fetch_limit(&page)], |r| {
            let id: JobTemplateId = rows::text(r, "template_id")?;
            Ok((
                r.get::<_, i64>("seq")?.to_string(),
                JobTemplateSummary {
                    job_template_arn: here.job_template_arn(&id),
                    job_template_id: id,
                    description: r.get("description")?,
                    created_at: timestamp(r.get("created_at")?),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(paging::finish("templates", &page, items))
}
