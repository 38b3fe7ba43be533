//! Environments, and the versions deployed to them (`record-deployment`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{App, parse_body};
use crate::hal::{Base, hal, ok};
use crate::model::Environment;
use crate::{BrokerError, store};

pub async fn list(State(app): State<App>, base: Base) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let all: Vec<Value> = snap.environments.iter().map(|e| environment_doc(&base, e)).collect();
    Ok(ok(json!({
        "_embedded": { "environments": all },
        "_links": { "self": base.link(&["environments"]) },
    })))
}

pub async fn show(State(app): State<App>, base: Base, Path(uuid): Path<String>) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let env = snap
        .environments
        .iter()
        .find(|e| e.uuid == uuid)
        .ok_or_else(|| BrokerError::not_found("environment", &uuid))?;
    Ok(ok(environment_doc(&base, env)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewEnvironment {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    production: bool,
}

/// `POST /environments` (contacts, if sent, are not kept).
pub async fn create(State(app): State<App>, base: Base, body: Bytes) -> Result<Response, BrokerError> {
    let new: NewEnvironment = parse_body(&body)?;
    let (name, display, production) = (new.name.clone(), new.display_name.clone(), new.production);
    let uuid = app.db.write(move |tx| store::create_environment(tx, &name, display.as_deref(), production)).await?;
    let env = Environment { uuid, name: new.name, display_name: new.display_name, production: new.production };
    Ok(hal(StatusCode::CREATED, environment_doc(&base, &env)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Deploy {
    application_instance: Option<String>,
    target: Option<String>,
}

/// `POST /pacticipants/{p}/versions/{v}/deployed-versions/environment/{uuid}`.
pub async fn record_deployment(
    State(app): State<App>,
    base: Base,
    Path((name, number, uuid)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, BrokerError> {
    let deploy: Deploy = if body.is_empty() { Deploy::default() } else { parse_body(&body)? };
    let instance = deploy.application_instance.or(deploy.target);
    let snap = app.snapshot().await?;
    let env = snap
        .environments
        .iter()
        .find(|e| e.uuid == uuid)
        .ok_or_else(|| BrokerError::not_found("environment", &uuid))?
        .clone();
    let p = snap.pacticipant(&name).ok_or_else(|| BrokerError::not_found("pacticipant", &name))?;
    let v =
        snap.version_of(p.id, &number).ok_or_else(|| BrokerError::not_found("version", format!("{name} {number}")))?;
    let (version_id, env_uuid, inst) = (v.id, env.uuid.clone(), instance.clone());
    let deployed = app.db.write(move |tx| store::record_deployment(tx, version_id, &env_uuid, inst.as_deref())).await?;
    Ok(hal(
        StatusCode::CREATED,
        json!({
            "uuid": deployed,
            "currentlyDeployed": true,
            "applicationInstance": instance,
            "target": instance,
            "_embedded": {
                "version": { "number": number, "_links": { "self": base.version(&name, &number) } },
                "environment": environment_doc(&base, &env),
            },
            "_links": {
                "self": base.link(&["deployed-versions", &deployed]),
                "pb:version": base.version(&name, &number),
                "pb:environment": base.link(&["environments", &env.uuid]),
            }
        }),
    ))
}

fn environment_doc(base: &Base, e: &Environment) -> Value {
    json!({
        "uuid": e.uuid,
        "name": e.name,
        "displayName": e.display_name.clone().unwrap_or_else(|| e.name.clone()),
        "production": e.production,
        "_links": { "self": base.link(&["environments", &e.uuid]) },
    })
}
