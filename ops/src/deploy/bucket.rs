//! The artifact bucket: chosen or created (private, encrypted, TLS only, owned by the account),
//! and the artifact and template uploaded under their sha256, once.

use anyhow::{anyhow, bail, Context};
use aws_sdk_s3 as s3;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::aws::{aws_error, status_of};
use super::Deployer;

/// The bucket to upload to, and the account that must own it when deploy chose it.
pub(super) struct Bucket {
    pub(super) name: String,
    pub(super) expected_owner: Option<String>,
}

impl Deployer<'_> {
    /// The bucket to upload to: the one named (which must exist), or deploy's own, created when
    /// missing.
    pub(super) async fn artifact_bucket(&mut self, named: Option<&str>) -> anyhow::Result<Bucket> {
        if let Some(name) = named {
            self.aws
                .s3
                .head_bucket()
                .bucket(name)
                .send()
                .await
                .map_err(|e| match status_of(&e) {
                    Some(404) => anyhow!("bucket {name} does not exist; create it, or leave --bucket out to let deploy make its own"),
                    Some(403) => anyhow!("bucket {name} is not accessible with these credentials"),
                    _ => aws_error(&format!("looking at bucket {name}"), e),
                })?;
            return Ok(Bucket {
                name: name.to_owned(),
                expected_owner: None,
            });
        }
        let identity = self
            .aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("asking STS who these credentials are", e))?;
        let account = identity
            .account()
            .context("STS did not say the account")?
            .to_owned();
        let partition = identity
            .arn()
            .and_then(|arn| arn.split(':').nth(1))
            .unwrap_or("aws")
            .to_owned();
        let region = &self.aws.region;
        let name = format!("iot-api-artifacts-{account}-{region}");
        let head = self
            .aws
            .s3
            .head_bucket()
            .bucket(&name)
            .expected_bucket_owner(&account)
            .send()
            .await;
        match head {
            Ok(_) => {}
            Err(e) if status_of(&e) == Some(404) => {
                self.create_bucket(&name, &partition).await?;
            }
            Err(e) if status_of(&e) == Some(403) => bail!(
                "bucket {name} exists but is not this account's ({account}); name another with --bucket"
            ),
            Err(e) => return Err(aws_error(&format!("looking at bucket {name}"), e)),
        }
        Ok(Bucket {
            name,
            expected_owner: Some(account),
        })
    }

    /// Creates deploy's bucket: encrypted, versioned, closed to the public and to plain HTTP.
    pub(super) async fn create_bucket(
        &mut self,
        name: &str,
        partition: &str,
    ) -> anyhow::Result<()> {
        use s3::types::*;
        let s3 = &self.aws.s3;
        let region = &self.aws.region;
        let mut create = s3.create_bucket().bucket(name);
        // us-east-1 is the default location, and S3 refuses it named as a constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        create
            .send()
            .await
            .map_err(|e| aws_error(&format!("creating bucket {name}"), e))?;
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("blocking public access to bucket {name}"), e))?;
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::Aes256)
                                    .build()?,
                            )
                            .build(),
                    )
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("encrypting bucket {name}"), e))?;
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error(&format!("versioning bucket {name}"), e))?;
        s3.put_bucket_policy()
            .bucket(name)
            .policy(tls_only_policy(partition, name))
            .send()
            .await
            .map_err(|e| aws_error(&format!("setting the policy of bucket {name}"), e))?;
        self.console.say(&format!(
            "Created bucket {name}: encrypted, versioned, public access blocked, TLS only."
        ));
        Ok(())
    }

    /// Puts `body` at `key` unless an object is there already: keys carry the content's sha256.
    pub(super) async fn upload(
        &mut self,
        bucket: &Bucket,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> anyhow::Result<()> {
        let s3 = &self.aws.s3;
        let head = s3
            .head_object()
            .bucket(&bucket.name)
            .key(key)
            .set_expected_bucket_owner(bucket.expected_owner.clone())
            .send()
            .await;
        match head {
            Ok(_) => {
                self.console.say(&format!(
                    "s3://{}/{key} is there already; not uploaded again.",
                    bucket.name
                ));
                return Ok(());
            }
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => {
                return Err(aws_error(
                    &format!("looking for s3://{}/{key}", bucket.name),
                    e,
                ))
            }
        }
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        s3.put_object()
            .bucket(&bucket.name)
            .key(key)
            .set_expected_bucket_owner(bucket.expected_owner.clone())
            .content_type(content_type)
            .checksum_sha256(sha256)
            .body(body.to_vec().into())
            .send()
            .await
            .map_err(|e| aws_error(&format!("uploading s3://{}/{key}", bucket.name), e))?;
        self.console.say(&format!(
            "Uploaded s3://{}/{key} ({} bytes).",
            bucket.name,
            body.len()
        ));
        Ok(())
    }

    /// The URL CloudFormation reads a template from.
    pub(super) fn object_url(&self, bucket: &str, key: &str) -> String {
        match &self.aws.endpoint_url {
            Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
            None => {
                let region = &self.aws.region;
                let domain = if region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{bucket}.s3.{region}.{domain}/{key}")
            }
        }
    }
}

/// A bucket policy refusing every request not made over TLS.
pub(super) fn tls_only_policy(partition: &str, bucket: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                format!("arn:{partition}:s3:::{bucket}"),
                format!("arn:{partition}:s3:::{bucket}/*"),
            ],
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }],
    })
    .to_string()
}
