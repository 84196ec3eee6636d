//! What the unit tests of the commands share: a local server to run them against.

use clap::Parser;

/// A local server in memory, on ports of its own: its API's URL and its device endpoint's.
pub async fn local_server() -> (String, String) {
    let config = server::Config::parse_from(["iot-api-local", "--memory"]);
    let apps = server::apps(&config).unwrap();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let devices = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", api.local_addr().unwrap());
    let endpoint = format!("http://{}", devices.local_addr().unwrap());
    apps.emulator.objects().set_public_url(&url);
    tokio::spawn(server::serve(api, apps.api, std::future::pending()));
    tokio::spawn(server::serve(devices, apps.device, std::future::pending()));
    (url, endpoint)
}
