//! A typed Rust client of the API, generated from `openapi.yaml` when this crate builds
//! (progenitor), so it always speaks the contract the server serves.
//! (See the README, and `tests::the_readme_example_builds`.)
//!
//! A stack deployed with `AWS_IAM` authorization takes requests signed with SigV4:
//! [`Signer::SigV4`] signs each one with the caller's credentials for the stack's region.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

/// progenitor's output, which clippy is not asked to judge.
#[allow(clippy::all, clippy::unwrap_used)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/api.rs"));
}
pub use generated::*;
use progenitor_client::{ClientHooks, OperationInfo};

/// The body of `updateThing`, written here rather than generated: `thingTypeName: null` takes the
/// thing's type away, so the field has three states. `Some(None)` sends that `null`; `None`
/// leaves the field out and keeps the type.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateThingRequest {
    #[serde(
        rename = "thingTypeName",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub thing_type_name: Option<Option<types::ThingTypeName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<types::Attributes>,
    /// Merge `attributes` into the thing's instead of replacing them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<bool>,
    #[serde(
        rename = "expectedVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_version: Option<i64>,
}

/// The body of a shadow update, written here rather than generated: a section set to `null`
/// (`Some(None)`) is cleared, a section left out (`None`) is unchanged.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowUpdateRequest {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub desired: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub reported: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    #[serde(
        rename = "expectedVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub expected_version: Option<i64>,
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// How requests are authorized.
#[derive(Clone, Debug)]
pub enum Signer {
    /// Sent as they are: the local server, or a stack with `NONE` authorization.
    None,
    /// Signed with SigV4 for API Gateway (`execute-api`) in `region`.
    SigV4 {
        credentials: Credentials,
        region: String,
    },
}

impl ClientHooks<Signer> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        match self.inner() {
            Signer::None => Ok(()),
            Signer::SigV4 {
                credentials,
                region,
            } => {
                sign_request(request, credentials, region, SystemTime::now()).map_err(Error::Custom)
            }
        }
    }
}

/// Adds SigV4's headers (`authorization`, `x-amz-date`, and `x-amz-security-token` with
/// temporary credentials) to `request`, signing its method, URL, headers and body.
pub fn sign_request(
    request: &mut reqwest::Request,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<(), String> {
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("execute-api")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing parameters: {e}"))?
        .into();
    let body = request
        .body()
        .map(|b| b.as_bytes().ok_or("a streamed body cannot be signed"))
        .transpose()?
        .unwrap_or(&[]);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.url().as_str(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| format!("the request cannot be signed: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    for (name, value) in instructions.headers() {
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| format!("signature header {name}: {e}"))?;
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("signature header {name}: {e}"))?;
        request.headers_mut().insert(name, value);
    }
    Ok(())
}

/// A client of the API at `base_url` (the local server's URL, or a stack's `ApiUrl`), authorized
/// by `signer`. `https` uses rustls on ring, the workspace's one TLS stack.
pub fn connect(base_url: &str, signer: Signer) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new(base_url.trim_end_matches('/'), signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_builds() {
        let api = connect("http://127.0.0.1:8080", Signer::None);
        let _create = api.create_thing().body_map(|b| b.thing_name("lamp-1"));
        let _read = api.describe_thing().thing_name("lamp-1");
    }

    #[test]
    fn null_is_sent_only_where_it_is_asked_for() {
        let remove = UpdateThingRequest {
            thing_type_name: Some(None),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&remove).expect("serializes"),
            serde_json::json!({"thingTypeName": null})
        );
        let keep = UpdateThingRequest {
            merge: Some(true),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&keep).expect("serializes"),
            serde_json::json!({"merge": true})
        );
        let clear = ShadowUpdateRequest {
            desired: Some(None),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&clear).expect("serializes"),
            serde_json::json!({"desired": null})
        );
        let read: UpdateThingRequest =
            serde_json::from_value(serde_json::json!({"thingTypeName": null})).expect("reads");
        assert!(matches!(read.thing_type_name, Some(None)));
    }

    fn request(body: &str) -> reqwest::Request {
        let mut request = reqwest::Request::new(
            reqwest::Method::POST,
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/things"
                .parse()
                .expect("a URL"),
        );
        request.headers_mut().insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        *request.body_mut() = Some(body.to_owned().into());
        request
    }

    fn signed(body: &str, credentials: &Credentials) -> reqwest::header::HeaderMap {
        let mut request = request(body);
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_256_000);
        sign_request(&mut request, credentials, "eu-west-1", time).expect("signs");
        request.headers().clone()
    }

    #[test]
    fn sigv4_signs_for_api_gateway_in_the_region_over_the_body() {
        let long_term = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let headers = signed(r#"{"thingName":"lamp-1"}"#, &long_term);
        let authorization = headers["authorization"].to_str().expect("text");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/eu-west-1/execute-api/aws4_request"
            ),
            "{authorization}"
        );
        assert!(authorization.contains("SignedHeaders=content-type;host;x-amz-date"));
        assert_eq!(headers["x-amz-date"], "20261203T000000Z");
        assert!(headers.get("x-amz-security-token").is_none());
        // The same request signs the same; another body signs otherwise.
        assert_eq!(
            signed(r#"{"thingName":"lamp-1"}"#, &long_term)["authorization"],
            headers["authorization"]
        );
        assert_ne!(
            signed(r#"{"thingName":"lamp-2"}"#, &long_term)["authorization"],
            headers["authorization"]
        );
        // Temporary credentials carry their session token.
        let session = Credentials::new("ASIAEXAMPLE", "secret", Some("token".into()), None, "t");
        assert_eq!(signed("{}", &session)["x-amz-security-token"], "token");
    }
}
