//! `POST /orders`, `GET /orders`, `GET /orders/{order_id}`: all for the
//! caller's own orders only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use kit::http::{ApiError, Caller, RequestContext, Sessions};
use kit::store::{Db, outbox};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::catalog::{Catalog, Currency};
use crate::domain::{Model, ShippingAddress, Status};
use crate::error::OrderError;
use crate::events;
use crate::orders::{self, NewOrder, OrderView, TimelineEntry};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub users: Sessions,
    pub catalog: Arc<Catalog>,
    pub currency: Currency,
}

impl axum::extract::FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Sessions {
        state.users.clone()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/orders", get(list).post(place)).route("/orders/{order_id}", get(one)).with_state(state)
}

#[derive(Deserialize)]
struct PlaceOrder {
    model: Model,
    shipping_address: ShippingAddress,
}

#[derive(Serialize)]
struct Placed {
    order_id: String,
    status: &'static str,
}

/// Stores the order and stages `order.placed` in one transaction; the
/// event is also the first entry of the order's timeline.
async fn place(
    State(state): State<AppState>,
    ctx: RequestContext,
    caller: Caller,
    kit::http::Json(req): kit::http::Json<PlaceOrder>,
) -> Result<(StatusCode, Json<Placed>), ApiError> {
    let model = req.model.as_str();
    let price_cents = state
        .catalog
        .price_cents(model)
        .ok_or_else(|| OrderError::UnknownModel { model: model.to_owned(), known: state.catalog.models() })?;
    let order_id = uuid::Uuid::new_v4().to_string();
    let data = events::OrderPlaced {
        order_id: &order_id,
        user_id: &caller.user_id,
        model,
        price_cents,
        currency: &state.currency,
        shipping_address: &req.shipping_address,
    };
    let event = events::order_placed(&data, ctx.correlation_id, Some(ctx.request_id)).map_err(OrderError::from)?;
    let placed_at = event.occurred_at.format(&Rfc3339).map_err(ApiError::internal)?;
    let order = NewOrder {
        id: order_id.clone(),
        user_id: caller.user_id,
        model: model.to_owned(),
        price_cents,
        currency: state.currency.to_string(),
        shipping_address: serde_json::to_string(&req.shipping_address).map_err(ApiError::internal)?,
        placed_at: placed_at.clone(),
    };
    let entry = TimelineEntry {
        event_type: event.event_type.to_string(),
        event_id: event.id.to_string(),
        occurred_at: placed_at,
    };
    state
        .db
        .write(move |tx| {
            orders::insert(tx, &order, Status::Placed.as_str())?;
            orders::append(tx, &order.id, &entry)?;
            outbox::stage(tx, &event)?;
            Ok::<_, OrderError>(())
        })
        .await?;
    tracing::info!(order_id, "order placed");
    Ok((StatusCode::CREATED, Json(Placed { order_id, status: Status::Placed.as_str() })))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<OrderView>>, ApiError> {
    let found = state.db.read(move |conn| orders::of_user(conn, &caller.user_id, None)).await?;
    Ok(Json(found))
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let wanted = order_id.clone();
    let found = state.db.read(move |conn| orders::of_user(conn, &caller.user_id, Some(&wanted))).await?;
    let order = found.into_iter().next().ok_or(OrderError::NotFound { order_id })?;
    Ok(Json(order))
}
