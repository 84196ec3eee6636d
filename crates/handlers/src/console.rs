//! `GET /console`: the fleet console, a page of plain HTML, CSS and JavaScript built into the
//! binary (from `crates/handlers/console/`), so it needs no network and no build step. It calls
//! the API only through the operations of `openapi.yaml`, on the same origin; `config.json` tells
//! it how to sign in. The local server serves it, and so does a deployed stack's console function
//! when `infra/iot-api.toml` enables it.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

/// Where the console is served; the API is the folder it is in.
pub const PATH: &str = "/console";

/// The value of [`crate::FUNCTION_VARIABLE`] that makes a function serve the console.
pub const FUNCTION: &str = "console";
/// The app client of the user pool the console signs in with (a public client that allows
/// USER_PASSWORD_AUTH); unset, the console signs in with nothing.
pub const CLIENT_ID_VARIABLE: &str = "IOT_API_CONSOLE_USER_POOL_CLIENT_ID";
/// The region of that user pool.
pub const REGION_VARIABLE: &str = "IOT_API_CONSOLE_USER_POOL_REGION";
/// Cognito's endpoint, when not the region's public one (a FIPS endpoint, or a stand-in).
pub const ENDPOINT_VARIABLE: &str = "IOT_API_CONSOLE_COGNITO_ENDPOINT";
/// The origin of the files bucket's presigned URLs, which the page uploads to.
pub const UPLOAD_ORIGIN_VARIABLE: &str = "IOT_API_CONSOLE_UPLOAD_ORIGIN";

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

/// How the console signs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// It does not: the API takes calls as they come (the local server, or authorization NONE).
    Nothing,
    /// Through a Cognito user pool, whose ID token the API's authorizer checks.
    Cognito {
        client_id: String,
        region: String,
        /// Cognito's URL, `https://cognito-idp.<region>.amazonaws.com/` unless told otherwise.
        endpoint: String,
    },
}

impl SignIn {
    /// The origin the page may call besides its own.
    fn origin(&self) -> Option<&str> {
        match self {
            SignIn::Nothing => None,
            SignIn::Cognito { endpoint, .. } => {
                let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
                let end = endpoint[after_scheme..]
                    .find('/')
                    .map_or(endpoint.len(), |i| after_scheme + i);
                Some(&endpoint[..end])
            }
        }
    }
}

/// What the page is told: how to sign in, and whether this server also serves `/docs`.
fn config(sign_in: &SignIn, docs: bool) -> serde_json::Value {
    match sign_in {
        SignIn::Nothing => serde_json::json!({ "signIn": "NONE", "docs": docs }),
        SignIn::Cognito {
            client_id,
            region,
            endpoint,
        } => serde_json::json!({
            "signIn": "COGNITO_USER_POOLS",
            "clientId": client_id,
            "region": region,
            "endpoint": endpoint,
            "docs": docs,
        }),
    }
}

/// What serves the console needs to tell it.
#[derive(Clone, Debug)]
pub struct Page {
    pub sign_in: SignIn,
    /// Whether the same server serves `/docs`, which the page then links to.
    pub docs: bool,
    /// Where uploads go when not to this origin (the files bucket's presigned URLs on AWS).
    pub upload_origin: Option<String>,
}

/// The console's routes: the page, its script, style and configuration.
pub fn router(page: Page) -> Router {
    let Page {
        sign_in,
        docs,
        upload_origin,
    } = page;
    // Only this origin, Cognito's when the page signs in there, and the bucket's it uploads to:
    // the page loads nothing from elsewhere and sends nothing elsewhere.
    let mut connect = "'self'".to_owned();
    for origin in sign_in.origin().into_iter().chain(upload_origin.as_deref()) {
        connect.push(' ');
        connect.push_str(origin);
    }
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let policy = HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(
        "default-src 'none'; frame-ancestors 'none'",
    ));
    let config = config(&sign_in, docs).to_string();
    let asset = move |content_type: &'static str, body: &'static str| {
        let policy = policy.clone();
        get(move || async move { with_headers(body.into_response(), content_type, policy) })
    };
    Router::new()
        .route(PATH, asset("text/html; charset=utf-8", INDEX))
        .route(
            "/console/console.js",
            asset("text/javascript; charset=utf-8", SCRIPT),
        )
        .route(
            "/console/console.css",
            asset("text/css; charset=utf-8", STYLE),
        )
        .route(
            "/console/config.json",
            get(move || {
                let config = config.clone();
                async move {
                    let mut response = config.into_response();
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    response
                }
            }),
        )
}

/// `/` and `/console/` lead to the console (the local server, where nothing else is at `/`).
pub fn redirects() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console/", get(|| async { Redirect::to(PATH) }))
}

fn with_headers(
    mut response: Response,
    content_type: &'static str,
    policy: HeaderValue,
) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated on every load, so a new server never runs with an old script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_may_call_only_its_own_origin_and_cognitos() {
        assert_eq!(SignIn::Nothing.origin(), None);
        let cognito = SignIn::Cognito {
            client_id: "client".into(),
            region: "eu-west-1".into(),
            endpoint: "https://cognito-idp.eu-west-1.amazonaws.com/".into(),
        };
        assert_eq!(
            cognito.origin(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com")
        );
        let local = SignIn::Cognito {
            client_id: "client".into(),
            region: "us-east-1".into(),
            endpoint: "http://127.0.0.1:5000".into(),
        };
        assert_eq!(local.origin(), Some("http://127.0.0.1:5000"));
        assert_eq!(config(&cognito, false)["signIn"], "COGNITO_USER_POOLS");
        assert_eq!(config(&SignIn::Nothing, true)["docs"], true);
    }
}
