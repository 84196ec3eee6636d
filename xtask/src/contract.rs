//! The contract as outside tools read it, run by `cargo xtask test`: openapi-generator validates
//! `openapi.yaml` (it refuses duplicate keys, as every generator does), two independent generators
//! write Python clients that drive every operation against the local server
//! (`contract/clients.py`), schemathesis fuzzes the server in every phase with all its checks,
//! headless Chromium renders the server's `/docs` with no network, and Selenium drives the console
//! in it through a rollout (`contract/console_test.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};

use xtask::local_server::{LocalServer, Profile};
use xtask::python::Venv;
use xtask::util::{hex, project_root, run_checked, target_dir};

/// Fixed, so a failure is reproduced by running the same command again.
const SCHEMATHESIS_SEED: &str = "1";
/// Examples per operation and phase: about half a minute on a 2-core machine.
const SCHEMATHESIS_EXAMPLES: &str = "30";

/// Runs the checks against the debug `iot-api-local`, with the clients `generated_clients` wrote;
/// the test build must have made the debug `iot-api-local` and `ops` binaries.
pub fn run(venv: &Venv, clients: &Path, chromium: &Chromium, moto: &str) -> anyhow::Result<()> {
    let root = project_root();
    let server = LocalServer::start(Profile::Debug)?;
    run_checked(
        Command::new(venv.bin("python"))
            .arg(root.join("contract").join("clients.py"))
            .args(["--url", &server.url(), "--openapi-generator"])
            .arg(clients.join("openapi-generator"))
            .arg("--openapi-python-client")
            .arg(clients.join("openapi-python-client"))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )?;
    docs_in_chromium(&chromium.browser, &server.url())?;
    console_in_chromium(venv, chromium, &server, moto)?;
    // The typed Rust client, in the scenario `cargo xtask smoke` runs against a deployed stack.
    run_checked(Command::new(target_dir().join("debug").join("ops")).args([
        "smoke",
        "--url",
        &server.url(),
    ]))?;
    drop(server);

    // A fresh server, so the fuzzer starts from an empty registry as a new user would.
    let server = LocalServer::start(Profile::Debug)?;
    let work = target_dir().join("schemathesis");
    std::fs::create_dir_all(&work)?;
    run_checked(
        Command::new(venv.bin("schemathesis"))
            .arg("--config-file")
            .arg(root.join("contract").join("schemathesis.toml"))
            .arg("run")
            .arg(root.join("openapi.yaml"))
            .args(["--url", &server.url(), "--checks", "all"])
            .args(["--max-examples", SCHEMATHESIS_EXAMPLES])
            .args(["--seed", SCHEMATHESIS_SEED])
            .args(["--generation-database", "none", "--no-color"])
            .current_dir(&work)
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
            .env("PYTHONPATH", root.join("contract"))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )
}

/// openapi-generator's verdict on the contract (it refuses duplicate keys, as every generator
/// does), then both generated clients, in a folder named by what they are made from, so they are
/// generated again only when the contract, the generators' versions or their settings change.
pub fn generated_clients(root: &Path, venv: &Venv) -> anyhow::Result<PathBuf> {
    run_checked(
        Command::new(venv.bin("openapi-generator-cli"))
            .args(["validate", "-i"])
            .arg(root.join("openapi.yaml")),
    )
    .context("openapi-generator refuses openapi.yaml (it needs Java: is a JRE installed?)")?;
    let mut inputs = Sha256::new();
    for file in [
        "openapi.yaml",
        "requirements-dev.txt",
        "contract/openapi-python-client.yaml",
    ] {
        let path = root.join(file);
        inputs.update(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
    }
    let hash = hex(&inputs.finalize());
    let dir = target_dir().join("contract-clients").join(&hash[..16]);
    let done = dir.join("generated");
    if done.exists() {
        eprintln!("generated clients are current in {}", dir.display());
        return Ok(dir);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    run_checked(
        Command::new(venv.bin("openapi-generator-cli"))
            .args(["generate", "--generator-name", "python"])
            .args(["--package-name", "iot_api_client", "--input-spec"])
            .arg(root.join("openapi.yaml"))
            .arg("--output")
            .arg(dir.join("openapi-generator"))
            .stdout(std::process::Stdio::null()),
    )?;
    run_checked(
        Command::new(venv.bin("openapi-python-client"))
            .args(["generate", "--meta", "none", "--fail-on-warning", "--path"])
            .arg(root.join("openapi.yaml"))
            .arg("--config")
            .arg(root.join("contract").join("openapi-python-client.yaml"))
            .arg("--output-path")
            .arg(dir.join("openapi-python-client").join("iot_api_opc")),
    )?;
    std::fs::write(&done, "")?;
    Ok(dir)
}

/// The server's `/docs` in real headless Chromium, with its network requests to anywhere but the
/// server refused: Swagger UI must render one block per operation of the contract. A screenshot
/// goes to `target/docs.png` for review.
fn docs_in_chromium(chromium: &Path, url: &str) -> anyhow::Result<()> {
    let profile = target_dir().join("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    let page = format!("{url}/docs");
    let headless = |extra: &[&str]| {
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,900",
                "--virtual-time-budget=10000",
                // Only this server is reachable: the page must need nothing else.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&page)
            .stderr(std::process::Stdio::null());
        command
    };
    let dom = headless(&["--dump-dom"])
        .output()
        .with_context(|| format!("running {}", chromium.display()))?;
    let dom = String::from_utf8_lossy(&dom.stdout);
    let rendered = dom.matches("class=\"opblock opblock-").count();
    if rendered != handlers::OPERATIONS.len() {
        bail!(
            "{page} rendered {rendered} operations in Chromium, not the contract's {}",
            handlers::OPERATIONS.len()
        );
    }
    let screenshot = target_dir().join("docs.png");
    run_checked(&mut headless(&[&format!(
        "--screenshot={}",
        screenshot.display()
    )]))?;
    eprintln!(
        "{page}: Swagger UI renders all {rendered} operations; screenshot in {}",
        screenshot.display()
    );
    Ok(())
}

/// The fleet console driven in headless Chromium by `contract/console_test.py`, against `server`
/// and a device played by the debug `ops`, then signing in through `moto`'s Cognito as on a
/// stack with COGNITO_USER_POOLS; its screenshots go to `target/console/`.
fn console_in_chromium(
    venv: &Venv,
    chromium: &Chromium,
    server: &LocalServer,
    moto: &str,
) -> anyhow::Result<()> {
    let root = project_root();
    run_checked(
        Command::new(venv.bin("python"))
            .arg(root.join("contract").join("console_test.py"))
            .args(["--url", &server.url()])
            .arg("--device-endpoint")
            .arg(format!("http://{}", server.device_addr))
            .args(["--moto", moto])
            .arg("--ops")
            .arg(target_dir().join("debug").join("ops"))
            .arg("--chromium")
            .arg(&chromium.browser)
            .arg("--chromedriver")
            .arg(&chromium.driver)
            .arg("--screenshots")
            .arg(target_dir().join("console"))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )
}

/// Debian's Chromium and the chromedriver of the same build.
pub struct Chromium {
    pub browser: PathBuf,
    pub driver: PathBuf,
}

/// Debian's Chromium and its chromedriver, installed when missing (the test command runs as root
/// on CI machines).
pub fn chromium() -> anyhow::Result<Chromium> {
    let found = Chromium {
        browser: PathBuf::from("/usr/bin/chromium"),
        driver: PathBuf::from("/usr/bin/chromedriver"),
    };
    if !found.browser.exists() || !found.driver.exists() {
        eprintln!("installing Debian's chromium and chromium-driver for the browser checks");
        run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
        run_checked(
            Command::new("apt-get")
                .args([
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "chromium",
                    "chromium-driver",
                ])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
        .context("installing chromium and chromium-driver (apt-get install, as root)")?;
    }
    Ok(found)
}
