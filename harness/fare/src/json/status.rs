//! `fare status --json`: what runs where, and how each service is.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::runtime::{PlatformState, RestartPolicy, ServiceStatus};

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusDoc {
    pub namespace: String,
    pub endpoint: Option<String>,
    pub emulator_pid: Option<u32>,
    pub supervisor_pid: u32,
    pub restart: RestartPolicy,
    pub services: Vec<ServiceDoc>,
    pub fakes: Vec<FakeDoc>,
}

/// One service: `state`, with `attempt` or `why` when there is one.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceDoc {
    pub name: String,
    pub url: String,
    /// While it runs.
    pub pid: Option<u32>,
    pub ready: bool,
    pub log: PathBuf,
    pub restarts: u32,
    /// Events its relay could not publish and moved aside, if it says.
    pub outbox_dead: Option<u64>,
    #[serde(flatten)]
    pub status: ServiceStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FakeDoc {
    pub name: String,
    pub url: String,
}

impl StatusDoc {
    /// `state` with, per service, whether it was ready and what it set aside.
    pub fn new(state: &PlatformState, ready: &[bool], set_aside: &[Option<u64>]) -> StatusDoc {
        let services = state
            .services
            .iter()
            .zip(ready)
            .zip(set_aside)
            .map(|((s, ready), aside)| ServiceDoc {
                name: s.name.clone(),
                url: s.url.clone(),
                pid: (s.status == ServiceStatus::Running).then_some(s.pid),
                ready: *ready,
                log: s.log.clone(),
                restarts: s.restarts,
                outbox_dead: *aside,
                status: s.status.clone(),
            })
            .collect();
        StatusDoc {
            namespace: state.namespace.to_string(),
            endpoint: state.endpoint.clone(),
            emulator_pid: state.emulator_pid,
            supervisor_pid: state.supervisor_pid,
            restart: state.restart,
            services,
            fakes: state.fakes.iter().map(|f| FakeDoc { name: f.name.clone(), url: f.url.clone() }).collect(),
        }
    }
}
