//! `GET /docs`: interactive documentation of the contract (Swagger UI), from files built into the
//! binary by the `swagger-ui-dist` crate, so it works with no network. Its page is ours, so that
//! Swagger UI asks no outside validator about the document.

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use swagger_ui_dist::{ApiDefinition, OpenApiSource};

/// Where Swagger UI's script and style are served.
const ASSETS: &str = "/docs/assets";

const PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>IoT Device Management API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
  window.onload = () => {
    window.ui = SwaggerUIBundle({
      url: "/openapi.yaml",
      dom_id: "#swagger-ui",
      validatorUrl: null,
      deepLinking: true,
    });
  };
</script>
</body>
</html>
"##;

pub fn router() -> Router {
    Router::new()
        .route(
            "/docs",
            get(|| async { ([(header::CACHE_CONTROL, "no-cache")], Html(PAGE)) }),
        )
        .merge(swagger_ui_dist::generate_routes(ApiDefinition {
            uri_prefix: ASSETS,
            api_definition: OpenApiSource::Uri("/openapi.yaml"),
            title: Some("IoT Device Management API"),
        }))
}
