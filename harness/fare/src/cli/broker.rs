//! `fare broker`: the local stand-in for the Pact Broker, served until
//! Ctrl-C (or SIGTERM), on loopback only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use fare_broker::Broker;

#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// The port on 127.0.0.1 (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 9292)]
    pub port: u16,
    /// The SQLite file it keeps everything in [default: .fare/broker/broker.sqlite].
    #[arg(long)]
    pub db: Option<PathBuf>,
}

pub async fn broker(root: &Path, args: &BrokerArgs) -> anyhow::Result<ExitCode> {
    let db = match &args.db {
        Some(db) => db.clone(),
        None => {
            let dir = root.join(".fare").join("broker");
            crate::runtime::private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join("broker.sqlite")
        }
    };
    let broker = Broker::bind(&db, args.port).await?;
    // The first line of standard output is the URL, for scripts to read.
    println!("{}", broker.url());
    crate::terminal::progress(&format!("fare broker: a local stand-in for the Pact Broker, data in {}", db.display()));
    broker.run_until_stopped(kit::shutdown_signal()).await.context("serving the broker")?;
    Ok(ExitCode::SUCCESS)
}
