//! The tracking service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(tracking::NAME)?;
    let config = kit::Config::load(tracking::NAME, tracking::DEFAULTS)?;
    let app = tracking::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
