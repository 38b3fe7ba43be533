//! The users service's binary: telemetry, configuration, run.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(users::NAME)?;
    let config = kit::Config::load(users::NAME, users::DEFAULTS)?;
    let app = users::build_with(&config, kit::Switches::from_env()).await?;
    app.run_until_stopped(kit::shutdown_signal()).await?;
    Ok(())
}
