//! Keeping the platform up when one of its services dies. The supervisor
//! notices a service that exited without fare asking it to, says how it
//! ended (`signal 9 (SIGKILL)`, `exit status 101`) with its last log lines,
//! records the exit in the trace recorder, and starts it again by the
//! restart policy: after a backoff that doubles with each crash, unless it
//! crash-loops; or never, keeping it down for inspection.
//!
//! It is driven, not a task of its own: whoever owns the [`Platform`] calls
//! [`Platform::supervise_once`] every [`TICK`] (the loop of `fare up`, and
//! the scenario runner of `fare e2e`, which shares the platform behind a
//! mutex). A stop asked by an operator or a scenario and a restart by the
//! supervisor both need `&mut Platform`, so they cannot race, and a service
//! stopped on purpose is marked stopped before anyone can see it gone.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kit::backoff::Backoff;
use serde::{Deserialize, Serialize};

use super::Platform;
use super::control::ControlError;
use super::state::ServiceStatus;
use crate::trace::ServiceExit;

/// How often the owner of a platform should call [`Platform::supervise_once`].
pub const TICK: Duration = Duration::from_millis(250);

/// Runs `work` while supervising the platform behind `control` every
/// [`TICK`], telling `on_event` what the supervisor did; returns what `work`
/// returns. Whoever shares the platform with the supervisor this way locks
/// it only for what it does at that moment.
pub async fn supervising<T>(
    control: &tokio::sync::Mutex<&mut Platform>,
    on_event: &(dyn Fn(&SupervisorEvent) + Sync),
    work: impl std::future::Future<Output = T>,
) -> T {
    let supervise = async {
        loop {
            tokio::time::sleep(TICK).await;
            let events = control.lock().await.supervise_once().await;
            events.iter().for_each(on_event);
        }
    };
    tokio::select! {
        done = work => done,
        never = supervise => match never {},
    }
}

/// The lines of a dead service's log that are shown and recorded.
const TAIL: usize = 15;

/// What happens to a service that died without being asked to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Start it again after a backoff, unless it keeps crashing.
    #[default]
    OnFailure,
    /// Keep it down, for inspection (`fare start` starts it again).
    Never,
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Never => "never",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartOptions {
    pub policy: RestartPolicy,
    /// The wait before the first restart; it doubles with each further
    /// crash within `window`, up to the backoff's ceiling.
    pub backoff: Backoff,
    /// A service that crashes again after `limit` restarts within `window`
    /// is crash-looping: it is kept down.
    pub limit: u32,
    pub window: Duration,
}

impl Default for RestartOptions {
    fn default() -> Self {
        RestartOptions {
            policy: RestartPolicy::OnFailure,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
            limit: 5,
            window: Duration::from_secs(60),
        }
    }
}

impl RestartOptions {
    /// The wait before restart number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt)
    }
}

/// What the supervisor did, for its owner to show.
#[derive(Debug, Clone, PartialEq)]
pub enum SupervisorEvent {
    /// A service exited without fare asking it to.
    Died { exit: ServiceExit, next: Next },
    /// A restarted service is ready again.
    Back { service: String, pid: u32, attempt: u32, down_for: Duration },
    /// Starting a dead service again failed; `next` says what follows.
    RestartFailed { service: String, attempt: u32, error: String },
    /// The state file could not be written: `fare status` shows old news.
    StateNotSaved { error: String },
    /// The SNS/SQS emulator fare started exited without being asked to.
    EmulatorDied { how: String, next: Next },
    /// The emulator runs again at the same endpoint, provisioned afresh.
    EmulatorBack { took: Duration, changes: usize },
    /// Starting the emulator again, or provisioning it, failed: it stays down.
    EmulatorRestartFailed { error: String },
}

/// What follows a death.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    RestartIn { attempt: u32, delay: Duration },
    KeepDown { why: String },
}

impl fmt::Display for SupervisorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorEvent::Died { exit, next } => {
                write!(f, "{} died ({}); its last lines:", exit.service, exit.status)?;
                for line in &exit.log_tail {
                    write!(f, "\n  | {line}")?;
                }
                match next {
                    Next::RestartIn { attempt, delay } => {
                        write!(f, "\nrestarting {} in {:.1} s (attempt {attempt})", exit.service, delay.as_secs_f64())
                    }
                    Next::KeepDown { why } => write!(
                        f,
                        "\nkeeping {} down: {why} (`fare start {}` starts it again)",
                        exit.service, exit.service
                    ),
                }
            }
            SupervisorEvent::Back { service, pid, attempt, down_for } => write!(
                f,
                "{service} is back (pid {pid}, attempt {attempt}), ready {:.1} s after it died",
                down_for.as_secs_f64()
            ),
            SupervisorEvent::RestartFailed { service, attempt, error } => {
                write!(f, "restarting {service} failed (attempt {attempt}): {error}")
            }
            SupervisorEvent::StateNotSaved { error } => write!(f, "the state file is out of date: {error}"),
            SupervisorEvent::EmulatorDied { how, next } => {
                write!(f, "the SNS/SQS emulator died ({how}); every topic, queue and message it held is gone")?;
                match next {
                    Next::RestartIn { .. } => {
                        f.write_str("\nstarting it again at the same endpoint and provisioning it")
                    }
                    Next::KeepDown { why } => {
                        write!(f, "\nkeeping it down: {why} (`fare down` then `fare up` starts over)")
                    }
                }
            }
            SupervisorEvent::EmulatorBack { took, changes } => write!(
                f,
                "the emulator is back at the same endpoint after {:.1} s, provisioned again ({changes} changes); \
                 events still in the services' outboxes go out now, messages that were on its queues are lost",
                took.as_secs_f64()
            ),
            SupervisorEvent::EmulatorRestartFailed { error } => {
                write!(f, "starting the emulator again failed, it stays down: {error}")
            }
        }
    }
}

/// The supervisor's memory of each service, beside its status in the state.
#[derive(Debug, Default)]
pub(crate) struct Supervisor {
    pub options: RestartOptions,
    watches: BTreeMap<String, Watch>,
    /// The emulator died and is kept down (or could not be started again):
    /// said once, not at every tick.
    pub(super) emulator_down: bool,
}

#[derive(Debug, Default)]
struct Watch {
    /// When it crashed, within the crash-loop window.
    crashes: VecDeque<Instant>,
    /// When the restart is due, while it waits.
    due: Option<(Instant, u32)>,
    /// When the last crash was noticed.
    died: Option<Instant>,
    /// The settings laid over its environment when it was last started:
    /// a restart after a crash starts it the same way.
    overrides: BTreeMap<String, String>,
    /// The supervisor is starting it again: the start counts as a restart.
    restarting: bool,
}

impl Supervisor {
    pub fn new(options: RestartOptions) -> Supervisor {
        Supervisor { options, watches: BTreeMap::new(), emulator_down: false }
    }

    /// Counts a crash of `service` noticed at `now`; says what follows.
    fn crashed(&mut self, service: &str, status: &str, now: Instant) -> Next {
        let options = self.options.clone();
        let watch = self.watches.entry(service.to_owned()).or_default();
        watch.died = Some(now);
        watch.crashes.push_back(now);
        while watch.crashes.front().is_some_and(|t| now.duration_since(*t) > options.window) {
            watch.crashes.pop_front();
        }
        let crashes = watch.crashes.len() as u32;
        let next = match options.policy {
            RestartPolicy::Never => Next::KeepDown { why: format!("{status}; --restart never") },
            RestartPolicy::OnFailure if crashes > options.limit => Next::KeepDown {
                why: format!(
                    "crashed {crashes} times within {} s, crash-looping; last {status}",
                    options.window.as_secs()
                ),
            },
            RestartPolicy::OnFailure => Next::RestartIn { attempt: crashes, delay: options.delay(crashes) },
        };
        watch.due = match &next {
            Next::RestartIn { attempt, delay } => Some((now + *delay, *attempt)),
            Next::KeepDown { .. } => None,
        };
        next
    }

    /// The restarts due at `now`, taken off the list.
    fn due(&mut self, now: Instant) -> Vec<(String, u32)> {
        let mut due = Vec::new();
        for (name, watch) in &mut self.watches {
            if let Some((at, attempt)) = watch.due
                && at <= now
            {
                watch.due = None;
                due.push((name.clone(), attempt));
            }
        }
        due
    }

    /// Forgets a pending restart: the service was started or stopped by hand.
    fn cancel(&mut self, service: &str) -> bool {
        self.watches.get_mut(service).and_then(|w| w.due.take()).is_some()
    }
}

/// How a process ended, as people say it: `exit status 101`, `signal 9 (SIGKILL)`.
pub fn describe(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(n) => {
            let core = if status.core_dumped() { ", core dumped" } else { "" };
            match signal_name(n) {
                Some(name) => format!("signal {n} ({name}){core}"),
                None => format!("signal {n}{core}"),
            }
        }
        None => status.to_string(),
    }
}

fn signal_name(n: i32) -> Option<&'static str> {
    let name = match n {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    };
    Some(name)
}

fn now_unix_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or_default()
}

impl Platform {
    /// Notices the services that died, records and reports each, and starts
    /// again those whose backoff is over. Never blocks longer than a restart
    /// takes to be ready; call it every [`TICK`].
    pub async fn supervise_once(&mut self) -> Vec<SupervisorEvent> {
        let mut events = self.revive_emulator().await;
        let now = Instant::now();
        let mut changed = !events.is_empty();
        for exit in self.crashed() {
            if let Some(recorder) = self.recorder() {
                recorder.record_exit(exit.clone());
            }
            let next = self.supervisor.crashed(&exit.service, &exit.status, now);
            let status = match &next {
                Next::RestartIn { attempt, .. } => ServiceStatus::Restarting { attempt: *attempt },
                Next::KeepDown { why } => ServiceStatus::Down { why: why.clone() },
            };
            self.set_status(&exit.service, status);
            changed = true;
            events.push(SupervisorEvent::Died { exit, next });
        }
        for (service, attempt) in self.supervisor.due(now) {
            changed = true;
            let overrides = self.supervisor.watches.get(&service).map(|w| w.overrides.clone()).unwrap_or_default();
            if let Some(w) = self.supervisor.watches.get_mut(&service) {
                w.restarting = true;
            }
            let started = self.start_service_with(&service, &overrides).await;
            if let Some(w) = self.supervisor.watches.get_mut(&service) {
                w.restarting = false;
            }
            match started {
                Ok(()) => {
                    let died = self.supervisor.watches.get(&service).and_then(|w| w.died);
                    let pid = self.state.services.iter().find(|s| s.name == service).map_or(0, |s| s.pid);
                    let down_for = died.map(|d| d.elapsed()).unwrap_or_default();
                    events.push(SupervisorEvent::Back { service, pid, attempt, down_for });
                }
                // It is still in `services`, dead: the next look counts the crash.
                Err(ControlError::Exited { .. }) => {}
                Err(e @ ControlError::NotReady { .. }) => {
                    // Killed, so the next look counts it as a crash and backs off.
                    if let Some(p) = self.services.iter().find(|p| p.name == service) {
                        // Still running (not ready, not exited).
                        let _ = p.kill();
                    }
                    events.push(SupervisorEvent::RestartFailed { service, attempt, error: e.to_string() });
                }
                Err(e) => {
                    self.set_status(&service, ServiceStatus::Down { why: e.to_string() });
                    events.push(SupervisorEvent::RestartFailed { service, attempt, error: e.to_string() });
                }
            }
        }
        if changed && let Err(e) = self.save_state() {
            events.push(SupervisorEvent::StateNotSaved { error: e.to_string() });
        }
        events
    }

    /// Takes the services that exited without fare asking them to out of
    /// the running ones; returns how each ended.
    pub fn crashed(&mut self) -> Vec<ServiceExit> {
        self.reap(None)
    }

    /// [`Platform::crashed`], of one service or of all.
    fn reap(&mut self, only: Option<&str>) -> Vec<ServiceExit> {
        let mut exits = Vec::new();
        self.services.retain_mut(|p| match p.exited().filter(|_| only.is_none_or(|n| n == p.name)) {
            Some(status) => {
                exits.push(ServiceExit {
                    service: p.name.clone(),
                    status,
                    intended: false,
                    log_tail: p.log_tail(TAIL).lines().map(str::to_owned).collect(),
                    at_unix_nanos: now_unix_nanos(),
                });
                false
            }
            None => true,
        });
        exits
    }

    /// Called by `start_service_with` as it starts `service`.
    pub(super) fn note_starting(&mut self, service: &str, overrides: &BTreeMap<String, String>) {
        self.supervisor.cancel(service);
        self.supervisor.watches.entry(service.to_owned()).or_default().overrides = overrides.clone();
    }

    /// Called by `start_service_with` once `service` is ready as `pid`.
    /// The restart is counted here, with the new pid, so the state file
    /// never shows the new process without it.
    pub(super) fn note_started(&mut self, service: &str, pid: u32) -> Result<(), super::StateError> {
        let restarted = self.supervisor.watches.get(service).is_some_and(|w| w.restarting);
        if let Some(s) = self.state.services.iter_mut().find(|s| s.name == service) {
            s.pid = pid;
            s.status = ServiceStatus::Running;
            s.restarts += u32::from(restarted);
        }
        self.save_state()
    }

    /// Called by `stop_service` once `process` has ended, on purpose.
    pub(super) fn note_stopped(&mut self, process: &mut super::ServiceProcess) -> Result<(), super::StateError> {
        let exit = ServiceExit {
            service: process.name.clone(),
            status: process.exited().unwrap_or_else(|| "stopped".into()),
            intended: true,
            log_tail: process.log_tail(TAIL).lines().map(str::to_owned).collect(),
            at_unix_nanos: now_unix_nanos(),
        };
        if let Some(recorder) = self.recorder() {
            recorder.record_exit(exit);
        }
        self.set_status(&process.name, ServiceStatus::Stopped);
        self.save_state()
    }

    /// `stop_service` of a service that is not running: a pending restart
    /// is called off, and a service kept down (or dead, not yet noticed)
    /// is now stopped on purpose.
    pub(super) fn stop_idle(&mut self, service: &str) -> Result<(), ControlError> {
        let died = self.reap(Some(service));
        for exit in &died {
            if let Some(recorder) = self.recorder() {
                recorder.record_exit(exit.clone());
            }
        }
        let status = self.state.services.iter().find(|s| s.name == service).map(|s| s.status.clone());
        self.supervisor.cancel(service);
        if died.is_empty() && !matches!(status, Some(ServiceStatus::Restarting { .. } | ServiceStatus::Down { .. })) {
            return Err(ControlError::Stopped { name: service.to_owned() });
        }
        self.set_status(service, ServiceStatus::Stopped);
        self.save_state()?;
        Ok(())
    }

    fn set_status(&mut self, service: &str, status: ServiceStatus) {
        if let Some(s) = self.state.services.iter_mut().find(|s| s.name == service) {
            s.status = status;
        }
    }

    /// Writes the state file, when this process is the one that owns it.
    pub(super) fn save_state(&self) -> Result<(), super::StateError> {
        if self.state.supervisor_pid == std::process::id() { self.state.save(&self.root) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    #[test]
    fn exits_are_told_as_people_say_them() {
        assert_eq!(describe(ExitStatus::from_raw(101 << 8)), "exit status 101");
        assert_eq!(describe(ExitStatus::from_raw(9)), "signal 9 (SIGKILL)");
        assert_eq!(describe(ExitStatus::from_raw(6 | 0x80)), "signal 6 (SIGABRT), core dumped");
        assert_eq!(describe(ExitStatus::from_raw(40)), "signal 40");
    }

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let o = RestartOptions::default();
        let delays: Vec<u64> = (1..=7).map(|n| o.delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    #[test]
    fn a_crash_loop_is_kept_down_and_old_crashes_are_forgotten() {
        let mut s = Supervisor::new(RestartOptions::default());
        let t0 = Instant::now();
        let mut nexts = Vec::new();
        for i in 0..6 {
            nexts.push(s.crashed("store", "exit status 1", t0 + Duration::from_secs(i)));
        }
        assert_eq!(nexts[0], Next::RestartIn { attempt: 1, delay: Duration::from_millis(500) });
        assert_eq!(nexts[4], Next::RestartIn { attempt: 5, delay: Duration::from_secs(8) });
        assert!(
            matches!(&nexts[5], Next::KeepDown { why } if why.contains("crashed 6 times within 60 s")),
            "{nexts:?}"
        );
        // Long after, the window is empty again: the first attempt's wait.
        let later = s.crashed("store", "exit status 1", t0 + Duration::from_secs(200));
        assert_eq!(later, Next::RestartIn { attempt: 1, delay: Duration::from_millis(500) });
    }

    #[test]
    fn never_keeps_it_down_and_a_restart_falls_due_once() {
        let never = RestartOptions { policy: RestartPolicy::Never, ..RestartOptions::default() };
        let next = Supervisor::new(never).crashed("store", "signal 9 (SIGKILL)", Instant::now());
        assert_eq!(next, Next::KeepDown { why: "signal 9 (SIGKILL); --restart never".into() });

        let mut s = Supervisor::new(RestartOptions::default());
        let t0 = Instant::now();
        s.crashed("store", "signal 9 (SIGKILL)", t0);
        assert_eq!(s.due(t0), []);
        assert_eq!(s.due(t0 + Duration::from_millis(600)), [("store".to_owned(), 1)]);
        assert_eq!(s.due(t0 + Duration::from_secs(5)), []);
        s.crashed("store", "signal 9 (SIGKILL)", t0);
        assert!(s.cancel("store"));
        assert_eq!(s.due(t0 + Duration::from_secs(5)), []);
    }
}
