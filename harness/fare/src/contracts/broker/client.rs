//! An HTTP client for a Pact Broker: it starts from the HAL index and
//! follows relations, sends the credentials, and turns a refusal into an
//! error that quotes the broker's status and its `errors` and `notices`.

use std::fmt;

use fare_broker::encode_segment as encode;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub enum Auth {
    Token(Secret),
    Basic { username: String, password: Option<Secret> },
}

/// Where the broker is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub url: String,
    pub auth: Option<Auth>,
}

impl BrokerConfig {
    /// From the values every Pact tool reads (`PACT_BROKER_*`): a token
    /// wins over a username.
    pub fn new(url: &str, token: Option<&str>, username: Option<&str>, password: Option<&str>) -> BrokerConfig {
        let auth = match (token.filter(|t| !t.is_empty()), username.filter(|u| !u.is_empty())) {
            (Some(token), _) => Some(Auth::Token(Secret::new(token))),
            (None, Some(username)) => {
                Some(Auth::Basic { username: username.to_owned(), password: password.map(Secret::new) })
            }
            (None, None) => None,
        };
        BrokerConfig { url: url.trim_end_matches('/').to_owned(), auth }
    }

    /// The same credentials, as `pact_verifier` takes them.
    pub fn pact_auth(&self) -> Option<pact_models::http_utils::HttpAuth> {
        use pact_models::http_utils::HttpAuth;
        self.auth.as_ref().map(|a| match a {
            Auth::Token(t) => HttpAuth::Token(t.expose().to_owned()),
            Auth::Basic { username, password } => {
                HttpAuth::User(username.clone(), password.as_ref().map(|p| p.expose().to_owned()))
            }
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the broker at {url} cannot be reached: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the broker answered {method} {url} with {status}{}", detail(.errors, .notices))]
    Refused { method: Method, url: String, status: StatusCode, errors: Vec<String>, notices: Vec<String> },
    #[error("the broker's answer to {url} is not JSON: {source}")]
    NotJson {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the broker at {url} has no `{relation}` relation: is it a Pact Broker (2.80 or newer)?")]
    NoRelation { url: String, relation: String },
}

fn detail(errors: &[String], notices: &[String]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("\n  error: {e}"));
    }
    for n in notices {
        out.push_str(&format!("\n  notice: {n}"));
    }
    out
}

/// A Pact Broker, as a client sees it.
#[derive(Debug, Clone)]
pub struct BrokerClient {
    config: BrokerConfig,
    http: reqwest::Client,
}

impl BrokerClient {
    pub fn new(config: BrokerConfig) -> BrokerClient {
        BrokerClient { config, http: reqwest::Client::new() }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The href of `relation` in the index, with `{name}` placeholders filled from `values`.
    pub async fn relation(&self, relation: &str, values: &[(&str, &str)]) -> Result<String, ClientError> {
        let index = self.get(&self.config.url).await?;
        let href = index["_links"][relation]["href"]
            .as_str()
            .ok_or_else(|| ClientError::NoRelation { url: self.config.url.clone(), relation: relation.to_owned() })?;
        let mut href = href.to_owned();
        for (name, value) in values {
            href = href.replace(&format!("{{{name}}}"), &encode(value));
        }
        Ok(href)
    }

    pub async fn get(&self, url: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::POST, url, Some(body)).await
    }

    pub async fn put(&self, url: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::PUT, url, Some(body)).await
    }

    async fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let mut req = self.http.request(method.clone(), url).header("accept", "application/hal+json, application/json");
        req = match &self.config.auth {
            Some(Auth::Token(t)) => req.bearer_auth(t.expose()),
            Some(Auth::Basic { username, password }) => req.basic_auth(username, password.as_ref().map(Secret::expose)),
            None => req,
        };
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|source| ClientError::Unreachable { url: url.to_owned(), source })?;
        let status = resp.status();
        if status.is_success() {
            if status == StatusCode::NO_CONTENT {
                return Ok(Value::Null);
            }
            return resp.json().await.map_err(|source| ClientError::NotJson { url: url.to_owned(), source });
        }
        let text = resp.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut errors = messages(&json["errors"]);
        if errors.is_empty() && json.is_null() && !text.trim().is_empty() {
            errors.push(text.trim().chars().take(500).collect());
        }
        let notices = json["notices"]
            .as_array()
            .map(|n| n.iter().filter_map(|x| x["text"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Err(ClientError::Refused { method, url: url.to_owned(), status, errors, notices })
    }
}

/// The broker's `errors`: a list, or an object of field → messages.
fn messages(errors: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    match errors {
        Value::Array(list) => list.iter().map(text).collect(),
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(field, v)| match v {
                Value::Array(list) => list.iter().map(|m| format!("{field}: {}", text(m))).collect::<Vec<_>>(),
                other => vec![format!("{field}: {}", text(other))],
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_prints() {
        let config = BrokerConfig::new("http://b/", Some("s3cr3t-token"), None, None);
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert_eq!(config.url, "http://b");
        let basic = BrokerConfig::new("http://b", None, Some("ci"), Some("pa55word"));
        assert!(!format!("{basic:?}").contains("pa55word"));
    }

    #[test]
    fn the_brokers_errors_are_quoted_in_either_shape() {
        let object = serde_json::json!({"name": ["is taken"], "x": "bad"});
        assert_eq!(messages(&object), vec!["name: is taken", "x: bad"]);
        assert_eq!(messages(&serde_json::json!(["one"])), vec!["one"]);
    }
}
