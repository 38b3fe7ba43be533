//! The collector service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(collector::NAME)?;
    let config = kit::Config::load(collector::NAME, collector::DEFAULTS)?;
    let app = collector::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
