//! Pacticipants (with their main branch), their versions, branches and
//! tags. Creating by `PUT` is idempotent, as the Pact Broker's is.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, parse_body};
use crate::hal::{Base, hal, ok};
use crate::model::{Pacticipant, Snapshot, Version};
use crate::{BrokerError, store};

pub async fn list(State(app): State<App>, base: Base) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let all: Vec<Value> = snap.pacticipants.iter().map(|p| pacticipant_doc(&base, p)).collect();
    Ok(ok(json!({
        "_embedded": { "pacticipants": all },
        "_links": { "self": base.link(&["pacticipants"]) },
    })))
}

pub async fn show(State(app): State<App>, base: Base, Path(name): Path<String>) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let p = snap.pacticipant(&name).ok_or_else(|| BrokerError::not_found("pacticipant", &name))?;
    Ok(ok(pacticipant_doc(&base, p)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PacticipantUpdate {
    main_branch: Option<String>,
}

/// `PUT`/`PATCH /pacticipants/{p}`: creates it, and sets its main branch.
pub async fn update(
    State(app): State<App>,
    base: Base,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, BrokerError> {
    let update: PacticipantUpdate = if body.is_empty() { PacticipantUpdate::default() } else { parse_body(&body)? };
    let n = name.clone();
    app.db
        .write(move |tx| {
            let id = store::ensure_pacticipant(tx, &n)?;
            if let Some(branch) = &update.main_branch {
                store::set_main_branch(tx, id, branch)?;
            }
            Ok::<_, BrokerError>(())
        })
        .await?;
    show(State(app), base, Path(name)).await
}

pub async fn version(
    State(app): State<App>,
    base: Base,
    Path((name, number)): Path<(String, String)>,
) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let p = snap.pacticipant(&name).ok_or_else(|| BrokerError::not_found("pacticipant", &name))?;
    let v =
        snap.version_of(p.id, &number).ok_or_else(|| BrokerError::not_found("version", format!("{name} {number}")))?;
    Ok(ok(version_doc(&base, &snap, p, v)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct VersionUpdate {
    build_url: Option<String>,
    branch: Option<String>,
}

/// `PUT /pacticipants/{p}/versions/{v}`: creates the version.
pub async fn put_version(
    State(app): State<App>,
    base: Base,
    Path((name, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, BrokerError> {
    let update: VersionUpdate = if body.is_empty() { VersionUpdate::default() } else { parse_body(&body)? };
    let (n, v) = (name.clone(), number.clone());
    app.db
        .write(move |tx| {
            let id = store::ensure_pacticipant(tx, &n)?;
            let version = store::ensure_version(tx, id, &v, update.build_url.as_deref())?;
            if let Some(branch) = &update.branch {
                store::add_branch(tx, version, branch)?;
            }
            Ok::<_, BrokerError>(())
        })
        .await?;
    version(State(app), base, Path((name, number))).await
}

/// `PUT /pacticipants/{p}/branches/{b}/versions/{v}`: the version is on the branch.
pub async fn put_branch_version(
    State(app): State<App>,
    base: Base,
    Path((name, branch, number)): Path<(String, String, String)>,
) -> Result<Response, BrokerError> {
    let (n, b, v) = (name.clone(), branch.clone(), number.clone());
    app.db
        .write(move |tx| {
            let id = store::ensure_pacticipant(tx, &n)?;
            let version = store::ensure_version(tx, id, &v, None)?;
            store::add_branch(tx, version, &b)?;
            store::guess_main_branch(tx, id, &b)?;
            Ok::<_, BrokerError>(())
        })
        .await?;
    Ok(ok(json!({
        "_links": {
            "self": base.link(&["pacticipants", &name, "branches", &branch, "versions", &number]),
            "pb:version": base.version(&name, &number),
        }
    })))
}

/// `PUT /pacticipants/{p}/versions/{v}/tags/{t}`.
pub async fn put_tag(
    State(app): State<App>,
    base: Base,
    Path((name, number, tag)): Path<(String, String, String)>,
) -> Result<Response, BrokerError> {
    let (n, v, t) = (name.clone(), number.clone(), tag.clone());
    app.db
        .write(move |tx| {
            let id = store::ensure_pacticipant(tx, &n)?;
            let version = store::ensure_version(tx, id, &v, None)?;
            store::add_tag(tx, version, &t)
        })
        .await?;
    Ok(hal(
        StatusCode::CREATED,
        json!({
            "name": tag,
            "_links": {
                "self": base.link(&["pacticipants", &name, "versions", &number, "tags", &tag]),
                "pb:version": base.version(&name, &number),
            }
        }),
    ))
}

fn pacticipant_doc(base: &Base, p: &Pacticipant) -> Value {
    let name = p.name.as_str();
    let prefix = format!("/pacticipants/{}", crate::hal::encode(name));
    json!({
        "name": name,
        "mainBranch": p.main_branch,
        "_links": {
            "self": base.pacticipant(name),
            "pb:versions": base.link(&["pacticipants", name, "versions"]),
            "pb:version": base.template(&format!("{prefix}/versions/{{version}}")),
            "pb:version-tag": base.template(&format!("{prefix}/versions/{{version}}/tags/{{tag}}")),
            "pb:branch-version": base.template(&format!("{prefix}/branches/{{branch}}/versions/{{version}}")),
        }
    })
}

/// A version, with a `pb:record-deployment` link per environment (what
/// `pact broker record-deployment` looks for).
fn version_doc(base: &Base, snap: &Snapshot, p: &Pacticipant, v: &Version) -> Value {
    let (name, number) = (p.name.as_str(), v.number.as_str());
    let record: Vec<Value> = snap
        .environments
        .iter()
        .map(|e| {
            let segments = ["pacticipants", name, "versions", number, "deployed-versions", "environment", &e.uuid];
            base.named(
                &segments,
                &e.name,
                &format!("Record deployment to {}", e.display_name.as_deref().unwrap_or(&e.name)),
            )
        })
        .collect();
    let branches: Vec<Value> = v.branches.iter().map(|b| json!({ "name": b })).collect();
    let tags: Vec<Value> = v.tags.iter().map(|t| json!({ "name": t })).collect();
    json!({
        "number": number,
        "createdAt": v.created_at,
        "_embedded": { "branchVersions": branches, "tags": tags },
        "_links": {
            "self": base.version(name, number),
            "pb:pacticipant": base.pacticipant(name),
            "pb:record-deployment": record,
        }
    })
}
