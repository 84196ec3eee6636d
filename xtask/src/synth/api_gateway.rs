//! The API Gateway document synth derives from the contract: paths, methods, the parameters API
//! Gateway validates, an `aws_proxy` integration per operation, the security scheme, CORS
//! preflights and the gateway's own responses in the API's error shape; and the rules API Gateway
//! applies at import (unsupported keywords, path rules), checked before a template is written.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{json, Map, Value};

use super::{is_method, logical};
use crate::infra::{Authorization, Settings};

pub(super) fn invoke_uri(function_arn: Value) -> Value {
    json!({"Fn::Sub": [
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${FunctionArn}/invocations",
        {"FunctionArn": function_arn}
    ]})
}

/// A Lambda proxy integration with `function` (its logical id).
fn proxy_integration(function: &str) -> Value {
    json!({
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": invoke_uri(json!({"Fn::GetAtt": [function, "Arn"]})),
        "passthroughBehavior": "when_no_match",
    })
}

/// What API Gateway answers itself, in the API's error shape: response type, the status that
/// replaces API Gateway's own (if any), the code (one of openapi.yaml's), the message.
pub(super) const GATEWAY_RESPONSES: &[(&str, Option<&str>, &str, &str)] = &[
    (
        "BAD_REQUEST_BODY",
        Some("422"),
        "ValidationError",
        "\"$context.error.validationErrorString\"",
    ),
    (
        "BAD_REQUEST_PARAMETERS",
        Some("422"),
        "ValidationError",
        "\"$context.error.validationErrorString\"",
    ),
    (
        "UNAUTHORIZED",
        None,
        "Unauthorized",
        "$context.error.messageString",
    ),
    (
        "ACCESS_DENIED",
        None,
        "Forbidden",
        "$context.error.messageString",
    ),
    (
        "MISSING_AUTHENTICATION_TOKEN",
        None,
        "Forbidden",
        "$context.error.messageString",
    ),
    (
        "INVALID_SIGNATURE",
        None,
        "Forbidden",
        "$context.error.messageString",
    ),
    (
        "EXPIRED_TOKEN",
        None,
        "Forbidden",
        "$context.error.messageString",
    ),
    (
        "RESOURCE_NOT_FOUND",
        None,
        "RouteNotFound",
        "$context.error.messageString",
    ),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        Some("400"),
        "UnsupportedMediaType",
        "$context.error.messageString",
    ),
    (
        "REQUEST_TOO_LARGE",
        None,
        "PayloadTooLarge",
        "$context.error.messageString",
    ),
    (
        "THROTTLED",
        Some("429"),
        "Throttled",
        "$context.error.messageString",
    ),
    (
        "DEFAULT_4XX",
        None,
        "BadRequest",
        "$context.error.messageString",
    ),
    // Integration failures and timeouts: the function or IoT is unavailable; retry.
    (
        "DEFAULT_5XX",
        Some("503"),
        "ServiceUnavailable",
        "$context.error.messageString",
    ),
];

/// The error body of the API, for responses API Gateway itself gives; `status` replaces its own.
pub(super) fn gateway_response(status: Option<&str>, code: &str, message: &str) -> Value {
    let mut response = json!({
        "responseTemplates": {
            "application/json": format!("{{\"error\": {message}, \"code\": \"{code}\"}}")
        }
    });
    if let (Some(status), Some(object)) = (status, response.as_object_mut()) {
        object.insert("statusCode".into(), json!(status));
    }
    response
}

/// What the RestApi is built from: the paths and methods of `openapi.yaml`, each with the
/// parameters API Gateway's validator checks (name, place, whether required, type) and its
/// `aws_proxy` integration, plus the security scheme and the gateway responses. Nothing else of
/// the contract goes in: bodies are validated by the function, so API Gateway needs no models, and
/// the schema keywords its importer does not support (see `API_GATEWAY_UNSUPPORTED`) never reach it.
pub fn api_gateway_document(
    spec: &Value,
    settings: &Settings,
    function_of: &BTreeMap<String, String>,
) -> anyhow::Result<Value> {
    let (scheme, security) = security_scheme(&settings.authorization);
    let mut paths = Map::new();
    let spec_paths = spec["paths"]
        .as_object()
        .context("openapi.yaml has no paths")?;
    for (path, item) in spec_paths {
        let item = item.as_object().context("a path item is not an object")?;
        let shared = item.get("parameters").and_then(Value::as_array);
        let mut methods = Map::new();
        for (method, operation) in item.iter().filter(|(m, _)| is_method(m)) {
            let id = operation["operationId"]
                .as_str()
                .with_context(|| format!("{method} {path} has no operationId"))?;
            let function = function_of
                .get(id)
                .with_context(|| format!("no function serves {id}"))?;
            let own = operation.get("parameters").and_then(Value::as_array);
            let parameters = shared
                .into_iter()
                .chain(own)
                .flatten()
                .map(|p| gateway_parameter(spec, p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut gateway_operation = json!({
                "operationId": id,
                // On each method: API Gateway applies no document-level `security`.
                "security": security,
                "responses": {"200": {"description": "The function's answer, passed through."}},
                "x-amazon-apigateway-integration": proxy_integration(function),
            });
            if !parameters.is_empty() {
                gateway_operation["parameters"] = Value::Array(parameters);
            }
            methods.insert(method.clone(), gateway_operation);
        }
        if !settings.cors_origins.is_empty() {
            let allowed: Vec<String> = methods.keys().map(|m| m.to_uppercase()).collect();
            methods.insert(
                "options".into(),
                preflight(path, &allowed, &settings.cors_origins),
            );
        }
        paths.insert(path.clone(), Value::Object(methods));
    }
    if settings.console.is_some() {
        for (path, method) in console_methods() {
            paths.insert(path.into(), json!({ "get": method }));
        }
    }
    let mut doc = json!({
        "openapi": "3.0.1",
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "paths": paths,
        // API Gateway checks the required parameters; bodies are validated once, by the function,
        // so a bad body gets the same 422 naming the field and the rule locally and on AWS.
        "x-amazon-apigateway-request-validators": {
            "parameters": {"validateRequestBody": false, "validateRequestParameters": true}
        },
        "x-amazon-apigateway-request-validator": "parameters",
    });
    // What API Gateway answers itself has the API's error shape and codes of openapi.yaml.
    let mut responses = Map::new();
    for (kind, status, code, message) in GATEWAY_RESPONSES {
        responses.insert((*kind).into(), gateway_response(*status, code, message));
    }
    doc["x-amazon-apigateway-gateway-responses"] = Value::Object(responses);
    if let Some((name, scheme)) = scheme {
        doc["components"] = json!({"securitySchemes": {name: scheme}});
    }
    Ok(doc)
}

/// The function that serves the fleet console, when the stack serves it.
pub(super) const CONSOLE_FUNCTION: &str = "ConsoleFunction";

/// The console's page (`/console`) and its files (`/console/{asset}`): open to anyone, since the
/// page is what signs a person in, and served by the console function, which reads nothing.
pub(super) fn console_methods() -> [(&'static str, Value); 2] {
    let method = |id: &str, parameters: Option<Value>| {
        let mut method = json!({
            "operationId": id,
            "security": [],
            "responses": {"200": {"description": "The console's page or file."}},
            "x-amazon-apigateway-integration": proxy_integration(CONSOLE_FUNCTION),
        });
        if let Some(parameters) = parameters {
            method["parameters"] = parameters;
        }
        method
    };
    [
        ("/console", method("consolePage", None)),
        (
            "/console/{asset}",
            method(
                "consoleAsset",
                Some(
                    json!([{"name": "asset", "in": "path", "required": true, "schema": {"type": "string"}}]),
                ),
            ),
        ),
    ]
}

/// A parameter as API Gateway reads it: name, place, whether required, and its type only.
pub(super) fn gateway_parameter(spec: &Value, parameter: &Value) -> anyhow::Result<Value> {
    let parameter = resolve(spec, parameter)?;
    let schema = resolve(spec, &parameter["schema"])?;
    let kind = schema["type"]
        .as_str()
        .with_context(|| format!("parameter {} has no type", parameter["name"]))?;
    let mut out = json!({
        "name": parameter["name"],
        "in": parameter["in"],
        "schema": {"type": kind},
    });
    if parameter["required"] == json!(true) {
        out["required"] = json!(true);
    }
    Ok(out)
}

/// The object a `$ref` of the spec points to (or the object itself).
pub(super) fn resolve<'a>(spec: &'a Value, value: &'a Value) -> anyhow::Result<&'a Value> {
    match value["$ref"].as_str() {
        None => Ok(value),
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .with_context(|| format!("{reference} is not a local reference"))?;
            spec.pointer(pointer)
                .with_context(|| format!("{reference} points nowhere"))
        }
    }
}

/// What API Gateway refuses at import in these paths: a segment with characters other than
/// letters, digits, `-._,:` and braces, a path parameter that is not a whole segment, and sibling
/// segments that are variables of different names ("A sibling ({fileId}) of this resource already
/// has a variable path part -- only one is allowed"). Sources: "Amazon API Gateway important notes
/// for REST APIs" and "Errors and warnings from importing your API into API Gateway"
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-import-api-errors-warnings.html).
pub(super) fn path_problems(paths: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    // The variable names used below each parent path.
    let mut variables: BTreeMap<String, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for path in paths {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            let name = inner.unwrap_or(segment);
            let allowed = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._,:".contains(c));
            if !allowed {
                problems.push(format!(
                    "{path}: segment {segment:?} is not one API Gateway accepts"
                ));
            } else if let Some(name) = inner {
                variables
                    .entry(segments[..i].join("/"))
                    .or_default()
                    .insert(name);
            }
        }
    }
    for (parent, names) in variables {
        if names.len() > 1 {
            let names: Vec<&str> = names.into_iter().collect();
            problems.push(format!(
                "/{parent}/ has sibling variables of different names: {{{}}}",
                names.join(", ")
            ));
        }
    }
    problems
}

/// What API Gateway's OpenAPI import does not support, from AWS's "Amazon API Gateway important
/// notes for REST APIs" (API Gateway developer guide, known issues:
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html):
/// `discriminator`, `oneOf`, `anyOf`, `additionalProperties`, `example`, `readOnly`,
/// `exclusiveMinimum`, `format` on integers and numbers, and `deprecated`; with what JSON Schema
/// draft 4 models lack or API Gateway ignores in parameters (`allOf`, `not`, `nullable`, `examples`,
/// `writeOnly`, `exclusiveMaximum`, `links`). None may appear in the document synth derives.
pub const API_GATEWAY_UNSUPPORTED: &[&str] = &[
    "discriminator",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "additionalProperties",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "format",
    "deprecated",
    "nullable",
    "links",
];

/// Every key of `value` outside API Gateway's own extensions, with where it is.
pub fn keys(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key.starts_with("x-amazon-apigateway-") {
                    continue;
                }
                found.push((key.clone(), at.to_owned()));
                keys(inner, &format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                keys(inner, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// The security scheme (name and object) for the chosen authorization, and the `security` each
/// method of the API carries. API Gateway's import applies a security requirement only where a
/// method states it: AWS's examples of `x-amazon-apigateway-authtype` and of Cognito and Lambda
/// authorizers set `security` on every operation
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html),
/// and its maintainers answered that the document-level field is not applied, "You have to
/// apply it per method" (https://github.com/amazon-archives/aws-apigateway-importer/issues/204).
/// A document-level requirement alone would leave every method open.
pub(super) fn security_scheme(authorization: &Authorization) -> (Option<(String, Value)>, Value) {
    let header = |kind: &str, authorizer: Option<Value>| {
        let mut scheme = json!({
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": kind,
        });
        if let (Some(authorizer), Some(object)) = (authorizer, scheme.as_object_mut()) {
            object.insert("x-amazon-apigateway-authorizer".into(), authorizer);
        }
        scheme
    };
    let (name, scheme) = match authorization {
        Authorization::None => return (None, json!([])),
        Authorization::AwsIam => ("sigv4", header("awsSigv4", None)),
        Authorization::Cognito { user_pool_arns } => (
            "cognito",
            header(
                "cognito_user_pools",
                Some(json!({"type": "cognito_user_pools", "providerARNs": user_pool_arns})),
            ),
        ),
        Authorization::Custom { authorizer_arn } => (
            "lambdaAuthorizer",
            header(
                "custom",
                Some(json!({
                    "type": "token",
                    "authorizerUri": invoke_uri(json!(authorizer_arn)),
                    "authorizerResultTtlInSeconds": 300,
                })),
            ),
        ),
    };
    (Some((name.to_owned(), scheme)), json!([{ name: [] }]))
}

/// A CORS preflight answered by API Gateway itself: the caller's origin is echoed when it is one
/// of the allowed origins (or any, with `*`).
pub(super) fn preflight(path: &str, methods: &[String], origins: &[String]) -> Value {
    let allow_methods = format!("'OPTIONS,{}'", methods.join(","));
    let template = if origins.iter().any(|o| o == "*") {
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = '*')\n{}".to_owned()
    } else {
        let list = origins
            .iter()
            .map(|o| format!("\"{o}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "#set($origin = $input.params().header.get('Origin'))\n#if([{list}].contains($origin))\n#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n#end\n{{}}"
        )
    };
    let header =
        |description: &str| json!({"description": description, "schema": {"type": "string"}});
    json!({
        "summary": format!("CORS preflight for {path}"),
        "operationId": format!("preflight{}", logical(path)),
        "security": [],
        "responses": {
            "200": {
                "description": "The methods and headers browsers may use from the allowed origins.",
                "headers": {
                    "Access-Control-Allow-Origin": header("The caller's origin, when allowed."),
                    "Access-Control-Allow-Methods": header("The methods of this path."),
                    "Access-Control-Allow-Headers": header("The headers a caller may send."),
                    "Vary": header("Origin."),
                }
            }
        },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
            "passthroughBehavior": "when_no_match",
            "responses": {
                "default": {
                    "statusCode": "200",
                    "responseParameters": {
                        "method.response.header.Access-Control-Allow-Methods": allow_methods,
                        "method.response.header.Access-Control-Allow-Headers": "'Content-Type,Authorization,X-Amz-Date,X-Amz-Security-Token,X-Amz-Content-Sha256'",
                        "method.response.header.Access-Control-Allow-Origin": "''",
                        "method.response.header.Vary": "'Origin'",
                    },
                    "responseTemplates": {"application/json": template},
                }
            }
        }
    })
}
