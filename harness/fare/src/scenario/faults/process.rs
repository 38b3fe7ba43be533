//! Faults on processes: a service stopped (SIGTERM) or killed (SIGKILL) once
//! an event of the chain is seen and started again at a later one (or left
//! to the restart policy), a service or the emulator frozen (SIGSTOP) for a
//! while, or its container cut off the run's network for a while. Only the
//! platform this fare started holds the processes.

use std::time::{Duration, Instant};

use kit::EventType;
use tokio::sync::Mutex;

use super::wait::{Gate, Waiter, seen};
use super::{DEADLINE, FaultError};
use crate::runtime::{ControlError, Platform, Process};
use crate::scenario::model::Fault;
use crate::scenario::target::Target;
use crate::trace::{Asked, FaultKind, InjectedFault};

/// How long a frozen service stays frozen beyond its queue's visibility
/// timeout, so the message it held is visible again before it thaws.
const PAST_VISIBILITY: Duration = Duration::from_secs(5);
/// How long the emulator stays frozen when a scenario does not say.
const EMULATOR_PAUSE: Duration = Duration::from_secs(3);
/// How long a container stays cut off when a scenario does not say.
const DISCONNECTED: Duration = Duration::from_secs(5);

/// Where a fault that acts on processes happens: the platform it signals,
/// the chain whose events trigger it, and the gate its waits go through.
pub struct OnProcesses<'a, 'p> {
    pub target: &'a Target,
    pub control: &'a Mutex<&'p mut Platform>,
    pub correlation_id: &'a str,
    pub gate: &'a Gate,
}

impl OnProcesses<'_, '_> {
    /// How the fault was asked for, as the record keeps it: on this chain's events.
    fn asked(&self, when: Option<&EventType>) -> Asked {
        Asked { chain: Some(self.correlation_id.to_owned()), when: when.map(ToString::to_string), ..Asked::default() }
    }

    async fn once(&self, event: Option<&EventType>) -> Result<(), FaultError> {
        match event {
            Some(e) => seen(self.target, self.correlation_id, e, DEADLINE, self.gate, Waiter::Fault).await,
            None => Ok(()),
        }
    }
}

fn once_said(when: Option<&EventType>) -> String {
    when.map(|e| format!("once {e} was seen")).unwrap_or_else(|| "at the start".into())
}

/// Runs a fault that stops, kills, freezes or cuts off a process.
pub async fn on_processes(at: &OnProcesses<'_, '_>, fault: &Fault) -> Result<String, FaultError> {
    match fault {
        Fault::Stop { service, when, restart_when, .. } => {
            take_down(at, service, Down::Stop, when.as_ref(), restart_when.as_ref()).await
        }
        Fault::Kill { service, when, restart_when, .. } => {
            take_down(at, service, Down::Kill, when.as_ref(), restart_when.as_ref()).await
        }
        Fault::Pause { process, when, seconds, .. } => pause(at, process, when.as_ref(), *seconds).await,
        Fault::Disconnect { process, when, seconds, .. } => disconnect(at, process, when.as_ref(), *seconds).await,
        other => Err(FaultError::NotOnProcesses { what: other.to_string() }),
    }
}

/// How a service is taken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Down {
    /// As an operator stops it (SIGTERM, it finishes what it holds); it
    /// stays stopped until started again.
    Stop,
    /// As a crash (SIGKILL): the restart policy brings it back, unless it is
    /// held down until a `restart_when`.
    Kill,
}

/// Takes `service` down once `when` is seen and, once `restart_when` is
/// seen (at once if unset), starts it again; a kill without `restart_when`
/// is left to the restart policy. Returns what it did, in words.
async fn take_down(
    at: &OnProcesses<'_, '_>,
    service: &str,
    how: Down,
    when: Option<&EventType>,
    restart_when: Option<&EventType>,
) -> Result<String, FaultError> {
    at.once(when).await?;
    let asked = Asked { restart_when: restart_when.map(ToString::to_string), ..at.asked(when) };
    let (did, fault) = match (how, restart_when) {
        (Down::Kill, None) => {
            let pid = at.control.lock().await.kill_service(service)?;
            let fault =
                InjectedFault::now(FaultKind::Kill, service, "was SIGKILLed, for the restart policy to bring back")
                    .asked(asked);
            at.target.record_fault(&fault).await?;
            // Down until the policy has it running again: a process of another pid.
            let who = Process::Service(service.to_owned());
            let back = kit::probe::wait_until(Instant::now() + DEADLINE, Duration::from_millis(100), || async {
                let now = at.control.lock().await.pid_of(&who).ok();
                Ok::<_, ()>(match now {
                    Some(again) if again != pid => kit::probe::Look::Ready(()),
                    _ => kit::probe::Look::Pending(()),
                })
            })
            .await;
            let said = match back {
                Ok(()) => {
                    at.target.record_fault(&fault.ended()).await?;
                    "back after the restart policy's start"
                }
                Err(_) => "not back within the deadline",
            };
            return Ok(format!("{service} (pid {pid}) SIGKILLed {}; {said}", once_said(when)));
        }
        (Down::Kill, Some(_)) => {
            let pid = at.control.lock().await.kill_and_hold(service).await?;
            (
                format!("(pid {pid}) SIGKILLed"),
                InjectedFault::now(FaultKind::Kill, service, "was SIGKILLed and held down").asked(asked),
            )
        }
        (Down::Stop, _) => {
            at.control.lock().await.stop_service(service).await?;
            ("stopped".to_owned(), InjectedFault::now(FaultKind::Stop, service, "was stopped").asked(asked))
        }
    };
    // Recorded open: if the restart never comes, it lasts.
    at.target.record_fault(&fault).await?;
    let down = Instant::now();
    at.once(restart_when).await?;
    at.control.lock().await.start_service(service).await?;
    at.target.record_fault(&fault.ended()).await?;
    let until = restart_when.map(|e| format!(" until {e}")).unwrap_or_default();
    Ok(format!("{service} {did} {}, down for {} ms{until}", once_said(when), down.elapsed().as_millis()))
}

/// SIGSTOPs `process` once `when` is seen and SIGCONTs it `seconds` later:
/// by default a service stays frozen past its queue's visibility timeout
/// (the message it held comes back while it hangs), the emulator 3 s.
pub async fn pause(
    at: &OnProcesses<'_, '_>,
    process: &Process,
    when: Option<&EventType>,
    seconds: Option<u64>,
) -> Result<String, FaultError> {
    let hold = match (seconds, process) {
        (Some(s), _) => Duration::from_secs(s),
        (None, Process::Emulator) => EMULATOR_PAUSE,
        (None, Process::Service(name)) => {
            let visibility = at.target.topology.service(name).and_then(|m| m.queue.as_ref());
            Duration::from_secs(visibility.map_or(30, |q| u64::from(q.visibility_timeout_seconds))) + PAST_VISIBILITY
        }
    };
    outage(at, process, when, hold, Outage::Frozen).await
}

/// Cuts `process`'s container off the run's network once `when` is seen
/// and connects it again `seconds` later (5 s by default): it keeps
/// running, but reaches neither SNS/SQS nor the services, and nothing
/// reaches it. Judgement waits meanwhile, as during a freeze.
pub async fn disconnect(
    at: &OnProcesses<'_, '_>,
    process: &Process,
    when: Option<&EventType>,
    seconds: Option<u64>,
) -> Result<String, FaultError> {
    let hold = seconds.map_or(DISCONNECTED, Duration::from_secs);
    outage(at, process, when, hold, Outage::CutOff).await
}

/// What an outage does to a process for a while.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// SIGSTOP, then SIGCONT (or `docker pause`, `docker unpause`).
    Frozen,
    /// Off the run's network, then on it again.
    CutOff,
}

impl Outage {
    /// Begins (`true`) or ends the outage of `process`; its pid.
    async fn set(self, at: &OnProcesses<'_, '_>, process: &Process, on: bool) -> Result<u32, ControlError> {
        let mut control = at.control.lock().await;
        match self {
            Outage::Frozen => control.set_frozen(process, on).await,
            Outage::CutOff => control.set_connected(process, !on).await,
        }
    }
}

/// `outage` of `process` once `when` is seen, for `hold`: judgement waits
/// meanwhile, and the fault is recorded as it begins and as it ends.
async fn outage(
    at: &OnProcesses<'_, '_>,
    process: &Process,
    when: Option<&EventType>,
    hold: Duration,
    outage: Outage,
) -> Result<String, FaultError> {
    at.once(when).await?;
    let held = at.gate.freeze();
    let pid = outage.set(at, process, true).await?;
    let asked = Asked { seconds: Some(hold.as_secs()), ..at.asked(when) };
    let (kind, said, done) = match outage {
        Outage::Frozen => (FaultKind::Pause, "was frozen", "frozen"),
        Outage::CutOff => (FaultKind::Disconnect, "was cut off from the network", "cut off the network"),
    };
    let fault = InjectedFault::now(kind, &process.to_string(), said).asked(asked);
    let recorded = at.target.record_fault(&fault).await;
    // The outage is the fault: its length is what is injected, not a wait.
    tokio::time::sleep(hold).await;
    let ended = outage.set(at, process, false).await;
    drop(held);
    ended?;
    recorded?;
    at.target.record_fault(&fault.ended()).await?;
    Ok(format!("{process} (pid {pid}) {done} {} for {} s", once_said(when), hold.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_says_when_it_struck() {
        let placed = EventType::parse("order.placed").unwrap();
        assert_eq!(once_said(Some(&placed)), "once order.placed was seen");
        assert_eq!(once_said(None), "at the start");
    }
}
