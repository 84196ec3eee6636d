//! The template's resources: the REST API and its deployment and stage, one Lambda function and
//! role per group of operations, log groups, permissions, and the stack's outputs.

use std::collections::BTreeMap;

use anyhow::bail;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::api_gateway::{
    api_gateway_document, keys, path_problems, API_GATEWAY_UNSUPPORTED, CONSOLE_FUNCTION,
};
use super::iam::statements as iam_statements;
use super::{functions, logical, spec_operations, GENERATED};
use crate::infra::{Authorization, Console, Settings};

/// The whole template.
pub fn template(spec: &Value, settings: &Settings) -> anyhow::Result<Value> {
    let operations = spec_operations(spec)?;
    let groups = functions(&operations, settings.grouping);
    let mut function_of = BTreeMap::new();
    for (function, members) in &groups {
        for n in members {
            function_of.insert(operations[*n].id.clone(), function.clone());
        }
    }
    let body = api_gateway_document(spec, settings, &function_of)?;
    let paths: Vec<&str> = body["paths"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut problems = path_problems(&paths);
    let mut found = Vec::new();
    keys(&body, "", &mut found);
    problems.extend(
        found
            .into_iter()
            .filter(|(key, _)| API_GATEWAY_UNSUPPORTED.contains(&key.as_str()))
            .map(|(key, at)| format!("{key} at {at} is not supported by API Gateway's import")),
    );
    if !problems.is_empty() {
        bail!("API Gateway would refuse this API: {}", problems.join("; "));
    }
    let body_hash =
        crate::util::hex(&Sha256::digest(serde_json::to_vec(&body)?))[..12].to_uppercase();
    let deployment = format!("Deployment{body_hash}");

    let mut resources = Map::new();
    resources.insert("RestApi".into(), json!({
        "Type": "AWS::ApiGateway::RestApi",
        "Properties": {
            "Name": {"Ref": "AWS::StackName"},
            "Description": "IoT device management API (jobs, job templates, things, thing groups)",
            "Body": body,
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
            // The document holds only what API Gateway's importer supports (a test checks it);
            // should AWS still warn about a part it ignores, the API it builds is whole.
            "FailOnWarnings": false,
            "Tags": tags_list(settings),
        }
    }));
    resources.insert(
        deployment.clone(),
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {
                "RestApiId": {"Ref": "RestApi"},
                "Description": format!("openapi.yaml as API Gateway document {body_hash}"),
            }
        }),
    );
    // API Gateway writes logs through one role per account and region, as CDK's RestApi sets up.
    // The setting outlives the stack (other APIs of the account log through it), so the role is
    // kept when the stack is deleted.
    resources.insert("ApiGatewayLogsRole".into(), json!({
        "Type": "AWS::IAM::Role",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "Lets API Gateway write this account's API logs to CloudWatch.",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }]
            },
            "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}],
            "Tags": tags_list(settings),
        }
    }));
    resources.insert(
        "ApiGatewayAccount".into(),
        json!({
            "Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}},
        }),
    );
    resources.insert("AccessLogGroup".into(), json!({
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": settings.log_retention_days},
        "Metadata": checkov_skips(&[
            ("CKV_AWS_158", "Access logs hold request metadata only; CloudWatch encrypts them at rest with its own key."),
        ]),
    }));
    let mut stage = json!({
        "Type": "AWS::ApiGateway::Stage",
        "DependsOn": ["ApiGatewayAccount"],
        "Properties": {
            "RestApiId": {"Ref": "RestApi"},
            "DeploymentId": {"Ref": deployment},
            "StageName": settings.stage,
            "TracingEnabled": settings.tracing,
            "AccessLogSetting": {
                "DestinationArn": {"Fn::GetAtt": ["AccessLogGroup", "Arn"]},
                "Format": "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"caller\":\"$context.identity.caller\",\"user\":\"$context.identity.user\",\"requestTime\":\"$context.requestTime\",\"httpMethod\":\"$context.httpMethod\",\"resourcePath\":\"$context.resourcePath\",\"status\":\"$context.status\",\"protocol\":\"$context.protocol\",\"responseLength\":\"$context.responseLength\",\"integrationLatency\":\"$context.integrationLatency\"}"
            },
            "MethodSettings": [{
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "MetricsEnabled": true,
                "LoggingLevel": "ERROR",
                "DataTraceEnabled": false,
                "ThrottlingRateLimit": settings.throttling_rate_limit,
                "ThrottlingBurstLimit": settings.throttling_burst_limit,
            }],
            "Tags": tags_list(settings),
        },
    });
    let mut stage_skips = vec![(
        "CKV_AWS_120",
        "Responses reflect live device state; a cache would serve stale jobs and things.",
    )];
    if !settings.tracing {
        stage_skips.push((
            "CKV_AWS_73",
            "X-Ray tracing is turned off in the settings (tracing = false).",
        ));
    }
    if let Some(stage) = stage.as_object_mut() {
        stage.insert("Metadata".into(), checkov_skips(&stage_skips));
    }
    resources.insert("Stage".into(), stage);

    for (function, members) in &groups {
        let mut actions: Vec<&'static str> = members
            .iter()
            .flat_map(|n| operations[*n].actions.iter().copied())
            .collect();
        actions.sort_unstable();
        actions.dedup();
        let operation_ids: Vec<&str> = members.iter().map(|n| operations[*n].id.as_str()).collect();
        let mut description = format!("IoT device API: {}", operation_ids.join(", "));
        if description.len() > 256 {
            description = format!("IoT device API: {} operations", operation_ids.len());
        }
        let spec = FunctionSpec {
            name: function,
            description,
            actions: &actions,
            environment: environment(settings),
            memory_mb: settings.memory_mb,
            timeout_seconds: settings.timeout_seconds,
            skips: &[
                ("CKV_AWS_116", "Invoked synchronously by API Gateway; a dead-letter queue only serves asynchronous invocations."),
                ("CKV_AWS_117", "Calls only public AWS endpoints (IoT, DynamoDB, S3); a VPC would add NAT costs and no isolation."),
                ("CKV_AWS_115", "Concurrency is bounded by the stage's throttling; reserving it would take from the account's pool."),
                ("CKV_AWS_173", "The environment holds no secrets (account id, log level, CORS origins, table and bucket names)."),
            ],
        };
        for (name, resource) in lambda_function(settings, spec)? {
            resources.insert(name, resource);
        }
        for n in members {
            let op = &operations[*n];
            // Only this operation's method and path, through this API.
            let route = op
                .path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "*"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            resources.insert(
                format!("{}Permission", logical(&op.id)),
                invoke_permission(function, &op.method, &route),
            );
        }
    }
    if let Some(console) = &settings.console {
        for (name, resource) in console_function(settings, console)? {
            resources.insert(name, resource);
        }
    }
    for (name, resource) in super::catalog::resources(settings)? {
        resources.insert(name, resource);
    }
    if let Authorization::Custom { authorizer_arn } = &settings.authorization {
        resources.insert("AuthorizerPermission".into(), json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": authorizer_arn,
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/authorizers/*"},
            }
        }));
    }
    let mut outputs = json!({
        "ApiUrl": {
            "Description": "The API's base URL, with the stage.",
            "Value": {"Fn::Sub": API_URL},
            "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-ApiUrl"}},
        },
        "FilesBucket": {
            "Description": "The S3 bucket holding the firmware files' bytes.",
            "Value": {"Ref": "FilesBucket"},
            "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-FilesBucket"}},
        },
        "FilesTable": {
            "Description": "The DynamoDB table of the firmware catalog.",
            "Value": {"Ref": "FilesTable"},
            "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-FilesTable"}},
        },
        "RestApiId": {
            "Description": "The REST API's id.",
            "Value": {"Ref": "RestApi"},
            "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-RestApiId"}},
        },
        // What `cargo xtask smoke` and other clients need to know to call the API.
        "Authorization": {
            "Description": "How callers authorize: AWS_IAM (SigV4), COGNITO_USER_POOLS, CUSTOM or NONE.",
            "Value": settings.authorization.kind(),
        },
    });
    if let (Some(_), Some(outputs)) = (&settings.console, outputs.as_object_mut()) {
        outputs.insert(
            "ConsoleUrl".into(),
            json!({
                "Description": "The fleet console, served by the API.",
                "Value": {"Fn::Sub": format!("{API_URL}console")},
            }),
        );
    }
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {"Generated": GENERATED},
        "Description": format!("IoT device management API: API Gateway REST API, {} Lambda function(s), least-privilege roles, the firmware catalog's table and bucket.", groups.len() + usize::from(settings.console.is_some())),
        "Parameters": {
            "ArtifactBucket": {"Type": "String", "Description": "S3 bucket holding the bootstrap.zip artifact (cargo xtask deploy uploads it)."},
            "ArtifactKey": {"Type": "String", "Description": "S3 key of bootstrap.zip; named by its sha256, so a new build updates the functions."},
        },
        "Resources": resources,
        "Outputs": outputs,
    }))
}

/// The function serving the fleet console (`IOT_API_FUNCTION=console`): it reads nothing, so its
/// role allows only its own logs (and traces), and API Gateway may invoke it only for the
/// console's two routes.
fn console_function(
    settings: &Settings,
    console: &Console,
) -> anyhow::Result<Vec<(String, Value)>> {
    let mut environment = json!({
        handlers::FUNCTION_VARIABLE: handlers::console::FUNCTION,
        "RUST_LOG": "info",
        // Where the page sends a file's bytes: the presigned URLs are the bucket's own host.
        handlers::console::UPLOAD_ORIGIN_VARIABLE:
            {"Fn::Sub": "https://${FilesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}"},
    });
    if let (Console::Cognito { client_id, region }, Some(variables)) =
        (console, environment.as_object_mut())
    {
        variables.insert(
            handlers::console::CLIENT_ID_VARIABLE.into(),
            json!(client_id),
        );
        variables.insert(handlers::console::REGION_VARIABLE.into(), json!(region));
    }
    let spec = FunctionSpec {
        name: CONSOLE_FUNCTION,
        description: "IoT device API: the fleet console's page and files".into(),
        actions: &[],
        environment,
        memory_mb: 128,
        timeout_seconds: settings.timeout_seconds,
        skips: &[
            ("CKV_AWS_116", "Invoked synchronously by API Gateway; a dead-letter queue only serves asynchronous invocations."),
            ("CKV_AWS_117", "Serves files built into it and calls nothing; a VPC would add costs and no isolation."),
            ("CKV_AWS_115", "Concurrency is bounded by the stage's throttling; reserving it would take from the account's pool."),
            ("CKV_AWS_173", "The environment holds no secrets (the user pool's public app client id and region)."),
        ],
    };
    let mut resources = lambda_function(settings, spec)?;
    for (name, route) in [
        ("ConsolePagePermission", "/console"),
        ("ConsoleAssetPermission", "/console/*"),
    ] {
        resources.push((
            name.to_owned(),
            invoke_permission(CONSOLE_FUNCTION, "GET", route),
        ));
    }
    Ok(resources)
}

/// Lets this API invoke `function` for one method and route (path parameters as `*`), and
/// nothing else.
fn invoke_permission(function: &str, method: &str, route: &str) -> Value {
    json!({
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{RestApi}}/*/{method}{route}"
            )},
        }
    })
}

/// The API's base URL, with the stage and a final slash, as CloudFormation substitutes it.
const API_URL: &str = "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/";

/// What makes one Lambda function of the stack.
pub(super) struct FunctionSpec<'a> {
    /// Its logical id; its role and log group are named after it.
    pub name: &'a str,
    pub description: String,
    /// The IAM actions its role allows, each scoped by `iam::statements`.
    pub actions: &'a [&'static str],
    pub environment: Value,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// Checkov checks it does not meet on purpose, with the reason.
    pub skips: &'a [(&'a str, &'a str)],
}

/// A function running the bootstrap artifact, its role (its actions, its own logs and, when
/// tracing is on, X-Ray) and its log group.
pub(super) fn lambda_function(
    settings: &Settings,
    spec: FunctionSpec<'_>,
) -> anyhow::Result<Vec<(String, Value)>> {
    let function = spec.name;
    let log_group = format!("{function}Logs");
    let role = format!("{function}Role");
    let mut statements = iam_statements(spec.actions)?;
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        // A log group's Arn attribute ends in ":*", which covers its streams.
        "Resource": [{"Fn::GetAtt": [log_group, "Arn"]}],
    }));
    if settings.tracing {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": ["*"],
        }));
    }
    Ok(vec![
        (
            log_group.clone(),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"RetentionInDays": settings.log_retention_days},
                "Metadata": checkov_skips(&[
                    ("CKV_AWS_158", "Function logs hold no secrets; CloudWatch encrypts them at rest with its own key."),
                ]),
            }),
        ),
        (
            role.clone(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Description": format!("Runs {function}: the IoT, catalog and bucket actions its work needs, its own logs."),
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }]
                    },
                    "Policies": [{
                        "PolicyName": "operations",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                    }],
                    "Tags": tags_list(settings),
                }
            }),
        ),
        (
            function.to_owned(),
            json!({
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Description": spec.description,
                    "Runtime": "provided.al2023",
                    "Handler": "bootstrap",
                    "Architectures": [settings.architecture.lambda_name()],
                    "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "ArtifactKey"}},
                    "MemorySize": spec.memory_mb,
                    "Timeout": spec.timeout_seconds,
                    "Role": {"Fn::GetAtt": [role, "Arn"]},
                    "Environment": {"Variables": spec.environment},
                    "LoggingConfig": {"LogGroup": {"Ref": log_group}, "LogFormat": "Text"},
                    "TracingConfig": {"Mode": if settings.tracing { "Active" } else { "PassThrough" }},
                    "Tags": tags_list(settings),
                },
                "Metadata": checkov_skips(spec.skips),
            }),
        ),
    ])
}

/// The functions' environment: the account for ARNs, the log level, and the CORS origins the
/// function answers to (API Gateway answers the preflights).
pub(super) fn environment(settings: &Settings) -> Value {
    let mut variables = json!({
        "AWS_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
        "RUST_LOG": "info",
    });
    if let Some(object) = variables.as_object_mut() {
        object.extend(super::catalog::environment());
    }
    if let (false, Some(object)) = (settings.cors_origins.is_empty(), variables.as_object_mut()) {
        object.insert(
            handlers::CORS_ORIGINS_VARIABLE.into(),
            json!(settings.cors_origins.join(",")),
        );
    }
    variables
}

/// Checkov checks a resource does not meet on purpose, with the reason.
pub(super) fn checkov_skips(skips: &[(&str, &str)]) -> Value {
    json!({"checkov": {"skip": skips.iter().map(|(id, comment)| json!({"id": id, "comment": comment})).collect::<Vec<_>>()}})
}

pub(super) fn tags_list(settings: &Settings) -> Value {
    let mut tags: Vec<Value> = settings
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    tags.push(json!({"Key": "iot-device-api:stack", "Value": {"Ref": "AWS::StackName"}}));
    Value::Array(tags)
}
