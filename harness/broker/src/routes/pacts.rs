//! Pacts: by consumer version, by pact version (content), the latest of
//! each consumer, the pacts for verification, and verification results.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, parse_body};
use crate::hal::{Base, hal, ok};
use crate::model::Snapshot;
use crate::select::{self, Request};
use crate::{BrokerError, store};

/// `GET /pacts/provider/{p}/latest`: the latest pact of each consumer.
pub async fn latest(State(app): State<App>, base: Base, Path(provider): Path<String>) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let p = snap.pacticipant(&provider).ok_or_else(|| BrokerError::not_found("provider", &provider))?;
    let request = Request::default();
    let pacts: Vec<Value> = select::for_verification(&snap, &p.name, &request)
        .iter()
        .map(|s| {
            let title = format!("Pact between {} ({}) and {provider}", s.consumer, s.consumer_versions.join(", "));
            json!({ "href": base.pact_version(&provider, &s.consumer, &s.sha), "title": title, "name": s.consumer })
        })
        .collect();
    Ok(ok(json!({
        "_links": {
            "self": base.link(&["pacts", "provider", &provider, "latest"]),
            "provider": { "href": base.url(&["pacticipants", &provider]), "title": provider },
            "pb:pacts": pacts.clone(),
            "pacts": pacts,
        }
    })))
}

/// `GET /pacts/provider/{p}/for-verification`: where to POST the selectors.
pub async fn for_verification_doc(base: Base, Path(provider): Path<String>) -> Response {
    ok(json!({
        "_links": {
            "self": base.link(&["pacts", "provider", &provider, "for-verification"]),
            "pb:provider": base.pacticipant(&provider),
        }
    }))
}

/// `POST /pacts/provider/{p}/for-verification`: the pacts to verify, each
/// with why it was picked, whether it is pending, and notices saying so
/// (the verifier prints them).
pub async fn for_verification(
    State(app): State<App>,
    base: Base,
    Path(provider): Path<String>,
    body: Bytes,
) -> Result<Response, BrokerError> {
    let request: Request = if body.is_empty() { Request::default() } else { parse_body(&body)? };
    let snap = app.snapshot().await?;
    if snap.pacticipant(&provider).is_none() {
        return Err(BrokerError::not_found("provider", &provider));
    }
    let pacts: Vec<Value> = select::for_verification(&snap, &provider, &request)
        .iter()
        .map(|s| {
            let url = base.pact_version(&provider, &s.consumer, &s.sha);
            let versions = s.consumer_versions.join(", ");
            let why = s.reasons.join("; ");
            let mut notices = vec![json!({
                "when": "before_verification",
                "text": format!("The pact at {url} is being verified because it matches the following configured \
                                 selection criterion: {why} (consumer {} version {versions})", s.consumer),
            })];
            let branch = request.provider_version_branch.as_deref().unwrap_or("any branch");
            let pending = if s.pending {
                format!("This pact is in pending state for this version of {provider} because a successful \
                         verification result from {branch} has not yet been published. If this verification \
                         fails, it will not cause the overall build to fail.")
            } else {
                format!("This pact is not in pending state: {provider} has verified it successfully before, \
                         so a failure fails the build.")
            };
            if request.include_pending_status {
                notices.push(json!({ "when": "before_verification", "text": pending }));
            }
            let mut properties = json!({ "pending": s.pending, "notices": notices });
            if s.wip {
                properties["wip"] = json!(true);
            }
            json!({
                "shortDescription": why,
                "verificationProperties": properties,
                "_links": { "self": { "href": url, "name": format!("Pact between {} ({versions}) and {provider}", s.consumer) } },
            })
        })
        .collect();
    Ok(ok(json!({
        "_embedded": { "pacts": pacts },
        "_links": { "self": base.link(&["pacts", "provider", &provider, "for-verification"]) },
    })))
}

pub async fn by_consumer_version(
    State(app): State<App>,
    base: Base,
    Path((provider, consumer, number)): Path<(String, String, String)>,
) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let pact = || format!("{consumer} {number} with {provider}");
    let c = snap.pacticipant(&consumer).ok_or_else(|| BrokerError::not_found("consumer", &consumer))?;
    let p = snap.pacticipant(&provider).ok_or_else(|| BrokerError::not_found("provider", &provider))?;
    let v = snap.version_of(c.id, &number).ok_or_else(|| BrokerError::not_found("pact", pact()))?;
    let sha = snap
        .publications
        .iter()
        .find(|x| x.consumer_version_id == v.id && x.provider_id == p.id)
        .map(|x| x.sha.clone())
        .ok_or_else(|| BrokerError::not_found("pact", pact()))?;
    pact_doc(&app, &base, &snap, &provider, &consumer, &sha).await
}

pub async fn by_pact_version(
    State(app): State<App>,
    base: Base,
    Path((provider, consumer, sha)): Path<(String, String, String)>,
) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    pact_doc(&app, &base, &snap, &provider, &consumer, &sha).await
}

/// The pact's own JSON plus the links a verifier follows: where to publish
/// results, and the provider (for its branch and tags).
async fn pact_doc(
    app: &App,
    base: &Base,
    snap: &Snapshot,
    provider: &str,
    consumer: &str,
    sha: &str,
) -> Result<Response, BrokerError> {
    let s = sha.to_owned();
    let content = app.db.read(move |conn| store::pact_content(conn, &s)).await?;
    let content = content.ok_or_else(|| BrokerError::not_found("pact version", sha))?;
    let mut doc: Value = serde_json::from_str(&content).map_err(|e| BrokerError::invalid("content", e.to_string()))?;
    let url = base.pact_version(provider, consumer, sha);
    let versions: Vec<&str> = snap
        .publications
        .iter()
        .filter(|p| p.sha == sha)
        .filter_map(|p| snap.version(p.consumer_version_id))
        .map(|v| v.number.as_str())
        .collect();
    doc["_links"] = json!({
        "self": { "href": url, "title": "Pact", "name": format!("Pact between {consumer} ({}) and {provider}", versions.join(", ")) },
        "pb:consumer": base.pacticipant(consumer),
        "pb:provider": base.pacticipant(provider),
        "pb:publish-verification-results": { "href": format!("{url}/verification-results"), "title": "Publish verification results" },
    });
    Ok(ok(doc))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationResult {
    success: bool,
    provider_application_version: String,
    #[serde(default)]
    build_url: Option<String>,
}

/// `POST …/pact-version/{sha}/verification-results`.
pub async fn publish_verification(
    State(app): State<App>,
    base: Base,
    Path((provider, consumer, sha)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, BrokerError> {
    let result: VerificationResult = parse_body(&body)?;
    let text = String::from_utf8_lossy(&body).into_owned();
    let (p, s, number, success, build_url) =
        (provider.clone(), sha.clone(), result.provider_application_version.clone(), result.success, result.build_url);
    let id = app
        .db
        .write(move |tx| {
            if store::pact_content(tx, &s)?.is_none() {
                return Err(BrokerError::not_found("pact version", &s));
            }
            let provider_id = store::ensure_pacticipant(tx, &p)?;
            let version = store::ensure_version(tx, provider_id, &number, None)?;
            store::add_verification(tx, &s, version, success, build_url.as_deref(), &text)
        })
        .await?;
    let url = format!("{}/verification-results/{id}", base.pact_version(&provider, &consumer, &sha));
    Ok(hal(
        StatusCode::CREATED,
        json!({
            "success": result.success,
            "providerName": provider,
            "providerApplicationVersion": result.provider_application_version,
            "_links": { "self": { "href": url, "title": "Verification result" } },
        }),
    ))
}

pub async fn verification(
    State(app): State<App>,
    Path((_, _, _, id)): Path<(String, String, String, i64)>,
) -> Result<Response, BrokerError> {
    let body = app.db.read(move |conn| store::verification_body(conn, id)).await?;
    let body = body.ok_or_else(|| BrokerError::not_found("verification result", id.to_string()))?;
    Ok(ok(serde_json::from_str(&body).unwrap_or(Value::Null)))
}
