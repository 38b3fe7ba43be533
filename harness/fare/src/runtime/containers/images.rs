//! The images container mode runs, built here from local inputs only: no
//! image is ever pulled, and no build reaches the network.
//!
//! - `fare-base`: a Debian trixie root filesystem made by `debootstrap
//!   --variant=minbase` with Python 3.13 (LocalStack needs ≥ 3.12), added to
//!   a `FROM scratch` image. Its glibc (2.41) runs the host's binaries.
//! - `fare-localstack` and `fare-moto`, one recipe for both: the base with
//!   the emulator's pinned requirements (those of its host venv,
//!   `fare_emulator::Backend::tool`) installed from a wheelhouse that the
//!   host's Python 3.13 fills (`pip wheel`), mounted into the build: the
//!   build itself installs with `--no-index`. The image starts the server
//!   as the host does (`Backend::serve`), on port 4566.
//! - No image per service: a service's container runs its manifest's
//!   `[run] command` in the base, with its folder mounted read-only at the
//!   same path (see `Containers::service_spec`), so a binary built on the
//!   host and a Python module run alike.
//!
//! Each tag is a hash of what went into the image (the recipe, the pins,
//! so a second run finds every
//! image and builds nothing; `--rebuild` builds them again. The root
//! filesystem and the wheelhouse are kept under fare's cache directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use testcontainers::GenericBuildableImage;
use testcontainers::core::build::build_options::BuildImageOptions;
use testcontainers::runners::AsyncBuilder;

use fare_emulator::Backend;

use super::ContainerError;
use super::engine::Engine;
use crate::io::io;

/// The Debian release of the base image, and what it holds beyond minbase.
const SUITE: &str = "trixie";
const INCLUDE: &str = "python3,python3-venv,ca-certificates";
const MIRROR: &str = "http://deb.debian.org/debian";
/// The base image's Python: the emulators' wheels are made for it.
const PYTHON: &str = "3.13";

/// The port an emulator's container serves on, whichever emulator it is.
pub const EMULATOR_PORT: u16 = 4566;

/// The images of one run, by reference (`fare-base:3f2a…`).
#[derive(Debug, Clone)]
pub struct Images {
    pub base: String,
    /// The emulators' images asked for.
    pub emulators: Vec<(Backend, String)>,
}

impl Images {
    /// The image of `backend`'s emulator, if it was asked for.
    pub fn emulator(&self, backend: Backend) -> Option<&str> {
        self.emulators.iter().find(|(b, _)| *b == backend).map(|(_, image)| image.as_str())
    }
}

/// Which images [`ensure`] makes sure of, beside the base.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    /// The emulators whose images are needed (`fare-localstack`, `fare-moto`).
    pub emulators: &'a [Backend],
}

/// One image as `fare images` lists it.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub reference: String,
    pub size: u64,
    /// Built by this call (`false`: found).
    pub built: bool,
    pub took: Duration,
}

/// Makes sure the base image and the images `wanted` names exist (building
/// what is missing, or all of them with `rebuild`).
pub async fn ensure(
    wanted: &Wanted<'_>,
    rebuild: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(Images, Vec<ImageInfo>), ContainerError> {
    let engine = Engine::get().await?;
    let cache = fare_emulator::cache_dir().join("images");
    let mut infos = Vec::new();

    let base_tag = hash(&[SUITE, INCLUDE, MIRROR, "FROM scratch; ADD rootfs.tar /"]);
    let base = format!("fare-base:{base_tag}");
    let info = build(engine, "fare-base", &base_tag, rebuild, progress, async |progress| {
        let tar = rootfs(&cache, &base_tag, progress)?;
        Ok(GenericBuildableImage::new("fare-base", &base_tag)
            .with_dockerfile_string("FROM scratch\nADD rootfs.tar /\nCMD [\"/bin/bash\"]\n")
            .with_file(tar, "rootfs.tar"))
    })
    .await?;
    infos.push(info);

    let mut emulators = Vec::new();
    for backend in wanted.emulators {
        let (reference, info) = emulator(engine, &cache, &base, *backend, rebuild, progress).await?;
        emulators.push((*backend, reference));
        infos.push(info);
    }

    Ok((Images { base, emulators }, infos))
}

/// `fare-localstack` or `fare-moto`: the base with the backend's pinned
/// requirements installed into `/opt/<backend>` from a wheelhouse the host
/// fills, started as the host starts the backend. One recipe for both.
async fn emulator(
    engine: &Engine,
    cache: &Path,
    base: &str,
    backend: Backend,
    rebuild: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, ImageInfo), ContainerError> {
    // The wheels are for the image's Python, whatever the host runs.
    let tool = fare_emulator::Tool { python_versions: &[PYTHON], ..backend.tool() };
    let name = format!("fare-{}", backend.name());
    let file = emulator_dockerfile(base, backend, &tool.requirements);
    let tag = hash(&[base, &file]);
    let info = build(engine, &name, &tag, rebuild, progress, async |progress| {
        let wheels = wheelhouse(cache, &tool, progress)?;
        Ok(GenericBuildableImage::new(name.as_str(), tag.as_str())
            .with_dockerfile_string(file.clone())
            .with_file(wheels, "wheels"))
    })
    .await?;
    Ok((info.reference.clone(), info))
}

/// Builds `name:tag` unless it exists (or `rebuild`); `recipe` prepares
/// its context only when a build is due.
async fn build(
    engine: &Engine,
    name: &str,
    tag: &str,
    rebuild: bool,
    progress: &mut dyn FnMut(&str),
    recipe: impl AsyncFnOnce(&mut dyn FnMut(&str)) -> Result<GenericBuildableImage, ContainerError>,
) -> Result<ImageInfo, ContainerError> {
    let reference = format!("{name}:{tag}");
    let started = Instant::now();
    if !rebuild && let Some(size) = engine.image_size(&reference).await {
        return Ok(ImageInfo { reference, size, built: false, took: started.elapsed() });
    }
    progress(&format!("building image {reference} (only when its inputs change)"));
    let image = recipe(progress).await?;
    let options = BuildImageOptions::new().with_skip_if_exists(false);
    let building = image.build_image_with(options);
    tokio::pin!(building);
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    tick.tick().await;
    loop {
        tokio::select! {
            built = &mut building => {
                let _image = built.map_err(|source| ContainerError::Build { image: reference.clone(), source: Box::new(source) })?;
                break;
            }
            _ = tick.tick() => progress(&format!("still building {reference} ({} s)", started.elapsed().as_secs())),
        }
    }
    engine.remove_other_tags(name, tag).await;
    let size = engine.image_size(&reference).await.unwrap_or_default();
    progress(&format!("built {reference} in {:.1} s ({} MB)", started.elapsed().as_secs_f64(), size / 1_000_000));
    Ok(ImageInfo { reference, size, built: true, took: started.elapsed() })
}

/// The first 12 hex digits of the SHA-256 of `parts`.
fn hash(parts: &[&str]) -> String {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update(part.as_bytes());
        sha.update([0]);
    }
    sha.finalize().iter().take(6).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The Dockerfile of `backend`'s image: its requirements installed from
/// the mounted wheelhouse with no index (the build has no network), and its
/// server as [`Backend::serve`] describes it, on every address of the container.
fn emulator_dockerfile(base: &str, backend: Backend, requirements: &[String]) -> String {
    let venv = Path::new("/opt").join(backend.name());
    let state = Path::new("/var/lib").join(backend.name());
    let serve = backend.serve(&venv, &state, "0.0.0.0", EMULATOR_PORT);
    let quoted: Vec<String> = requirements.iter().map(|r| format!("'{r}'")).collect();
    let mut file = format!(
        "FROM {base}\n\
         RUN --mount=type=bind,source=wheels,target=/wheels \\\n    \
         python3 -m venv {venv} && \\\n    \
         {venv}/bin/pip install --no-index --find-links /wheels --disable-pip-version-check --quiet {}\n",
        quoted.join(" "),
        venv = venv.display(),
    );
    if !serve.env.is_empty() {
        let env: Vec<String> = serve.env.iter().map(|(k, v)| format!("{k}={}", env_value(v))).collect();
        let _ = writeln!(file, "ENV {}", env.join(" "));
    }
    let mut cmd = vec![json_string(&serve.program.display().to_string())];
    cmd.extend(serve.args.iter().map(|a| json_string(a)));
    let _ = write!(file, "EXPOSE {EMULATOR_PORT}\nCMD [{}]\n", cmd.join(", "));
    file
}

/// `value` as a double-quoted string, as a Dockerfile's exec form reads it.
fn json_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// `value` as an `ENV` line reads it: as it is when nothing in it needs
/// quoting (which keeps the recipe, and so the tag, of images built before).
fn env_value(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || ",.:/_-".contains(c);
    if !value.is_empty() && value.chars().all(plain) { value.to_owned() } else { json_string(value) }
}

/// The root filesystem of the base image as a tar, made once by debootstrap.
fn rootfs(cache: &Path, tag: &str, progress: &mut dyn FnMut(&str)) -> Result<PathBuf, ContainerError> {
    let dir = cache.join(format!("base-{tag}"));
    let tar = dir.join("rootfs.tar");
    if tar.exists() {
        return Ok(tar);
    }
    let tree = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let log = dir.join("debootstrap.log");
    progress(&format!(
        "debootstrap --variant=minbase {SUITE} with {INCLUDE} (first run only, about 2 minutes; log: {})",
        log.display()
    ));
    let mut debootstrap = Command::new("debootstrap");
    debootstrap.args(["--variant=minbase", &format!("--include={INCLUDE}"), SUITE]).arg(&tree).arg(MIRROR);
    run(debootstrap, "debootstrap", &log)?;
    let partial = dir.join("rootfs.tar.partial");
    let mut pack = Command::new("tar");
    pack.arg("-C").arg(&tree).arg("-cf").arg(&partial).arg(".");
    run(pack, "tar", &log)?;
    std::fs::rename(&partial, &tar).map_err(io("keeping", &tar))?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(tar)
}

/// The wheels an emulator's image installs from, prepared by the host's Python once.
fn wheelhouse(
    cache: &Path,
    tool: &fare_emulator::Tool,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, ContainerError> {
    let requirements = &tool.requirements;
    let dir = cache.join(format!("wheels-{}", hash(&requirements.iter().map(String::as_str).collect::<Vec<_>>())));
    let ready = dir.join(".fare-ready");
    if ready.exists() {
        return Ok(dir);
    }
    let python = fare_emulator::python_for(tool);
    let log = cache.join(format!("pip-wheel-{}.log", tool.venv));
    progress(&format!("{python} -m pip wheel {} (first run only, about a minute)", requirements.join(" ")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--wheel-dir"])
        .arg(&dir)
        .args(requirements);
    run(pip, &format!("{python} -m pip wheel"), &log)?;
    std::fs::write(&ready, b"").map_err(io("creating", ready))?;
    Ok(dir)
}

/// Runs `cmd` with its output in `log`; a failure names the log's last lines.
fn run(mut cmd: Command, what: &str, log: &Path) -> Result<(), ContainerError> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(io("writing", log))?;
    let err = file.try_clone().map_err(io("writing", log))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|source| ContainerError::Tool { tool: what.to_owned(), source })?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    Err(ContainerError::Failed { what: what.to_owned(), status: status.to_string(), log: log.to_owned(), tail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_changes_with_any_input_and_only_then() {
        assert_eq!(hash(&["a", "b"]), hash(&["a", "b"]));
        assert_ne!(hash(&["a", "b"]), hash(&["ab"]));
        assert_eq!(hash(&["x"]).len(), 12);
    }

    #[test]
    fn each_emulator_image_installs_from_the_wheelhouse_alone_and_serves_as_the_host_does() {
        let requirements = |b: Backend| b.tool().requirements;
        let moto = emulator_dockerfile("fare-base:1", Backend::Moto, &requirements(Backend::Moto));
        assert!(moto.contains("pip install --no-index --find-links /wheels"), "{moto}");
        assert!(moto.contains(&format!("'moto[server]=={}'", fare_emulator::MOTO_VERSION)), "{moto}");
        assert!(moto.contains(r#"CMD ["/opt/moto/bin/moto_server", "-H", "0.0.0.0", "-p", "4566"]"#), "{moto}");
        assert!(!moto.contains("ENV"), "moto needs no environment: {moto}");
        let localstack = emulator_dockerfile("fare-base:1", Backend::LocalStack, &requirements(Backend::LocalStack));
        assert!(localstack.contains("python3 -m venv /opt/localstack &&"), "{localstack}");
        assert!(localstack.contains("ENV GATEWAY_LISTEN=0.0.0.0:4566 SERVICES=sns,sqs "), "{localstack}");
        assert!(localstack.contains("LOCALSTACK_VOLUME_DIR=/var/lib/localstack\n"), "{localstack}");
        assert!(localstack.contains(r#"CMD ["/opt/localstack/bin/python", "-m", "localstack.runtime.main"]"#));
        assert_eq!(env_value("a b"), r#""a b""#);
        assert_ne!(hash(&["b", &moto]), hash(&["b", &localstack]));
    }
}
