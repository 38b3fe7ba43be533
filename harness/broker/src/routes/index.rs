//! `GET /`: the HAL index, the relations clients navigate from.

use axum::response::Response;
use serde_json::json;

use crate::hal::{Base, ok};

pub async fn index(base: Base) -> Response {
    ok(json!({
        "_links": {
            "self": base.link(&[]),
            "pb:publish-contracts": base.named(&["contracts", "publish"], "publish-contracts", "Publish contracts"),
            "pb:pacticipants": base.link(&["pacticipants"]),
            "pb:pacticipant": base.template("/pacticipants/{pacticipant}"),
            "pb:pacticipant-version": base.template("/pacticipants/{pacticipant}/versions/{version}"),
            "pb:latest-provider-pacts": base.template("/pacts/provider/{provider}/latest"),
            "pb:provider-pacts-for-verification": base.template("/pacts/provider/{provider}/for-verification"),
            "pb:environments": base.link(&["environments"]),
            "pb:environment": base.template("/environments/{uuid}"),
            "pb:can-i-deploy-pacticipant-version-to-environment":
                base.template("/can-i-deploy?pacticipant={pacticipant}&version={version}&environment={environment}"),
            "pb:matrix": base.link(&["matrix"]),
            "curies": [{ "name": "pb", "href": format!("{}/doc/{{rel}}", base.0), "templated": true }],
        }
    }))
}
