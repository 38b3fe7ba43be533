//! The store service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(store::NAME)?;
    let config = kit::Config::load(store::NAME, store::DEFAULTS)?;
    let app = store::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
