//! The container engine, as fare reaches it: testcontainers for images and
//! containers, and its bollard client for the few calls testcontainers has
//! no method for (a kill with a signal, network cut and reconnect, finding
//! and removing what carries a namespace's label).
//!
//! testcontainers 0.28 speaks engine API 1.53 and does not negotiate; an
//! older engine (Debian 12's 20.10 speaks 1.41) refuses every call. When the
//! engine is older, fare serves a Unix socket that passes each request
//! through with the version in its path lowered to the engine's, upgrades
//! (BuildKit's session, attach) included, and points testcontainers at it
//! (`DOCKER_HOST`). An engine that speaks 1.53 is used directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use testcontainers::bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::OnceCell;

use super::ContainerError;
use crate::io::io;

/// The label every container and network of a run carries: its namespace.
pub const NAMESPACE_LABEL: &str = "fare.namespace";

/// The engine of this process: connected once.
pub struct Engine {
    docker: Docker,
}

static ENGINE: OnceCell<Engine> = OnceCell::const_new();

const TIMEOUT: u64 = 120;

impl Engine {
    /// Connects to the engine (`DOCKER_HOST`, else the local socket) and, if
    /// it is older than testcontainers expects, starts the version shim.
    pub async fn get() -> Result<&'static Engine, ContainerError> {
        ENGINE.get_or_try_init(Engine::open).await
    }

    async fn open() -> Result<Engine, ContainerError> {
        let upstream = upstream_socket();
        let connect = |version: &ClientVersion| {
            Docker::connect_with_unix(&upstream.to_string_lossy(), TIMEOUT, version).map_err(|source| {
                ContainerError::Engine {
                    what: format!("connecting to {}", upstream.display()),
                    source: Box::new(source),
                }
            })
        };
        // The oldest version any engine still takes, to ask which it speaks.
        let oldest = ClientVersion { major_version: 1, minor_version: 24 };
        let asked = connect(&oldest)?.version().await.map_err(|source| ContainerError::Engine {
            what: format!("asking the engine at {} its version (is Docker running?)", upstream.display()),
            source: Box::new(source),
        })?;
        let speaks = asked.api_version.as_deref().and_then(parse_version).unwrap_or(oldest);
        let speaks = if speaks < *API_DEFAULT_VERSION { speaks } else { *API_DEFAULT_VERSION };
        let docker = connect(&speaks)?;
        if speaks < *API_DEFAULT_VERSION {
            let shim = start_shim(upstream.clone(), speaks.to_string())?;
            // SAFETY: set once, before testcontainers first reads its
            // configuration; no other thread of fare reads DOCKER_HOST.
            unsafe { std::env::set_var("DOCKER_HOST", format!("unix://{}", shim.display())) };
            tracing::debug!(engine = %speaks, shim = %shim.display(), "engine API shim for testcontainers");
        }
        Ok(Engine { docker })
    }

    /// bollard, at the engine's own API version.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The size of image `reference`, if it exists.
    pub async fn image_size(&self, reference: &str) -> Option<u64> {
        let image = self.docker.inspect_image(reference).await.ok()?;
        image.size.map(|s| s.max(0) as u64)
    }

    /// Removes the images of repository `name` but `name:keep` and those
    /// made in the last [`KEEP_RECENT`]: each build of the services makes a
    /// new one, and old ones would pile up.
    pub async fn remove_other_tags(&self, name: &str, keep: &str) {
        use testcontainers::bollard::query_parameters::ListImagesOptionsBuilder;
        let filters = HashMap::from([("reference".to_owned(), vec![name.to_owned()])]);
        let Ok(images) = self.docker.list_images(Some(ListImagesOptionsBuilder::new().filters(&filters).build())).await
        else {
            return;
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let images: Vec<(Vec<String>, i64)> = images.into_iter().map(|i| (i.repo_tags, i.created)).collect();
        for tag in stale_tags(&images, &format!("{name}:{keep}"), now.as_secs() as i64) {
            // An image another one is built on stays; that is no error.
            let none = None::<testcontainers::bollard::query_parameters::RemoveImageOptions>;
            let _ = self.docker.remove_image(&tag, none, None).await;
        }
    }

    /// Removes the container called `name`, if there is one.
    pub async fn remove_named(&self, name: &str) {
        use testcontainers::bollard::query_parameters::RemoveContainerOptionsBuilder;
        let force = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        let _ = self.docker.remove_container(name, Some(force)).await;
    }

    /// The host pid of container `id`'s main process.
    pub async fn pid_of(&self, id: &str) -> Option<u32> {
        let inspected = self.docker.inspect_container(id, None).await.ok()?;
        inspected.state?.pid.map(|p| p.max(0) as u32)
    }

    /// `docker stop`: SIGTERM, SIGKILL after `grace`.
    pub async fn stop(&self, id: &str, grace: Duration) {
        use testcontainers::bollard::query_parameters::StopContainerOptionsBuilder;
        let options = StopContainerOptionsBuilder::new().t(grace.as_secs() as i32).build();
        let _ = self.docker.stop_container(id, Some(options)).await;
    }

    /// `docker kill --signal SIGNAL`.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), ContainerError> {
        use testcontainers::bollard::query_parameters::KillContainerOptionsBuilder;
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        self.docker.kill_container(id, Some(options)).await.map_err(|source| ContainerError::Engine {
            what: format!("sending {signal} to {id}"),
            source: Box::new(source),
        })
    }

    /// Connects container `id` to `network`, or cuts it off.
    pub async fn connect(&self, network: &str, id: &str, connected: bool) -> Result<(), ContainerError> {
        use testcontainers::bollard::models::{NetworkConnectRequest, NetworkDisconnectRequest};
        let done = if connected {
            let request = NetworkConnectRequest { container: id.to_owned(), ..Default::default() };
            self.docker.connect_network(network, request).await
        } else {
            let request = NetworkDisconnectRequest { container: id.to_owned(), force: Some(true) };
            self.docker.disconnect_network(network, request).await
        };
        let what = if connected { "connecting" } else { "disconnecting" };
        done.map_err(|source| ContainerError::Engine {
            what: format!("{what} {id} and {network}"),
            source: Box::new(source),
        })
    }

    /// Creates the run's network, labelled with `namespace`; returns its gateway.
    pub async fn create_network(&self, network: &str, namespace: &str) -> Result<std::net::IpAddr, ContainerError> {
        use testcontainers::bollard::models::NetworkCreateRequest;
        let request = NetworkCreateRequest {
            name: network.to_owned(),
            labels: Some(HashMap::from([(NAMESPACE_LABEL.to_owned(), namespace.to_owned())])),
            ..Default::default()
        };
        let engine = |what: String| move |source| ContainerError::Engine { what, source: Box::new(source) };
        self.docker.create_network(request).await.map_err(engine(format!("creating network {network}")))?;
        let inspected = self
            .docker
            .inspect_network(network, None)
            .await
            .map_err(engine(format!("inspecting network {network}")))?;
        inspected
            .ipam
            .and_then(|ipam| ipam.config)
            .into_iter()
            .flatten()
            .find_map(|c| c.gateway.and_then(|g| g.parse().ok()))
            .ok_or_else(|| ContainerError::NoGateway { network: network.to_owned() })
    }

    /// Removes `network`, if it is there.
    pub async fn remove_network(&self, network: &str) {
        let _ = self.docker.remove_network(network).await;
    }

    /// Removes every container, network and volume labelled with
    /// `namespace`; returns what was removed, in words.
    pub async fn remove_labelled(&self, namespace: &str) -> Result<Vec<String>, ContainerError> {
        use testcontainers::bollard::query_parameters::{
            ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
            RemoveContainerOptionsBuilder,
        };
        let filters = HashMap::from([("label".to_owned(), vec![format!("{NAMESPACE_LABEL}={namespace}")])]);
        let engine = |what: &str| {
            let what = what.to_owned();
            move |source| ContainerError::Engine { what, source: Box::new(source) }
        };
        let mut removed = Vec::new();
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
            .await
            .map_err(engine("listing containers"))?;
        for c in containers {
            let Some(id) = c.id else { continue };
            let name = c.names.and_then(|n| n.first().cloned()).unwrap_or_else(|| id.clone());
            let force = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
            self.docker.remove_container(&id, Some(force)).await.map_err(engine("removing a container"))?;
            removed.push(format!("container {}", name.trim_start_matches('/')));
        }
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptionsBuilder::new().filters(&filters).build()))
            .await
            .map_err(engine("listing networks"))?;
        for n in networks {
            let Some(name) = n.name else { continue };
            self.docker.remove_network(&name).await.map_err(engine("removing a network"))?;
            removed.push(format!("network {name}"));
        }
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptionsBuilder::new().filters(&filters).build()))
            .await
            .map_err(engine("listing volumes"))?;
        for v in volumes.volumes.unwrap_or_default() {
            self.docker
                .remove_volume(&v.name, None::<testcontainers::bollard::query_parameters::RemoveVolumeOptions>)
                .await
                .map_err(engine("removing a volume"))?;
            removed.push(format!("volume {}", v.name));
        }
        Ok(removed)
    }
}

/// How long an image another tag replaced is kept: another fare on this
/// engine (from another checkout, whose binaries differ) may have found or
/// built it a moment ago and be about to start its containers from it. An
/// image a container uses cannot be removed anyway; this covers the moments
/// before its containers exist (a removal there failed a start with "failed
/// to pull the image").
pub const KEEP_RECENT: Duration = Duration::from_secs(10 * 60);

/// Of `images` (their tags, and when each was made, in Unix seconds), the
/// tags to remove at `now`: all but `keep` and those made in the last [`KEEP_RECENT`].
fn stale_tags(images: &[(Vec<String>, i64)], keep: &str, now: i64) -> Vec<String> {
    let recent = now - KEEP_RECENT.as_secs() as i64;
    images
        .iter()
        .filter(|(_, created)| *created < recent)
        .flat_map(|(tags, _)| tags.iter().filter(|t| *t != keep).cloned())
        .collect()
}

/// Whether testcontainers should leave what it started in place
/// (`TESTCONTAINERS_COMMAND=keep`, for debugging).
pub fn keep() -> bool {
    std::env::var("TESTCONTAINERS_COMMAND").is_ok_and(|c| c == "keep")
}

/// Runs `work` to completion on a thread of its own: usable from sync code,
/// from a runtime's worker and from a current-thread runtime alike (the
/// last cannot block on its own futures).
pub fn blocking<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        runtime.expect("a current-thread runtime builds").block_on(work)
    })
    .join()
    .expect("the engine thread does not panic")
}

/// The engine's socket: `DOCKER_HOST` when it is a Unix socket.
fn upstream_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => PathBuf::from(host.trim_start_matches("unix://")),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

/// Serves the shim on a socket of this process, on a thread of its own so
/// that it answers even while a runtime of fare's is blocked on a drop.
fn start_shim(upstream: PathBuf, version: String) -> Result<PathBuf, ContainerError> {
    let dir = std::env::temp_dir();
    remove_stale_shims(&dir);
    let path = dir.join(format!("fare-engine-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let std_listener = std::os::unix::net::UnixListener::bind(&path).map_err(io("binding", &path))?;
    std_listener.set_nonblocking(true).map_err(io("binding", &path))?;
    std::thread::Builder::new()
        .name("fare-engine-shim".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            runtime.expect("a current-thread runtime builds").block_on(async move {
                let listener = UnixListener::from_std(std_listener).expect("a non-blocking listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else { continue };
                    let (upstream, version) = (upstream.clone(), version.clone());
                    tokio::spawn(async move {
                        let service =
                            hyper::service::service_fn(move |req| forward(req, upstream.clone(), version.clone()));
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    });
                }
            })
        })
        .map_err(io("starting the shim for", &path))?;
    Ok(path)
}

/// Removes the shim sockets of fare processes that are gone.
fn remove_stale_shims(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("fare-engine-").and_then(|n| n.strip_suffix(".sock"));
        if pid.and_then(|p| p.parse::<u32>().ok()).is_some_and(|pid| !crate::runtime::alive(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `"1.41"` as a client version.
fn parse_version(text: &str) -> Option<ClientVersion> {
    let (major, minor) = text.split_once('.')?;
    Some(ClientVersion { major_version: major.parse().ok()?, minor_version: minor.parse().ok()? })
}

/// `/v1.53/containers/json` → `/v1.41/containers/json`.
fn lower_version(path_and_query: &str, version: &str) -> Option<String> {
    let rest = path_and_query.strip_prefix("/v")?;
    let slash = rest.find('/')?;
    rest[..slash].contains('.').then(|| format!("/v{version}{}", &rest[slash..]))
}

/// One request through the shim: its path at the engine's version, on a
/// connection of its own; a 101 answer joins the two upgraded streams.
async fn forward(
    mut req: Request<Incoming>,
    upstream: PathBuf,
    version: String,
) -> Result<Response<Incoming>, std::io::Error> {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    if let Some(lowered) = lower_version(&path, &version) {
        *req.uri_mut() = lowered.parse().map_err(std::io::Error::other)?;
    }
    let theirs = hyper::upgrade::on(&mut req);
    let stream = UnixStream::connect(&upstream).await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn.with_upgrades());
    let mut answer = send.send_request(req).await.map_err(std::io::Error::other)?;
    if answer.status() == hyper::StatusCode::SWITCHING_PROTOCOLS {
        let engines = hyper::upgrade::on(&mut answer);
        tokio::spawn(async move {
            if let (Ok(a), Ok(b)) = (theirs.await, engines.await) {
                let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(a), &mut TokioIo::new(b)).await;
            }
        });
    }
    Ok(answer)
}

/// How long a stopped container gets before the engine kills it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_replaced_a_moment_ago_is_kept_an_older_one_goes() {
        let now = 1_000_000;
        let old = now - KEEP_RECENT.as_secs() as i64 - 1;
        let images = vec![
            (vec!["fare-services:new".to_owned()], now),
            (vec!["fare-services:other-checkout".to_owned()], now - 30),
            (vec!["fare-services:last-week".to_owned()], old),
            (vec!["fare-services:keep".to_owned()], old),
        ];
        assert_eq!(stale_tags(&images, "fare-services:keep", now), vec!["fare-services:last-week".to_owned()]);
    }

    #[test]
    fn only_a_versioned_path_is_lowered() {
        assert_eq!(
            lower_version("/v1.53/containers/json?all=1", "1.41").as_deref(),
            Some("/v1.41/containers/json?all=1")
        );
        assert_eq!(lower_version("/version", "1.41"), None);
        assert_eq!(lower_version("/volumes/v1/x", "1.41"), None);
    }
}
