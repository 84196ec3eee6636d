//! The firmware catalog's resources: the DynamoDB table of categories and files, the S3 bucket
//! of their bytes, the bucket's TLS-only policy, the role AWS IoT assumes to presign the URLs of
//! job documents (it reads the bucket's files, nothing else), and the verifier: the function the
//! bucket notifies when a multipart upload completes, which hashes the object.
//!
//! The bucket notifies the verifier, so S3 checks at the bucket's creation that it may invoke
//! it: the permission comes first, and names the bucket by the name the bucket will have. That
//! name is made from the stack's id (`iot-api-files-<uuid>`), and every role and environment
//! names the bucket so too: one that referred to the bucket itself would wait for the bucket,
//! which waits for the verifier.
//!
//! The table's layout is the AWS backend's (`crates/aws/src/catalog.rs`); its tests create the
//! table on moto from this template, so the two cannot drift apart.

use serde_json::{json, Map, Value};

use super::resources::{checkov_skips, lambda_function, tags_list, FunctionSpec};
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
    variables.insert("IOT_API_FILES_BUCKET".into(), bucket_name());
    variables.insert(
        "IOT_API_PRESIGN_ROLE_ARN".into(),
        json!({"Fn::GetAtt": ["PresignRole", "Arn"]}),
    );
    variables
}

/// What the bucket is called: `iot-api-files-` and the UUID that ends the stack's id, 50
/// lowercase characters, unique and valid as S3 wants bucket names.
pub(super) fn bucket_name() -> Value {
    json!({"Fn::Join": ["-", [
        "iot-api-files",
        {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
    ]]})
}

/// The ARN of the bucket's files (`files/*`), made from the bucket's name.
pub(super) fn files_arn() -> Value {
    json!({"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/files/*", {"Bucket": bucket_name()}]})
}

/// The actions of the verifier: read and update a file's item, read its object back, and delete
/// it when its bytes are wrong.
pub(super) const VERIFIER_ACTIONS: [&str; 4] = [
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "s3:DeleteObject",
    "s3:GetObject",
];

pub(super) fn resources(settings: &Settings) -> anyhow::Result<Vec<(String, Value)>> {
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
    let mut bucket = json!({
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "DependsOn": ["VerifierPermission"],
        "Properties": {
            "BucketName": bucket_name(),
            "NotificationConfiguration": {"LambdaConfigurations": [{
                "Event": "s3:ObjectCreated:CompleteMultipartUpload",
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "files/"}]}},
                "Function": {"Fn::GetAtt": ["VerifierFunction", "Arn"]},
            }]},
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
    if settings.console.is_some() {
        // The console uploads from the browser, straight to the presigned URL: S3 must answer
        // the preflight of a PUT from the API's origin. The origin is any API of the region
        // (S3 takes one `*` in an allowed origin: "AllowedOrigin ... can contain at most one *
        // wildcard character", https://docs.aws.amazon.com/AmazonS3/latest/userguide/ManageCorsUsing.html),
        // since naming this API's id would make the bucket wait for the API, which waits for
        // the console function, which names the bucket. CORS grants no access: every PUT still
        // needs its presigned signature.
        bucket["Properties"]["CorsConfiguration"] = json!({"CorsRules": [{
            "Id": "console-uploads",
            "AllowedMethods": ["PUT"],
            "AllowedOrigins": [{"Fn::Sub": "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}"}],
            "AllowedHeaders": ["*"],
            "MaxAge": 3600,
        }]});
    }
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
                    "Resource": [files_arn()],
                }]},
            }],
            "Tags": tags_list(settings),
        },
    });
    let mut variables = super::resources::environment(settings);
    if let Some(object) = variables.as_object_mut() {
        object.insert(
            handlers::FUNCTION_VARIABLE.into(),
            json!(handlers::VERIFIER_FUNCTION),
        );
    }
    let verifier = lambda_function(
        settings,
        FunctionSpec {
            name: "VerifierFunction",
            description: "IoT device API: hashes the object of each completed multipart upload and makes its file DRAFT, or PENDING_UPLOAD with the reason.".into(),
            actions: &VERIFIER_ACTIONS,
            environment: variables,
            // 1,769 MB is one full vCPU, which hashes a few hundred MB a second; fifteen
            // minutes is Lambda's longest run.
            memory_mb: 1769,
            timeout_seconds: 900,
            skips: &[
                ("CKV_AWS_116", "S3 invokes it asynchronously and Lambda retries twice; a file whose check never ends stays VERIFYING, which the API shows, so a dead-letter queue adds nothing to act on."),
                ("CKV_AWS_117", "Calls only public AWS endpoints (DynamoDB, S3); a VPC would add NAT costs and no isolation."),
                ("CKV_AWS_115", "One invocation per completed upload; reserving concurrency would take from the account's pool."),
                ("CKV_AWS_173", "The environment holds no secrets (account id, log level, table and bucket names)."),
            ],
        },
    )?;
    let permission = json!({
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["VerifierFunction", "Arn"]},
            "Principal": "s3.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": bucket_name()}]},
        },
    });
    let mut resources = vec![
        ("FilesTable".into(), table),
        ("FilesBucket".into(), bucket),
        ("FilesBucketPolicy".into(), bucket_policy),
        ("PresignRole".into(), presign_role),
        ("VerifierPermission".into(), permission),
    ];
    resources.extend(verifier);
    Ok(resources)
}
