//! `fare contracts publish | can-i-deploy | record-deployment |
//! create-environment` and `verify --broker`: the deploy workflow against a
//! Pact Broker (or `fare broker`), configured by `PACT_BROKER_*` as every
//! Pact tool is.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::contracts::broker::{BrokerClient, BrokerConfig, deploy, publish, vcs};
use crate::contracts::verify::broker::{self as verify_broker, BrokerVerifyOptions};

/// Where the broker is, and the credentials (read from the environment;
/// never printed).
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// The Pact Broker's base URL (`fare broker` prints its own).
    #[arg(long = "broker-url", env = "PACT_BROKER_BASE_URL")]
    pub url: Option<String>,
    /// A bearer token for the broker.
    #[arg(long = "broker-token", env = "PACT_BROKER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A username for the broker (basic authentication).
    #[arg(long = "broker-username", env = "PACT_BROKER_USERNAME")]
    pub username: Option<String>,
    /// The password that goes with `--broker-username`.
    #[arg(long = "broker-password", env = "PACT_BROKER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

impl BrokerArgs {
    pub fn config(&self) -> anyhow::Result<BrokerConfig> {
        let url = self
            .url
            .as_deref()
            .context("no broker: set PACT_BROKER_BASE_URL or give --broker-url (`fare broker` runs one locally)")?;
        Ok(BrokerConfig::new(url, self.token.as_deref(), self.username.as_deref(), self.password.as_deref()))
    }

    fn client(&self) -> anyhow::Result<BrokerClient> {
        Ok(BrokerClient::new(self.config()?))
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The consumer version [default: the CI's commit variable, else `git rev-parse HEAD`].
    #[arg(long)]
    pub consumer_app_version: Option<String>,
    /// The branch [default: the CI's branch variable, else git's current branch].
    #[arg(long)]
    pub branch: Option<String>,
    /// A tag for the version (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
    /// The build's URL [default: from the CI's variables].
    #[arg(long)]
    pub build_url: Option<String>,
    /// Only the pacts of this consumer (repeatable); all when absent.
    #[arg(long)]
    pub consumer: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyBrokerArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The provider version results are published for [default: the CI's commit, else git's].
    #[arg(long)]
    pub provider_version: Option<String>,
    /// The provider's branch [default: the CI's branch, else git's].
    #[arg(long)]
    pub provider_branch: Option<String>,
    /// A provider version tag (repeatable).
    #[arg(long)]
    pub provider_tag: Vec<String>,
    /// A consumer version selector as JSON, e.g. `{"branch":"feat-x"}` (repeatable)
    /// [default: mainBranch, matchingBranch, deployedOrReleased].
    #[arg(long = "consumer-version-selectors")]
    pub selectors: Vec<String>,
    /// Fail on pending pacts too (by default a pending pact's failure is reported, not fatal).
    #[arg(long)]
    pub no_pending: bool,
    /// Also verify work-in-progress pacts published since this date (2024-01-31).
    #[arg(long)]
    pub include_wip_pacts_since: Option<String>,
    /// Publish the verification results to the broker.
    #[arg(long)]
    pub publish: bool,
    /// The build's URL, published with the results [default: from the CI's variables].
    #[arg(long)]
    pub build_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CanIDeployArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The service to deploy.
    #[arg(long)]
    pub pacticipant: String,
    /// Its version.
    #[arg(long)]
    pub version: String,
    /// Where it would go.
    #[arg(long)]
    pub to_environment: String,
}

#[derive(Debug, Args)]
pub struct RecordDeploymentArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[arg(long)]
    pub pacticipant: String,
    #[arg(long)]
    pub version: String,
    #[arg(long)]
    pub environment: String,
    /// When several instances of it run in the environment.
    #[arg(long)]
    pub application_instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateEnvironmentArgs {
    #[command(flatten)]
    pub broker: BrokerArgs,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub display_name: Option<String>,
    /// A production environment.
    #[arg(long)]
    pub production: bool,
}

pub async fn publish(root: &Path, pacts: &Path, args: &PublishArgs) -> anyhow::Result<ExitCode> {
    let client = args.broker.client()?;
    let detected = vcs::detect(root);
    let version = args.consumer_app_version.clone().or(detected.version).context(
        "no consumer version: give --consumer-app-version (no CI commit variable is set, and git gave none)",
    )?;
    let options = publish::PublishOptions {
        version: version.clone(),
        branch: args.branch.clone().or(detected.branch),
        tags: args.tag.clone(),
        build_url: args.build_url.clone().or(detected.build_url),
        consumers: args.consumer.clone(),
    };
    let published = publish::publish_dir(&client, pacts, &options).await?;
    for p in &published {
        let branch = options.branch.as_deref().map(|b| format!(" on {b}")).unwrap_or_default();
        println!("published {} {version}{branch}: pacts with {}", p.consumer, p.providers.join(", "));
        for n in &p.notices {
            println!("  {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(root: &Path, provider: &[String], args: &VerifyBrokerArgs) -> anyhow::Result<ExitCode> {
    let [provider] = provider else {
        anyhow::bail!("--broker verifies one provider: give exactly one --provider NAME");
    };
    let config = args.broker.config()?;
    let detected = vcs::detect(root);
    let provider_version =
        args.provider_version.clone().or(detected.version).context(
            "no provider version: give --provider-version (no CI commit variable is set, and git gave none)",
        )?;
    let selectors = args
        .selectors
        .iter()
        .map(|s| serde_json::from_str(s).with_context(|| format!("--consumer-version-selectors {s}: not a selector")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = BrokerVerifyOptions {
        provider: provider.clone(),
        provider_version,
        provider_branch: args.provider_branch.clone().or(detected.branch),
        provider_tags: args.provider_tag.clone(),
        selectors,
        pending: !args.no_pending,
        include_wip_pacts_since: args.include_wip_pacts_since.clone(),
        publish: args.publish,
        build_url: args.build_url.clone().or(detected.build_url),
        tamper: None,
    };
    let result = verify_broker::verify_from_broker(&config, &options)
        .await
        .with_context(|| format!("verifying {provider} against the pacts {} selects", config.url))?;
    print!("{}", verify_broker::table(&result));
    Ok(if result.passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub async fn can_i_deploy(args: &CanIDeployArgs) -> anyhow::Result<ExitCode> {
    let client = args.broker.client()?;
    let decision = deploy::can_i_deploy(&client, &args.pacticipant, &args.version, &args.to_environment).await?;
    print!("{}", deploy::table(&decision));
    Ok(if decision.deployable { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub async fn record_deployment(args: &RecordDeploymentArgs) -> anyhow::Result<ExitCode> {
    let client = args.broker.client()?;
    let instance = args.application_instance.as_deref();
    deploy::record_deployment(&client, &args.pacticipant, &args.version, &args.environment, instance).await?;
    println!("recorded {} {} as deployed to {}", args.pacticipant, args.version, args.environment);
    Ok(ExitCode::SUCCESS)
}

pub async fn create_environment(args: &CreateEnvironmentArgs) -> anyhow::Result<ExitCode> {
    let client = args.broker.client()?;
    let uuid = deploy::create_environment(&client, &args.name, args.display_name.as_deref(), args.production).await?;
    println!("created environment {} ({uuid})", args.name);
    Ok(ExitCode::SUCCESS)
}
