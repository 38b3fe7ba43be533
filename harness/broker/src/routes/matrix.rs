//! `GET /matrix` (what `pact broker can-i-deploy` asks:
//! `q[][pacticipant]=P&q[][version]=V&latestby=cvpv&environment=E`) and
//! `GET /can-i-deploy?pacticipant=P&version=V&environment=E` (the index's
//! relation): the matrix rows, and a summary that says yes or no and why.

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::App;
use crate::BrokerError;
use crate::hal::{Base, ok};
use crate::matrix::{self, Row};
use crate::model::{Snapshot, Version};

/// One `q[]` of the query: a pacticipant and which of its versions.
#[derive(Debug, Default)]
struct Which {
    pacticipant: String,
    version: Option<String>,
    tag: Option<String>,
    branch: Option<String>,
    main_branch: bool,
}

/// What the versions are checked against.
#[derive(Debug, Default)]
struct Target {
    environment: Option<String>,
    tag: Option<String>,
    main_branch: bool,
}

pub async fn matrix(
    State(app): State<App>,
    base: Base,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, BrokerError> {
    let mut selectors: Vec<Which> = Vec::new();
    let mut target = Target::default();
    for (key, value) in pairs {
        match (key.as_str(), selectors.last_mut()) {
            ("q[][pacticipant]", _) => selectors.push(Which { pacticipant: value, ..Which::default() }),
            ("q[][version]", Some(w)) => w.version = Some(value),
            ("q[][tag]", Some(w)) => w.tag = Some(value),
            ("q[][branch]", Some(w)) => w.branch = Some(value),
            ("q[][mainBranch]", Some(w)) => w.main_branch = value == "true",
            ("environment", _) => target.environment = Some(value),
            ("tag", _) => target.tag = Some(value),
            ("mainBranch", _) => target.main_branch = value == "true",
            _ => {}
        }
    }
    answer(&app, &base, selectors, target).await
}

pub async fn can_i_deploy(
    State(app): State<App>,
    base: Base,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, BrokerError> {
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let pacticipant = get("pacticipant").ok_or_else(|| BrokerError::invalid("pacticipant", "is required"))?;
    let which = Which { pacticipant, version: get("version"), tag: get("tag"), ..Which::default() };
    let environment = get("environment").ok_or_else(|| BrokerError::invalid("environment", "is required"))?;
    answer(&app, &base, vec![which], Target { environment: Some(environment), ..Target::default() }).await
}

async fn answer(app: &App, base: &Base, selectors: Vec<Which>, target: Target) -> Result<Response, BrokerError> {
    let snap = app.snapshot().await?;
    let Some(first) = selectors.first() else {
        return Err(BrokerError::invalid("q", "name at least one pacticipant (q[][pacticipant]=NAME)"));
    };
    let version = resolve(&snap, first)?;
    let (others, what) = if selectors.len() > 1 {
        let others = selectors[1..].iter().map(|w| resolve(&snap, w)).collect::<Result<Vec<_>, _>>()?;
        (others, "the other versions named".to_owned())
    } else if let Some(env) = &target.environment {
        if snap.environment(env).is_none() {
            return Err(BrokerError::invalid("environment", format!("no environment `{env}`")));
        }
        (snap.deployed(Some(env)), env.clone())
    } else {
        let others = snap.pacticipants.iter().filter(|p| p.id != version.pacticipant_id);
        let latest = |pid: i64| {
            snap.versions.iter().rev().find(|v| {
                let main = snap.pacticipant_by_id(pid).and_then(|p| p.main_branch.as_ref());
                v.pacticipant_id == pid
                    && target.tag.as_ref().is_none_or(|t| v.tags.contains(t))
                    && (!target.main_branch || main.is_some_and(|m| v.branches.contains(m)))
            })
        };
        let what = match (&target.tag, target.main_branch) {
            (Some(t), _) => format!("the latest versions tagged {t}"),
            (None, true) => "the latest versions of the main branches".into(),
            (None, false) => "the latest versions".into(),
        };
        (others.filter_map(|p| latest(p.id)).collect(), what)
    };
    let decision = matrix::decide(&snap, version, &others, &what);
    let rows: Vec<Value> = decision.rows.iter().map(|r| row_doc(base, &snap, r)).collect();
    let kind = if decision.deployable { "success" } else { "error" };
    Ok(ok(json!({
        "summary": {
            "deployable": decision.deployable,
            "reason": decision.reason,
            "success": decision.success,
            "failed": decision.failed,
            "unknown": decision.unknown,
        },
        "notices": [{ "type": kind, "text": decision.reason }],
        "matrix": rows,
    })))
}

fn resolve<'a>(snap: &'a Snapshot, which: &Which) -> Result<&'a Version, BrokerError> {
    let name = &which.pacticipant;
    let p = snap
        .pacticipant(name)
        .ok_or_else(|| BrokerError::invalid("pacticipant", format!("no pacticipant `{name}`")))?;
    if let Some(number) = &which.version {
        return snap
            .version_of(p.id, number)
            .ok_or_else(|| BrokerError::invalid("version", format!("no version {number} of {name}")));
    }
    snap.versions
        .iter()
        .rev()
        .find(|v| {
            v.pacticipant_id == p.id
                && which.tag.as_ref().is_none_or(|t| v.tags.contains(t))
                && which.branch.as_ref().is_none_or(|b| v.branches.contains(b))
                && (!which.main_branch || p.main_branch.as_ref().is_some_and(|m| v.branches.contains(m)))
        })
        .ok_or_else(|| BrokerError::invalid("version", format!("no version of {name} matches")))
}

fn row_doc(base: &Base, snap: &Snapshot, r: &Row) -> Value {
    let side = |name: &str, number: &str| {
        let branch =
            snap.pacticipant(name).and_then(|p| snap.version_of(p.id, number)).and_then(|v| v.branches.last().cloned());
        json!({
            "name": name,
            "_links": { "self": base.pacticipant(name) },
            "version": { "number": number, "branch": branch, "_links": { "self": base.version(name, number) } },
        })
    };
    let pact_url = base.pact_version(&r.provider, &r.consumer, &r.sha);
    let verification = r.verification.as_ref().map(|v| {
        json!({
            "success": v.success,
            "verifiedAt": v.created_at,
            "_links": { "self": { "href": format!("{pact_url}/verification-results/{}", v.id) } },
        })
    });
    json!({
        "consumer": side(&r.consumer, &r.consumer_version),
        "provider": side(&r.provider, &r.provider_version),
        "pact": { "_links": { "self": { "href": pact_url } } },
        "verificationResult": verification,
    })
}
