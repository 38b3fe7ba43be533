//! `POST /contracts/publish`: a consumer version, its branch, tags and build
//! URL, and its pacts, in one request (what `pact broker publish` and
//! `fare contracts publish` send).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, parse_body};
use crate::hal::{Base, ok};
use crate::{BrokerError, store};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Publish {
    pacticipant_name: String,
    pacticipant_version_number: String,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    build_url: Option<String>,
    contracts: Vec<Contract>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contract {
    consumer_name: String,
    provider_name: String,
    #[serde(default)]
    specification: Option<String>,
    content: String,
}

/// A checked contract: its provider and the pact's JSON text.
struct Pact {
    provider: String,
    content: String,
}

pub async fn publish(State(app): State<App>, base: Base, body: Bytes) -> Result<Response, BrokerError> {
    let req: Publish = parse_body(&body)?;
    let pacts = req.contracts.iter().enumerate().map(|(i, c)| check(&req, i, c)).collect::<Result<Vec<_>, _>>()?;
    let (consumer, number, branch, tags, build_url) = (
        req.pacticipant_name.clone(),
        req.pacticipant_version_number.clone(),
        req.branch.clone(),
        req.tags.clone(),
        req.build_url.clone(),
    );
    let providers: Vec<String> = pacts.iter().map(|p| p.provider.clone()).collect();
    app.db
        .write(move |tx| {
            let consumer_id = store::ensure_pacticipant(tx, &consumer)?;
            let version_id = store::ensure_version(tx, consumer_id, &number, build_url.as_deref())?;
            if let Some(branch) = &branch {
                store::add_branch(tx, version_id, branch)?;
                store::guess_main_branch(tx, consumer_id, branch)?;
            }
            for tag in &tags {
                store::add_tag(tx, version_id, tag)?;
            }
            for pact in &pacts {
                let provider_id = store::ensure_pacticipant(tx, &pact.provider)?;
                store::put_pact(tx, consumer_id, version_id, provider_id, &pact.content)?;
            }
            Ok::<_, BrokerError>(())
        })
        .await?;
    let (consumer, number) = (&req.pacticipant_name, &req.pacticipant_version_number);
    let mut created = format!("Created {consumer} version {number}");
    if let Some(branch) = &req.branch {
        created.push_str(&format!(" with branch {branch}"));
    }
    if !req.tags.is_empty() {
        created.push_str(&format!(" and tags {}", req.tags.join(", ")));
    }
    let mut notices = vec![json!({"type": "success", "text": created})];
    let mut contracts: Vec<Value> = Vec::new();
    for provider in &providers {
        let text = format!("Pact published for {consumer} version {number} and provider {provider}.");
        notices.push(json!({"type": "success", "text": text}));
        let title = format!("Pact between {consumer} ({number}) and {provider}");
        contracts.push(base.named(
            &["pacts", "provider", provider, "consumer", consumer, "version", number],
            &title,
            "Pact",
        ));
    }
    Ok(ok(json!({
        "notices": notices,
        "logs": [],
        "_embedded": {
            "pacticipant": { "name": consumer, "_links": { "self": base.link(&["pacticipants", consumer]) } },
            "version": { "number": number, "_links": { "self": base.version(consumer, number) } },
        },
        "_links": {
            "pb:pacticipant": base.pacticipant(consumer),
            "pb:pacticipant-version": base.version(consumer, number),
            "pb:pacticipant-version-tags": req.tags.iter()
                .map(|t| base.named(&["pacticipants", consumer, "versions", number, "tags", t], t, "Tag"))
                .collect::<Vec<_>>(),
            "pb:contracts": contracts,
        }
    })))
}

fn check(req: &Publish, i: usize, c: &Contract) -> Result<Pact, BrokerError> {
    let field = |name: &str| format!("contracts[{i}].{name}");
    if c.consumer_name != req.pacticipant_name {
        let message =
            format!("consumer `{}` is not the pacticipant `{}` being published", c.consumer_name, req.pacticipant_name);
        return Err(BrokerError::invalid(&field("consumerName"), message));
    }
    if c.specification.as_deref().is_some_and(|s| s != "pact") {
        return Err(BrokerError::invalid(&field("specification"), "only `pact` contracts are taken"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(c.content.trim())
        .map_err(|e| BrokerError::invalid(&field("content"), format!("not base64: {e}")))?;
    let content = String::from_utf8(bytes).map_err(|_| BrokerError::invalid(&field("content"), "not UTF-8"))?;
    let pact: Value = serde_json::from_str(&content)
        .map_err(|e| BrokerError::invalid(&field("content"), format!("not a JSON pact: {e}")))?;
    let named = |side: &str| pact[side]["name"].as_str().map(str::to_owned);
    if named("consumer").as_deref() != Some(c.consumer_name.as_str())
        || named("provider").as_deref() != Some(c.provider_name.as_str())
    {
        let message = format!(
            "the pact is between {:?} and {:?}, not {} and {}",
            named("consumer").unwrap_or_default(),
            named("provider").unwrap_or_default(),
            c.consumer_name,
            c.provider_name
        );
        return Err(BrokerError::invalid(&field("content"), message));
    }
    Ok(Pact { provider: c.provider_name.clone(), content })
}
