//! IAM: the resources each action can be scoped to (IoT's in this account and region, the
//! catalog's table, indexes, bucket objects and presign role), and the policy statements that
//! allow a function exactly its operations' actions.

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::{json, Value};

/// The resources an IoT action can be scoped to, as ARN patterns in this account and region.
/// List actions and DescribeEndpoint take no resource: `*` is the only scope IAM allows them.
pub(super) fn iot_resources(action: &str) -> anyhow::Result<Vec<&'static str>> {
    const JOB: &str = "job/*";
    const THING: &str = "thing/*";
    const GROUP: &str = "thinggroup/*";
    const TEMPLATE: &str = "jobtemplate/*";
    const THING_TYPE: &str = "thingtype/*";
    const INDEX: &str = "index/AWS_Things";
    let resources: &[&str] = match action {
        "iot:CreateJob" => &[JOB, THING, GROUP, TEMPLATE],
        "iot:AssociateTargetsWithJob" => &[JOB, THING, GROUP],
        "iot:UpdateJob"
        | "iot:CancelJob"
        | "iot:DeleteJob"
        | "iot:DescribeJob"
        | "iot:GetJobDocument"
        | "iot:ListJobExecutionsForJob" => &[JOB],
        "iot:CancelJobExecution" => &[JOB, THING],
        "iot:DescribeJobExecution"
        | "iot:DeleteJobExecution"
        | "iot:ListJobExecutionsForThing"
        | "iot:DescribeThing"
        | "iot:DeleteThing"
        | "iot:ListThingGroupsForThing"
        | "iot:GetThingShadow"
        | "iot:UpdateThingShadow"
        | "iot:DeleteThingShadow"
        | "iot:ListNamedShadowsForThing" => &[THING],
        // A thing's type is authorized too when one is given.
        "iot:CreateThing" | "iot:UpdateThing" => &[THING, THING_TYPE],
        "iot:SearchIndex" => &[INDEX],
        "iot:CreateThingType"
        | "iot:DescribeThingType"
        | "iot:DeprecateThingType"
        | "iot:DeleteThingType" => &[THING_TYPE],
        "iot:CreateJobTemplate" => &[TEMPLATE, JOB],
        "iot:DescribeJobTemplate" | "iot:DeleteJobTemplate" => &[TEMPLATE],
        "iot:CreateThingGroup"
        | "iot:DescribeThingGroup"
        | "iot:DeleteThingGroup"
        | "iot:UpdateThingGroup"
        | "iot:DeleteDynamicThingGroup"
        | "iot:ListThingsInThingGroup" => &[GROUP],
        // A dynamic group's query runs on the fleet index.
        "iot:CreateDynamicThingGroup" | "iot:UpdateDynamicThingGroup" => &[GROUP, INDEX],
        "iot:AddThingToThingGroup" | "iot:RemoveThingFromThingGroup" => &[THING, GROUP],
        "iot:ListJobs"
        | "iot:ListJobTemplates"
        | "iot:ListThings"
        | "iot:ListThingGroups"
        | "iot:ListThingTypes"
        | "iot:DescribeEndpoint" => &["*"],
        other => bail!("no IAM resource scope is known for {other}; add it to iot_resources"),
    };
    Ok(resources.to_vec())
}

pub(super) fn iot_arn(pattern: &str) -> Value {
    if pattern == "*" {
        json!("*")
    } else {
        json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iot:${{AWS::Region}}:${{AWS::AccountId}}:{pattern}")})
    }
}

/// The resources a firmware catalog action is scoped to: the stack's table or one of its
/// indexes (`dynamodb:Query:<Index>` in the operations table names the index), the objects under
/// `files/` in its bucket, or the role AWS IoT assumes to presign job documents.
pub(super) fn catalog_resources(action: &str) -> anyhow::Result<(String, Vec<Value>)> {
    let table = json!({"Fn::GetAtt": ["FilesTable", "Arn"]});
    if let Some(index) = action.strip_prefix("dynamodb:Query:") {
        if !super::catalog::INDEXES.contains(&index) {
            bail!("{action} names an index the table does not have");
        }
        let arn = json!({"Fn::Sub": format!("${{FilesTable.Arn}}/index/{index}")});
        return Ok(("dynamodb:Query".into(), vec![arn]));
    }
    let resources = match action {
        "dynamodb:GetItem"
        | "dynamodb:PutItem"
        | "dynamodb:UpdateItem"
        | "dynamodb:DeleteItem"
        | "dynamodb:ConditionCheckItem" => vec![table],
        "s3:GetObject"
        | "s3:PutObject"
        | "s3:DeleteObject"
        | "s3:AbortMultipartUpload"
        | "s3:ListMultipartUploadParts" => {
            vec![super::catalog::files_arn()]
        }
        "iam:PassRole" => vec![json!({"Fn::GetAtt": ["PresignRole", "Arn"]})],
        other => bail!("no IAM resource scope is known for {other}; add it to catalog_resources"),
    };
    Ok((action.to_owned(), resources))
}

/// The policy statements allowing exactly `actions`, one statement per set of resources. A role
/// may be passed only to AWS IoT.
pub(super) fn statements(actions: &[&'static str]) -> anyhow::Result<Vec<Value>> {
    let mut by_scope: BTreeMap<String, (Vec<Value>, Vec<String>)> = BTreeMap::new();
    let mut pass_role = None;
    for action in actions {
        let (action, resources) = if action.starts_with("iot:") {
            let arns = iot_resources(action)?.iter().map(|r| iot_arn(r)).collect();
            ((*action).to_owned(), arns)
        } else {
            catalog_resources(action)?
        };
        if action == "iam:PassRole" {
            pass_role = Some(resources);
            continue;
        }
        let scope = serde_json::to_string(&resources)?;
        by_scope
            .entry(scope)
            .or_insert_with(|| (resources, Vec::new()))
            .1
            .push(action);
    }
    let mut statements: Vec<Value> = by_scope
        .into_values()
        .map(|(resources, mut actions)| {
            actions.sort_unstable();
            actions.dedup();
            json!({"Effect": "Allow", "Action": actions, "Resource": resources})
        })
        .collect();
    if let Some(resources) = pass_role {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": resources,
            "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}},
        }));
    }
    Ok(statements)
}
