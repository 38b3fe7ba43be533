//! Driving a scenario: its steps in order, up to the first that does not
//! hold, and beside them the faults that wait for events of the chains;
//! the [`Gate`] tells those waits when the steps are done.

use std::time::Instant;

use tokio::sync::Mutex;

use super::arm::Taps;
use super::correlation_id;
use crate::runtime::Platform;
use crate::scenario::failure::Failure;
use crate::scenario::faults::{self, Gate, OnProcesses, Waiter};
use crate::scenario::http;
use crate::scenario::model::{Fault, Restart, Scenario, Step};
use crate::scenario::report::Line;
use crate::scenario::target::Target;
use crate::scenario::template::Vars;

/// Runs the steps and, beside them, the faults that wait for events of the
/// chains, if everything before the first step held; the faults' lines
/// come before the steps'. The taps are closed once both are done, before
/// the platform is waited on.
pub(super) async fn drive(
    target: &Target,
    s: &Scenario,
    base: &str,
    vars: &mut Vars,
    control: Option<&Mutex<&mut Platform>>,
    taps: Taps,
    lines: &mut Vec<Line>,
) {
    if lines.iter().all(Line::ok) {
        // Once the steps are done nothing more will be asked of the
        // platform: a fault still waiting may then give up when it is quiet.
        let gate = Gate::default();
        let steps = async {
            let lines = run_steps(target, s, base, vars, control, &gate).await;
            gate.steps_done();
            lines
        };
        let (steps, fault_lines) = tokio::join!(steps, run_faults(target, s, base, control, &taps, &gate));
        lines.extend(fault_lines);
        lines.extend(steps);
    }
    for (tap, ..) in taps {
        tap.close().await;
    }
}

/// Runs the steps in order, up to the first that does not hold.
async fn run_steps(
    target: &Target,
    s: &Scenario,
    base: &str,
    vars: &mut Vars,
    control: Option<&Mutex<&mut Platform>>,
    gate: &Gate,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for step in &s.file.steps {
        let done = run_step(target, step, base, vars, control, gate).await;
        let ok = done.ok();
        lines.push(done);
        if !ok {
            break;
        }
    }
    lines
}

/// One step: a request, a wait for an event or for quiet, or a restart.
async fn run_step(
    target: &Target,
    step: &Step,
    base: &str,
    vars: &mut Vars,
    control: Option<&Mutex<&mut Platform>>,
    gate: &Gate,
) -> Line {
    let t = Instant::now();
    match step {
        Step::Http(h) => http::run(target, vars, h, &correlation_id(base, &h.chain)).await,
        Step::WaitFor(w) => {
            let cid = correlation_id(base, &w.chain);
            let deadline = std::time::Duration::from_secs(w.timeout_seconds);
            // The steps before this one are done: a quiet platform without the event ends the wait.
            let seen = faults::seen(target, &cid, &w.event, deadline, gate, Waiter::Step).await;
            let what = format!("wait for {} in chain {}", w.event, w.chain);
            Line::new(what, t, seen.map(|()| "seen".into()).map_err(Failure::from)).in_chain(&w.chain)
        }
        Step::Quiet => {
            let quiet = target.wait_quiet().await;
            Line::new(
                "wait until quiet",
                t,
                quiet.map(|d| format!("quiet after {} ms", d.as_millis())).map_err(Failure::from),
            )
        }
        Step::Restart(r) => restart(control, r).await,
    }
}

/// A `restart` step: the service stopped and started again with its
/// extra settings, on the platform this fare started.
async fn restart(control: Option<&Mutex<&mut Platform>>, r: &Restart) -> Line {
    let t = Instant::now();
    let result = match control {
        Some(c) => {
            let mut platform = c.lock().await;
            match platform.stop_service(&r.service).await {
                Ok(()) => platform.start_service_with(&r.service, &r.env).await,
                Err(e) => Err(e),
            }
        }
        None => Err(crate::runtime::ControlError::Stopped { name: r.service.clone() }),
    };
    let env: Vec<String> = r.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let what = format!("restart {} {}", r.service, env.join(" "));
    Line::new(what, t, result.map(|()| "ready".into()).map_err(|e| Failure::harness(&e)))
}

/// Runs the faults that act once the steps have begun: poison, those on
/// processes (each waiting for its event), then the duplicates, each once
/// its tap has the event.
async fn run_faults(
    target: &Target,
    s: &Scenario,
    base: &str,
    control: Option<&Mutex<&mut Platform>>,
    taps: &Taps,
    gate: &Gate,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for f in &s.file.faults {
        let t = Instant::now();
        match f {
            Fault::Poison { service, body, chain } => {
                let done = faults::poison(target, service, body, &correlation_id(base, chain)).await;
                lines.push(Line::new(format!("fault: {f}"), t, done.map_err(Failure::from)));
            }
            Fault::Stop { chain, .. }
            | Fault::Kill { chain, .. }
            | Fault::Pause { chain, .. }
            | Fault::Disconnect { chain, .. } => {
                let done = match control {
                    Some(control) => {
                        let cid = correlation_id(base, chain);
                        faults::on_processes(&OnProcesses { target, control, correlation_id: &cid, gate }, f).await
                    }
                    None => Err(faults::FaultError::NoControl { what: f.to_string() }),
                };
                lines.push(Line::new(format!("fault: {f}"), t, done.map_err(Failure::from)).in_chain(chain));
            }
            Fault::Duplicate { .. } => {}
            // Set before the steps, by `set_handler_faults`.
            Fault::Handler { .. } | Fault::FilterOut { .. } => {}
        }
    }
    for (tap, event, times, cid) in taps {
        let t = Instant::now();
        let done = tap.duplicate(target, event, *times, cid).await;
        lines.push(Line::new(format!("fault: duplicate {event}"), t, done.map_err(Failure::from)));
    }
    lines
}
