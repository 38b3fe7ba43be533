//! Reading the committed Pact files: who the consumer and provider are, and
//! each interaction's kind and, for a message, the event type it carries.
//! Only what the topology check needs; verification hands the files to
//! `pact_verifier` whole.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ContractsError;

/// What an interaction is, as far as the topology goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Http,
    /// An asynchronous message carrying an event of this type, if it says.
    Message {
        event_type: Option<String>,
    },
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Interaction {
    pub description: String,
    pub kind: Kind,
    /// An HTTP interaction's request line and the status it answers.
    pub http: Option<HttpShape>,
    /// A message interaction's example: the message as the consumer's test wrote it.
    pub example: Option<Value>,
}

/// What an HTTP interaction asks and is answered: enough to recognise it in traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpShape {
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// One pact file.
#[derive(Debug, Clone)]
pub struct PactFile {
    pub path: PathBuf,
    pub consumer: String,
    pub provider: String,
    pub interactions: Vec<Interaction>,
}

impl PactFile {
    pub fn parse(path: &Path, text: &str) -> Result<PactFile, ContractsError> {
        let bad = |what: &str| ContractsError::BadPact { path: path.to_owned(), message: what.to_owned() };
        let json: Value = serde_json::from_str(text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let name = |party: &str| {
            json[party]["name"].as_str().map(str::to_owned).ok_or_else(|| bad(&format!("no `{party}.name`")))
        };
        let (consumer, provider) = (name("consumer")?, name("provider")?);
        let list = json["interactions"].as_array().ok_or_else(|| bad("no `interactions` array"))?;
        let interactions = list.iter().map(interaction).collect();
        Ok(PactFile { path: path.to_owned(), consumer, provider, interactions })
    }

    pub fn load(path: &Path) -> Result<PactFile, ContractsError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ContractsError::Read { path: path.to_owned(), source })?;
        PactFile::parse(path, &text)
    }

    /// The message interactions carrying `event_type`.
    pub fn carries(&self, event_type: &str) -> bool {
        self.interactions.iter().any(|i| matches!(&i.kind, Kind::Message { event_type: Some(e) } if e == event_type))
    }

    pub fn has_http(&self) -> bool {
        self.interactions.iter().any(|i| i.kind == Kind::Http)
    }
}

fn interaction(json: &Value) -> Interaction {
    let description = json["description"].as_str().unwrap_or_default().to_owned();
    let kind = match json["type"].as_str() {
        Some("Synchronous/HTTP") => Kind::Http,
        Some("Asynchronous/Messages") => {
            // The `event_type` attribute, else the envelope's own `type`.
            let event_type = json["metadata"]["event_type"]
                .as_str()
                .or_else(|| json["contents"]["content"]["type"].as_str())
                .map(str::to_owned);
            Kind::Message { event_type }
        }
        other => Kind::Other(other.unwrap_or("(no type)").to_owned()),
    };
    let http = (kind == Kind::Http).then(|| HttpShape {
        method: json["request"]["method"].as_str().unwrap_or("GET").to_ascii_uppercase(),
        path: json["request"]["path"].as_str().unwrap_or("/").to_owned(),
        status: json["response"]["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
    });
    let example = matches!(kind, Kind::Message { .. }).then(|| json["contents"]["content"].clone());
    Interaction { description, kind, http, example }
}

/// The example of `provider`'s `event_type` in the first of `pacts` that has one.
pub fn example_event(pacts: &[PactFile], provider: &str, event_type: &str) -> Option<Value> {
    pacts.iter().filter(|p| p.provider == provider).find_map(|p| {
        p.interactions.iter().find_map(|i| match &i.kind {
            Kind::Message { event_type: Some(e) } if e == event_type => i.example.clone(),
            _ => None,
        })
    })
}

/// Every `*.json` under `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<PactFile>, ContractsError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ContractsError::Read { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| PactFile::load(p)).collect()
}
