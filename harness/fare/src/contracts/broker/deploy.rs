//! The deploy gate: can-i-deploy (the broker's matrix, asked as the `pact`
//! CLI asks it, shown as a table), environments, and recording a
//! deployment through the version's `pb:record-deployment` link.

use fare_broker::encode_segment as encode;
use serde_json::{Value, json};

use super::{BrokerClient, ClientError};

/// The broker's answer to can-i-deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub deployable: bool,
    pub reason: String,
    pub rows: Vec<MatrixRow>,
    pub notices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    pub consumer: String,
    pub consumer_version: String,
    pub provider: String,
    pub provider_version: String,
    /// `None`: no verification of this pact by this provider version.
    pub success: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Broker(#[from] ClientError),
    #[error("the broker has no environment `{0}`: create it first (`fare contracts create-environment --name {0}`)")]
    NoEnvironment(String),
    #[error("the broker's answer has no `{0}`")]
    Malformed(&'static str),
}

/// Can `version` of `pacticipant` be deployed to `environment`?
pub async fn can_i_deploy(
    client: &BrokerClient,
    pacticipant: &str,
    version: &str,
    environment: &str,
) -> Result<Decision, DeployError> {
    let url = format!(
        "{}/matrix?q[][pacticipant]={}&q[][version]={}&latestby=cvpv&environment={}",
        client.config().url,
        encode(pacticipant),
        encode(version),
        encode(environment)
    );
    let answer = client.get(&url).await?;
    let summary = &answer["summary"];
    let deployable = summary["deployable"].as_bool().unwrap_or(false);
    let reason = summary["reason"].as_str().ok_or(DeployError::Malformed("summary.reason"))?.to_owned();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let rows = answer["matrix"]
        .as_array()
        .ok_or(DeployError::Malformed("matrix"))?
        .iter()
        .map(|r| MatrixRow {
            consumer: text(&r["consumer"]["name"]),
            consumer_version: text(&r["consumer"]["version"]["number"]),
            provider: text(&r["provider"]["name"]),
            provider_version: text(&r["provider"]["version"]["number"]),
            success: r["verificationResult"]["success"].as_bool(),
        })
        .collect();
    let notices = answer["notices"]
        .as_array()
        .map(|n| n.iter().filter_map(|x| x["text"].as_str().map(str::to_owned)).filter(|t| *t != reason).collect())
        .unwrap_or_default();
    Ok(Decision { deployable, reason, rows, notices })
}

/// The decision as the terminal shows it: the rows, then the answer and why.
pub fn table(d: &Decision) -> String {
    let header = ["CONSUMER", "C.VERSION", "PROVIDER", "P.VERSION", "SUCCESS?"];
    let rows: Vec<[&str; 5]> = d
        .rows
        .iter()
        .map(|r| {
            let success = match r.success {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown",
            };
            [&r.consumer, &r.consumer_version, &r.provider, &r.provider_version, success]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..4).map(width).collect();
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            out.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(cells[4]);
        out.push('\n');
        out
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    for n in &d.notices {
        out.push_str(&format!("notice: {n}\n"));
    }
    let answer = if d.deployable { "yes" } else { "no" };
    out.push_str(&format!("can I deploy? {answer}: {}\n", d.reason));
    out
}

/// `POST /environments`; returns its uuid.
pub async fn create_environment(
    client: &BrokerClient,
    name: &str,
    display_name: Option<&str>,
    production: bool,
) -> Result<String, DeployError> {
    let href = client.relation("pb:environments", &[]).await?;
    let mut body = json!({ "name": name, "production": production });
    if let Some(display) = display_name {
        body["displayName"] = json!(display);
    }
    let answer = client.post(&href, &body).await?;
    Ok(answer["uuid"].as_str().ok_or(DeployError::Malformed("uuid"))?.to_owned())
}

/// Records `version` of `pacticipant` as deployed to `environment`.
pub async fn record_deployment(
    client: &BrokerClient,
    pacticipant: &str,
    version: &str,
    environment: &str,
    application_instance: Option<&str>,
) -> Result<(), DeployError> {
    let href = client.relation("pb:pacticipant-version", &[("pacticipant", pacticipant), ("version", version)]).await?;
    let doc = client.get(&href).await?;
    let links = doc["_links"]["pb:record-deployment"].as_array().cloned().unwrap_or_default();
    let link = links
        .iter()
        .find(|l| l["name"].as_str() == Some(environment))
        .and_then(|l| l["href"].as_str())
        .ok_or_else(|| DeployError::NoEnvironment(environment.to_owned()))?;
    let mut body = json!({});
    if let Some(instance) = application_instance {
        body["applicationInstance"] = json!(instance);
    }
    client.post(link, &body).await?;
    Ok(())
}
