//! The client a service uses to ask another service or a third party:
//! per-attempt timeouts, retries with backoff on 5xx, timeouts and refused
//! connections, and the correlation id and traceparent on every call; a
//! client for another service of the platform also signs every call with
//! the caller's service identity ([`ServiceClient::signed`]).
//!
//! An answer is read up to [`MAX_RESPONSE_BYTES`] and no further, and what
//! an error quotes of a URL or a body is masked ([`crate::redact`]): an
//! error is logged, and a body can hold a contact's email.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde::Serialize;

use super::correlation::CORRELATION_HEADER;
use crate::backoff::Backoff;
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

/// The largest answer a client reads: more is an error, not an allocation.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// How much of a body an error quotes.
const EXCERPT_CHARS: usize = 500;

/// The start of an answer's body, for an error message: enough to see
/// what the other side said, never a whole page, and masked.
pub async fn excerpt(resp: Response) -> String {
    let bytes = read_capped(resp, EXCERPT_CHARS * 4).await.unwrap_or_else(|(partial, _)| partial);
    redacted_excerpt(&bytes)
}

/// The first [`EXCERPT_CHARS`] characters of `bytes`, masked.
fn redacted_excerpt(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(bytes).chars().take(EXCERPT_CHARS).collect();
    crate::redact::text(&text).into_owned()
}

/// The body, unless it is longer than `limit` bytes or breaks off: then
/// what was read and why it stopped.
async fn read_capped(mut resp: Response, limit: usize) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    return Err((body, format!("the body is longer than {limit} bytes")));
                }
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err((body, crate::error_chain(&e))),
        }
    }
}

/// A client for one service or third party, by its base URL.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    service: String,
    base: String,
    http: reqwest::Client,
    options: ClientOptions,
    /// Signs each call for `service`; `None` for a third party.
    signer: Option<super::identity::Signer>,
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
            signer: None,
        })
    }

    /// Every call carries a service identity for `service`, signed by
    /// `signer`, fresh for each attempt: for a client of another service
    /// of the platform, never of a third party.
    pub fn signed(mut self, signer: super::identity::Signer) -> ServiceClient {
        self.signer = Some(signer);
        self
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
        let shown_url = crate::redact::text(&url).into_owned();
        let span = tracing::info_span!("call", service = %self.service, %method, url = shown_url, status = tracing::field::Empty);
        // The attempts bound the waits: the delay has no ceiling of its own.
        let backoff = Backoff::new(self.options.backoff, Duration::MAX);
        let attempts = self.options.attempts.max(1);
        for attempt in 1..=attempts {
            let traceparent = span.in_scope(|| crate::telemetry::traceparent(correlation));
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(CORRELATION_HEADER, correlation.as_str())
                .header("traceparent", traceparent);
            if let Some(signer) = &self.signer {
                req = req.header(super::identity::HEADER, signer.token(&self.service));
            }
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
                        url: shown_url,
                        status,
                        attempts,
                        body: excerpt(resp).await,
                    });
                }
                Err(e) if last => {
                    return Err(CallError::Unreachable {
                        service: self.service.clone(),
                        url: shown_url,
                        attempts,
                        message: crate::redact::text(&crate::error_chain(&e)).into_owned(),
                    });
                }
                Ok(resp) => span.in_scope(|| tracing::warn!(attempt, status = resp.status().as_u16(), "retrying")),
                Err(e) => span.in_scope(|| tracing::warn!(attempt, error = crate::error_chain(&e), "retrying")),
            }
            tokio::time::sleep(backoff.delay(attempt)).await;
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
        let bytes = read_capped(resp, MAX_RESPONSE_BYTES).await.map_err(|(partial, why)| {
            self.bad_body(&method, path, format!("{why}; it began {}", redacted_excerpt(&partial)))
        })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| self.bad_body(&method, path, format!("{e} in {}", redacted_excerpt(&bytes))))?;
        Ok((status, value))
    }

    fn bad_body(&self, method: &Method, path: &str, message: String) -> CallError {
        CallError::BadBody {
            service: self.service.clone(),
            method: method.clone(),
            url: crate::redact::text(&format!("{}{path}", self.base)).into_owned(),
            message,
        }
    }
}
