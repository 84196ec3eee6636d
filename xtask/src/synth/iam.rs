//! IAM: the resources each IoT action can be scoped to in this account and region, and the
//! policy statements that allow a function exactly its operations' actions.

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

/// The policy statements allowing exactly `actions`, one statement per set of resources.
pub(super) fn iot_statements(actions: &[&'static str]) -> anyhow::Result<Vec<Value>> {
    let mut by_scope: BTreeMap<Vec<&'static str>, Vec<&'static str>> = BTreeMap::new();
    for action in actions {
        by_scope
            .entry(iot_resources(action)?)
            .or_default()
            .push(action);
    }
    Ok(by_scope
        .into_iter()
        .map(|(resources, mut actions)| {
            actions.sort_unstable();
            actions.dedup();
            json!({
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources.iter().map(|r| iot_arn(r)).collect::<Vec<_>>(),
            })
        })
        .collect())
}
