//! The firmware catalog's S3 side, where moto does not behave as S3: upload URLs carry the
//! declared sha256 as a signed header, which S3 checks against the body (moto stores any body),
//! and bytes whose checksum S3 reports otherwise never make a file DRAFT.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use axum::http::StatusCode;
use serde_json::json;

use super::{backend, call};

const FILE_ID: &str = "0a8e4b5c-1d2e-4f60-8a9b-0c1d2e3f4a5b";
/// A sha256 in hex (of no particular bytes: nothing is uploaded here).
const SHA256_HEX: &str = "ee0303a50ce4e1aa6ba6bb3bf1d4e2e8fb1ef2a6df29bd3e31d3b1f3d2d4a6f1";

fn sha256_base64() -> String {
    models::digest::base64(&models::digest::from_hex(SHA256_HEX).unwrap())
}

/// A PENDING_UPLOAD file as the table holds it.
fn pending_file() -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    HashMap::from([
        ("pk".to_owned(), s(&format!("file#{FILE_ID}"))),
        ("fileId".to_owned(), s(FILE_ID)),
        (
            "fileCategory".to_owned(),
            s("900150983cd24fb0d6963f7d28e17f72"),
        ),
        ("fileKind".to_owned(), s("file")),
        ("version".to_owned(), s("1.0")),
        ("locale".to_owned(), s("en-US")),
        ("checksum".to_owned(), s(SHA256_HEX)),
        ("checksumType".to_owned(), s("sha256")),
        ("summary".to_owned(), s("")),
        ("description".to_owned(), s("")),
        ("state".to_owned(), s("PENDING_UPLOAD")),
        ("verified".to_owned(), AttributeValue::Bool(false)),
        (
            "createdAt".to_owned(),
            AttributeValue::N("1700000000000".into()),
        ),
        (
            "updatedAt".to_owned(),
            AttributeValue::N("1700000000000".into()),
        ),
    ])
}

fn catalog_backend(dynamodb_rules: &[&Rule], s3_rules: &[&Rule]) -> aws_backend::AwsIot {
    with_s3(
        dynamodb_rules,
        mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3_rules),
    )
}

/// An S3 client that only presigns here: it has credentials and a region, and is never sent
/// a request (presigning happens before any would be).
fn presigning_s3() -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::for_tests())
            .build(),
    )
}

fn with_s3(dynamodb_rules: &[&Rule], s3: aws_sdk_s3::Client) -> aws_backend::AwsIot {
    let dynamodb = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, dynamodb_rules);
    backend(&[]).with_catalog_clients(
        aws_backend::FileStorage {
            table: "files".into(),
            bucket: "firmware".into(),
            presign_role_arn: "arn:aws:iam::000000000000:role/presign".into(),
            path_style: false,
        },
        dynamodb,
        s3,
    )
}

#[tokio::test]
async fn an_upload_url_signs_the_declared_sha256_for_s3_to_check() {
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(pending_file()))
            .build()
    });
    // The file's item records that its bytes come in one PUT, forgetting an earlier refusal.
    let single = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.update_expression()
                == Some("SET updatedAt = :now REMOVE uploadId, uploadSize, partSize, uploadError")
                && r.condition_expression()
                    == Some("#state = :pending AND attribute_not_exists(uploadId)")
        })
        .then_output(|| {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
        });
    let backend = with_s3(&[&get, &single], presigning_s3());
    let (status, reply, _) = call(
        backend,
        "POST",
        &format!("/files/by-id/{FILE_ID}/upload"),
        Some(json!({"size": 8})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let upload = &reply["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["headers"]["x-amz-checksum-sha256"], sha256_base64());
    let url = upload["url"].as_str().unwrap();
    assert!(url.contains(&format!("/files/{FILE_ID}")), "{url}");
    let signed = url
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap_or_else(|| panic!("no signed headers in {url}"));
    assert!(signed.contains("x-amz-checksum-sha256"), "{signed}");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
}

#[tokio::test]
async fn bytes_s3_reports_with_another_checksum_leave_the_file_pending() {
    let get = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(pending_file()))
            .build()
    });
    let head = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| r.key() == Some(&format!("files/{FILE_ID}")[..]))
        .then_output(|| {
            HeadObjectOutput::builder()
                .content_length(8)
                .checksum_sha256(models::digest::base64(&[0u8; 32]))
                .build()
        });
    // No rule answers UpdateItem: the file is never moved to DRAFT.
    let backend = catalog_backend(&[&get], &[&head]);
    let (status, reply) = complete(backend).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("no verified bytes"),
        "{reply}"
    );
}

/// A DynamoDB error as the service sends it.
fn dynamodb_error(code: &str, status: u16) -> aws_sdk_iot::config::http::HttpResponse {
    aws_sdk_iot::config::http::HttpResponse::new(
        status.try_into().unwrap(),
        aws_smithy_types::body::SdkBody::from(
            json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": super::AWS_DETAIL})
                .to_string(),
        ),
    )
}

#[tokio::test]
async fn the_catalogs_storage_faults_are_the_services_and_throttling_is_429() {
    let missing_table = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_http_response(|| dynamodb_error("ResourceNotFoundException", 400));
    let (status, reply, _) = call(
        catalog_backend(&[&missing_table], &[]),
        "GET",
        &format!("/files/by-id/{FILE_ID}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert!(!reply.to_string().contains("123456789012"), "{reply}");

    let throttled = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_http_response(|| dynamodb_error("ProvisionedThroughputExceededException", 400));
    let (status, reply, headers) = call(
        catalog_backend(&[&throttled], &[]),
        "GET",
        &format!("/files/by-id/{FILE_ID}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{reply}");
    assert!(headers.contains_key("retry-after"));
}

/// DynamoDB runs a transaction's conditions in isolation (serializable, "Amazon DynamoDB
/// Transactions: How it works"), so two registrations of one checksum and version cannot both
/// claim it: the file and its claim are written in one transaction, the claim only if absent,
/// and the category's file count only if the category exists.
#[tokio::test]
async fn a_checksum_and_version_are_claimed_in_the_transaction_that_registers_the_file() {
    let checksum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let transaction = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(move |r| {
            let items = r.transact_items();
            let condition = |i: usize| -> Option<&str> {
                let item = items.get(i)?;
                item.put()
                    .map(|p| p.condition_expression())
                    .or_else(|| item.update().map(|u| u.condition_expression()))
                    .flatten()
            };
            let put_key = |i: usize| -> Option<String> {
                match items.get(i)?.put()?.item().get("pk")? {
                    AttributeValue::S(pk) => Some(pk.clone()),
                    _ => None,
                }
            };
            items.len() == 3
                && put_key(0).is_some_and(|pk| pk.starts_with("file#"))
                && condition(0) == Some("attribute_not_exists(pk)")
                && put_key(1) == Some(format!("version#{checksum}#1.0"))
                && condition(1) == Some("attribute_not_exists(pk)")
                && items[2].update().is_some()
                && condition(2) == Some("attribute_exists(pk)")
        })
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let registered = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        let mut item = pending_file();
        item.insert("version".into(), AttributeValue::S("1.0".into()));
        GetItemOutput::builder().set_item(Some(item)).build()
    });
    let backend = catalog_backend(&[&transaction, &registered], &[]);
    let body = json!({"files": [{"categoryId": "900150983cd24fb0d6963f7d28e17f72", "version": "1.0",
                                 "locale": "en-US", "checksum": checksum}]});
    let (status, reply, _) = call(backend, "POST", "/files", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(transaction.num_calls(), 1);
}

/// `POST /files/by-id/{FILE_ID}/upload/complete` on `backend`.
async fn complete(backend: aws_backend::AwsIot) -> (StatusCode, serde_json::Value) {
    let uri = format!("/files/by-id/{FILE_ID}/upload/complete");
    let (status, reply, _) = call(backend, "POST", &uri, None).await;
    (status, reply)
}

const UPLOAD_ID: &str = "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA";
const MIB: i64 = 1024 * 1024;

/// A PENDING_UPLOAD file with a multipart upload of 12 MiB in 5 MiB parts (three) in progress.
fn file_uploading_in_parts() -> HashMap<String, AttributeValue> {
    let mut item = pending_file();
    item.insert("uploadId".into(), AttributeValue::S(UPLOAD_ID.into()));
    item.insert(
        "uploadSize".into(),
        AttributeValue::N((12 * MIB).to_string()),
    );
    item.insert("partSize".into(), AttributeValue::N((5 * MIB).to_string()));
    item
}

fn in_state(state: &str) -> HashMap<String, AttributeValue> {
    let mut item = file_uploading_in_parts();
    item.insert("state".into(), AttributeValue::S(state.into()));
    item
}

/// ListParts answering `parts`: (number, bytes).
fn listed_parts(parts: &'static [(i32, i64)]) -> Rule {
    mock!(aws_sdk_s3::Client::list_parts)
        .match_requests(|r| r.upload_id() == Some(UPLOAD_ID))
        .then_output(move || {
            let parts = parts.iter().map(|(number, size)| {
                aws_sdk_s3::types::Part::builder()
                    .part_number(*number)
                    .size(*size)
                    .e_tag(format!("\"etag-{number}\""))
                    .build()
            });
            aws_sdk_s3::operation::list_parts::ListPartsOutput::builder()
                .set_parts(Some(parts.collect()))
                .is_truncated(false)
                .build()
        })
}

/// UpdateItem moving the file from one state to another, on the condition of its upload.
fn moved(from: &'static str, to: &'static str) -> Rule {
    mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(move |r| {
            let values = r.expression_attribute_values().unwrap();
            r.condition_expression() == Some("#state = :from AND uploadId = :upload")
                && values.get(":from") == Some(&AttributeValue::S(from.into()))
                && values.get(":to") == Some(&AttributeValue::S(to.into()))
                && values.get(":upload") == Some(&AttributeValue::S(UPLOAD_ID.into()))
        })
        .then_output(move || {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder()
                .set_attributes(Some(in_state(to)))
                .build()
        })
}

fn uploading() -> Rule {
    mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .set_item(Some(file_uploading_in_parts()))
            .build()
    })
}

const THREE_PARTS: &[(i32, i64)] = &[(1, 5 * MIB), (2, 5 * MIB), (3, 2 * MIB)];

#[tokio::test]
async fn a_completed_multipart_upload_is_verifying_once_s3_has_put_its_parts_together() {
    let (get, list, verifying) = (
        uploading(),
        listed_parts(THREE_PARTS),
        moved("PENDING_UPLOAD", "VERIFYING"),
    );
    let joined = mock!(aws_sdk_s3::Client::complete_multipart_upload)
        .match_requests(|r| {
            let parts = r.multipart_upload().map(|u| u.parts()).unwrap_or_default();
            let sent: Vec<(Option<i32>, Option<&str>)> =
                parts.iter().map(|p| (p.part_number(), p.e_tag())).collect();
            r.upload_id() == Some(UPLOAD_ID)
                && r.key() == Some(&format!("files/{FILE_ID}")[..])
                && sent
                    == [
                        (Some(1), Some("\"etag-1\"")),
                        (Some(2), Some("\"etag-2\"")),
                        (Some(3), Some("\"etag-3\"")),
                    ]
        })
        .then_output(|| {
            aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput::builder()
                .build()
        });
    let backend = catalog_backend(&[&get, &verifying], &[&list, &joined]);
    let (status, reply) = complete(backend).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["file"]["state"], "VERIFYING", "{reply}");
}

#[tokio::test]
async fn a_missing_part_is_named_and_nothing_changes() {
    // No rule answers UpdateItem or CompleteMultipartUpload: neither may be called.
    let (get, list) = (uploading(), listed_parts(&[(1, 5 * MIB), (3, 2 * MIB)]));
    let (status, reply) = complete(catalog_backend(&[&get], &[&list])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("part 2 of 3 was not uploaded"),
        "{reply}"
    );
}

#[tokio::test]
async fn parts_s3_will_not_put_together_return_the_file_to_pending() {
    let (get, list) = (uploading(), listed_parts(THREE_PARTS));
    let (verifying, back) = (
        moved("PENDING_UPLOAD", "VERIFYING"),
        moved("VERIFYING", "PENDING_UPLOAD"),
    );
    let refused = mock!(aws_sdk_s3::Client::complete_multipart_upload).then_http_response(|| {
        aws_sdk_iot::config::http::HttpResponse::new(
            400.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<Error><Code>EntityTooSmall</Code><Message>Your proposed upload is smaller than the minimum allowed object size.</Message></Error>",
            ),
        )
    });
    let backend = catalog_backend(&[&get, &verifying, &back], &[&list, &refused]);
    let (status, reply) = complete(backend).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("EntityTooSmall"),
        "{reply}"
    );
    assert_eq!(back.num_calls(), 1, "the file is PENDING_UPLOAD again");
}
