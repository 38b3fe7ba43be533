//! Which pacts a provider verifies (`POST /pacts/provider/{p}/for-verification`):
//! each consumer version selector picks consumer versions; the pacts they
//! published for the provider are grouped by content (one verification per
//! pact version, whatever number of versions share it); each is marked
//! pending when the provider's branch has never verified it successfully;
//! WIP pacts (the latest of every consumer branch, since a date, still
//! pending, and picked by no selector) are added when asked for.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Publication, Snapshot, Version};

/// The request body, as `pact_verifier` and the Pact Broker name its fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Request {
    pub consumer_version_selectors: Vec<Selector>,
    pub provider_version_branch: Option<String>,
    pub provider_version_tags: Vec<String>,
    pub include_pending_status: bool,
    pub include_wip_pacts_since: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Selector {
    pub main_branch: Option<bool>,
    pub branch: Option<String>,
    pub fallback_branch: Option<String>,
    pub matching_branch: Option<bool>,
    pub tag: Option<String>,
    pub fallback_tag: Option<String>,
    pub latest: Option<bool>,
    pub deployed_or_released: Option<bool>,
    pub deployed: Option<bool>,
    pub released: Option<bool>,
    pub environment: Option<String>,
    pub consumer: Option<String>,
}

/// One pact version to verify, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub sha: String,
    pub consumer: String,
    /// The consumer versions behind it, oldest first.
    pub consumer_versions: Vec<String>,
    /// Why each selector picked it (`latest from main branch`, …).
    pub reasons: Vec<String>,
    pub pending: bool,
    pub wip: bool,
}

/// The pacts `provider` verifies for `request`.
pub fn for_verification(snap: &Snapshot, provider: &str, request: &Request) -> Vec<Selected> {
    let Some(provider) = snap.pacticipant(provider) else { return Vec::new() };
    let pubs: Vec<(&Publication, &Version)> = snap
        .publications
        .iter()
        .filter(|p| p.provider_id == provider.id)
        .filter_map(|p| snap.version(p.consumer_version_id).map(|v| (p, v)))
        .collect();
    let default = [Selector { latest: Some(true), ..Selector::default() }];
    let selectors =
        if request.consumer_version_selectors.is_empty() { &default[..] } else { &request.consumer_version_selectors };
    let mut picked: BTreeMap<String, Selected> = BTreeMap::new();
    for selector in selectors {
        for (publication, version, reason) in apply(snap, &pubs, selector, request) {
            let entry = picked.entry(publication.sha.clone()).or_insert_with(|| Selected {
                sha: publication.sha.clone(),
                consumer: snap.owner(version).to_owned(),
                consumer_versions: Vec::new(),
                reasons: Vec::new(),
                pending: false,
                wip: false,
            });
            if !entry.consumer_versions.contains(&version.number) {
                entry.consumer_versions.push(version.number.clone());
            }
            if !entry.reasons.contains(&reason) {
                entry.reasons.push(reason);
            }
        }
    }
    let pending = |sha: &str| request.include_pending_status && !verified_by_branch(snap, provider.id, sha, request);
    let mut out: Vec<Selected> = picked.into_values().collect();
    for s in &mut out {
        s.pending = pending(&s.sha);
    }
    if let (true, Some(since)) = (request.include_pending_status, &request.include_wip_pacts_since) {
        let since = normalise_date(since);
        for (publication, version) in latest_per_branch(&pubs) {
            let known = out.iter().any(|s| s.sha == publication.sha);
            if known || publication.created_at.as_str() < since.as_str() || !pending(&publication.sha) {
                continue;
            }
            let branch = version.branches.first().cloned().unwrap_or_default();
            out.push(Selected {
                sha: publication.sha.clone(),
                consumer: snap.owner(version).to_owned(),
                consumer_versions: vec![version.number.clone()],
                reasons: vec![format!("latest from branch {branch} (work in progress)")],
                pending: true,
                wip: true,
            });
        }
    }
    out
}

/// The publications one selector picks, each with the reason.
fn apply<'a>(
    snap: &Snapshot,
    pubs: &[(&'a Publication, &'a Version)],
    selector: &Selector,
    request: &Request,
) -> Vec<(&'a Publication, &'a Version, String)> {
    let of_consumer =
        |(_, v): &&(&Publication, &Version)| selector.consumer.as_deref().is_none_or(|c| snap.owner(v) == c);
    let candidates: Vec<(&Publication, &Version)> = pubs.iter().filter(of_consumer).copied().collect();
    let latest_only = selector.latest != Some(false);
    let on_branch = |branch: &str| -> Vec<(&'a Publication, &'a Version)> {
        let all: Vec<_> = candidates.iter().filter(|(_, v)| v.branches.iter().any(|b| b == branch)).copied().collect();
        if latest_only { latest_per_consumer(&all) } else { all }
    };
    let with_reason = |found: Vec<(&'a Publication, &'a Version)>, reason: String| {
        found.into_iter().map(|(p, v)| (p, v, reason.clone())).collect::<Vec<_>>()
    };
    if selector.main_branch == Some(true) {
        let found: Vec<_> = candidates
            .iter()
            .filter(|(_, v)| {
                let main = snap.pacticipant_by_id(v.pacticipant_id).and_then(|p| p.main_branch.as_deref());
                main.is_some_and(|m| v.branches.iter().any(|b| b == m))
            })
            .copied()
            .collect();
        return with_reason(latest_per_consumer(&found), "latest from the consumer's main branch".into());
    }
    if selector.matching_branch == Some(true) {
        return match &request.provider_version_branch {
            Some(branch) => with_reason(on_branch(branch), format!("latest from matching branch {branch}")),
            None => Vec::new(),
        };
    }
    if let Some(branch) = &selector.branch {
        let found = on_branch(branch);
        if found.is_empty()
            && let Some(fallback) = &selector.fallback_branch
        {
            return with_reason(on_branch(fallback), format!("latest from branch {fallback} (fallback for {branch})"));
        }
        let which = if latest_only { "latest from" } else { "all from" };
        return with_reason(found, format!("{which} branch {branch}"));
    }
    let deployed_only = selector.deployed_or_released == Some(true) || selector.deployed == Some(true);
    if deployed_only || selector.environment.is_some() {
        let env = selector.environment.as_deref();
        let deployed = snap.deployed(env);
        let found: Vec<_> = candidates.iter().filter(|(_, v)| deployed.iter().any(|d| d.id == v.id)).copied().collect();
        let reason = match env {
            Some(e) => format!("currently deployed to {e}"),
            None => "currently deployed".into(),
        };
        return with_reason(found, reason);
    }
    if let Some(tag) = &selector.tag {
        let tagged = |t: &str| -> Vec<(&'a Publication, &'a Version)> {
            let all: Vec<_> = candidates.iter().filter(|(_, v)| v.tags.iter().any(|x| x == t)).copied().collect();
            if selector.latest == Some(true) { latest_per_consumer(&all) } else { all }
        };
        let found = tagged(tag);
        if found.is_empty()
            && let Some(fallback) = &selector.fallback_tag
        {
            return with_reason(tagged(fallback), format!("latest with tag {fallback} (fallback for {tag})"));
        }
        let which = if selector.latest == Some(true) { "latest with" } else { "all with" };
        return with_reason(found, format!("{which} tag {tag}"));
    }
    with_reason(latest_per_consumer(&candidates), "latest".into())
}

/// The last publication of each consumer in `pubs`.
fn latest_per_consumer<'a>(pubs: &[(&'a Publication, &'a Version)]) -> Vec<(&'a Publication, &'a Version)> {
    let mut latest: BTreeMap<i64, (&Publication, &Version)> = BTreeMap::new();
    for (p, v) in pubs {
        let newer = latest.get(&v.pacticipant_id).is_none_or(|(_, seen)| v.id > seen.id);
        if newer {
            latest.insert(v.pacticipant_id, (p, v));
        }
    }
    latest.into_values().collect()
}

/// The last publication of each (consumer, branch).
fn latest_per_branch<'a>(pubs: &[(&'a Publication, &'a Version)]) -> Vec<(&'a Publication, &'a Version)> {
    let mut latest: BTreeMap<(i64, &str), (&Publication, &Version)> = BTreeMap::new();
    for (p, v) in pubs {
        for b in &v.branches {
            let newer = latest.get(&(v.pacticipant_id, b.as_str())).is_none_or(|(_, seen)| v.id > seen.id);
            if newer {
                latest.insert((v.pacticipant_id, b.as_str()), (p, v));
            }
        }
    }
    latest.into_values().collect()
}

/// Whether a provider version of the request's branch (or one of its tags;
/// any version when it names neither) has verified `sha` successfully. A
/// pact the provider's main branch verified is not pending on a new branch
/// either, so a feature branch starts from what main promised.
pub fn verified_by_branch(snap: &Snapshot, provider_id: i64, sha: &str, request: &Request) -> bool {
    let main = snap.pacticipant_by_id(provider_id).and_then(|p| p.main_branch.clone());
    snap.verifications.iter().filter(|v| v.sha == sha && v.success).any(|v| {
        let Some(version) = snap.version(v.provider_version_id) else { return false };
        match (&request.provider_version_branch, request.provider_version_tags.is_empty()) {
            (Some(branch), _) => version.branches.iter().any(|b| b == branch || Some(b) == main.as_ref()),
            (None, false) => version.tags.iter().any(|t| request.provider_version_tags.contains(t)),
            (None, true) => true,
        }
    })
}

/// `2024-01-31` or an RFC 3339 time, as the broker's own timestamps are
/// written, so the two compare as strings.
fn normalise_date(since: &str) -> String {
    let format = time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(since, &format) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => since.to_owned(),
    }
}

#[cfg(test)]
mod tests;
