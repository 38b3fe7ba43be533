//! Running many scenarios: the independent ones side by side (each chain is
//! isolated by its correlation id, each fake rule scoped to it), then the
//! ones that stop services or program every chain's fakes, one at a time.
//! Those with handler faults (scoped to their chains too) run side by side
//! with the first, in this task, as they need the platform to reach the
//! services' fault hooks.

use std::sync::Arc;
use std::time::Instant;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use super::model::Scenario;
use super::report::{RunReport, ScenarioReport};
use super::run::run_one;
use super::target::Target;
use crate::runtime::{Platform, SupervisorEvent, supervising};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Independent scenarios running at once.
    pub jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { jobs: 8 }
    }
}

/// Called as each scenario starts and as each finishes, and when the
/// supervisor of the platform sees a service die or come back.
pub trait Progress: Send + Sync {
    fn started(&self, _scenario: &Scenario) {}
    fn finished(&self, _report: &ScenarioReport) {}
    fn supervised(&self, _event: &SupervisorEvent) {}
}

/// Progress nobody watches.
pub struct Silent;
impl Progress for Silent {}

/// Runs `scenarios` against `target`; reports come back in the scenarios'
/// order. `control` (the platform, when this process owns it) lets the
/// exclusive scenarios stop and start services; without it they are skipped.
/// While they run, the platform is supervised: a service that dies is
/// started again by its restart policy, one a scenario stopped is not.
pub async fn run_all(
    target: &Target,
    scenarios: &[Scenario],
    control: Option<&mut Platform>,
    options: &RunOptions,
    progress: Arc<dyn Progress>,
) -> RunReport {
    let Some(platform) = control else {
        return scenarios_of(target, scenarios, None, options, progress).await;
    };
    let control = Mutex::new(platform);
    let on_event = |e: &SupervisorEvent| progress.supervised(e);
    supervising(&control, &on_event, scenarios_of(target, scenarios, Some(&control), options, progress.clone())).await
}

async fn scenarios_of(
    target: &Target,
    scenarios: &[Scenario],
    control: Option<&Mutex<&mut Platform>>,
    options: &RunOptions,
    progress: Arc<dyn Progress>,
) -> RunReport {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut reports: Vec<Option<ScenarioReport>> = vec![None; scenarios.len()];
    let slots = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tasks = JoinSet::new();
    let hooked = |s: &Scenario| !s.exclusive() && s.needs_control().is_some();
    for (i, s) in scenarios.iter().enumerate().filter(|(_, s)| !s.exclusive() && !hooked(s)) {
        let (target, s, run, slots, progress) =
            (target.clone(), s.clone(), run.clone(), slots.clone(), progress.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            progress.started(&s);
            let report = run_one(&target, &s, &run, None).await;
            progress.finished(&report);
            (i, report)
        });
    }
    let with_hooks = scenarios.iter().enumerate().filter(|(_, s)| hooked(s)).map(|(i, s)| {
        let (run, slots, progress) = (&run, slots.clone(), progress.clone());
        async move {
            let _slot = slots.acquire_owned().await;
            progress.started(s);
            let report = run_one(target, s, run, control).await;
            progress.finished(&report);
            (i, report)
        }
    });
    let spawned = async {
        let mut done = Vec::new();
        while let Some(task) = tasks.join_next().await {
            match task {
                Ok(report) => done.push(report),
                // A panicking scenario is a bug in fare: say so rather than hide it.
                Err(e) => tracing::error!(error = %e, "a scenario task failed"),
            }
        }
        done
    };
    let (spawned, with_hooks) = tokio::join!(spawned, futures_util::future::join_all(with_hooks));
    for (i, report) in spawned.into_iter().chain(with_hooks) {
        reports[i] = Some(report);
    }
    for (i, s) in scenarios.iter().enumerate().filter(|(_, s)| s.exclusive()) {
        progress.started(s);
        let report = run_one(target, s, &run, control).await;
        progress.finished(&report);
        reports[i] = Some(report);
    }
    RunReport {
        namespace: target.bus.namespace.to_string(),
        started_at,
        took: started.elapsed(),
        scenarios: reports.into_iter().flatten().collect(),
        share: None,
        notes: Vec::new(),
    }
}
