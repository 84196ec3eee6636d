//! Handlers of the job template operations.

use axum::extract::{Path, State};
use models::ids::JobTemplateId;
use models::job::{CreateJobTemplate, NewJobTemplate};
use models::DomainError;

use crate::error::HandlerResult;
use crate::extract::{job_template_id as template_id, Body, ListQuery, Query};
use crate::response::{list_response, ok, Created, Done, JobTemplateNames, One};
use crate::AppState;

pub async fn create_job_template(
    State(backend): State<AppState>,
    Body(body): Body<CreateJobTemplate>,
) -> HandlerResult {
    let job_template_id = match body.job_template_id {
        Some(id) => id,
        None => {
            JobTemplateId::parse(uuid::Uuid::new_v4().to_string()).map_err(DomainError::Internal)?
        }
    };
    let created = backend
        .create_job_template(NewJobTemplate {
            job_template_id,
            description: body.description,
            document: body.document,
            timeout_config: body.timeout_config,
            job_executions_rollout_config: body.job_executions_rollout_config,
            presigned_url_config: body.presigned_url_config,
            abort_config: body.abort_config,
            job_executions_retry_config: body.job_executions_retry_config,
        })
        .await?;
    Ok(ok(Created::new(JobTemplateNames {
        job_template_id: created.job_template_id,
        job_template_arn: created.job_template_arn,
    })))
}

pub async fn list_job_templates(
    State(backend): State<AppState>,
    Query(q): Query<ListQuery>,
) -> HandlerResult {
    let page = backend.list_job_templates(q.into_page()).await?;
    Ok(list_response("jobTemplates", page))
}

pub async fn describe_job_template(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    let template = backend.describe_job_template(&template_id(id)?).await?;
    Ok(ok(One::JobTemplate(&template)))
}

pub async fn delete_job_template(
    State(backend): State<AppState>,
    Path(id): Path<String>,
) -> HandlerResult {
    backend.delete_job_template(&template_id(id)?).await?;
    Ok(ok(Done::Deleted))
}
