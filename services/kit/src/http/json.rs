//! A JSON body extractor whose rejections say which field is wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use super::ApiError;

/// Like `axum::Json`, but a body that does not fit answers with the JSON
/// path of the offending field: `{"error": "...", "field": "address.city"}`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: crate::app::BODY_LIMIT }
            } else {
                ApiError::BadRequest { field: None, message: e.body_text() }
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// Parses `bytes` as `T`, naming the path of the first field that fails.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest { field: None, message: format!("the body is not valid JSON: {inner}") };
        }
        // serde names a missing field in its message; the path is its parent.
        let message = inner.to_string();
        let field = missing_field(&message)
            .map(|f| if path == "." { f.to_owned() } else { format!("{path}.{f}") })
            .unwrap_or(path);
        ApiError::Unprocessable { field: Some(field.clone()), message: format!("{field}: {message}") }
    })
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Address {
        city: String,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Order {
        model: String,
        address: Address,
    }

    fn field_of(body: &str) -> (Option<String>, String) {
        match parse::<Order>(body.as_bytes()).unwrap_err() {
            ApiError::Unprocessable { field, message } | ApiError::BadRequest { field, message } => (field, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_missing_mistyped_and_nested_fields() {
        assert_eq!(field_of(r#"{"address": {"city": "x"}}"#).0.as_deref(), Some("model"));
        assert_eq!(field_of(r#"{"model": 7, "address": {"city": "x"}}"#).0.as_deref(), Some("model"));
        let (field, message) = field_of(r#"{"model": "m", "address": {}}"#);
        assert_eq!(field.as_deref(), Some("address.city"));
        assert!(message.contains("missing field `city`"), "{message}");
        let (field, message) = field_of("{not json");
        assert_eq!(field, None);
        assert!(message.starts_with("the body is not valid JSON"), "{message}");
    }
}
