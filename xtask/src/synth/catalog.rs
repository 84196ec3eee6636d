//! The firmware catalog's resources: the DynamoDB table of categories and files, the S3 bucket
//! of their bytes, the bucket's TLS-only policy, and the role AWS IoT assumes to presign the
//! URLs of job documents (it reads the bucket's files, nothing else).
//!
//! The table's layout is the AWS backend's (`crates/aws/src/catalog.rs`); its tests create the
//! table on moto from this template, so the two cannot drift apart.

use serde_json::{json, Map, Value};

use super::resources::{checkov_skips, tags_list};
use crate::infra::Settings;

/// The table's global secondary indexes: name, partition key, sort key.
const INDEX_KEYS: [(&str, &str, &str); 3] = [
    ("ByParent", "parentKey", "createdKey"),
    ("ByCategory", "fileCategory", "createdKey"),
    ("ByKind", "fileKind", "createdKey"),
];

/// The index names a `dynamodb:Query:<Index>` action may name.
pub(super) const INDEXES: [&str; 3] = [INDEX_KEYS[0].0, INDEX_KEYS[1].0, INDEX_KEYS[2].0];

/// The variables each function reads to find the catalog (`aws_backend::FileStorage::from_env`).
pub(super) fn environment() -> Map<String, Value> {
    let mut variables = Map::new();
    variables.insert("IOT_API_FILES_TABLE".into(), json!({"Ref": "FilesTable"}));
    variables.insert("IOT_API_FILES_BUCKET".into(), json!({"Ref": "FilesBucket"}));
    variables.insert(
        "IOT_API_PRESIGN_ROLE_ARN".into(),
        json!({"Fn::GetAtt": ["PresignRole", "Arn"]}),
    );
    variables
}

pub(super) fn resources(settings: &Settings) -> Vec<(String, Value)> {
    let mut attributes = vec![json!({"AttributeName": "pk", "AttributeType": "S"})];
    for name in ["parentKey", "fileCategory", "fileKind", "createdKey"] {
        attributes.push(json!({"AttributeName": name, "AttributeType": "S"}));
    }
    let indexes: Vec<Value> = INDEX_KEYS
        .iter()
        .map(|(name, hash, range)| {
            json!({
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": hash, "KeyType": "HASH"},
                    {"AttributeName": range, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            })
        })
        .collect();
    let table = json!({
        "Type": "AWS::DynamoDB::Table",
        // The catalog outlives the stack: deleting the stack keeps it, and deletion protection
        // keeps anyone from deleting it by hand without turning that off first.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": attributes,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": indexes,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "SSESpecification": {"SSEEnabled": true},
            "DeletionProtectionEnabled": true,
            "Tags": tags_list(settings),
        },
        "Metadata": checkov_skips(&[
            ("CKV_AWS_119", "Encrypted at rest with the AWS managed key (SSEEnabled); a customer managed key would add a key policy to run and gains no isolation here."),
        ]),
    });
    let bucket = json!({
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": true}
            ]},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [
                {
                    "Id": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                },
                {
                    "Id": "expire-replaced-versions",
                    "Status": "Enabled",
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                },
            ]},
            "Tags": tags_list(settings),
        },
        "Metadata": checkov_skips(&[
            ("CKV_AWS_18", "Who reads which file is in the API's access logs and CloudTrail; server access logs would need a second bucket."),
            ("CKV_AWS_144", "Cross-region replication is a disaster-recovery choice of the account, not of this stack."),
            ("CKV_AWS_145", "Encrypted at rest with S3 managed keys: AWS IoT's presigned URLs then need no KMS grant."),
        ]),
    });
    let bucket_policy = json!({
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": "FilesBucket"},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [
                        {"Fn::GetAtt": ["FilesBucket", "Arn"]},
                        {"Fn::Sub": "${FilesBucket.Arn}/*"},
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }],
            },
        },
    });
    let presign_role = json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Assumed by AWS IoT to presign the file URLs of job documents: reads the catalog's files only.",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "iot.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                }]
            },
            "Policies": [{
                "PolicyName": "read-files",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [{"Fn::Sub": "${FilesBucket.Arn}/files/*"}],
                }]},
            }],
            "Tags": tags_list(settings),
        },
    });
    vec![
        ("FilesTable".into(), table),
        ("FilesBucket".into(), bucket),
        ("FilesBucketPolicy".into(), bucket_policy),
        ("PresignRole".into(), presign_role),
    ]
}
