//! Deploy and destroy against AWS responses played by mocked clients: each client's rules must be
//! called in their order, each exactly as often as it answers, so a test pins the calls made.
//! The bucket and upload steps also run against the moto server of the test command.

use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeType, Output, Replacement, ResourceStatus, Stack, StackEvent,
};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::operation::create_bucket::CreateBucketOutput;
use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_bucket_encryption::PutBucketEncryptionOutput;
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
use aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::DateTime;

use super::*;
use aws_config::{BehaviorVersion, Region};
use base64::Engine;
use cfn::types::ChangeSetStatus;

const STACK: &str = "iot-device-api";
const STACK_ID: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/iot-device-api/0a1b2c3d";
const ACCOUNT: &str = "123456789012";
const OWN_BUCKET: &str = "iot-api-artifacts-123456789012-eu-west-1";
const TEMPLATE: &str = "{\"Resources\": {}}\n";

/// Records what deploy says, and answers its one question as told.
struct Recorder {
    lines: Vec<String>,
    questions: Vec<String>,
    answer: Option<bool>,
}

impl Recorder {
    fn answering(answer: Option<bool>) -> Recorder {
        Recorder {
            lines: Vec::new(),
            questions: Vec::new(),
            answer,
        }
    }

    fn said(&self, text: &str) -> bool {
        self.lines.iter().any(|line| line.contains(text))
    }
}

impl Console for Recorder {
    fn say(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }

    fn confirm(&mut self, question: &str) -> anyhow::Result<bool> {
        self.questions.push(question.to_owned());
        self.answer.context("asked, though --yes was given")
    }
}

fn release(bucket: Option<&str>, yes: bool) -> Release {
    let artifact = b"PK fake zip".to_vec();
    Release {
        stack_name: STACK.into(),
        template: TEMPLATE.into(),
        artifact_sha256: hex(&Sha256::digest(&artifact)),
        artifact,
        bucket: bucket.map(str::to_owned),
        tags: BTreeMap::from([("team".to_owned(), "platform".to_owned())]),
        change_set_name: "deploy-1".into(),
        yes,
    }
}

fn artifact_key() -> String {
    format!("bootstrap/{}.zip", release(None, true).artifact_sha256)
}

fn template_key() -> String {
    format!(
        "templates/{STACK}/{}.json",
        hex(&Sha256::digest(TEMPLATE.as_bytes()))
    )
}

/// Clients answering with the rules, each client's in order.
fn aws(cloudformation: &[&Rule], s3: &[&Rule], sts: &[&Rule]) -> Aws {
    Aws {
        cloudformation: mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, cloudformation),
        s3: mock_client!(aws_sdk_s3, RuleMode::Sequential, s3),
        sts: mock_client!(aws_sdk_sts, RuleMode::Sequential, sts),
        region: "eu-west-1".into(),
        endpoint_url: None,
    }
}

/// Every rule answered. In sequential mode that means each answered in turn, and all its
/// answers: a client moves to the next rule only when the current one is used up, and panics on
/// a call the current rule does not match.
fn assert_all_used(rules: &[&Rule]) {
    for (n, rule) in rules.iter().enumerate() {
        assert!(rule.num_calls() > 0, "rule {n} was never used");
    }
}

fn http(status: u16, body: &str) -> HttpResponse {
    HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body.to_owned()))
}

/// What CloudFormation answers, as XML, for a stack that is not there.
fn no_such_stack() -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|r| r.stack_name() == Some(STACK))
        .then_http_response(|| {
            http(
                400,
                "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                 <Error><Type>Sender</Type><Code>ValidationError</Code>\
                 <Message>Stack with id iot-device-api does not exist</Message></Error>\
                 <RequestId>r</RequestId></ErrorResponse>",
            )
        })
}

fn stack_output(status: StackStatus, outputs: bool) -> DescribeStacksOutput {
    let mut stack = Stack::builder()
        .stack_name(STACK)
        .stack_id(STACK_ID)
        .creation_time(DateTime::from_secs(1_800_000_000))
        .stack_status(status);
    if outputs {
        stack = stack
            .outputs(
                Output::builder()
                    .output_key("ApiUrl")
                    .output_value("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/")
                    .export_name("iot-device-api-ApiUrl")
                    .build(),
            )
            .outputs(
                Output::builder()
                    .output_key("RestApiId")
                    .output_value("abc123")
                    .export_name("iot-device-api-RestApiId")
                    .build(),
            );
    }
    DescribeStacksOutput::builder()
        .stacks(stack.build())
        .build()
}

/// The stack in `status`, with its outputs when `outputs`.
fn stack_is(status: StackStatus, outputs: bool) -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .then_output(move || stack_output(status.clone(), outputs))
}

fn event(
    id: &str,
    logical_id: &str,
    kind: &str,
    status: ResourceStatus,
    reason: &str,
) -> StackEvent {
    let physical = if kind == "AWS::CloudFormation::Stack" {
        STACK_ID.to_owned()
    } else {
        format!("physical-{logical_id}")
    };
    StackEvent::builder()
        .stack_id(STACK_ID)
        .stack_name(STACK)
        .event_id(id)
        .logical_resource_id(logical_id)
        .physical_resource_id(physical)
        .resource_type(kind)
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(1_800_000_000))
        .build()
}

/// The stack's events, newest first, as each call sees them.
fn events(pages: Vec<Vec<StackEvent>>) -> Rule {
    let mut sequence = mock!(aws_sdk_cloudformation::Client::describe_stack_events).sequence();
    for page in pages {
        sequence = sequence.output(move || {
            DescribeStackEventsOutput::builder()
                .set_stack_events(Some(page.clone()))
                .build()
        });
    }
    sequence.build()
}

fn stack_event(id: &str, status: ResourceStatus) -> StackEvent {
    event(id, STACK, "AWS::CloudFormation::Stack", status, "")
}

fn function_event(id: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    event(
        id,
        "CreateJobFunction",
        "AWS::Lambda::Function",
        status,
        reason,
    )
}

fn change_set(of_type: ChangeSetType, template_url: String) -> Rule {
    mock!(aws_sdk_cloudformation::Client::create_change_set)
        .match_requests(move |r| {
            let parameters: Vec<_> = r
                .parameters()
                .iter()
                .map(|p| (p.parameter_key().unwrap(), p.parameter_value().unwrap()))
                .collect();
            r.stack_name() == Some(STACK)
                && r.change_set_name() == Some("deploy-1")
                && r.change_set_type() == Some(&of_type)
                && r.template_url() == Some(template_url.as_str())
                && r.template_body().is_none()
                && r.capabilities() == [Capability::CapabilityIam]
                && parameters.contains(&("ArtifactKey", artifact_key().as_str()))
                && parameters.iter().any(|(k, _)| *k == "ArtifactBucket")
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("team") && t.value() == Some("platform"))
        })
        .then_output(|| CreateChangeSetOutput::builder().id("cs-1").build())
}

fn resource_change(
    action: ChangeAction,
    logical_id: &str,
    kind: &str,
) -> aws_sdk_cloudformation::types::Change {
    aws_sdk_cloudformation::types::Change::builder()
        .r#type(ChangeType::Resource)
        .resource_change(
            aws_sdk_cloudformation::types::ResourceChange::builder()
                .action(action)
                .logical_resource_id(logical_id)
                .resource_type(kind)
                .replacement(Replacement::False)
                .build(),
        )
        .build()
}

/// A change set still being made, then ready with two changes, the second on a page of its own.
fn change_set_ready() -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_change_set)
        .sequence()
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateInProgress)
                .build()
        })
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(resource_change(
                    ChangeAction::Add,
                    "CreateJobFunction",
                    "AWS::Lambda::Function",
                ))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(resource_change(
                    ChangeAction::Modify,
                    "RestApi",
                    "AWS::ApiGateway::RestApi",
                ))
                .build()
        })
        .build()
}

fn execute() -> Rule {
    mock!(aws_sdk_cloudformation::Client::execute_change_set)
        .match_requests(|r| {
            r.stack_name() == Some(STACK) && r.change_set_name() == Some("deploy-1")
        })
        .then_output(|| ExecuteChangeSetOutput::builder().build())
}

fn delete_change_set() -> Rule {
    mock!(aws_sdk_cloudformation::Client::delete_change_set)
        .match_requests(|r| {
            r.stack_name() == Some(STACK) && r.change_set_name() == Some("deploy-1")
        })
        .then_output(|| DeleteChangeSetOutput::builder().build())
}

fn bucket_exists(bucket: &'static str) -> Rule {
    mock!(aws_sdk_s3::Client::head_bucket)
        .match_requests(move |r| r.bucket() == Some(bucket))
        .then_output(|| HeadBucketOutput::builder().build())
}

fn object_exists(key: String) -> Rule {
    mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| r.key() == Some(key.as_str()))
        .then_output(|| HeadObjectOutput::builder().build())
}

/// The named bucket, holding the artifact and the template from an earlier deploy.
fn uploaded_before() -> [Rule; 3] {
    [
        bucket_exists("my-artifacts"),
        object_exists(artifact_key()),
        object_exists(template_key()),
    ]
}

/// Where CloudFormation reads the template in the named bucket.
fn named_bucket_url() -> String {
    let key = template_key();
    format!("https://my-artifacts.s3.eu-west-1.amazonaws.com/{key}")
}

fn object_missing(key: String) -> Rule {
    mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| r.key() == Some(key.as_str()))
        .then_http_response(|| http(404, ""))
}

fn put(key: String, body: Vec<u8>) -> Rule {
    mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| {
            let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
            r.key() == Some(key.as_str())
                && r.checksum_sha256() == Some(sha.as_str())
                && r.body().bytes() == Some(body.as_slice())
        })
        .then_output(|| PutObjectOutput::builder().build())
}

#[tokio::test]
async fn a_first_deploy_makes_the_bucket_uploads_and_creates_the_stack() {
    let url = format!(
        "https://{OWN_BUCKET}.s3.eu-west-1.amazonaws.com/{}",
        template_key()
    );
    // While following, describe_stacks and describe_stack_events alternate.
    let cloudformation = [
        &no_such_stack(),
        &change_set(ChangeSetType::Create, url),
        &change_set_ready(),
        &events(vec![vec![stack_event(
            "e0",
            ResourceStatus::from("REVIEW_IN_PROGRESS"),
        )]]),
        &execute(),
        &stack_is(StackStatus::CreateInProgress, false),
        &events(vec![vec![
            function_event("e2", ResourceStatus::CreateComplete, ""),
            function_event("e1", ResourceStatus::CreateInProgress, ""),
            stack_event("e0", ResourceStatus::from("REVIEW_IN_PROGRESS")),
        ]]),
        &stack_is(StackStatus::CreateComplete, false),
        &events(vec![vec![
            stack_event("e3", ResourceStatus::CreateComplete),
            function_event("e2", ResourceStatus::CreateComplete, ""),
        ]]),
        &stack_is(StackStatus::CreateComplete, true),
    ];
    let s3 = [
        &mock!(aws_sdk_s3::Client::head_bucket)
            .match_requests(|r| {
                r.bucket() == Some(OWN_BUCKET) && r.expected_bucket_owner() == Some(ACCOUNT)
            })
            .then_http_response(|| http(404, "")),
        &mock!(aws_sdk_s3::Client::create_bucket)
            .match_requests(|r| {
                r.bucket() == Some(OWN_BUCKET)
                    && r.create_bucket_configuration()
                        .and_then(|c| c.location_constraint())
                        .map(|l| l.as_str())
                        == Some("eu-west-1")
            })
            .then_output(|| CreateBucketOutput::builder().build()),
        &mock!(aws_sdk_s3::Client::put_public_access_block)
            .match_requests(|r| {
                r.public_access_block_configuration().is_some_and(|c| {
                    c.block_public_acls() == Some(true)
                        && c.ignore_public_acls() == Some(true)
                        && c.block_public_policy() == Some(true)
                        && c.restrict_public_buckets() == Some(true)
                })
            })
            .then_output(|| PutPublicAccessBlockOutput::builder().build()),
        &mock!(aws_sdk_s3::Client::put_bucket_encryption)
            .match_requests(|r| {
                r.server_side_encryption_configuration().is_some_and(|c| {
                    c.rules().iter().any(|rule| {
                        rule.apply_server_side_encryption_by_default()
                            .is_some_and(|d| d.sse_algorithm().as_str() == "AES256")
                    })
                })
            })
            .then_output(|| PutBucketEncryptionOutput::builder().build()),
        &mock!(aws_sdk_s3::Client::put_bucket_versioning)
            .match_requests(|r| {
                r.versioning_configuration()
                    .and_then(|c| c.status())
                    .map(|s| s.as_str())
                    == Some("Enabled")
            })
            .then_output(|| PutBucketVersioningOutput::builder().build()),
        &mock!(aws_sdk_s3::Client::put_bucket_policy)
            .match_requests(|r| {
                let policy = r.policy().unwrap_or_default();
                policy.contains("aws:SecureTransport")
                    && policy.contains(&format!("arn:aws:s3:::{OWN_BUCKET}/*"))
            })
            .then_output(|| PutBucketPolicyOutput::builder().build()),
        &object_missing(artifact_key()),
        &put(artifact_key(), release(None, true).artifact),
        &object_missing(template_key()),
        &put(template_key(), TEMPLATE.as_bytes().to_vec()),
    ];
    let sts = [
        &mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
            GetCallerIdentityOutput::builder()
                .account(ACCOUNT)
                .arn("arn:aws:iam::123456789012:user/dev")
                .build()
        }),
    ];
    let aws = aws(&cloudformation, &s3, &sts);
    let mut console = Recorder::answering(Some(true));
    let outcome = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(None, false))
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::Done);
    assert_all_used(&cloudformation);
    assert_all_used(&s3);
    assert_all_used(&sts);
    assert_eq!(console.questions.len(), 1, "{:?}", console.questions);
    assert!(console.said("Created bucket iot-api-artifacts-123456789012-eu-west-1: encrypted, versioned, public access blocked"));
    assert!(console.said("Created change set deploy-1 (CREATE)"));
    assert!(console.said("2 resources change:"));
    assert!(console.said("Add     CreateJobFunction"));
    assert!(console.said("Modify  RestApi"));
    assert!(console.said("[  1/2]"), "progress: {:#?}", console.lines);
    assert!(console.said("ApiUrl = https://abc123.execute-api.eu-west-1.amazonaws.com/v1/ (exported as iot-device-api-ApiUrl)"));
    assert!(console.said("RestApiId = abc123 (exported as iot-device-api-RestApiId)"));
    assert!(
        !console.said("REVIEW_IN_PROGRESS"),
        "events from before the change are not shown: {:#?}",
        console.lines
    );
}

#[tokio::test]
async fn an_update_uploads_only_what_is_not_there_yet() {
    let url = named_bucket_url();
    let cloudformation = [
        &stack_is(StackStatus::UpdateComplete, true),
        &change_set(ChangeSetType::Update, url),
        &change_set_ready(),
        &events(vec![vec![stack_event(
            "e0",
            ResourceStatus::UpdateComplete,
        )]]),
        &execute(),
        &stack_is(StackStatus::UpdateCompleteCleanupInProgress, false),
        &events(vec![vec![
            function_event("e2", ResourceStatus::UpdateComplete, ""),
            function_event("e1", ResourceStatus::UpdateInProgress, ""),
            stack_event("e0", ResourceStatus::UpdateComplete),
        ]]),
        &stack_is(StackStatus::UpdateComplete, false),
        &events(vec![vec![
            stack_event("e3", ResourceStatus::UpdateComplete),
            function_event("e2", ResourceStatus::UpdateComplete, ""),
        ]]),
        &stack_is(StackStatus::UpdateComplete, true),
    ];
    // The artifact is there already (same code, same hash): no put_object for it.
    let s3 = [
        &bucket_exists("my-artifacts"),
        &object_exists(artifact_key()),
        &object_missing(template_key()),
        &put(template_key(), TEMPLATE.as_bytes().to_vec()),
    ];
    let aws = aws(&cloudformation, &s3, &[]);
    let mut console = Recorder::answering(None);
    let outcome = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(Some("my-artifacts"), true))
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::Done);
    assert_all_used(&cloudformation);
    assert_all_used(&s3);
    assert!(console.questions.is_empty(), "--yes asks nothing");
    assert!(console.said(&format!(
        "s3://my-artifacts/{} is there already; not uploaded again.",
        artifact_key()
    )));
    assert!(console.said(&format!("Uploaded s3://my-artifacts/{}", template_key())));
    assert!(console.said("Created change set deploy-1 (UPDATE)"));
    assert!(console.said("Stack iot-device-api is UPDATE_COMPLETE."));
    assert!(console.said("ApiUrl = https://abc123"));
}

#[tokio::test]
async fn a_deploy_with_nothing_changed_says_so_and_changes_nothing() {
    let cloudformation = [
        &stack_is(StackStatus::UpdateComplete, true),
        &change_set(
            ChangeSetType::Update,
            named_bucket_url(),
        ),
        &mock!(aws_sdk_cloudformation::Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::Failed)
                .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
                .build()
        }),
        &delete_change_set(),
    ];
    let uploaded = uploaded_before();
    let s3: Vec<&Rule> = uploaded.iter().collect();
    let aws = aws(&cloudformation, &s3, &[]);
    let mut console = Recorder::answering(None);
    let outcome = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(Some("my-artifacts"), false))
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::NothingToDo);
    assert_all_used(&cloudformation);
    assert_all_used(&s3);
    assert!(console.questions.is_empty(), "nothing to confirm");
    assert!(console.said("No changes: stack iot-device-api in eu-west-1 is already what this deploy would make. Nothing was changed."));
}

#[tokio::test]
async fn a_failed_deploy_names_the_failing_resource_and_why() {
    let reason = "Resource handler returned message: \"Uploaded file must be a non-empty zip\"";
    let cloudformation = [
        &no_such_stack(),
        &change_set(ChangeSetType::Create, named_bucket_url()),
        &change_set_ready(),
        &events(vec![vec![stack_event(
            "e0",
            ResourceStatus::from("REVIEW_IN_PROGRESS"),
        )]]),
        &execute(),
        &stack_is(StackStatus::RollbackInProgress, false),
        &events(vec![vec![
            stack_event("e4", ResourceStatus::RollbackInProgress),
            event(
                "e3",
                "RestApi",
                "AWS::ApiGateway::RestApi",
                ResourceStatus::CreateFailed,
                "Resource creation cancelled",
            ),
            function_event("e2", ResourceStatus::CreateFailed, reason),
            function_event("e1", ResourceStatus::CreateInProgress, ""),
            stack_event("e0", ResourceStatus::from("REVIEW_IN_PROGRESS")),
        ]]),
        &stack_is(StackStatus::RollbackComplete, false),
        &events(vec![vec![
            stack_event("e6", ResourceStatus::RollbackComplete),
            function_event("e5", ResourceStatus::DeleteComplete, ""),
            stack_event("e4", ResourceStatus::RollbackInProgress),
        ]]),
    ];
    let uploaded = uploaded_before();
    let s3: Vec<&Rule> = uploaded.iter().collect();
    let aws = aws(&cloudformation, &s3, &[]);
    let mut console = Recorder::answering(Some(true));
    let error = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(Some("my-artifacts"), false))
        .await
        .unwrap_err()
        .to_string();

    assert_all_used(&cloudformation);
    assert!(
        error.starts_with("stack iot-device-api ended ROLLBACK_COMPLETE"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "CreateJobFunction (AWS::Lambda::Function) CREATE_FAILED: {reason}"
        )),
        "{error}"
    );
    assert!(
        !error.contains("RestApi"),
        "cancelled resources are not causes: {error}"
    );
    assert!(
        console.said(reason),
        "the failure is in the event stream too"
    );
}

#[tokio::test]
async fn a_declined_change_set_is_deleted_and_nothing_is_executed() {
    let cloudformation = [
        &stack_is(StackStatus::UpdateComplete, true),
        &change_set(ChangeSetType::Update, named_bucket_url()),
        &change_set_ready(),
        &delete_change_set(),
    ];
    let uploaded = uploaded_before();
    let s3: Vec<&Rule> = uploaded.iter().collect();
    let aws = aws(&cloudformation, &s3, &[]);
    let mut console = Recorder::answering(Some(false));
    let outcome = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(Some("my-artifacts"), false))
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::Declined);
    assert_all_used(&cloudformation);
    assert_eq!(
        console.questions,
        ["Execute change set deploy-1 on stack iot-device-api in eu-west-1?"]
    );
}

#[tokio::test]
async fn a_stack_that_cannot_take_a_change_set_is_refused_before_uploading() {
    for (status, expected) in [
        (
            StackStatus::UpdateInProgress,
            "is UPDATE_IN_PROGRESS: another change is under way",
        ),
        (
            StackStatus::RollbackComplete,
            "Run `cargo xtask destroy`, then deploy again",
        ),
    ] {
        let cloudformation = [&stack_is(status, false)];
        let aws = aws(&cloudformation, &[], &[]);
        let mut console = Recorder::answering(None);
        let error = Deployer::new(&aws, &mut console, Duration::ZERO)
            .deploy(&release(Some("my-artifacts"), true))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
        assert_all_used(&cloudformation);
    }
}

#[tokio::test]
async fn a_named_bucket_must_exist() {
    let s3 = [&mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| http(404, ""))];
    let aws = aws(&[&no_such_stack()], &s3, &[]);
    let mut console = Recorder::answering(None);
    let error = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(Some("my-artifacts"), true))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("bucket my-artifacts does not exist"),
        "{error}"
    );
}

#[tokio::test]
async fn a_bucket_of_deploys_name_owned_by_another_account_is_refused() {
    let s3 = [&mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| http(403, ""))];
    let sts = [
        &mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
            GetCallerIdentityOutput::builder()
                .account(ACCOUNT)
                .arn("arn:aws:iam::123456789012:user/dev")
                .build()
        }),
    ];
    let aws = aws(&[&no_such_stack()], &s3, &sts);
    let mut console = Recorder::answering(None);
    let error = Deployer::new(&aws, &mut console, Duration::ZERO)
        .deploy(&release(None, true))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("exists but is not this account's"),
        "{error}"
    );
}

#[tokio::test]
async fn destroy_deletes_the_stack_after_confirmation() {
    let cloudformation = [
        &stack_is(StackStatus::UpdateComplete, true),
        &events(vec![vec![stack_event(
            "e0",
            ResourceStatus::UpdateComplete,
        )]]),
        &mock!(aws_sdk_cloudformation::Client::delete_stack)
            .match_requests(|r| r.stack_name() == Some(STACK_ID))
            .then_output(|| DeleteStackOutput::builder().build()),
        &stack_is(StackStatus::DeleteInProgress, false),
        &events(vec![vec![
            function_event("e2", ResourceStatus::DeleteComplete, ""),
            stack_event("e1", ResourceStatus::DeleteInProgress),
            stack_event("e0", ResourceStatus::UpdateComplete),
        ]]),
        &stack_is(StackStatus::DeleteComplete, false),
        &events(vec![vec![
            stack_event("e3", ResourceStatus::DeleteComplete),
            function_event("e2", ResourceStatus::DeleteComplete, ""),
        ]]),
    ];
    let aws = aws(&cloudformation, &[], &[]);
    let mut console = Recorder::answering(Some(true));
    let outcome = Deployer::new(&aws, &mut console, Duration::ZERO)
        .destroy(STACK, false)
        .await
        .unwrap();

    assert_eq!(outcome, Outcome::Done);
    assert_all_used(&cloudformation);
    assert_eq!(console.questions, ["Delete stack iot-device-api?"]);
    assert!(console.said("DELETE_COMPLETE"));
    assert!(console.said("Stack iot-device-api is deleted."));
}

#[tokio::test]
async fn destroy_asks_first_and_leaves_a_missing_stack_alone() {
    let declined = [&stack_is(StackStatus::UpdateComplete, true)];
    let aws_declined = aws(&declined, &[], &[]);
    let mut console = Recorder::answering(Some(false));
    let outcome = Deployer::new(&aws_declined, &mut console, Duration::ZERO)
        .destroy(STACK, false)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Declined);
    assert_all_used(&declined);

    let missing = [&no_such_stack()];
    let aws_missing = aws(&missing, &[], &[]);
    let mut console = Recorder::answering(None);
    let outcome = Deployer::new(&aws_missing, &mut console, Duration::ZERO)
        .destroy(STACK, false)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::NothingToDo);
    assert!(console.said("Stack iot-device-api does not exist in eu-west-1; nothing to destroy."));
}

fn moto() -> String {
    std::env::var("IOT_API_MOTO_URL").expect(
        "IOT_API_MOTO_URL is not set: run the tests with `cargo xtask test`, which starts a moto server",
    )
}

async fn moto_aws() -> Aws {
    use aws_sdk_s3::config::Credentials;
    let moto = moto();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(aws_backend::http_client())
        .region(Region::new("eu-west-1"))
        .endpoint_url(&moto)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await;
    Aws::new(&config, Some(moto))
}

/// Deploy's own bucket against moto's S3 and STS: made once, with its protections.
#[tokio::test]
async fn deploys_own_bucket_is_made_once_and_protected_on_moto() {
    let aws = moto_aws().await;
    // The bucket of an earlier run on the same moto server goes first (it holds no object).
    let _ = aws
        .s3
        .delete_bucket()
        .bucket("iot-api-artifacts-000000000000-eu-west-1")
        .send()
        .await;
    let mut console = Recorder::answering(None);
    let mut deployer = Deployer::new(&aws, &mut console, Duration::ZERO);
    let bucket = deployer.artifact_bucket(None).await.unwrap();
    assert_eq!(bucket.name, "iot-api-artifacts-000000000000-eu-west-1");
    assert_eq!(bucket.expected_owner.as_deref(), Some("000000000000"));
    let again = deployer.artifact_bucket(None).await.unwrap();
    assert_eq!(again.name, bucket.name);
    let created: Vec<_> = console
        .lines
        .iter()
        .filter(|l| l.starts_with("Created bucket"))
        .collect();
    assert_eq!(created.len(), 1, "{:#?}", console.lines);

    let s3 = &aws.s3;
    // moto names the root element of this reply differently from S3, which the SDK refuses; the
    // status is read from the reply itself then.
    let versioning = match s3.get_bucket_versioning().bucket(&bucket.name).send().await {
        Ok(reply) => reply.status().map(|s| s.as_str().to_owned()),
        Err(e) => e
            .raw_response()
            .and_then(|r| r.body().bytes())
            .map(String::from_utf8_lossy)
            .filter(|body| body.contains("<Status>Enabled</Status>"))
            .map(|_| "Enabled".to_owned()),
    };
    assert_eq!(versioning.as_deref(), Some("Enabled"));
    let encryption = s3
        .get_bucket_encryption()
        .bucket(&bucket.name)
        .send()
        .await
        .unwrap();
    let algorithm = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned());
    assert_eq!(algorithm.as_deref(), Some("AES256"));
    let block = s3
        .get_public_access_block()
        .bucket(&bucket.name)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        [
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let policy = s3
        .get_bucket_policy()
        .bucket(&bucket.name)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
}

/// Uploads against moto's S3, into a bucket named with --bucket: an object already there is not
/// sent again. (Not into deploy's own bucket: moto applies its TLS-only policy to moto's plain
/// HTTP, denying every object call, as AWS would over HTTP.)
#[tokio::test]
async fn uploads_skip_what_is_there_on_moto() {
    let aws = moto_aws().await;
    let name = format!("uploads-{}", change_set_name());
    aws.s3
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut console = Recorder::answering(None);
    let mut deployer = Deployer::new(&aws, &mut console, Duration::ZERO);
    let bucket = deployer.artifact_bucket(Some(&name)).await.unwrap();
    assert_eq!(bucket.expected_owner, None);
    let body = b"PK a zip, as far as this test cares".to_vec();
    let key = format!("bootstrap/{}.zip", hex(&Sha256::digest(&body)));
    deployer
        .upload(&bucket, &key, &body, "application/zip")
        .await
        .unwrap();
    deployer
        .upload(&bucket, &key, &body, "application/zip")
        .await
        .unwrap();
    let missing = deployer
        .artifact_bucket(Some("no-such-bucket-here"))
        .await
        .map(|_| ())
        .unwrap_err();

    let uploaded = format!("Uploaded s3://{name}/{key} ({} bytes).", body.len());
    assert_eq!(
        console.lines.iter().filter(|l| **l == uploaded).count(),
        1,
        "{:#?}",
        console.lines
    );
    assert!(console.said(&format!(
        "s3://{name}/{key} is there already; not uploaded again."
    )));
    assert!(
        missing
            .to_string()
            .contains("bucket no-such-bucket-here does not exist"),
        "{missing}"
    );
    let stored = aws
        .s3
        .get_object()
        .bucket(&name)
        .key(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.content_type(), Some("application/zip"));
    assert_eq!(
        stored.body.collect().await.unwrap().into_bytes().as_ref(),
        body.as_slice()
    );
}
