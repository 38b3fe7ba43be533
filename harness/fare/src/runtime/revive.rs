//! Bringing the SNS/SQS emulator back when it dies under a running
//! platform. An emulator keeps everything in memory, so a dead one takes
//! every topic, queue and message with it, and each service would fail to
//! reach the bus until someone started over. The supervisor notices the
//! death (a process that exited, a container that ended), starts a fresh
//! emulator at the same endpoint, so no service needs telling, and
//! provisions it from the topology again. What was on its queues is lost;
//! what the services had not yet published waits in their outboxes and
//! goes out once it is back. With `--restart never` it stays down, said
//! once.

use std::time::Instant;

use super::Platform;
use super::runner::ReviveError;
use super::supervise::{Next, RestartPolicy, SupervisorEvent};
use crate::provision::ProvisionError;
use crate::trace::TraceError;

/// What kept a dead emulator from coming back whole.
#[derive(Debug, thiserror::Error)]
enum ComebackError {
    #[error(transparent)]
    Start(#[from] ReviveError),
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// The recorder's tap, which was on the dead emulator too.
    #[error(transparent)]
    Tap(#[from] TraceError),
}

impl Platform {
    /// How the emulator fare started ended, if it has (and was not yet told).
    fn emulator_exit(&mut self) -> Option<String> {
        if self.supervisor.emulator_down {
            return None;
        }
        self.runner.emulator_mut()?.exited()
    }

    /// Notices a dead emulator and, by the restart policy, starts it again
    /// and provisions it; returns what happened, to be shown.
    pub(super) async fn revive_emulator(&mut self) -> Vec<SupervisorEvent> {
        let Some(how) = self.emulator_exit() else { return Vec::new() };
        if self.supervisor.options.policy == RestartPolicy::Never {
            self.supervisor.emulator_down = true;
            let next = Next::KeepDown { why: format!("{how}; --restart never") };
            return vec![SupervisorEvent::EmulatorDied { how, next }];
        }
        let mut events = vec![SupervisorEvent::EmulatorDied {
            how,
            next: Next::RestartIn { attempt: 1, delay: Default::default() },
        }];
        let started = Instant::now();
        match self.restart_emulator().await {
            Ok(changes) => events.push(SupervisorEvent::EmulatorBack { took: started.elapsed(), changes }),
            Err(error) => {
                self.supervisor.emulator_down = true;
                events.push(SupervisorEvent::EmulatorRestartFailed { error: kit::error_chain(&error) });
            }
        }
        events
    }

    /// A fresh emulator in the dead one's place, provisioned; the number of
    /// changes provisioning made.
    async fn restart_emulator(&mut self) -> Result<usize, ComebackError> {
        self.runner.restart_emulator().await?;
        self.state.emulator_pid = self.runner.emulator_process().map(|e| e.pid());
        let ns = self.state.namespace.clone();
        let desired = crate::provision::desired(&self.topology, &ns);
        let changes = crate::provision::converge(&self.bus, &ns, &desired, &mut |_| {}).await?;
        if let Some(recorder) = self.recorder() {
            recorder.make_tap_again(&self.bus, &self.topology).await?;
        }
        Ok(changes.len())
    }
}
