//! Verification over the real queue (`fare contracts verify --via-queue`):
//! the whole platform runs for real, real HTTP flows make every provider
//! publish every event it has a message pact for, a temporary queue
//! subscribed to every topic captures what arrives on SNS, and each message
//! interaction is matched against what its provider actually published.
//!
//! The message transport (`standin`) proves each provider's builder honours
//! the pacts; this proves what leaves the process does too: a provider that
//! builds the right envelope but publishes another (stale fields, a missing
//! attribute, a different serialisation) is caught here.
//!
//! Every captured message of an interaction's event type from its provider
//! must match, not just one: a flow that publishes a wrong variant fails.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use kit::bus::{AwsError, Namespace, TapQueue};
use pact_models::content_types::ContentType;
use pact_models::interaction::Interaction;
use pact_models::prelude::OptionalBody;
use pact_models::v4::async_message::AsynchronousMessage;
use pact_models::v4::message_parts::MessageContents;
use serde_json::Value;

use super::report::{InteractionVerification, Mismatch, Outcome, PactVerification, VerifyReport};
use crate::contracts::ContractsError;
use crate::contracts::pacts::{self, Kind};
use crate::runtime::{NotQuiet, Platform, QuietOptions, UpError, UpOptions, wait_quiet};

#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The workspace root (`services/`, `target/`, `.fare/` under it).
    pub root: PathBuf,
    /// The manifests: which services run, and which topics there are.
    pub services_dir: PathBuf,
    /// A namespace of its own, so a platform already up is not disturbed.
    pub namespace: Namespace,
    /// `cargo build` the services first.
    pub build: bool,
    /// Where the platform runs: processes, or containers (with the runtime's
    /// default emulator: LocalStack).
    pub runtime: crate::runtime::Runtime,
    /// The scenarios that make every provider publish every event it has a
    /// pact for ([`QueueOptions::flows_of`]: `scenarios/contracts/`).
    pub flows: PathBuf,
}

impl QueueOptions {
    /// The platform's flows under `root`.
    pub fn flows_of(root: &Path) -> PathBuf {
        root.join("scenarios/contracts")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Pacts(#[from] ContractsError),
    #[error("starting the platform: {0}")]
    Up(#[from] UpError),
    #[error("the capture queue on every topic")]
    Capture(#[source] AwsError),
    #[error("the flows in {}: {source}", dir.display())]
    Flows {
        dir: PathBuf,
        #[source]
        source: crate::scenario::ScenarioError,
    },
    #[error("the flows did not run as written, so not every message was published: {failed}")]
    FlowFailed { failed: String },
    #[error("reaching the platform: {0}")]
    Target(String),
    #[error("the platform did not settle after the flows: {0}")]
    NotQuiet(#[from] NotQuiet),
    #[error("{} is not a pact pact_models can read: {message}", path.display())]
    ReadPact { path: PathBuf, message: String },
}

/// One message as it arrived on SNS: the raw body and its attributes.
#[derive(Debug, Clone)]
pub struct Captured {
    pub message_id: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, key: &str) -> Option<String> {
        let json: Value = serde_json::from_str(&self.body).ok()?;
        json[key].as_str().map(str::to_owned)
    }

    /// The envelope's `producer`, which names who published it.
    pub fn producer(&self) -> Option<String> {
        self.field("producer")
    }

    /// The envelope's own `type`: found even if the attribute is missing.
    pub fn event_type(&self) -> Option<String> {
        self.field("type")
    }
}

/// Everything the flows made the platform publish.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub messages: Vec<Captured>,
}

/// Runs the platform and the flows, then matches the message pacts under
/// `pacts_dir` (those of `providers`, all when empty).
pub async fn verify_via_queue(
    pacts_dir: &Path,
    providers: &[String],
    options: &QueueOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<VerifyReport, QueueError> {
    let capture = capture(options, progress).await?;
    match_capture(pacts_dir, providers, &capture).await
}

/// Starts the platform, subscribes a temporary queue to every topic, drives
/// the flows, waits until the platform is quiet, drains the queue, stops it all.
pub async fn capture(options: &QueueOptions, progress: &mut dyn FnMut(&str)) -> Result<Capture, QueueError> {
    let up = UpOptions {
        build: options.build,
        services_dir: options.services_dir.clone(),
        runtime: options.runtime,
        ..UpOptions::new(&options.root, options.namespace.clone())
    };
    // A catalog with a model devices never stocks: the allocation_failed flow.
    let env = crate::scenario::e2e_env(&options.root.join("scenarios"))
        .map_err(|source| QueueError::Flows { dir: options.root.join("scenarios"), source })?;
    let platform = Platform::up_with_env(&up, &env, progress).await?;
    // Whatever happens next, the platform is stopped and its state removed.
    let result = async {
        let bus = platform.bus();
        let topics: Vec<String> = platform.topology().events().iter().map(|e| bus.namespace.topic(e)).collect();
        let queue = TapQueue::create(bus, &format!("{}-fare-contracts", bus.namespace), &topics, None)
            .await
            .map_err(QueueError::Capture)?;
        let urls: BTreeMap<String, String> =
            platform.state.services.iter().map(|s| (s.name.clone(), s.url.clone())).collect();
        let flows = crate::scenario::load::load_dir(&options.flows, &[], platform.topology())
            .map_err(|source| QueueError::Flows { dir: options.flows.clone(), source })?;
        let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        progress(&format!("driving the flows of {}: {}", options.flows.display(), names.join(", ")));
        let target = crate::scenario::Target::of(&platform).map_err(|e| QueueError::Target(kit::error_chain(&e)))?;
        let silent = std::sync::Arc::new(crate::scenario::Silent);
        let run = crate::scenario::run_all(&target, &flows, None, &Default::default(), silent).await;
        let failed: Vec<String> =
            run.scenarios.iter().filter(|r| r.failed()).map(|r| format!("{}:\n{}", r.name, r.failure_text())).collect();
        if !failed.is_empty() {
            return Err(QueueError::FlowFailed { failed: failed.join("\n") });
        }
        let services: Vec<(String, String)> = urls.into_iter().collect();
        wait_quiet(bus, &services, &QuietOptions::default()).await?;
        let messages = queue.drain().await;
        queue.remove().await;
        let messages: Vec<Captured> = messages
            .map_err(QueueError::Capture)?
            .into_iter()
            .map(|m| Captured { message_id: m.message_id, body: m.body, attributes: m.attributes })
            .collect();
        progress(&format!("{} messages captured", messages.len()));
        Ok(Capture { messages })
    }
    .await;
    platform.stop();
    let _ = std::fs::remove_dir_all(crate::runtime::state_dir(&options.root, &options.namespace));
    result
}

/// Matches every message interaction of the pacts under `pacts_dir` (those
/// of `providers`, all when empty) against `capture`. A pact without message
/// interactions is left out: its HTTP side is replayed by `verify_dir`.
pub async fn match_capture(
    pacts_dir: &Path,
    providers: &[String],
    capture: &Capture,
) -> Result<VerifyReport, QueueError> {
    let mut report = VerifyReport { pacts: Vec::new() };
    for pact in pacts::load_dir(pacts_dir)? {
        let messages: HashMap<&str, &str> = pact
            .interactions
            .iter()
            .filter_map(|i| match &i.kind {
                Kind::Message { event_type: Some(e) } => Some((i.description.as_str(), e.as_str())),
                _ => None,
            })
            .collect();
        if messages.is_empty() || !(providers.is_empty() || providers.contains(&pact.provider)) {
            continue;
        }
        let model = pact_models::pact::read_pact(&pact.path)
            .map_err(|e| QueueError::ReadPact { path: pact.path.clone(), message: format!("{e:#}") })?;
        let mut verification = PactVerification {
            path: pact.path.clone(),
            consumer: pact.consumer.clone(),
            provider: pact.provider.clone(),
            interactions: Vec::new(),
        };
        for expected in model.interactions() {
            let description = expected.description();
            let Some(event_type) = messages.get(description.as_str()) else { continue };
            let published: Vec<&Captured> = capture
                .messages
                .iter()
                .filter(|m| {
                    m.producer().as_deref() == Some(&pact.provider) && m.event_type().as_deref() == Some(event_type)
                })
                .collect();
            let outcome = if published.is_empty() {
                Outcome::Error(format!(
                    "{} published no {event_type} on SNS during the run; it published {}",
                    pact.provider,
                    summary(capture, &pact.provider)
                ))
            } else {
                let mut outcome = Outcome::Passed;
                for m in published {
                    let mismatches = pact_matching::match_message(&expected, &actual(m), &model).await;
                    if !mismatches.is_empty() {
                        outcome = Outcome::Mismatched(
                            mismatches
                                .iter()
                                .map(|x| {
                                    let mut mismatch = Mismatch::from_pact_json(&x.to_json());
                                    mismatch.detail = format!("{}; SNS message {}", mismatch.detail, m.message_id);
                                    mismatch
                                })
                                .collect(),
                        );
                        break;
                    }
                }
                outcome
            };
            verification.interactions.push(InteractionVerification { description, outcome });
        }
        report.pacts.push(verification);
    }
    Ok(report)
}

/// A captured message as a Pact message: the raw body, and the SNS
/// attributes as metadata.
fn actual(m: &Captured) -> Box<dyn Interaction + Send + Sync + std::panic::RefUnwindSafe> {
    let mut metadata: HashMap<String, Value> =
        m.attributes.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut contents = OptionalBody::from(m.body.clone());
    // SNS carries no content type; the body says what it is. A JSON body is
    // what the pacts' `contentType: application/json` means.
    if serde_json::from_str::<Value>(&m.body).is_ok() {
        if let OptionalBody::Present(_, content_type, _) = &mut contents {
            *content_type = Some(ContentType::from("application/json"));
        }
        metadata.insert("contentType".into(), "application/json".into());
    }
    let message = AsynchronousMessage {
        description: format!("SNS message {}", m.message_id),
        contents: MessageContents { contents, metadata, ..MessageContents::default() },
        ..AsynchronousMessage::default()
    };
    message.boxed()
}

/// What `provider` did publish, for a report that none of a type arrived.
fn summary(capture: &Capture, provider: &str) -> String {
    let mut types: Vec<String> = capture
        .messages
        .iter()
        .filter(|m| m.producer().as_deref() == Some(provider))
        .filter_map(|m| m.event_type())
        .collect();
    types.sort();
    types.dedup();
    if types.is_empty() { "nothing".into() } else { types.join(", ") }
}
