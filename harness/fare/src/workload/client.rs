//! A client of the platform as a workload describes one: users signed up
//! by its `user` steps, orders placed by its `order.place`, found again in
//! the user's `order.list`. Every request is a scenario request, sent in
//! the chain of the user or of the order.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::file::Workload;
use crate::scenario::Target;
use crate::scenario::failure::Failure;
use crate::scenario::http::{self, Answer};
use crate::scenario::model::Http;
use crate::scenario::template::{Vars, pick, subset};

/// A request of the workload did not get what it asks for.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}: {failure}")]
pub struct StepError {
    /// The request, as the workload names it.
    pub what: String,
    pub failure: Failure,
}

impl StepError {
    /// Refused (a 4xx): asking again will not help. Anything else (no
    /// answer, a 5xx) may have been done, or may work later.
    pub fn refused(&self) -> bool {
        matches!(self.failure, Failure::Status { status, .. } if (400..500).contains(&status))
    }
}

/// A signed-up user: the workload's variables and what its steps captured.
#[derive(Debug, Clone)]
pub struct User {
    pub number: usize,
    /// The chain the user's steps ran in: what names the user in a report.
    pub correlation_id: String,
    pub vars: Vars,
}

/// How long one of the user's steps took, request to answer.
#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: String,
    pub ms: f64,
}

/// An order the platform accepted: its user's variables and what placing it captured.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    /// The user's number.
    pub user: usize,
    pub vars: Vars,
}

/// One of a user's orders as `order.list` answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    /// It has what `order.done` says an order at its end has.
    pub done: bool,
}

/// What a request is called in errors and reports: its name, or `METHOD target path`.
pub fn what(h: &Http) -> String {
    h.name.clone().unwrap_or_else(|| h.http.to_string())
}

/// Sends `h` with `vars`, in chain `correlation_id`; its answer as `h` says it must be.
pub async fn send(target: &Target, vars: &mut Vars, h: &Http, correlation_id: &str) -> Result<Answer, StepError> {
    http::exchange(target, vars, h, correlation_id).await.map_err(|failure| StepError { what: what(h), failure })
}

/// The workload's client for one run on `target`.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    pub target: &'a Target,
    pub workload: &'a Workload,
    /// The run's id: `{{run}}`, and part of every correlation id.
    pub run: &'a str,
    /// Orders the run places in all: `{{orders}}`.
    pub orders: usize,
}

impl Client<'_> {
    /// The built-ins and the workload's `vars`, for user `number`.
    pub fn vars(&self, number: usize) -> Result<Vars, StepError> {
        let mut vars = Vars::default();
        vars.set("run", Value::String(self.run.to_owned()));
        vars.set("user", Value::from(number));
        vars.set("orders", Value::from(self.orders));
        if let Some(token) = &self.target.operator {
            vars.handled_secret(token);
            vars.set("operator", Value::String(token.clone()));
        }
        for (name, value) in &self.workload.file.vars {
            let value = vars.text(value).map_err(|e| StepError { what: format!("vars.{name}"), failure: e.into() })?;
            vars.set(name, Value::String(value));
        }
        Ok(vars)
    }

    /// Signs up user `number` (of those called `who`) by the workload's
    /// `user` steps; answers with how long each took.
    pub async fn sign_up(&self, who: &str, number: usize) -> Result<(User, Vec<StepTime>), StepError> {
        let mut vars = self.vars(number)?;
        let correlation_id = format!("{who}-{}-user-{number}", self.run);
        let mut times = Vec::new();
        for step in &self.workload.file.user {
            let started = Instant::now();
            send(self.target, &mut vars, step, &correlation_id).await?;
            times.push(StepTime { step: what(step), ms: started.elapsed().as_secs_f64() * 1000.0 });
        }
        Ok((User { number, correlation_id, vars }, times))
    }

    /// Places one order for `user` in chain `correlation_id`.
    pub async fn place(&self, user: &User, correlation_id: &str) -> Result<Order, StepError> {
        let place = &self.workload.file.order.place;
        let mut vars = user.vars.clone();
        vars.set(super::model::ORDER_BUILT_IN, Value::String(correlation_id.to_owned()));
        send(self.target, &mut vars, place, correlation_id).await?;
        let id = vars.get(&self.workload.file.order.id).map(text).unwrap_or_default();
        Ok(Order { id, user: user.number, vars })
    }

    /// The order `id` of `user` as found in the list, not as placed: it
    /// has only its id of what placing it would have captured.
    pub fn found(&self, user: &User, id: &str) -> Order {
        let mut vars = user.vars.clone();
        vars.set(&self.workload.file.order.id, Value::String(id.to_owned()));
        Order { id: id.to_owned(), user: user.number, vars }
    }

    /// The user's orders by `order.list`; `None` when the workload has no list.
    pub async fn list(&self, user: &User) -> Option<Result<Vec<Listed>, StepError>> {
        let order = &self.workload.file.order;
        let list = order.list.as_ref()?;
        let mut vars = user.vars.clone();
        let answer = match send(self.target, &mut vars, list, &user.correlation_id).await {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        let Some(items) = answer.json.as_ref().and_then(Value::as_array) else {
            let failure = Failure::Length { found: None, expected: 0, body: answer.shown.clone() };
            return Some(Err(StepError { what: format!("{} (a JSON array of orders)", what(list)), failure }));
        };
        let done = order.done.as_ref().map(|d| vars.value(d).unwrap_or_else(|_| d.clone()));
        Some(Ok(items
            .iter()
            .filter_map(|item| {
                let id = pick(item, &order.id).map(text)?;
                let done = done.as_ref().is_some_and(|d| subset(d, item, "").is_ok());
                Some(Listed { id, done })
            })
            .collect()))
    }
}

/// A JSON value as the text a template would give it.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
