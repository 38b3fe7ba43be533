//! The client a service uses to ask another service or a third party:
//! per-attempt timeouts, retries with backoff on 5xx, timeouts and refused
//! connections, and the correlation id and traceparent on every call.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde::Serialize;

use super::correlation::CORRELATION_HEADER;
use crate::envelope::CorrelationId;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeout: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The delay before the second attempt; doubled for each one after.
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { timeout: Duration::from_secs(5), attempts: 3, backoff: Duration::from_millis(100) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} at {url} could not be reached after {attempts} attempts: {message}")]
    Unreachable { service: String, url: String, attempts: u32, message: String },
    #[error("{service} answered {status} to {method} {url} after {attempts} attempts: {body}")]
    ServerError { service: String, method: Method, url: String, status: StatusCode, attempts: u32, body: String },
    #[error("{service} answered {method} {url} with a body that does not fit: {message}")]
    BadBody { service: String, method: Method, url: String, message: String },
    #[error("building a request to {service}: {message}")]
    Build { service: String, message: String },
}

/// The start of an answer's body, for an error message: enough to see
/// what the other side said, never a whole page.
pub async fn excerpt(resp: Response) -> String {
    resp.text().await.unwrap_or_default().chars().take(500).collect()
}

/// A client for one service or third party, by its base URL.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    service: String,
    base: String,
    http: reqwest::Client,
    options: ClientOptions,
}

impl ServiceClient {
    pub fn new(service: &str, base_url: &str, options: ClientOptions) -> Result<ServiceClient, CallError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| CallError::Build { service: service.to_owned(), message: crate::error_chain(&e) })?;
        Ok(ServiceClient {
            service: service.to_owned(),
            base: base_url.trim_end_matches('/').to_owned(),
            http,
            options,
        })
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Sends `method path` with an optional JSON body and extra headers.
    /// Answers below 500 are returned for the caller to judge; 5xx, timeouts
    /// and connection failures are retried, then reported.
    pub async fn call<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        correlation: &CorrelationId,
        body: Option<&B>,
        headers: &[(&str, &str)],
    ) -> Result<Response, CallError> {
        let url = format!("{}{path}", self.base);
        let span = tracing::info_span!("call", service = %self.service, %method, url, status = tracing::field::Empty);
        let mut delay = self.options.backoff;
        let attempts = self.options.attempts.max(1);
        for attempt in 1..=attempts {
            let traceparent = span.in_scope(|| crate::telemetry::traceparent(correlation));
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(CORRELATION_HEADER, correlation.as_str())
                .header("traceparent", traceparent);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(body) = body {
                req = req.json(body);
            }
            let last = attempt == attempts;
            match req.send().await {
                Ok(resp) if !resp.status().is_server_error() => {
                    span.record("status", resp.status().as_u16());
                    return Ok(resp);
                }
                Ok(resp) if last => {
                    let status = resp.status();
                    span.record("status", status.as_u16());
                    return Err(CallError::ServerError {
                        service: self.service.clone(),
                        method,
                        url,
                        status,
                        attempts,
                        body: excerpt(resp).await,
                    });
                }
                Err(e) if last => {
                    return Err(CallError::Unreachable {
                        service: self.service.clone(),
                        url,
                        attempts,
                        message: crate::error_chain(&e),
                    });
                }
                Ok(resp) => span.in_scope(|| tracing::warn!(attempt, status = resp.status().as_u16(), "retrying")),
                Err(e) => span.in_scope(|| tracing::warn!(attempt, error = crate::error_chain(&e), "retrying")),
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        unreachable!("the last attempt returns")
    }

    /// GETs `path` and parses a 2xx body; `Ok(None)` for a 404.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        correlation: &CorrelationId,
    ) -> Result<Option<(StatusCode, T)>, CallError> {
        let resp = self.call::<()>(Method::GET, path, correlation, None, &[]).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.parse(Method::GET, path, resp).await.map(Some)
    }

    /// Reads a JSON answer, keeping its status.
    pub async fn parse<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        resp: Response,
    ) -> Result<(StatusCode, T), CallError> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.bad_body(&method, path, crate::error_chain(&e)))?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| self.bad_body(&method, path, format!("{e} in {}", String::from_utf8_lossy(&bytes))))?;
        Ok((status, value))
    }

    fn bad_body(&self, method: &Method, path: &str, message: String) -> CallError {
        CallError::BadBody {
            service: self.service.clone(),
            method: method.clone(),
            url: format!("{}{path}", self.base),
            message,
        }
    }
}
