//! The invoice service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(invoice::NAME)?;
    let config = kit::Config::load(invoice::NAME, invoice::DEFAULTS)?;
    let app = invoice::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
