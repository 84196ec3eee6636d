//! Which API a command calls: the local server at a URL, or a deployed stack's.

use std::path::PathBuf;

use client::Signer;
use xtask::infra::{Overrides, Settings};

use crate::deploy::{self, AwsArgs};

#[derive(clap::Args)]
pub struct ApiArgs {
    /// The API's URL: the local server unless a stack is named.
    #[arg(
        long,
        default_value = "http://127.0.0.1:8080",
        conflicts_with = "stack"
    )]
    pub url: String,
    /// Call this deployed stack's API instead (its `ApiUrl` output, signed as its
    /// `Authorization` output requires).
    #[arg(long)]
    pub stack: Option<String>,
    /// The settings file (for the stack's region).
    #[arg(long, default_value = "infra/iot-api.toml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl ApiArgs {
    /// A client of the API these arguments name.
    pub async fn client(&self) -> anyhow::Result<client::Client> {
        let (url, signer) = match &self.stack {
            None => (self.url.clone(), Signer::None),
            Some(stack) => {
                let settings = Settings::load(&Overrides {
                    config: self.config.clone(),
                    ..Overrides::default()
                })?;
                let region = deploy::region(&self.aws, &settings)?;
                let config = deploy::sdk_config(&self.aws, region).await?;
                let cloudformation = aws_sdk_cloudformation::Client::new(&config);
                crate::smoke::stack_target(&cloudformation, stack, &config).await?
            }
        };
        Ok(client::connect(&url, signer))
    }
}
