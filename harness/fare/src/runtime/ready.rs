//! The last step of `fare up`: waiting until every service answers its
//! readiness path, each for as long as its manifest says. A service that
//! exits, or listens on another port than the one it was handed, is said at
//! once, not after the deadline; one still not ready is said with what its
//! readiness answered, where it is declared, and its last log lines.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kit::probe::{Look, wait_until};

use super::platform::{ExitedAtStart, WrongPort};
use super::process::{READY_LOOK, ServiceProcess, look_ready};
use super::runner::Launch;
use super::{Platform, UpError};

impl Platform {
    /// Waits until every service answers its readiness path, each for as
    /// long as its manifest's `ready_timeout_seconds` or `timeout`.
    pub(super) async fn wait_ready(&mut self, timeout: Duration) -> Result<(), UpError> {
        let http =
            reqwest::Client::builder().timeout(Duration::from_millis(500)).build().expect("a plain client builds");
        let http = &http;
        let began = Instant::now();
        let own = |launch: &Launch| launch.start.ready_timeout.unwrap_or(timeout);
        let overall = self.launches.values().map(own).max().unwrap_or(timeout);
        let deadlines: BTreeMap<String, Duration> =
            self.launches.iter().map(|(name, launch)| (name.clone(), own(launch))).collect();
        let deadlines = &deadlines;
        let services = &mut self.services;
        let launches = &self.launches;
        let look = || {
            // Exits are read here, as they need the processes; the future asks.
            let failed = failed_start(services, launches);
            let urls: Vec<(String, String, String)> =
                services.iter().map(|p| (p.name.clone(), p.url.clone(), p.ready.clone())).collect();
            async move {
                match failed {
                    Some(failed) => Err(failed),
                    None => look_all_ready(http, &urls, deadlines, began).await,
                }
            }
        };
        let waited = wait_until(Instant::now() + overall, READY_LOOK, look).await;
        let error = match waited {
            Ok(()) => return Ok(()),
            Err(w) => w.into_error(|waited, pending| UpError::NotReady { waited, pending }),
        };
        Err(match error {
            UpError::NotReady { waited, pending } => UpError::NotReady {
                waited,
                pending: pending.into_iter().map(|why| self.not_ready_detail(why)).collect(),
            },
            other => other,
        })
    }

    /// One service's line of a "not ready": what its readiness answered,
    /// where it is declared, and its last words.
    fn not_ready_detail(&self, why: String) -> String {
        let name = why.split(':').next().unwrap_or_default();
        match (self.launches.get(name), self.services.iter().find(|p| p.name == name)) {
            (Some(launch), Some(p)) => format!(
                "{why} (GET {}{}; `{}`, {}); last lines of {}:\n{}",
                p.url,
                p.ready,
                launch.start.command,
                launch.start.declared_at,
                p.log.display(),
                p.log_tail(10)
            ),
            _ => why,
        }
    }
}

/// A service that exited during start-up, or else one that listens on
/// another port than it was handed.
fn failed_start(services: &mut [ServiceProcess], launches: &BTreeMap<String, Launch>) -> Option<UpError> {
    let exited = services.iter_mut().find_map(|p| {
        let status = p.exited()?;
        let start = &launches[&p.name].start;
        Some(UpError::Exited(Box::new(ExitedAtStart {
            service: p.name.clone(),
            status,
            command: start.command.clone(),
            declared_at: start.declared_at.clone(),
            log: p.log.clone(),
            tail: p.log_tail(15),
        })))
    });
    exited.or_else(|| services.iter().find_map(|p| wrong_port(p, &launches[&p.name])))
}

/// A service that listens, but not on the port it was handed (where fare
/// sees its ports: a process's): said at once, not after the readiness
/// deadline.
fn wrong_port(p: &ServiceProcess, launch: &Launch) -> Option<UpError> {
    let port: u16 = launch.env.get("PORT")?.parse().ok()?;
    let listening = p.listening()?;
    if listening.is_empty() || listening.contains(&port) {
        return None;
    }
    let shown: Vec<String> = listening.iter().map(|p| format!("port {p}")).collect();
    Some(UpError::WrongPort(Box::new(WrongPort {
        service: p.name.clone(),
        listening: shown.join(", "),
        port,
        host: launch.env.get("HOST").cloned().unwrap_or_default(),
        declared_at: launch.start.declared_at.clone(),
        log: p.log.clone(),
        tail: p.log_tail(10),
    })))
}

/// One look at every service's readiness (`urls`: name, URL, readiness
/// path), all asked at once: one after the other, a round took eight
/// answers' time on a loaded machine. A service past its own deadline ends
/// the wait.
async fn look_all_ready(
    http: &reqwest::Client,
    urls: &[(String, String, String)],
    deadlines: &BTreeMap<String, Duration>,
    began: Instant,
) -> Result<Look<(), Vec<String>>, UpError> {
    let looks =
        futures_util::future::join_all(urls.iter().map(|(name, url, ready)| look_ready(http, name, url, ready)));
    let pending: Vec<String> = looks
        .await
        .into_iter()
        .filter_map(|look| match look {
            Look::Pending(why) => Some(why),
            Look::Ready(()) => None,
        })
        .collect();
    let late: Vec<String> = pending
        .iter()
        .filter(|why| {
            let name = why.split(':').next().unwrap_or_default();
            deadlines.get(name).is_some_and(|d| began.elapsed() >= *d)
        })
        .cloned()
        .collect();
    if !late.is_empty() {
        return Err(UpError::NotReady { waited: began.elapsed(), pending: late });
    }
    Ok(if pending.is_empty() { Look::Ready(()) } else { Look::Pending(pending) })
}
