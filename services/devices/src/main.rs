//! The devices service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(devices::NAME)?;
    let config = kit::Config::load(devices::NAME, devices::DEFAULTS)?;
    let app = devices::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
