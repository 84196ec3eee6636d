//! The local server binary started for a measurement or a check, on a free port with a fresh
//! database, and stopped (its database removed) when dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// Which build of `iot-api-local` to start; the caller builds it first.
#[derive(Clone, Copy)]
pub enum Profile {
    Debug,
    Release,
}

pub struct LocalServer {
    child: Child,
    pub addr: SocketAddr,
    /// The device (jobs data plane) endpoint's address.
    pub device_addr: SocketAddr,
    dir: PathBuf,
}

impl LocalServer {
    pub fn start(profile: Profile) -> anyhow::Result<Self> {
        let folder = match profile {
            Profile::Debug => "debug",
            Profile::Release => "release",
        };
        let binary = crate::util::target_dir().join(folder).join("iot-api-local");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("iot-api-local-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut child = Command::new(&binary)
            .args(["--port", "0", "--device-port", "0", "--db"])
            .arg(dir.join("local.db"))
            // Request logs off: the figures are for the API, not for writing log lines.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut out = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
        let mut read = |prefix: &str| -> anyhow::Result<SocketAddr> {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut out, &mut line)?;
            let addr = line
                .trim()
                .strip_prefix(prefix)
                .with_context(|| format!("expected {prefix}..., got {line:?}"))?;
            Ok(addr.parse()?)
        };
        let addr = read("Listening on http://")?;
        let device_addr = read("Device jobs endpoint on http://")?;
        Ok(LocalServer {
            child,
            addr,
            device_addr,
            dir,
        })
    }

    /// The server's process id (for its memory figures).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
