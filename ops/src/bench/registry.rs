//! `cargo xtask bench registry`: the cost of the fleet index in the emulator. Search reads every
//! thing (a scan, as the emulator keeps no inverted index), and every change to a thing or its
//! classic shadow re-evaluates each dynamic group's query on that thing, in the same transaction.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;

use super::{drive, prepare, seed, Until, HEADER};
use xtask::local_server::{LocalServer, Profile};

#[derive(clap::Args)]
pub struct Args {
    /// Things in the registry, each with attributes and a classic shadow.
    #[arg(long, default_value_t = 10_000)]
    things: usize,
    /// Dynamic thing groups whose queries every thing change is checked against.
    #[arg(long, default_value_t = 10)]
    dynamic_groups: usize,
    /// Seconds each timed scenario runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections of the timed scenarios.
    #[arg(long, default_value_t = 8)]
    connections: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = prepare()?;
    println!(
        "Command: `cargo xtask bench registry` ({} things, {} dynamic groups, {} s per run, {} connections)\n",
        args.things, args.dynamic_groups, args.seconds, args.connections
    );
    let server = LocalServer::start(Profile::Release)?;
    runtime.block_on(scenarios(server.addr, &args))
}

/// Thing `i`: on floor `i % 10`, reporting temperature `i % 50`.
fn thing(i: usize) -> String {
    format!("sensor-{i}")
}

async fn scenarios(addr: SocketAddr, args: &Args) -> anyhow::Result<()> {
    let api = super::api(addr);
    seed(&api, args.things, "things", |api, i| async move {
        let attributes = [("floor", i % 10), ("n", i)]
            .into_iter()
            .map(|(name, value)| {
                let value = value.to_string().parse().expect("a valid attribute value");
                (name.to_owned(), value)
            })
            .collect();
        api.create_thing()
            .body_map(|b| {
                b.thing_name(thing(i))
                    .attributes(Some(client::types::Attributes(attributes)))
            })
            .send()
            .await
            .map(drop)
    })
    .await?;
    seed(&api, args.things, "classic shadows", |api, i| async move {
        let reported = serde_json::json!({"temp": i % 50});
        api.update_classic_shadow()
            .thing_name(thing(i))
            .body(client::ShadowUpdateRequest {
                reported: Some(reported.as_object().cloned()),
                ..Default::default()
            })
            .send()
            .await
            .map(drop)
    })
    .await?;
    seed(
        &api,
        args.dynamic_groups,
        "dynamic groups",
        |api, g| async move {
            let query = format!(
                "attributes.floor:{} AND shadow.reported.temp>{}",
                g % 10,
                40 + g % 10
            );
            api.create_dynamic_thing_group()
                .body_map(|b| b.thing_group_name(format!("hot-{g}")).query_string(query))
                .send()
                .await
                .map(drop)
        },
    )
    .await?;

    let timed = || Until::Elapsed(Duration::from_secs(args.seconds));
    let search = drive(
        addr,
        args.connections,
        timed(),
        Arc::new(|_| {
            (
                Method::GET,
                "/things/search?queryString=attributes.floor%3A3%20AND%20shadow.reported.temp%3E25&maxResults=100".into(),
                None,
            )
        }),
    )
    .await?;
    let by_name = drive(
        addr,
        args.connections,
        timed(),
        Arc::new(|_| {
            (
                Method::GET,
                "/things/search?queryString=thingName%3Asensor-4242".into(),
                None,
            )
        }),
    )
    .await?;
    let things = args.things;
    let shadow = drive(
        addr,
        args.connections,
        timed(),
        Arc::new(move |i| {
            // Each report moves the thing in or out of the dynamic groups of its floor.
            let body = serde_json::json!({"reported": {"temp": (i * 7) % 60}});
            (
                Method::PUT,
                format!("/things/{}/shadow", thing(i % things)),
                Some(body.to_string()),
            )
        }),
    )
    .await?;
    let requery = drive(
        addr,
        1,
        Until::Count(20),
        Arc::new(|i| {
            let body =
                serde_json::json!({"queryString": format!("shadow.reported.temp>{}", 30 + i % 20)});
            (
                Method::PUT,
                "/dynamic-thing-groups/hot-0".into(),
                Some(body.to_string()),
            )
        }),
    )
    .await?;

    println!(
        "### Fleet index, {} things, {} dynamic groups\n\n{HEADER}",
        args.things, args.dynamic_groups
    );
    println!(
        "{}",
        search.row("`GET /things/search` (floor and temperature, 100 per page)")
    );
    println!(
        "{}",
        by_name.row("`GET /things/search` (one thing by name)")
    );
    println!(
        "{}",
        shadow.row("`PUT /things/{name}/shadow` (moves dynamic group membership)")
    );
    println!(
        "{}\n",
        requery.row("`PUT /dynamic-thing-groups/{name}` (new query, 1 connection)")
    );
    Ok(())
}
