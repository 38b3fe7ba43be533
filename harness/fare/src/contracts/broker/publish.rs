//! `fare contracts publish`: the pacts in a directory sent to the broker
//! with `POST /contracts/publish` (the `pb:publish-contracts` relation), one
//! request per consumer, each with the version, branch, tags and build URL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

use super::{BrokerClient, ClientError};
use crate::contracts::{ContractsError, pacts};

#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// The consumer version (a commit, usually).
    pub version: String,
    pub branch: Option<String>,
    pub tags: Vec<String>,
    pub build_url: Option<String>,
    /// Only the pacts of these consumers; every pact when empty.
    pub consumers: Vec<String>,
}

/// What the broker took for one consumer.
#[derive(Debug, Clone)]
pub struct Published {
    pub consumer: String,
    pub providers: Vec<String>,
    /// The broker's notices, as it worded them.
    pub notices: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Pacts(#[from] ContractsError),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("publishing the pacts of {consumer}: {source}")]
    Broker {
        consumer: String,
        #[source]
        source: ClientError,
    },
    #[error("no pact in {dir} has a consumer among {wanted:?}")]
    Nothing { dir: PathBuf, wanted: Vec<String> },
}

/// Publishes every pact under `dir` (those of `options.consumers`).
pub async fn publish_dir(
    client: &BrokerClient,
    dir: &Path,
    options: &PublishOptions,
) -> Result<Vec<Published>, PublishError> {
    let mut by_consumer: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for pact in pacts::load_dir(dir)? {
        if !options.consumers.is_empty() && !options.consumers.contains(&pact.consumer) {
            continue;
        }
        let text = std::fs::read_to_string(&pact.path)
            .map_err(|source| PublishError::Read { path: pact.path.clone(), source })?;
        by_consumer.entry(pact.consumer.clone()).or_default().push((pact.provider.clone(), text));
    }
    if by_consumer.is_empty() {
        return Err(PublishError::Nothing { dir: dir.to_owned(), wanted: options.consumers.clone() });
    }
    let broker_error = |consumer: &str| {
        let consumer = consumer.to_owned();
        move |source| PublishError::Broker { consumer, source }
    };
    let mut out = Vec::new();
    for (consumer, pacts) in by_consumer {
        let href = client.relation("pb:publish-contracts", &[]).await.map_err(broker_error(&consumer))?;
        let body = request(&consumer, &pacts, options);
        let answer = client.post(&href, &body).await.map_err(broker_error(&consumer))?;
        let notices = answer["notices"]
            .as_array()
            .map(|n| n.iter().filter_map(|x| x["text"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        out.push(Published { consumer, providers: pacts.into_iter().map(|(p, _)| p).collect(), notices });
    }
    Ok(out)
}

fn request(consumer: &str, pacts: &[(String, String)], options: &PublishOptions) -> Value {
    let contracts: Vec<Value> = pacts
        .iter()
        .map(|(provider, text)| {
            json!({
                "consumerName": consumer,
                "providerName": provider,
                "specification": "pact",
                "contentType": "application/json",
                "content": base64::engine::general_purpose::STANDARD.encode(text),
            })
        })
        .collect();
    let mut body = json!({
        "pacticipantName": consumer,
        "pacticipantVersionNumber": options.version,
        "tags": options.tags,
        "contracts": contracts,
    });
    if let Some(branch) = &options.branch {
        body["branch"] = json!(branch);
    }
    if let Some(url) = &options.build_url {
        body["buildUrl"] = json!(url);
    }
    body
}
