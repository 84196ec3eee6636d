//! The Python tools the checks and benches run, each set in its own virtual environment under the
//! target directory (so a fresh clone that shares a target directory installs nothing again), and
//! the moto server that stands in for AWS.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::util::{project_root, run_checked, target_dir};

/// A set of pinned Python tools: a requirements file in the repository, installed into
/// `<target>/python/<name>`.
#[derive(Clone, Copy)]
pub struct Tools {
    name: &'static str,
    requirements: &'static str,
}

/// The checkers, client generators, schemathesis and moto (`cargo xtask test`).
pub const DEV: Tools = Tools {
    name: "dev",
    requirements: "requirements-dev.txt",
};
/// checkov, apart because its pins clash with cfn-lint's.
pub const CHECKOV: Tools = Tools {
    name: "checkov",
    requirements: "requirements-checkov.txt",
};
/// cargo-lambda and zig, which cross-build the Lambda artifact.
pub const LAMBDA: Tools = Tools {
    name: "lambda",
    requirements: "requirements-lambda.txt",
};

impl Tools {
    /// The virtual environment with these tools, created or brought up to date first; nothing is
    /// installed when the requirements file is what was installed last.
    pub fn install(self) -> anyhow::Result<Venv> {
        let dir = target_dir().join("python").join(self.name);
        let requirements = project_root().join(self.requirements);
        let wanted = std::fs::read_to_string(&requirements)
            .with_context(|| format!("reading {}", requirements.display()))?;
        let stamp = dir.join("installed-requirements.txt");
        let venv = Venv { dir };
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            return Ok(venv);
        }
        eprintln!(
            "installing {} into {} (once; again when the file changes)",
            self.requirements,
            venv.dir.display()
        );
        if !venv.bin("python").exists() {
            run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv.dir)).context(
                "creating a Python virtual environment (is python3 with venv installed?)",
            )?;
        }
        run_checked(
            Command::new(venv.bin("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        )?;
        std::fs::write(&stamp, wanted)?;
        Ok(venv)
    }
}

/// An installed virtual environment.
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// A program the environment installed, such as `pip` or `moto_server`.
    pub fn bin(&self, program: &str) -> PathBuf {
        self.dir.join("bin").join(program)
    }

    /// The folder of its programs, for a PATH.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }
}

/// A moto server on a free loopback port, for the AWS backend's contract tests; stopped on drop.
pub struct Moto {
    child: std::process::Child,
    pub url: String,
}

impl Moto {
    pub fn start(venv: &Venv) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(std::env::temp_dir().join("iot-api-moto.log"))?;
        let child = Command::new(venv.bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // ARNs in the tests name this account, as the emulator's do.
            .env("MOTO_ACCOUNT_ID", "000000000000")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting moto_server")?;
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("moto_server did not listen on port {port} within 60 s; see its log in the temp directory");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        eprintln!("moto listening on {}", moto.url);
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
