//! The stack: read, its change set's changes shown, and its events followed until it settles.

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use aws_sdk_cloudformation as cfn;
use cfn::error::ProvideErrorMetadata;
use cfn::types::{ChangeSetStatus, StackStatus};

use super::aws::aws_error;
use super::{describe_change, Deployer, Failure};

impl Deployer<'_> {
    /// The stack, or None when there is none of that name.
    pub(super) async fn stack(&self, stack: &str) -> anyhow::Result<Option<cfn::types::Stack>> {
        match self
            .aws
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
        {
            Ok(output) => Ok(output.stacks().first().cloned()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("ValidationError")
                        && s.message().is_some_and(|m| m.contains("does not exist"))
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(&format!("describing stack {stack}"), e)),
        }
    }

    /// Waits for the change set; its changes, or None when it holds none.
    pub(super) async fn change_set_changes(
        &mut self,
        stack: &str,
        name: &str,
    ) -> anyhow::Result<Option<Vec<String>>> {
        loop {
            let mut changes = Vec::new();
            let mut token = None;
            let status = loop {
                let page = self
                    .aws
                    .cloudformation
                    .describe_change_set()
                    .stack_name(stack)
                    .change_set_name(name)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| aws_error("describing the change set", e))?;
                changes.extend(
                    page.changes()
                        .iter()
                        .filter_map(|c| c.resource_change())
                        .map(describe_change),
                );
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break (
                        page.status().cloned(),
                        page.status_reason().unwrap_or_default().to_owned(),
                    );
                }
            };
            match status {
                (Some(ChangeSetStatus::CreateComplete), _) => return Ok(Some(changes)),
                (Some(ChangeSetStatus::Failed), reason)
                    if reason.contains("didn't contain changes")
                        || reason.contains("No updates are to be performed") =>
                {
                    return Ok(None)
                }
                (Some(ChangeSetStatus::Failed), reason) => {
                    bail!("change set {name} of stack {stack} failed: {reason}")
                }
                _ => tokio::time::sleep(self.poll).await,
            }
        }
    }

    pub(super) async fn delete_change_set(&self, stack: &str, name: &str) -> anyhow::Result<()> {
        self.aws
            .cloudformation
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(name)
            .send()
            .await
            .map_err(|e| aws_error("deleting the change set", e))?;
        Ok(())
    }

    /// The id of the stack's newest event, so that following it shows only what comes after.
    pub(super) async fn latest_event(&self, stack: &str) -> anyhow::Result<Option<String>> {
        let page = self
            .aws
            .cloudformation
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws_error("reading the stack's events", e))?;
        Ok(page
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(str::to_owned))
    }

    /// The stack's events after `since`, oldest first.
    pub(super) async fn events_since(
        &self,
        stack: &str,
        since: Option<&str>,
    ) -> anyhow::Result<Vec<cfn::types::StackEvent>> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .aws
                .cloudformation
                .describe_stack_events()
                .stack_name(stack)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("reading the stack's events", e))?;
            for event in page.stack_events() {
                if since.is_some() && event.event_id() == since {
                    events.reverse();
                    return Ok(events);
                }
                events.push(event.clone());
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                events.reverse();
                return Ok(events);
            }
        }
    }

    /// Prints the stack's events until it settles; its final status and the resources that
    /// failed on the way. `total` is the number of resources changing (0: unknown).
    pub(super) async fn follow(
        &mut self,
        stack: &str,
        mut since: Option<String>,
        total: usize,
    ) -> anyhow::Result<(StackStatus, Vec<Failure>)> {
        let mut done = BTreeSet::new();
        let mut failures = Vec::new();
        loop {
            let status = self
                .stack(stack)
                .await?
                .and_then(|s| s.stack_status().cloned())
                .context(format!("stack {stack} has no status"))?;
            let events = self.events_since(stack, since.as_deref()).await?;
            if let Some(last) = events.last() {
                since = last.event_id().map(str::to_owned);
            }
            for event in &events {
                let logical_id = event.logical_resource_id().unwrap_or_default();
                let resource_status = event
                    .resource_status()
                    .map(|s| s.as_str())
                    .unwrap_or_default();
                let reason = event.resource_status_reason().unwrap_or_default();
                let is_stack = event.physical_resource_id() == event.stack_id();
                if !is_stack
                    && (resource_status.ends_with("_COMPLETE")
                        || resource_status == "DELETE_SKIPPED")
                {
                    done.insert(logical_id.to_owned());
                }
                if resource_status.ends_with("_FAILED")
                    && !reason.contains("cancelled")
                    && !is_stack
                {
                    failures.push(Failure {
                        logical_id: logical_id.to_owned(),
                        resource_type: event.resource_type().unwrap_or_default().to_owned(),
                        status: resource_status.to_owned(),
                        reason: reason.to_owned(),
                    });
                }
                let progress = if total > 0 {
                    format!("[{:>3}/{total}] ", done.len().min(total))
                } else {
                    String::new()
                };
                let time = event
                    .timestamp()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .and_then(|t| t.get(11..19).map(str::to_owned))
                    .unwrap_or_default();
                let reason = if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                };
                self.console.say(&format!(
                    "{progress}{time} {resource_status:<28} {:<36} {logical_id}{reason}",
                    event.resource_type().unwrap_or_default()
                ));
            }
            if !status.as_str().ends_with("_IN_PROGRESS") {
                return Ok((status, failures));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}
