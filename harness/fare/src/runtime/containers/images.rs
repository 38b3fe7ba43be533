//! The images container mode runs, built here from local inputs only: no
//! image is ever pulled, and no build reaches the network.
//!
//! - `fare-base`: a Debian trixie root filesystem made by `debootstrap
//!   --variant=minbase` with Python 3.13 (LocalStack needs ≥ 3.12), added to
//!   a `FROM scratch` image. Its glibc (2.41) runs the host's binaries.
//! - `fare-localstack`: the base with `localstack-core` installed from a
//!   wheelhouse that the host's Python fills (`pip wheel`), mounted into the
//!   build: the build itself installs with `--no-index`.
//! - `fare-services`: the base with the service binaries fare just built.
//!
//! Each tag is a hash of what went into the image (the recipe, the pins,
//! the binaries' size and modification time), so a second run finds every
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

use super::ContainerError;
use super::engine::Engine;

/// The Debian release of the base image, and what it holds beyond minbase.
const SUITE: &str = "trixie";
const INCLUDE: &str = "python3,python3-venv,ca-certificates";
const MIRROR: &str = "http://deb.debian.org/debian";

/// The images of one run, by reference (`fare-services:3f2a…`).
#[derive(Debug, Clone)]
pub struct Images {
    pub base: String,
    pub localstack: String,
    pub services: String,
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

/// Makes sure the base, LocalStack and services images exist (building
/// what is missing, or everything with `rebuild`), for the binaries of
/// `services` under `target/debug`.
pub async fn ensure(
    target: &Path,
    services: &[String],
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

    let localstack = fare_emulator::Backend::LocalStack.tool();
    let requirements = localstack.requirements.clone();
    let localstack_file = localstack_dockerfile(&base, &requirements);
    let ls_tag = hash(&[&base, &localstack_file]);
    let localstack_ref = format!("fare-localstack:{ls_tag}");
    let info = build(engine, "fare-localstack", &ls_tag, rebuild, progress, async |progress| {
        let wheels = wheelhouse(&cache, &localstack, progress)?;
        Ok(GenericBuildableImage::new("fare-localstack", &ls_tag)
            .with_dockerfile_string(localstack_file.clone())
            .with_file(wheels, "wheels"))
    })
    .await?;
    infos.push(info);

    let mut inputs = vec![base.clone(), "COPY bin /usr/local/bin".to_owned()];
    let mut binaries = Vec::new();
    for name in services {
        let binary = target.join("debug").join(name);
        let meta = std::fs::metadata(&binary).map_err(|source| ContainerError::Io {
            action: "reading",
            path: binary.clone(),
            source,
        })?;
        let modified = meta.modified().ok().and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok());
        inputs.push(format!("{name} {} {:?}", meta.len(), modified));
        binaries.push((name.clone(), binary));
    }
    let services_tag = hash(&inputs.iter().map(String::as_str).collect::<Vec<_>>());
    let services_ref = format!("fare-services:{services_tag}");
    let services_file = format!("FROM {base}\nCOPY bin/ /usr/local/bin/\n");
    let info = build(engine, "fare-services", &services_tag, rebuild, progress, async |_| {
        let mut image =
            GenericBuildableImage::new("fare-services", &services_tag).with_dockerfile_string(services_file.clone());
        for (name, binary) in &binaries {
            image = image.with_file(binary, format!("bin/{name}"));
        }
        Ok(image)
    })
    .await?;
    infos.push(info);
    Ok((Images { base, localstack: localstack_ref, services: services_ref }, infos))
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

fn localstack_dockerfile(base: &str, requirements: &[String]) -> String {
    let quoted: Vec<String> = requirements.iter().map(|r| format!("'{r}'")).collect();
    format!(
        "FROM {base}\n\
         RUN --mount=type=bind,source=wheels,target=/wheels \\\n    \
         python3 -m venv /opt/localstack && \\\n    \
         /opt/localstack/bin/pip install --no-index --find-links /wheels --disable-pip-version-check --quiet {}\n\
         ENV GATEWAY_LISTEN=0.0.0.0:4566 SERVICES=sns,sqs SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
         LOCALSTACK_VOLUME_DIR=/var/lib/localstack\n\
         EXPOSE 4566\n\
         CMD [\"/opt/localstack/bin/python\", \"-m\", \"localstack.runtime.main\"]\n",
        quoted.join(" ")
    )
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
    std::fs::create_dir_all(&dir).map_err(|source| ContainerError::Io {
        action: "creating",
        path: dir.clone(),
        source,
    })?;
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
    std::fs::rename(&partial, &tar).map_err(|source| ContainerError::Io {
        action: "keeping",
        path: tar.clone(),
        source,
    })?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(tar)
}

/// The wheels LocalStack installs from, prepared by the host's Python once.
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
    let log = cache.join("pip-wheel.log");
    progress(&format!("{python} -m pip wheel {} (first run only, about a minute)", requirements.join(" ")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| ContainerError::Io {
        action: "creating",
        path: dir.clone(),
        source,
    })?;
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "wheel", "--disable-pip-version-check", "--quiet", "--wheel-dir"])
        .arg(&dir)
        .args(requirements);
    run(pip, &format!("{python} -m pip wheel"), &log)?;
    std::fs::write(&ready, b"").map_err(|source| ContainerError::Io { action: "creating", path: ready, source })?;
    Ok(dir)
}

/// Runs `cmd` with its output in `log`; a failure names the log's last lines.
fn run(mut cmd: Command, what: &str, log: &Path) -> Result<(), ContainerError> {
    let io = |source| ContainerError::Io { action: "writing", path: log.to_owned(), source };
    let file = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(io)?;
    let err = file.try_clone().map_err(io)?;
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
}
