//! `fare init NAME`: writes the manifest of an existing service from a few
//! flags, so a team adopts fare by pointing it at what it already runs;
//! then holds it against the other manifests, as `fare check` does, and
//! says what is still missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The service's name: lower-case letters and digits (its queue is `<namespace>-<name>`).
    pub name: String,
    /// The shell command that runs it in the foreground, in `--dir`:
    /// `"exec python3 -m app"`, `"bundle exec ruby app.rb"`, `"go run ."`.
    #[arg(long)]
    pub command: String,
    /// Where its code is, relative to the manifest's folder (`services/NAME`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A command run once before it starts (`bundle install`, `go build`).
    #[arg(long)]
    pub build: Option<String>,
    /// The path that answers 2xx once it can work.
    #[arg(long, default_value = "/ready")]
    pub ready: String,
    /// One line on what it does.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Events it publishes (comma-separated: `order.placed,order.cancelled`).
    #[arg(long, value_delimiter = ',')]
    pub publishes: Vec<String>,
    /// Events it listens to (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub listens: Vec<String>,
    /// Services it asks over HTTP (comma-separated); each one's URL reaches it as `<NAME>_URL`.
    #[arg(long, value_delimiter = ',')]
    pub asks: Vec<String>,
    /// Replace a manifest that is already there.
    #[arg(long)]
    pub force: bool,
}

/// The manifest `args` describe, as TOML text.
pub fn manifest_text(args: &InitArgs) -> String {
    let list = |items: &[String]| items.iter().map(|i| format!("{i:?}")).collect::<Vec<_>>().join(", ");
    let description = if args.description.is_empty() {
        format!("{} (describe what it does)", args.name)
    } else {
        args.description.clone()
    };
    let mut text = format!(
        "name = {:?}\ndescription = {:?}\npublishes = [{}]\n# Published events no service needs to hear.\nterminal = []\n",
        args.name,
        description,
        list(&args.publishes)
    );
    if !args.listens.is_empty() {
        text.push_str("\n[queue]\nmax_receive_count = 5\nvisibility_timeout_seconds = 30\n");
        for event in &args.listens {
            text.push_str(&format!("\n[[listens]]\nevent = {event:?}\n"));
        }
    }
    for service in &args.asks {
        let var = format!("{}_URL", service.to_ascii_uppercase());
        text.push_str(&format!("\n[[asks]]\nservice = {service:?}\nenv = {var:?}\n"));
    }
    text.push_str(
        "\n# How fare runs it (docs/services.md): HOST, PORT, DATABASE_PATH, AWS_ENDPOINT_URL,\n\
         # FARE_QUEUE_URL, FARE_TOPIC_ARN_<EVENT> and the URLs of what it asks reach it as variables.\n[run]\n",
    );
    if let Some(dir) = &args.dir {
        text.push_str(&format!("dir = {:?}\n", dir.display().to_string()));
    }
    if let Some(build) = &args.build {
        text.push_str(&format!("build = {build:?}\n"));
    }
    text.push_str(&format!("command = {:?}\nready = {:?}\n", args.command, args.ready));
    text
}

/// Writes `services_dir/NAME/service.toml`, checks it, and tells what is missing.
pub fn init(services_dir: &Path, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let folder = services_dir.join(&args.name);
    let path = folder.join("service.toml");
    if path.exists() && !args.force {
        anyhow::bail!("{} exists already (--force replaces it)", path.display());
    }
    let text = manifest_text(args);
    // Parsed before it is written: a bad name or event is said, and nothing is left behind.
    crate::Manifest::parse(&path, &text)?;
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    let (topology, warnings) = match crate::load_topology(services_dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            println!("{e}");
            println!("fix these, then `fare check` again");
            return Ok(ExitCode::from(1));
        }
    };
    for w in &warnings {
        println!("{w}");
    }
    if let Some(m) = topology.service(&args.name)
        && let Err(e) = crate::runtime::start_of(m, None)
    {
        println!("error: {e}");
        return Ok(ExitCode::from(1));
    }
    println!(
        "next: `fare check`, then `fare up`; the service reads its settings from the variables in docs/services.md"
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> InitArgs {
        InitArgs {
            name: name.into(),
            command: "exec python3 -m app".into(),
            dir: Some("src".into()),
            build: Some("pip install -r requirements.txt".into()),
            ready: "/ready".into(),
            description: String::new(),
            publishes: vec!["points.awarded".into()],
            listens: vec!["order.placed".into()],
            asks: vec!["users".into()],
            force: false,
        }
    }

    #[test]
    fn the_written_manifest_parses_to_what_the_flags_said() {
        let text = manifest_text(&args("points"));
        let m = crate::Manifest::parse(Path::new("services/points/service.toml"), &text).unwrap();
        assert_eq!(m.publishes[0].as_str(), "points.awarded");
        assert_eq!(m.listens[0].event.as_str(), "order.placed");
        assert_eq!((m.asks[0].service.as_str(), m.asks[0].env.as_str()), ("users", "USERS_URL"));
        let run = m.run.unwrap();
        assert_eq!(run.command, "exec python3 -m app");
        assert_eq!(run.build.as_deref(), Some("pip install -r requirements.txt"));
        assert_eq!(run.dir.as_deref(), Some(Path::new("src")));
    }

    #[test]
    fn a_bad_name_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let e = init(dir.path(), &args("Points")).unwrap_err().to_string();
        assert!(e.contains("\"Points\" is not a service name"), "{e}");
        assert!(!dir.path().join("Points").exists());
    }
}
