//! The floor of a cold start: a lambda_http function that answers 200 to every event, with no
//! AWS SDK, on the same runtime and logging as `bootstrap`. `cargo xtask bench cold-start`
//! builds it with the bootstrap's profile and measures both in one run, so the bootstrap's
//! figures are read against what any Rust function on this runtime costs.

use lambda_http::{service_fn, Body, Error, Request, Response};

fn main() -> Result<(), Error> {
    lambda::init_logs();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(lambda_http::run(service_fn(|_: Request| async {
            let response = Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from("{}"))?;
            Ok::<_, Error>(response)
        })))
}
