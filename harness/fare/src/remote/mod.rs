//! Scenarios against an environment fare did not start (`fare e2e --target
//! staging.toml`): services running elsewhere, on real SNS/SQS or any
//! endpoint, under a namespace fare provisioned there earlier (`fare apply`)
//! or that follows its naming.
//!
//! fare reaches the services at the URLs the target file gives, and sees
//! the chains through what it adds for the run alone: a tap queue in the
//! namespace, a watch on the dead-letter queues, and (where the file says
//! where) an OTLP receiver the services export to. A scenario that needs
//! what fare has only on a platform it starts (fakes, processes, fault
//! hooks) is reported not applicable, skipped or failed on purpose, never
//! run half-way. Whatever ends the run (the last scenario, Ctrl-C, an
//! error), the tap and its subscriptions are removed.
//!
//! # Layout
//! - `file`: the target file (TOML or YAML), every value checked.
//! - `applies`: which scenarios can run there, and why the others cannot.
//! - `observe`: the run's recorder there: its tap, closed on every exit.
//! - this file: one run, from the file to the report.

mod applies;
mod file;
mod observe;

use std::sync::Arc;
use std::time::Instant;

pub use applies::{NotApplicable, why_not};
pub use file::{Endpoint, OPERATOR_TOKEN_VAR, Secret, TargetFile, TargetFileError};
pub use observe::{Closed, ObserveError, Observer};

use crate::scenario::failure::Failure;
use crate::scenario::report::{Line, Outcome, RunReport, ScenarioReport};
use crate::scenario::{Progress, RunOptions, Scenario, Target};
use crate::topology::Topology;
use crate::trace::SavedRecord;

/// What a scenario that cannot run there becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WhenNotApplicable {
    /// Skipped, with the reason (JUnit `<skipped message=…>`).
    #[default]
    Skip,
    /// Failed, with the reason: for a gate that must run every scenario.
    Fail,
}

#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    pub run: RunOptions,
    pub not_applicable: WhenNotApplicable,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("connecting to {whereabouts}")]
    Connect {
        whereabouts: String,
        #[source]
        source: kit::bus::BusError,
    },
    #[error(transparent)]
    Observe(#[from] ObserveError),
    /// Ctrl-C (or SIGTERM) during the run.
    #[error("interrupted; {closed}")]
    Interrupted { closed: Closed },
}

/// A finished run: its report and its record.
#[derive(Debug)]
pub struct RemoteRun {
    pub report: RunReport,
    /// What the run's tap, dead-letter watch and receiver saw.
    pub record: SavedRecord,
    /// What closing the observer left behind.
    pub closed: Closed,
}

/// An environment fare did not start, and the platform's topology.
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub file: TargetFile,
    pub topology: Topology,
}

impl Elsewhere {
    /// Runs `scenarios` there, those that can run; `interrupted` ends the
    /// run early (the observer is closed all the same).
    pub async fn run(
        &self,
        scenarios: &[Scenario],
        options: &RemoteOptions,
        progress: Arc<dyn Progress>,
        interrupted: impl Future<Output = ()>,
    ) -> Result<RemoteRun, RemoteError> {
        let say = crate::terminal::progress;
        let whereabouts = self.file.whereabouts();
        let bus = self.file.connect().await.map_err(|source| RemoteError::Connect { whereabouts, source })?;
        let observer = Observer::start(&bus, &self.topology, self.file.otlp).await?;
        say(&format!(
            "watching {} through the tap queue {} on {} topics{}",
            self.file.name,
            observer.tap,
            observer.topics.len(),
            match observer.spans_url() {
                Some(url) => format!(", spans received at {url}"),
                None => ", without spans".into(),
            }
        ));
        let mut target =
            Target::elsewhere(bus, self.topology.clone(), self.file.services.clone(), observer.record_url().to_owned());
        target.operator = self.file.operator.as_ref().map(|s| s.expose().to_owned());
        target.quiet = self.file.quiet.clone();
        let known: Vec<&str> = self.topology.services().map(|m| m.name.as_str()).collect();
        let why: Vec<Vec<NotApplicable>> = scenarios.iter().map(|s| why_not(s, &self.file.services, &known)).collect();
        let runnable: Vec<Scenario> =
            scenarios.iter().zip(&why).filter(|(_, w)| w.is_empty()).map(|(s, _)| s.clone()).collect();
        // Said at once: what will not run is known before anything runs.
        let refused: Vec<Option<ScenarioReport>> = scenarios
            .iter()
            .zip(&why)
            .map(|(s, why)| (!why.is_empty()).then(|| not_applicable(s, &self.file.name, why, options.not_applicable)))
            .collect();
        refused.iter().flatten().for_each(|r| progress.finished(r));
        let started = Instant::now();
        let ran = tokio::select! {
            report = crate::scenario::run_all(&target, &runnable, None, &options.run, progress.clone()) => Some(report),
            () = interrupted => None,
        };
        let (spans, record, missing) = (observer.spans(), observer.saved(), observer.missing.clone());
        let closed = observer.close().await;
        let Some(ran) = ran else { return Err(RemoteError::Interrupted { closed }) };
        say(&closed.to_string());
        let mut ran = ran.scenarios.into_iter();
        let mut report = RunReport::nothing(target.bus.namespace.to_string());
        // In the scenarios' order, as every run reports them.
        report.scenarios = refused.into_iter().filter_map(|refused| refused.or_else(|| ran.next())).collect();
        report.took = started.elapsed();
        report.notes = self.notes(spans, &missing, &closed);
        Ok(RemoteRun { report, record, closed })
    }

    /// What the reader of a diagnosis should know about how the run saw
    /// the environment.
    fn notes(&self, spans: usize, missing: &[String], closed: &Closed) -> Vec<String> {
        let mut notes = Vec::new();
        let alone = "each diagnosis rests on the events fare's tap saw, the dead-letter queues and the \
                     services' /health alone";
        match self.file.otlp {
            None => notes.push(format!(
                "no spans: {} names no OTLP receiver ([observe] otlp), so {alone}",
                self.file.path.display()
            )),
            Some(addr) if spans == 0 => notes.push(format!(
                "no span reached fare's OTLP receiver on {addr} during the run, so {alone}; point the services' \
                 OTEL_EXPORTER_OTLP_ENDPOINT (or their collector) at it"
            )),
            Some(_) => {}
        }
        if !missing.is_empty() {
            notes.push(format!(
                "namespace {} lacks topics the manifests imply, so no event of theirs was seen: {}",
                self.file.namespace,
                missing.join(", ")
            ));
        }
        if let Closed::Left { .. } = closed {
            notes.push(closed.to_string());
        }
        notes
    }
}

/// The report of a scenario that cannot run on `target`: skipped, or
/// failed on purpose, with the reasons.
fn not_applicable(s: &Scenario, target: &str, why: &[NotApplicable], when: WhenNotApplicable) -> ScenarioReport {
    let reason = format!("not applicable to {target}: {}", applies::sentence(why));
    let (outcome, steps) = match when {
        WhenNotApplicable::Skip => (Outcome::Skipped(reason), Vec::new()),
        WhenNotApplicable::Fail => {
            let line = Line::new("run here", Instant::now(), Err(Failure::NotApplicable { reason }));
            (Outcome::Failed, vec![line])
        }
    };
    ScenarioReport { outcome, steps, ..ScenarioReport::of(s, String::new()) }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn elsewhere(observe: &str) -> Elsewhere {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let (topology, _) = crate::load_topology(&root.join("services")).unwrap();
        let text = format!("namespace = \"s\"\nendpoint = \"aws\"\n[services]\nstore = \"http://s\"\n{observe}");
        let file = TargetFile::parse(Path::new("staging.toml"), &text, &["store"], &|_| None).unwrap();
        Elsewhere { file, topology }
    }

    /// A run that saw no span says so, whether none was asked for or none
    /// came; one that saw less of the topics or left its tap says that too.
    #[test]
    fn the_notes_say_what_the_run_did_not_see() {
        let removed = Closed::Removed { tap: "s-fare-tap-1".into(), subscriptions: 10 };
        let notes = elsewhere("").notes(0, &[], &removed);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("no spans: staging.toml names no OTLP receiver ([observe] otlp), so each diagnosis rests on the events fare's tap saw"), "{notes:?}");
        let with = elsewhere("[observe]\notlp = \"127.0.0.1:4318\"\n");
        assert!(with.notes(0, &[], &removed)[0].starts_with("no span reached fare's OTLP receiver on 127.0.0.1:4318"));
        assert_eq!(with.notes(12, &[], &removed), Vec::<String>::new(), "spans came: nothing to say");
        let left = Closed::Left { tap: "s-fare-tap-1".into(), why: "not removed within 60s".into() };
        let notes = with.notes(12, &["s-points-awarded".into()], &left);
        assert_eq!(
            notes,
            [
                "namespace s lacks topics the manifests imply, so no event of theirs was seen: s-points-awarded",
                "the tap queue s-fare-tap-1 may be left behind (not removed within 60s): delete it and its subscriptions by hand",
            ]
        );
    }
}
