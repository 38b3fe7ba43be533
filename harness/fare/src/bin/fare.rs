//! The `fare` binary: parse the command line, run it, map the outcome to an
//! exit code (0 ok, 1 a check failed, 2 fare could not run).

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = fare::cli::Cli::parse();
    match fare::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fare: {e:#}");
            ExitCode::from(2)
        }
    }
}
