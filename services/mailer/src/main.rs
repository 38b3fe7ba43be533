//! The mailer service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(mailer::NAME)?;
    let config = kit::Config::load(mailer::NAME, mailer::DEFAULTS)?;
    let app = mailer::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
