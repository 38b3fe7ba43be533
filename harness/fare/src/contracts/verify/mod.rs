//! Provider verification (`fare contracts verify`): every committed pact
//! replayed by `pact_verifier` against its real provider.
//!
//! - HTTP interactions go to the provider itself: any service whose
//!   manifest declares its provider-state URL, built and started from its
//!   `[run]` with a temporary database, a moto emulator, the services it
//!   asks and `FARE_PROVIDER_STATES=on` for this run only, whoever the consumer is (a service, a
//!   frontend, a partner); the third parties' pacts go to the fakes `fare
//!   up` and the scenarios run, so the fakes answer as the pacts say we rely on.
//! - Message interactions go to the provider's own message transport (its
//!   manifest's `[contracts] messages`, `POST {description,
//!   providerStates}`, served under the same one-run switch as its states),
//!   which answers with what its own builder makes, through a stand-in here
//!   that explains a failure. A provider that serves none is verified over
//!   the real queue instead (`--via-queue`).
//!
//! # Layout
//! - `standin`: the message transport and provider states, passed on to each provider.
//! - `providers`: any service (with those it asks) and the third-party fakes, started for real.
//! - `processes`: one provider started from its manifest's `[run]`.
//! - `present`: the consumer's service identity and the operator token, added to each replayed request.
//! - `broker`: `--broker`, the pacts a Pact Broker selects, verified the same way, results published.
//! - `queue`: `--via-queue`, the real platform's published messages matched against the message pacts.
//! - `report`: the typed result, the table, JUnit.
//! - this file: options, errors, one `pact_verifier` run per pact.

pub mod broker;
pub mod present;
mod processes;
pub mod providers;
pub mod queue;
pub mod report;
pub mod standin;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pact_verifier::callback_executors::HttpRequestProviderStateExecutor;
use pact_verifier::verification_result::{VerificationExecutionResult, VerificationMismatchResult};
use pact_verifier::{FilterInfo, MismatchResult, PactSource, ProviderInfo, ProviderTransport, VerificationOptions};
use tokio_util::sync::CancellationToken;

use super::ContractsError;
use super::pacts::{self, Kind, PactFile};
use present::Present;
use providers::Providers;
pub use report::{InteractionVerification, Mismatch, Outcome, PactVerification, VerifyReport};
pub use standin::{Answer, Tamper};
use standin::{Note, StandIn};

#[derive(Clone, Default)]
pub struct VerifyOptions {
    /// Only the pacts of these providers; every pact when empty.
    pub providers: Vec<String>,
    /// Changes each message a provider produces before the verifier sees it.
    pub tamper: Option<Tamper>,
    /// The manifests (which services each provider asks, and through which
    /// variable); the workspace's own `services/` when unset.
    pub services_dir: Option<PathBuf>,
    /// Start each provider as its manifest's `[profiles.NAME.run]` says,
    /// where it has one (and a state URL): another implementation of it.
    pub profile: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Pacts(#[from] ContractsError),
    #[error("starting the emulator the providers run against: {0}")]
    Emulator(#[from] fare_emulator::EmulatorError),
    #[error("connecting to the providers' emulator: {0}")]
    Bus(#[from] kit::bus::BusError),
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
    #[error("provisioning the providers' topics and queues: {0}")]
    Provision(#[from] crate::provision::ProvisionError),
    #[error("the services ask each other in a circle: {services}")]
    Cycle { services: String },
    #[error(transparent)]
    Build(#[from] crate::runtime::BuildError),
    #[error(transparent)]
    Fakes(#[from] crate::fakes::FakesError),
    #[error("{provider} at {url} was not healthy within {within:?}")]
    NotReady { provider: String, url: String, within: Duration },
    #[error("starting {service}: {source}")]
    Start {
        service: String,
        #[source]
        source: crate::runtime::BuildError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("pact_verifier could not run on {}: {source}", path.display())]
    Verifier {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Verifies every pact under `pacts_dir` (those of `options.providers`).
pub async fn verify_dir(pacts_dir: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let pacts: Vec<PactFile> = pacts::load_dir(pacts_dir)?
        .into_iter()
        .filter(|p| options.providers.is_empty() || options.providers.contains(&p.provider))
        .collect();
    let wanted: BTreeSet<String> = pacts.iter().map(|p| p.provider.clone()).collect();
    let services_dir = options.services_dir.clone().unwrap_or_else(workspace_services);
    let manifests = crate::manifest::load_all(&services_dir).map_err(ContractsError::from)?;
    let providers = Providers::start(&wanted, &manifests, options.profile.as_deref()).await?;
    let known = providers::known(&manifests);
    let stop = CancellationToken::new();
    let _stop_standin = stop.clone().drop_guard();
    let standin = StandIn::start(providers.targets(), options.tamper.clone(), stop)
        .await
        .map_err(|source| VerifyError::Io { what: "starting the verification stand-in".into(), source })?;
    let mut report = VerifyReport { pacts: Vec::new() };
    for pact in &pacts {
        let present = Present::new(&pact.provider, Some(&pact.consumer), &manifests, &providers.credentials);
        report.pacts.push(verify_pact(pact, &providers, &standin, present, &known).await?);
    }
    Ok(report)
}

async fn verify_pact(
    pact: &PactFile,
    providers: &Providers,
    standin: &StandIn,
    present: Present,
    known: &[String],
) -> Result<PactVerification, VerifyError> {
    let mut verification = PactVerification {
        path: pact.path.clone(),
        consumer: pact.consumer.clone(),
        provider: pact.provider.clone(),
        interactions: Vec::new(),
    };
    let http_url = providers.urls.get(&pact.provider);
    if pact.has_http() && http_url.is_none() {
        let problem = format!(
            "fare starts no HTTP provider `{}` to replay this against (it starts {})",
            pact.provider,
            known.join(", ")
        );
        verification.interactions = unverified(pact, &[], &problem);
        return Ok(verification);
    }
    let (info, states) = provider_setup(&pact.provider, http_url, standin);
    let options = verification_options(present);
    let source = vec![PactSource::File(pact.path.display().to_string())];
    let result =
        pact_verifier::verify_provider_async(info, source, FilterInfo::None, vec![], &options, None, &states, None)
            .await
            .map_err(|e| VerifyError::Verifier { path: pact.path.clone(), source: e.into() })?;
    verification.interactions = outcomes(pact, &result, &standin.take_notes());
    Ok(verification)
}

/// The `services/` of the workspace fare was built in: the services it
/// starts as providers are compiled in from there.
fn workspace_services() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services")
}

/// What `pact_verifier` needs to reach `provider`: the message stand-in,
/// its HTTP API when fare runs one (`http_url`), and where to set states.
fn provider_setup(
    provider: &str,
    http_url: Option<&String>,
    standin: &StandIn,
) -> (ProviderInfo, Arc<HttpRequestProviderStateExecutor>) {
    let mut transports = vec![transport("message", &standin.url, Some(format!("/messages/{provider}")))];
    transports.extend(http_url.map(|url| transport("http", url, None)));
    let info =
        ProviderInfo { name: provider.to_owned(), host: "127.0.0.1".into(), transports, ..ProviderInfo::default() };
    let states = Arc::new(HttpRequestProviderStateExecutor {
        state_change_url: Some(format!("{}/states/{provider}", standin.url)),
        state_change_teardown: false,
        state_change_body: true,
        retries: 0,
    });
    (info, states)
}

fn verification_options(present: Present) -> VerificationOptions<Present> {
    VerificationOptions {
        coloured_output: false,
        request_timeout: 10_000,
        request_filter: Some(Arc::new(present)),
        ..VerificationOptions::default()
    }
}

fn transport(kind: &str, url: &str, path: Option<String>) -> ProviderTransport {
    // Every URL here is `http://127.0.0.1:<port>`, made in this module.
    let port = url.rsplit(':').next().and_then(|p| p.parse().ok());
    ProviderTransport { transport: kind.into(), port, path, scheme: Some("http".into()) }
}

/// One outcome per interaction of `pact`: the verifier's, made specific by
/// what the stand-in noted; an interaction it did not report is a failure.
fn outcomes(pact: &PactFile, result: &VerificationExecutionResult, notes: &[Note]) -> Vec<InteractionVerification> {
    let noted = |description: &str, states: &[String]| {
        notes
            .iter()
            .find(|n| n.provider == pact.provider && (n.subject == description || states.contains(&n.subject)))
            .map(|n| n.problem.clone())
    };
    let mut out: Vec<InteractionVerification> = result
        .interaction_results
        .iter()
        .map(|r| InteractionVerification {
            description: r.interaction_description.clone(),
            outcome: outcome(&r.result, noted(&r.interaction_description, &r.provider_states)),
        })
        .collect();
    // What failed before any interaction ran (the file could not be read):
    // otherwise every error is an interaction's, reported above.
    if out.is_empty() {
        for (description, error) in &result.errors {
            let detail = match error {
                VerificationMismatchResult::Error { error, .. } => error.clone(),
                VerificationMismatchResult::Mismatches { .. } => String::new(),
            };
            let outcome = Outcome::Error(format!("pact_verifier: {description} {detail}").trim_end().to_owned());
            out.push(InteractionVerification { description: description.clone(), outcome });
        }
    }
    let missing = unverified(pact, &out, "pact_verifier did not replay this interaction");
    out.extend(missing);
    out
}

/// One interaction's outcome: the verifier's, or what the stand-in noted
/// when it was the reason.
fn outcome(result: &Result<(), MismatchResult>, noted: Option<String>) -> Outcome {
    match (result, noted) {
        (Ok(()), _) => Outcome::Passed,
        (Err(_), Some(problem)) => Outcome::Error(problem),
        (Err(MismatchResult::Error(e, _)), None) => Outcome::Error(e.clone()),
        (Err(MismatchResult::Mismatches { mismatches, .. }), None) => {
            Outcome::Mismatched(mismatches.iter().map(|m| Mismatch::from_pact_json(&m.to_json())).collect())
        }
    }
}

/// The interactions of `pact` not in `done`, each an error saying `why`.
fn unverified(pact: &PactFile, done: &[InteractionVerification], why: &str) -> Vec<InteractionVerification> {
    pact.interactions
        .iter()
        .filter(|i| !done.iter().any(|d| d.description == i.description))
        .map(|i| {
            let kind = match &i.kind {
                Kind::Http => "HTTP".to_owned(),
                Kind::Message { .. } => "message".to_owned(),
                Kind::Other(k) => k.clone(),
            };
            InteractionVerification {
                description: i.description.clone(),
                outcome: Outcome::Error(format!("{why} ({kind})")),
            }
        })
        .collect()
}
