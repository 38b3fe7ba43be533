//! The fulfillment service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(fulfillment::NAME)?;
    let config = kit::Config::load(fulfillment::NAME, fulfillment::DEFAULTS)?;
    let app = fulfillment::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
