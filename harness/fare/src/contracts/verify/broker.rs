//! `fare contracts verify --broker`: the pacts a Pact Broker selects for
//! one provider (consumer version selectors, pending, WIP), fetched by
//! `pact_verifier`'s own broker client (`PactSource::BrokerWithDynamicConfiguration`)
//! and replayed exactly as the committed files are (the same providers, the
//! same message stand-in), with the results published back
//! (`PublishOptions`) when asked.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pact_verifier::verification_result::VerificationMismatchResult;
use pact_verifier::{ConsumerVersionSelector, FilterInfo, PactSource, PublishOptions};
use tokio_util::sync::CancellationToken;

use super::present::Present;
use super::providers::Providers;
use super::report::{InteractionVerification, PactVerification, VerifyReport};
use super::standin::{StandIn, Tamper};
use super::{VerifyError, outcome, provider_setup, verification_options};
use crate::contracts::ContractsError;
use crate::contracts::broker::BrokerConfig;

#[derive(Clone, Default)]
pub struct BrokerVerifyOptions {
    pub provider: String,
    /// The provider version the results are published for: required.
    pub provider_version: String,
    pub provider_branch: Option<String>,
    pub provider_tags: Vec<String>,
    /// Empty: `mainBranch`, `matchingBranch`, `deployedOrReleased`.
    pub selectors: Vec<ConsumerVersionSelector>,
    /// Pending pacts do not fail the verification.
    pub pending: bool,
    /// Also verify work-in-progress pacts created since this date.
    pub include_wip_pacts_since: Option<String>,
    pub publish: bool,
    pub build_url: Option<String>,
    /// Changes each message the provider produces: how a test makes a
    /// provider with a breaking change.
    pub tamper: Option<Tamper>,
}

/// The selectors used when none are given, as the Pact docs recommend.
pub fn default_selectors() -> Vec<ConsumerVersionSelector> {
    let none = || ConsumerVersionSelector {
        consumer: None,
        tag: None,
        fallback_tag: None,
        latest: None,
        deployed_or_released: None,
        deployed: None,
        released: None,
        environment: None,
        main_branch: None,
        branch: None,
        matching_branch: None,
        fallback_branch: None,
    };
    vec![
        ConsumerVersionSelector { main_branch: Some(true), ..none() },
        ConsumerVersionSelector { matching_branch: Some(true), ..none() },
        ConsumerVersionSelector { deployed_or_released: Some(true), ..none() },
    ]
}

/// The verification of what a broker selected.
#[derive(Debug, Clone)]
pub struct BrokerVerification {
    pub report: VerifyReport,
    /// The interactions that failed in pending pacts: reported, not fatal.
    pub pending_failures: Vec<(String, String)>,
    /// What stopped the verifier before any interaction (no pacts, broker errors).
    pub errors: Vec<String>,
    /// The broker's notices, as the verifier received them.
    pub notices: Vec<String>,
    /// The verifier's verdict: pending failures do not count.
    pub passed: bool,
}

pub async fn verify_from_broker(
    broker: &BrokerConfig,
    options: &BrokerVerifyOptions,
) -> Result<BrokerVerification, VerifyError> {
    let provider = &options.provider;
    let manifests = crate::manifest::load_all(&super::workspace_services()).map_err(ContractsError::from)?;
    let providers = Providers::start(&BTreeSet::from([provider.clone()]), &manifests, None).await?;
    let stop = CancellationToken::new();
    let _stop_standin = stop.clone().drop_guard();
    let standin = StandIn::start(providers.targets(), options.tamper.clone(), stop)
        .await
        .map_err(|source| VerifyError::Io { what: "starting the verification stand-in".into(), source })?;
    let (info, states) = provider_setup(provider, providers.urls.get(provider), &standin);
    let selectors = if options.selectors.is_empty() { default_selectors() } else { options.selectors.clone() };
    let source = PactSource::BrokerWithDynamicConfiguration {
        provider_name: provider.clone(),
        broker_url: broker.url.clone(),
        enable_pending: options.pending,
        include_wip_pacts_since: options.include_wip_pacts_since.clone(),
        provider_tags: options.provider_tags.clone(),
        provider_branch: options.provider_branch.clone(),
        selectors,
        auth: broker.pact_auth(),
        links: Vec::new(),
    };
    let publish = PublishOptions {
        provider_version: Some(options.provider_version.clone()),
        build_url: options.build_url.clone(),
        provider_tags: options.provider_tags.clone(),
        provider_branch: options.provider_branch.clone(),
    };
    let result = pact_verifier::verify_provider_async(
        info,
        vec![source],
        FilterInfo::None,
        vec![],
        &verification_options(Present::new(provider, None, &manifests, &providers.credentials)),
        options.publish.then_some(&publish),
        &states,
        None,
    )
    .await
    .map_err(|e| VerifyError::Verifier { path: PathBuf::from(&broker.url), source: e.into() })?;
    let notes = standin.take_notes();
    let mut report = VerifyReport { pacts: Vec::new() };
    let mut pending_failures = Vec::new();
    for r in &result.interaction_results {
        let note = notes
            .iter()
            .find(|n| n.subject == r.interaction_description || r.provider_states.contains(&n.subject))
            .map(|n| n.problem.clone());
        let verification = InteractionVerification {
            description: r.interaction_description.clone(),
            outcome: outcome(&r.result, note),
        };
        if r.pending && r.result.is_err() {
            pending_failures.push((r.consumer.clone(), r.interaction_description.clone()));
        }
        let at = report.pacts.iter().position(|p| p.consumer == r.consumer);
        let pact = match at {
            Some(i) => &mut report.pacts[i],
            None => {
                report.pacts.push(PactVerification {
                    path: PathBuf::from(format!("{}/pacts/provider/{provider}/consumer/{}", broker.url, r.consumer)),
                    consumer: r.consumer.clone(),
                    provider: provider.clone(),
                    interactions: Vec::new(),
                });
                report.pacts.last_mut().expect("just pushed")
            }
        };
        pact.interactions.push(verification);
    }
    let errors: Vec<String> = if result.interaction_results.is_empty() {
        result
            .errors
            .iter()
            .map(|(what, e)| match e {
                VerificationMismatchResult::Error { error, .. } => format!("{what}: {error}"),
                VerificationMismatchResult::Mismatches { .. } => what.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let notices = result.notices.iter().filter_map(|n| n.get("text").cloned()).collect();
    Ok(BrokerVerification { passed: result.result && errors.is_empty(), report, pending_failures, errors, notices })
}

/// The report's table, then what was pending and what stopped the verifier.
pub fn table(result: &BrokerVerification) -> String {
    let mut out = super::report::table(&result.report);
    for (consumer, description) in &result.pending_failures {
        out.push_str(&format!("pending: {consumer}: {description} failed, which does not fail the build\n"));
    }
    for e in &result.errors {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}
