//! Talking to a running fake from outside: installing and removing rules,
//! reading the requests it answered. The scenario runner's only way in.

use std::time::Duration;

use super::{Logged, Rule};

#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("the {fake} fake at {url}: {message}")]
    Call { fake: String, url: String, message: String },
}

/// One fake, by name and base URL.
#[derive(Debug, Clone)]
pub struct FakeClient {
    pub name: String,
    pub url: String,
    http: reqwest::Client,
}

impl FakeClient {
    pub fn new(name: &str, url: &str) -> FakeClient {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
        FakeClient { name: name.to_owned(), url: url.trim_end_matches('/').to_owned(), http }
    }

    fn error(&self, message: impl std::fmt::Display) -> FakeError {
        FakeError::Call { fake: self.name.clone(), url: self.url.clone(), message: message.to_string() }
    }

    pub async fn install(&self, rule: &Rule) -> Result<(), FakeError> {
        let resp = self.http.post(format!("{}/__fare/rules", self.url)).json(rule).send().await;
        let resp = resp.map_err(|e| self.error(kit::error_chain(&e)))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        Err(self.error(format!("installing a rule answered {status}: {}", resp.text().await.unwrap_or_default())))
    }

    /// Removes the rules scoped to `correlation_id`.
    pub async fn remove(&self, correlation_id: &str) -> Result<(), FakeError> {
        let url = format!("{}/__fare/rules", self.url);
        let resp = self.http.delete(url).query(&[("correlation_id", correlation_id)]).send().await;
        resp.map_err(|e| self.error(kit::error_chain(&e)))?.error_for_status().map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The requests of one chain (its labels included).
    pub async fn requests(&self, correlation_id: &str) -> Result<Vec<Logged>, FakeError> {
        let url = format!("{}/__fare/requests", self.url);
        let resp = self.http.get(url).query(&[("correlation_id", correlation_id)]).send().await;
        let resp = resp.map_err(|e| self.error(kit::error_chain(&e)))?.error_for_status().map_err(|e| self.error(e))?;
        resp.json().await.map_err(|e| self.error(e))
    }
}
