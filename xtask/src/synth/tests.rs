//! The template synth writes, checked against the contract, the settings and AWS's rules.

use std::collections::BTreeSet;

use serde_json::json;

use super::api_gateway::*;
use super::resources::*;
use super::*;
use crate::infra::Authorization;

fn settings(grouping: Grouping) -> Settings {
    let mut settings = Settings::load(&Overrides {
        config: PathBuf::from("infra/iot-api.toml"),
        grouping: Some(grouping),
        ..Overrides::default()
    })
    .unwrap();
    settings.grouping = grouping;
    settings
}

/// The actions of its operations a role's policy allows (not its logs and traces), a query
/// named with its index as the operations table names it (`dynamodb:Query:ByKind`).
fn allowed_actions(template: &Value, role: &str) -> Vec<String> {
    let statements =
        &template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let mut actions = Vec::new();
    for statement in statements.as_array().unwrap() {
        for action in statement["Action"].as_array().unwrap() {
            let action = action.as_str().unwrap();
            if action.starts_with("logs:") || action.starts_with("xray:") {
                continue;
            }
            if action == "dynamodb:Query" {
                for resource in statement["Resource"].as_array().unwrap() {
                    let arn = resource["Fn::Sub"].as_str().unwrap();
                    let index = arn.strip_prefix("${FilesTable.Arn}/index/").unwrap();
                    actions.push(format!("dynamodb:Query:{index}"));
                }
            } else {
                actions.push(action.to_owned());
            }
        }
    }
    actions.sort();
    actions
}

#[test]
fn every_operation_is_wired_to_a_function_allowed_exactly_its_actions() {
    let spec = read_spec().unwrap();
    for grouping in [Grouping::PerOperation, Grouping::PerTag, Grouping::Single] {
        let template = template(&spec, &settings(grouping)).unwrap();
        let body = &template["Resources"]["RestApi"]["Properties"]["Body"];
        let mut served_by: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for op in handlers::OPERATIONS {
            let path = &body["paths"][op.path];
            let operation = &path[op.method.as_str().to_lowercase()];
            assert_eq!(operation["operationId"], op.id, "{grouping:?}");
            let integration = &operation["x-amazon-apigateway-integration"];
            assert_eq!(integration["type"], "aws_proxy", "{}", op.id);
            assert_eq!(integration["httpMethod"], "POST", "{}", op.id);
            let function = integration["uri"]["Fn::Sub"][1]["FunctionArn"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                template["Resources"][&function]["Type"], "AWS::Lambda::Function",
                "{}",
                op.id
            );
            served_by
                .entry(function)
                .or_default()
                .extend(op.iam_actions);
        }
        let expected_functions = match grouping {
            Grouping::PerOperation => handlers::OPERATIONS.len(),
            // jobs, job-templates, things, thing-types, thing-groups, shadows, firmware
            Grouping::PerTag => 7,
            Grouping::Single => 1,
        };
        assert_eq!(served_by.len(), expected_functions, "{grouping:?}");
        for (function, actions) in served_by {
            let mut expected: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
            expected.sort();
            expected.dedup();
            let role = template["Resources"][&function]["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
            assert_eq!(
                allowed_actions(&template, role),
                expected,
                "{grouping:?} {function}"
            );
        }
    }
}

#[test]
fn writes_are_scoped_to_the_account_and_region_and_only_lists_take_any_resource() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::Single)).unwrap();
    let statements = &template["Resources"]["ApiFunctionRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"];
    for statement in statements.as_array().unwrap() {
        let actions: Vec<&str> = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        for resource in statement["Resource"].as_array().unwrap() {
            if resource == "*" {
                assert!(
                    actions.iter().all(|a| a.starts_with("iot:List")
                        || a.starts_with("xray:")
                        || *a == "iot:DescribeEndpoint"),
                    "{actions:?} on *"
                );
            } else if actions[0].starts_with("logs:") {
                assert_eq!(resource, &json!({"Fn::GetAtt": ["ApiFunctionLogs", "Arn"]}));
            } else if actions[0].starts_with("iot:") {
                let arn = resource["Fn::Sub"].as_str().unwrap();
                assert!(
                    arn.starts_with("arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"),
                    "{arn}"
                );
            } else if actions[0].starts_with("dynamodb:") {
                // The stack's table, or one of its indexes.
                assert!(
                    resource == &json!({"Fn::GetAtt": ["FilesTable", "Arn"]})
                        || resource["Fn::Sub"]
                            .as_str()
                            .is_some_and(|a| a.starts_with("${FilesTable.Arn}/index/")),
                    "{actions:?} on {resource}"
                );
            } else if actions[0].starts_with("s3:") {
                assert_eq!(resource, &super::catalog::files_arn());
            } else if actions[0] == "iam:PassRole" {
                assert_eq!(resource, &json!({"Fn::GetAtt": ["PresignRole", "Arn"]}));
                assert_eq!(
                    statement["Condition"]["StringEquals"]["iam:PassedToService"],
                    "iot.amazonaws.com"
                );
            } else {
                panic!("an unexpected statement: {statement}");
            }
        }
    }
}

#[test]
fn each_permission_lets_only_this_api_call_only_its_operation() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::PerOperation)).unwrap();
    let permissions: Vec<&Value> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| {
            r["Type"] == "AWS::Lambda::Permission"
                && r["Properties"]["Principal"] == "apigateway.amazonaws.com"
        })
        .collect();
    assert_eq!(permissions.len(), handlers::OPERATIONS.len());
    let arn = template["Resources"]["CreateJobPermission"]["Properties"]["SourceArn"]["Fn::Sub"]
        .as_str()
        .unwrap();
    assert_eq!(
        arn,
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*/POST/jobs"
    );
    let arn = template["Resources"]["CancelJobExecutionPermission"]["Properties"]["SourceArn"]
        ["Fn::Sub"]
        .as_str()
        .unwrap();
    assert!(
        arn.ends_with("${RestApi}/*/PUT/jobs/*/things/*/cancel"),
        "{arn}"
    );
}

#[test]
fn synth_is_deterministic_and_a_changed_api_is_redeployed() {
    let spec = read_spec().unwrap();
    let settings = settings(Grouping::PerOperation);
    let first = render(&template(&spec, &settings).unwrap()).unwrap();
    let second = render(&template(&spec, &settings).unwrap()).unwrap();
    assert_eq!(first, second);

    let deployment = |t: &Value| {
        t["Resources"]
            .as_object()
            .unwrap()
            .keys()
            .find(|k| k.starts_with("Deployment"))
            .cloned()
            .unwrap()
    };
    let before = deployment(&template(&spec, &settings).unwrap());
    // Prose is not part of what API Gateway builds: no redeployment for it.
    let mut reworded = spec.clone();
    reworded["info"]["description"] = json!("a reworded API");
    assert_eq!(deployment(&template(&reworded, &settings).unwrap()), before);
    let mut changed = spec.clone();
    changed["paths"]["/jobs"]["get"]["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "since", "in": "query", "schema": {"type": "string"}}));
    let after = deployment(&template(&changed, &settings).unwrap());
    assert_ne!(before, after);
    let stage = template(&changed, &settings).unwrap()["Resources"]["Stage"]["Properties"]
        ["DeploymentId"]["Ref"]
        .clone();
    assert_eq!(stage, json!(after));
}

#[test]
fn authorization_and_cors_shape_the_document() {
    let spec = read_spec().unwrap();
    let mut settings = settings(Grouping::Single);
    let body = |s: &Settings| {
        template(&spec, s).unwrap()["Resources"]["RestApi"]["Properties"]["Body"].clone()
    };
    let iam = body(&settings);
    assert_eq!(every_methods_security(&iam), json!([{"sigv4": []}]));
    assert_eq!(
        iam["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"],
        "awsSigv4"
    );
    assert!(
        iam["paths"]["/jobs"].get("options").is_none(),
        "no CORS unless asked"
    );
    assert!(iam.get("servers").is_none());
    let validator = iam["x-amazon-apigateway-request-validator"]
        .as_str()
        .unwrap();
    let validator = &iam["x-amazon-apigateway-request-validators"][validator];
    assert_eq!(validator["validateRequestParameters"], true);
    assert_eq!(
        validator["validateRequestBody"], false,
        "bodies: the function's 422"
    );

    settings.authorization = Authorization::Custom {
        authorizer_arn: "arn:aws:lambda:eu-west-1:000000000000:function:auth".into(),
    };
    settings.cors_origins = vec!["https://console.example.com".into()];
    let custom = body(&settings);
    let scheme = &custom["components"]["securitySchemes"]["lambdaAuthorizer"];
    assert_eq!(scheme["x-amazon-apigateway-authorizer"]["type"], "token");
    let preflight = &custom["paths"]["/jobs"]["options"];
    assert_eq!(preflight["security"], json!([]));
    assert_eq!(preflight["x-amazon-apigateway-integration"]["type"], "mock");
    let template = template(&spec, &settings).unwrap();
    assert_eq!(
        template["Resources"]["AuthorizerPermission"]["Properties"]["FunctionName"],
        "arn:aws:lambda:eu-west-1:000000000000:function:auth"
    );
    assert_eq!(
        template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
            ["IOT_API_CORS_ORIGINS"],
        "https://console.example.com"
    );

    assert_eq!(
        every_methods_security(&custom),
        json!([{"lambdaAuthorizer": []}])
    );

    settings.authorization = Authorization::None;
    assert_eq!(every_methods_security(&body(&settings)), json!([]));
}

/// The `security` every operation of the contract carries in the API Gateway document, which
/// must be one and the same; the document itself must carry none. API Gateway's import applies
/// only a method's own security requirement (AWS's examples set it per operation, and the
/// importer's maintainers answered "You have to apply it per method":
/// https://github.com/amazon-archives/aws-apigateway-importer/issues/204), so a document-level
/// one alone would leave the API open.
fn every_methods_security(body: &Value) -> Value {
    assert!(
        body.get("security").is_none(),
        "a document-level security requirement is not applied by API Gateway"
    );
    let mut seen = BTreeSet::new();
    for op in handlers::OPERATIONS {
        let method = &body["paths"][op.path][op.method.as_str().to_lowercase()];
        let security = method
            .get("security")
            .unwrap_or_else(|| panic!("{} states no security", op.id));
        seen.insert(security.to_string());
    }
    assert_eq!(seen.len(), 1, "operations differ in security: {seen:?}");
    serde_json::from_str(seen.first().unwrap()).unwrap()
}

#[test]
fn the_console_is_open_served_by_a_function_that_may_do_nothing_and_signs_in_through_the_pool() {
    let spec = read_spec().unwrap();
    let mut settings = settings(Grouping::Single);
    settings.authorization = Authorization::Cognito {
        user_pool_arns: vec!["arn:aws:cognito-idp:eu-west-1:000000000000:userpool/p".into()],
    };
    let without = template(&spec, &settings).unwrap();
    assert!(without["Resources"].get("ConsoleFunction").is_none());
    assert!(without["Outputs"].get("ConsoleUrl").is_none());
    assert!(
        without["Resources"]["RestApi"]["Properties"]["Body"]["paths"]
            .get("/console")
            .is_none()
    );

    settings.console = Some(crate::infra::Console::Cognito {
        client_id: "client123".into(),
        region: "eu-west-1".into(),
    });
    let with = template(&spec, &settings).unwrap();
    let body = &with["Resources"]["RestApi"]["Properties"]["Body"];
    assert_eq!(
        every_methods_security(body),
        json!([{"cognito": []}]),
        "the API's own operations still need a token"
    );
    for path in ["/console", "/console/{asset}"] {
        let method = &body["paths"][path]["get"];
        assert_eq!(
            method["security"],
            json!([]),
            "{path}: the page signs people in"
        );
        assert_eq!(
            method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"][1]["FunctionArn"]
                ["Fn::GetAtt"][0],
            "ConsoleFunction"
        );
        assert_eq!(
            body["paths"][path].as_object().unwrap().len(),
            1,
            "{path}: GET only"
        );
    }
    let function = &with["Resources"]["ConsoleFunction"]["Properties"];
    assert_eq!(
        function["Environment"]["Variables"],
        json!({"IOT_API_FUNCTION": "console", "RUST_LOG": "info",
               "IOT_API_CONSOLE_USER_POOL_CLIENT_ID": "client123",
               "IOT_API_CONSOLE_USER_POOL_REGION": "eu-west-1",
               "IOT_API_CONSOLE_UPLOAD_ORIGIN": {"Fn::Sub": "https://${FilesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}"}})
    );
    // The browser PUTs a file's bytes to its presigned URL: the bucket answers the preflight
    // from API Gateway's origins, with at most one `*` in an allowed origin (S3's rule,
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManageCorsUsing.html).
    let cors = &with["Resources"]["FilesBucket"]["Properties"]["CorsConfiguration"]["CorsRules"][0];
    assert_eq!(cors["AllowedMethods"], json!(["PUT"]));
    for origin in cors["AllowedOrigins"].as_array().unwrap() {
        let origin = origin["Fn::Sub"].as_str().unwrap();
        assert_eq!(origin.matches('*').count(), 1, "{origin}");
        assert!(origin.starts_with("https://*.execute-api."), "{origin}");
    }
    assert!(without["Resources"]["FilesBucket"]["Properties"]
        .get("CorsConfiguration")
        .is_none());
    assert_eq!(
        allowed_actions(&with, "ConsoleFunctionRole"),
        Vec::<String>::new(),
        "the console function reads nothing"
    );
    let mut routes: Vec<&str> = ["ConsolePagePermission", "ConsoleAssetPermission"]
        .iter()
        .map(|p| {
            with["Resources"][*p]["Properties"]["SourceArn"]["Fn::Sub"]
                .as_str()
                .unwrap()
        })
        .collect();
    routes.sort_unstable();
    assert_eq!(
        routes,
        [
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*/GET/console",
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*/GET/console/*",
        ]
    );
    assert!(with["Outputs"]["ConsoleUrl"]["Value"]["Fn::Sub"]
        .as_str()
        .unwrap()
        .ends_with("/${Stage}/console"));
}

#[test]
fn the_console_is_refused_where_a_browser_cannot_sign_in() {
    let file = std::env::temp_dir().join(format!("iot-api-console-{}.toml", std::process::id()));
    let load = |text: &str| {
        std::fs::write(&file, text).unwrap();
        Settings::load(&Overrides {
            config: file.clone(),
            ..Overrides::default()
        })
    };
    let refused = |text: &str, wanted: &str| {
        let error = format!("{:#}", load(text).unwrap_err());
        assert!(error.contains(wanted), "{text}: {error}");
    };
    refused("[console]\nenabled = true\n", "not AWS_IAM");
    refused(
        "[authorization]\ntype = \"CUSTOM\"\nauthorizer-arn = \"arn:aws:lambda:eu-west-1:000000000000:function:a\"\n[console]\nenabled = true\n",
        "not CUSTOM",
    );
    let pool = "[authorization]\ntype = \"COGNITO_USER_POOLS\"\nuser-pool-arns = [\"arn:aws:cognito-idp:eu-west-1:000000000000:userpool/p\"]\n";
    refused(
        &format!("{pool}[console]\nenabled = true\n"),
        "console.user-pool-client-id",
    );
    refused(
        &format!("{pool}[console]\nenabled = true\nuser-pool-client-id = \"no spaces\"\n"),
        "not a Cognito app client id",
    );
    refused(
        "[console]\nuser-pool-client-id = \"abc\"\n",
        "set console.enabled = true",
    );
    let cognito = load(&format!(
        "{pool}[console]\nenabled = true\nuser-pool-client-id = \"abc123\"\n"
    ))
    .unwrap();
    assert_eq!(
        cognito.console,
        Some(crate::infra::Console::Cognito {
            client_id: "abc123".into(),
            region: "eu-west-1".into()
        })
    );
    let open = load("[authorization]\ntype = \"NONE\"\n[console]\nenabled = true\n").unwrap();
    assert_eq!(open.console, Some(crate::infra::Console::Open));
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn the_api_gateway_document_holds_only_what_the_import_supports() {
    let spec = read_spec().unwrap();
    let mut settings = settings(Grouping::PerOperation);
    settings.cors_origins = vec!["https://console.example.com".into()];
    for authorization in [
        Authorization::AwsIam,
        Authorization::Cognito {
            user_pool_arns: vec!["arn:aws:cognito-idp:eu-west-1:000000000000:userpool/p".into()],
        },
    ] {
        settings.authorization = authorization;
        let body = template(&spec, &settings).unwrap()["Resources"]["RestApi"]["Properties"]
            ["Body"]
            .clone();
        let mut found = Vec::new();
        keys(&body, "", &mut found);
        let unsupported: Vec<_> = found
            .iter()
            .filter(|(key, _)| API_GATEWAY_UNSUPPORTED.contains(&key.as_str()))
            .collect();
        assert!(unsupported.is_empty(), "{unsupported:?}");
        // No models: bodies are the function's to validate.
        let components: Vec<&String> = body["components"].as_object().unwrap().keys().collect();
        assert_eq!(components, ["securitySchemes"]);
        for (key, at) in &found {
            assert!(
                !["requestBody", "content", "$ref", "schemas"].contains(&key.as_str()),
                "{key} at {at}"
            );
            if at.ends_with("/schema") {
                assert_eq!(
                    key, "type",
                    "a parameter schema holds only its type, at {at}"
                );
            }
        }
        // Every operation of the contract is there, with its path parameters.
        let operations: usize = body["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|m| *m != "options")
                    .count()
            })
            .sum();
        assert_eq!(operations, handlers::OPERATIONS.len());
        let describe = &body["paths"]["/jobs/{jobId}/things/{thingName}"]["get"]["parameters"];
        assert_eq!(
            describe,
            &json!([
                {"name": "jobId", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "thingName", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "executionNumber", "in": "query", "schema": {"type": "integer"}},
            ])
        );
    }
}

/// API Gateway refuses, at import, a path segment with characters other than letters, digits,
/// `-._,:` and braces, a path parameter that is not a whole segment, and two sibling segments
/// that are variables of different names ("A sibling ({fileId}) of this resource already has a
/// variable path part -- only one is allowed"). Sources: "Amazon API Gateway important notes
/// for REST APIs" and "Errors and warnings from importing your API into API Gateway"
/// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-import-api-errors-warnings.html).
#[test]
fn every_path_of_the_contract_is_one_api_gateway_imports() {
    let spec = read_spec().unwrap();
    let paths: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(path_problems(&paths), Vec::<String>::new());
    let broken = path_problems(&[
        "/files/{fileId}",
        "/files/{checksum}/versions/{version}",
        "/files/by-id/{fileId}",
        "/jobs/job-{id}",
        "/a b",
    ]);
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(
        broken.iter().any(|p| p.contains("{checksum, fileId}")),
        "{broken:?}"
    );
}

#[test]
fn api_gateway_answers_with_codes_the_contract_lists() {
    let spec = read_spec().unwrap();
    let codes = spec["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    for (kind, _, code, _) in GATEWAY_RESPONSES {
        assert!(
            codes.contains(&json!(code)),
            "{kind}: {code} is not in openapi.yaml"
        );
    }
    let template = template(&spec, &settings(Grouping::Single)).unwrap();
    let responses = &template["Resources"]["RestApi"]["Properties"]["Body"]
        ["x-amazon-apigateway-gateway-responses"];
    assert_eq!(responses["BAD_REQUEST_BODY"]["statusCode"], "422");
    assert!(responses["DEFAULT_4XX"].get("statusCode").is_none());
}

#[test]
fn outputs_are_exported_for_other_stacks() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::PerOperation)).unwrap();
    for output in ["ApiUrl", "RestApiId"] {
        assert_eq!(
            template["Outputs"][output]["Export"]["Name"]["Fn::Sub"],
            format!("${{AWS::StackName}}-{output}")
        );
    }
    assert_eq!(template["Outputs"]["Authorization"]["Value"], "AWS_IAM");
}

/// The catalog's table and bucket keep what they hold: retained with the stack, point-in-time
/// recovery and deletion protection on the table; versions, encryption, no public access, TLS
/// only and an end to abandoned multipart uploads on the bucket. AWS IoT's presign role reads
/// files and nothing else. Sources: the AWS::DynamoDB::Table and AWS::S3::Bucket CloudFormation
/// references, and "Managing jobs: presigned URLs" of the AWS IoT developer guide.
#[test]
fn the_catalog_keeps_its_data_and_the_presign_role_only_reads_files() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::Single)).unwrap();
    let resources = &template["Resources"];
    let table = &resources["FilesTable"];
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(
        table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["Properties"]["SSESpecification"]["SSEEnabled"], true);
    let bucket = &resources["FilesBucket"]["Properties"];
    assert_eq!(resources["FilesBucket"]["DeletionPolicy"], "Retain");
    assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][flag], true,
            "{flag}"
        );
    }
    let rules = bucket["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap();
    assert!(rules
        .iter()
        .any(|r| r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].is_u64()));
    let deny = &resources["FilesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    let presign = &resources["PresignRole"]["Properties"];
    assert_eq!(
        presign["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "iot.amazonaws.com"
    );
    assert_eq!(
        presign["Policies"][0]["PolicyDocument"]["Statement"],
        json!([{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [super::catalog::files_arn()]}])
    );
    let variables = &resources["ApiFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        variables["IOT_API_FILES_TABLE"],
        json!({"Ref": "FilesTable"})
    );
    assert_eq!(
        variables["IOT_API_FILES_BUCKET"],
        super::catalog::bucket_name()
    );
}

/// What CloudFormation's intrinsic functions make of `value` in a stack with `stack_id`: enough
/// of `Ref`, `Fn::Join`, `Fn::Select`, `Fn::Split` and `Fn::Sub` for names made from the id.
fn evaluate(value: &Value, stack_id: &str) -> String {
    let strings = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(items) => items.iter().map(|i| evaluate(i, stack_id)).collect(),
            other => vec![evaluate(other, stack_id)],
        }
    };
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("Ref") => match o["Ref"].as_str().unwrap() {
            "AWS::StackId" => stack_id.to_owned(),
            "AWS::Partition" => "aws".to_owned(),
            other => panic!("no value for Ref {other}"),
        },
        Value::Object(o) if o.contains_key("Fn::Join") => {
            let args = o["Fn::Join"].as_array().unwrap();
            strings(&args[1]).join(args[0].as_str().unwrap())
        }
        Value::Object(o) if o.contains_key("Fn::Split") => {
            let args = o["Fn::Split"].as_array().unwrap();
            evaluate(&args[1], stack_id)
                .split(args[0].as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\u{0}")
        }
        Value::Object(o) if o.contains_key("Fn::Select") => {
            let args = o["Fn::Select"].as_array().unwrap();
            let list = evaluate(&args[1], stack_id);
            list.split('\u{0}')
                .nth(args[0].as_u64().unwrap() as usize)
                .unwrap()
                .to_owned()
        }
        Value::Object(o) if o.contains_key("Fn::Sub") => {
            let args = o["Fn::Sub"].as_array().unwrap();
            let mut text = args[0]
                .as_str()
                .unwrap()
                .replace("${AWS::Partition}", "aws");
            for (name, v) in args[1].as_object().unwrap() {
                text = text.replace(&format!("${{{name}}}"), &evaluate(v, stack_id));
            }
            text
        }
        other => panic!("cannot evaluate {other}"),
    }
}

/// S3 refuses the bucket unless its name is 3 to 63 characters of lowercase letters, digits,
/// dots and hyphens, begins and ends with a letter or digit, and is not shaped like an IP
/// address ("Bucket naming rules", Amazon S3 User Guide). The verifier's permission names the
/// bucket before it exists, so both must make the same name.
#[test]
fn the_bucket_name_made_from_the_stack_id_is_one_s3_accepts_and_the_permission_names() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::PerTag)).unwrap();
    let resources = &template["Resources"];
    let stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/Device-API_prod/1c2fa620-982a-11e3-aff7-50e2416294e0";
    let name = evaluate(
        &resources["FilesBucket"]["Properties"]["BucketName"],
        stack_id,
    );
    assert_eq!(name, "iot-api-files-1c2fa620-982a-11e3-aff7-50e2416294e0");
    assert!((3..=63).contains(&name.len()), "{name}");
    assert!(name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'));
    assert!(name.starts_with(|c: char| c.is_ascii_alphanumeric()));
    assert!(name.ends_with(|c: char| c.is_ascii_alphanumeric()));
    let permission = &resources["VerifierPermission"]["Properties"];
    assert_eq!(
        evaluate(&permission["SourceArn"], stack_id),
        format!("arn:aws:s3:::{name}")
    );
    assert_eq!(
        evaluate(&super::catalog::files_arn(), stack_id),
        format!("arn:aws:s3:::{name}/files/*")
    );
}

#[test]
fn the_verifier_hears_only_completed_multipart_uploads_and_may_only_verify() {
    let template = template(&read_spec().unwrap(), &settings(Grouping::PerTag)).unwrap();
    let resources = &template["Resources"];
    let bucket = &resources["FilesBucket"];
    // S3 checks at creation that it may invoke the function it notifies.
    assert_eq!(bucket["DependsOn"], json!(["VerifierPermission"]));
    let notification = &bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
    assert_eq!(
        notification,
        &json!([{
            "Event": "s3:ObjectCreated:CompleteMultipartUpload",
            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "files/"}]}},
            "Function": {"Fn::GetAtt": ["VerifierFunction", "Arn"]},
        }])
    );
    let permission = &resources["VerifierPermission"]["Properties"];
    assert_eq!(permission["Principal"], "s3.amazonaws.com");
    assert_eq!(
        permission["SourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );
    let function = &resources["VerifierFunction"]["Properties"];
    assert_eq!(
        function["Environment"]["Variables"][handlers::FUNCTION_VARIABLE],
        handlers::VERIFIER_FUNCTION
    );
    assert_eq!(function["Timeout"], 900);
    let mut expected: Vec<String> = super::catalog::VERIFIER_ACTIONS
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    expected.sort();
    assert_eq!(allowed_actions(&template, "VerifierFunctionRole"), expected);
}

/// The resources a resource waits for: those it names with `Ref`, `Fn::GetAtt` or `Fn::Sub`, and
/// its `DependsOn`.
fn references(value: &Value, names: &BTreeSet<String>, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(o) => {
            for (key, v) in o {
                match (key.as_str(), v) {
                    ("Ref", Value::String(name)) if names.contains(name) => {
                        found.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::Array(args)) => {
                        found.extend(
                            args[0]
                                .as_str()
                                .map(str::to_owned)
                                .filter(|n| names.contains(n)),
                        );
                    }
                    ("Fn::Sub", _) => {
                        let text = match v {
                            Value::Array(args) => args[0].as_str().unwrap_or(""),
                            other => other.as_str().unwrap_or(""),
                        };
                        for part in text.split("${").skip(1) {
                            let name = part.split(['}', '.']).next().unwrap_or("");
                            if names.contains(name) {
                                found.insert(name.to_owned());
                            }
                        }
                    }
                    _ => {}
                }
                references(v, names, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, names, found)),
        _ => {}
    }
}

/// CloudFormation refuses a template whose resources wait for each other in a circle ("Circular
/// dependency between resources"), which only a deploy would show.
#[test]
fn no_resources_wait_for_each_other_in_a_circle() {
    for grouping in [Grouping::PerOperation, Grouping::PerTag, Grouping::Single] {
        let mut settings = settings(grouping);
        if grouping == Grouping::Single {
            // With the console, whose function names the bucket the API's browsers upload to.
            settings.authorization = Authorization::None;
            settings.console = Some(crate::infra::Console::Open);
        }
        let template = template(&read_spec().unwrap(), &settings).unwrap();
        let resources = template["Resources"].as_object().unwrap();
        let names: BTreeSet<String> = resources.keys().cloned().collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, resource) in resources {
            let mut found = BTreeSet::new();
            references(resource, &names, &mut found);
            edges.insert(name.clone(), found);
        }
        // Kahn's algorithm: whatever cannot be ordered is in a circle.
        let mut waiting: BTreeMap<&String, usize> =
            edges.iter().map(|(n, e)| (n, e.len())).collect();
        let mut ready: Vec<&String> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(k, _)| *k)
            .collect();
        while let Some(done) = ready.pop() {
            waiting.remove(done);
            for (name, needs) in &edges {
                if needs.contains(done) {
                    if let Some(count) = waiting.get_mut(name) {
                        *count -= 1;
                        if *count == 0 {
                            ready.push(name);
                        }
                    }
                }
            }
        }
        assert!(
            waiting.is_empty(),
            "{grouping:?}: in a circle: {:?}",
            waiting.keys().collect::<Vec<_>>()
        );
    }
}
