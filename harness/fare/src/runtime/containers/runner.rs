//! The container runtime behind the platform's [`Runner`] interface: the
//! emulator and every service in a container of its own on the run's
//! network. A service serves on [`SERVICE_PORT`] inside, the others reach
//! it by its container name, fare through a host port it chose; its
//! database's folder is mounted at `/data`. A service started again gets
//! the same container name and host port.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use super::{Containers, ContainersOptions, UnitSpec, service};
use crate::manifest::Manifest;
use crate::runtime::inherit;
use crate::runtime::part::Part;
use crate::runtime::process::{ServiceProcess, Start};
use crate::runtime::runner::{Launch, Placement, ReviveError, Runner, StartError};

/// The platform's parts as containers.
pub(crate) struct ContainerRunner {
    containers: Containers,
    /// How each service's container is started, chosen as it is placed.
    specs: BTreeMap<String, UnitSpec>,
}

impl ContainerRunner {
    /// Builds what images are missing, creates the run's network and
    /// starts the emulator's container, saying how long it took.
    pub async fn start(
        options: &ContainersOptions<'_>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<ContainerRunner, super::ContainerError> {
        let containers = Containers::start(options, progress).await?;
        if let Some(took) = containers.emulator_ready {
            progress(&format!("the emulator's container was ready in {} ms", took.as_millis()));
        }
        Ok(ContainerRunner { containers, specs: BTreeMap::new() })
    }
}

#[async_trait::async_trait]
impl Runner for ContainerRunner {
    fn emulator_endpoint(&self) -> Option<String> {
        self.containers.emulator_endpoint()
    }

    /// By its container's name, on the run's network.
    fn emulator_endpoint_for_services(&self) -> Option<String> {
        self.containers.emulator_endpoint_inside()
    }

    /// The network's gateway, which the containers reach.
    fn listen_address(&self) -> IpAddr {
        self.containers.gateway
    }

    fn emulator(&self) -> Option<&dyn Part> {
        self.containers.emulator().map(|unit| unit as &dyn Part)
    }

    fn emulator_mut(&mut self) -> Option<&mut dyn Part> {
        self.containers.emulator_mut().map(|unit| unit as &mut dyn Part)
    }

    async fn restart_emulator(&mut self) -> Result<(), ReviveError> {
        self.containers.restart_emulator().await?;
        Ok(())
    }

    fn place(&mut self, service: &str, start: &Start, dir: &Path) -> Result<Placement, StartError> {
        let spec = self.containers.service_spec(service, start, &dir.join("data"), &dir.join("hooks"))?;
        let placement = Placement {
            host: "0.0.0.0",
            port: spec.port,
            url: format!("http://127.0.0.1:{}", spec.host_port),
            peer: self.containers.url_inside(service),
            database: Path::new("/data").join(format!("{service}.sqlite")),
        };
        self.specs.insert(service.to_owned(), spec);
        Ok(placement)
    }

    /// A container does not inherit fare's environment: what the service
    /// reads from it is passed on, as a child inherits it.
    fn environment(&self, m: &Manifest, own: BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = inherit::for_container(inherit::fare_environment(), m, &own);
        // The emulator's container is no loopback endpoint, for which the
        // kit would make up keys: it takes any, so these.
        if self.containers.emulator_endpoint_inside().is_some() {
            for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                env.entry(key.to_owned()).or_insert_with(|| "test".to_owned());
            }
        }
        env
    }

    /// Starts its container and waits for its `/health`.
    async fn start(
        &self,
        name: &str,
        launch: &Launch,
        env: &BTreeMap<String, String>,
    ) -> Result<ServiceProcess, StartError> {
        let spec = self.specs.get(name).expect("a service is placed before it starts");
        Ok(service::start(name, spec, env, launch.url.clone(), launch.log.clone(), launch.echo).await?)
    }
}
