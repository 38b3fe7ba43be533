//! Which pacts a provider verifies, on hand-made snapshots.

use super::*;
use crate::model::{Deployment, Environment, Pacticipant, Verification};

/// A broker with provider `p` (main branch `main`) and consumer `c`
/// (main branch `main`): c1 on main (pact A), c2 on `feat` (pact B),
/// c3 on main (pact A again); c1 deployed to production.
fn snapshot() -> Snapshot {
    let pacticipant = |id, name: &str| Pacticipant { id, name: name.into(), main_branch: Some("main".into()) };
    let version = |id, pid, number: &str, branch: &str, tags: &[&str]| Version {
        id,
        pacticipant_id: pid,
        number: number.into(),
        branches: vec![branch.into()],
        tags: tags.iter().map(|t| t.to_string()).collect(),
        created_at: format!("2026-01-0{id}T00:00:00.000Z"),
    };
    let publication = |id, vid, sha: &str| Publication {
        id,
        consumer_version_id: vid,
        provider_id: 1,
        sha: sha.into(),
        created_at: format!("2026-01-0{vid}T00:00:00.000Z"),
    };
    Snapshot {
        pacticipants: vec![pacticipant(1, "p"), pacticipant(2, "c")],
        versions: vec![
            version(1, 2, "c1", "main", &["prod"]),
            version(2, 2, "c2", "feat", &[]),
            version(3, 2, "c3", "main", &[]),
            version(4, 1, "p1", "main", &[]),
            version(5, 1, "p2", "feat", &[]),
        ],
        publications: vec![publication(1, 1, "A"), publication(2, 2, "B"), publication(3, 3, "A")],
        verifications: Vec::new(),
        environments: vec![Environment {
            uuid: "e".into(),
            name: "production".into(),
            display_name: None,
            production: true,
        }],
        deployments: vec![Deployment {
            uuid: "d".into(),
            version_id: 1,
            environment_uuid: "e".into(),
            application_instance: None,
            current: true,
        }],
    }
}

fn request(selectors: &[&str], branch: Option<&str>) -> Request {
    Request {
        consumer_version_selectors: selectors.iter().map(|s| serde_json::from_str(s).unwrap()).collect(),
        provider_version_branch: branch.map(str::to_owned),
        include_pending_status: true,
        ..Request::default()
    }
}

fn shas(selected: &[Selected]) -> Vec<&str> {
    selected.iter().map(|s| s.sha.as_str()).collect()
}

#[test]
fn the_main_branch_selects_its_latest_and_one_content_is_verified_once() {
    let selected = for_verification(&snapshot(), "p", &request(&[r#"{"mainBranch":true}"#], Some("main")));
    assert_eq!(shas(&selected), ["A"]);
    assert_eq!(selected[0].consumer_versions, ["c3"]);
    assert_eq!(selected[0].reasons, ["latest from the consumer's main branch"]);
}

#[test]
fn selectors_that_pick_the_same_content_merge_their_versions_and_reasons() {
    let r = request(&[r#"{"mainBranch":true}"#, r#"{"deployedOrReleased":true}"#], Some("main"));
    let selected = for_verification(&snapshot(), "p", &r);
    assert_eq!(shas(&selected), ["A"]);
    assert_eq!(selected[0].consumer_versions, ["c3", "c1"]);
    assert_eq!(selected[0].reasons.len(), 2, "{:?}", selected[0].reasons);
}

#[test]
fn matching_branch_follows_the_providers_branch_and_needs_one() {
    let r = |branch| request(&[r#"{"matchingBranch":true}"#], branch);
    assert_eq!(shas(&for_verification(&snapshot(), "p", &r(Some("feat")))), ["B"]);
    assert!(for_verification(&snapshot(), "p", &r(None)).is_empty());
}

#[test]
fn tags_branches_fallbacks_and_consumers() {
    let snap = snapshot();
    let pick = |s: &str| shas(&for_verification(&snap, "p", &request(&[s], None))).join(",");
    assert_eq!(pick(r#"{"tag":"prod","latest":true}"#), "A");
    assert_eq!(pick(r#"{"tag":"nope","fallbackTag":"prod","latest":true}"#), "A");
    assert_eq!(pick(r#"{"branch":"gone","fallbackBranch":"feat"}"#), "B");
    assert_eq!(pick(r#"{"branch":"main","latest":false}"#), "A");
    assert_eq!(pick(r#"{"latest":true,"consumer":"someone-else"}"#), "");
    assert_eq!(pick(r#"{"environment":"production"}"#), "A");
}

#[test]
fn a_pact_is_pending_until_the_providers_branch_or_main_verified_it() {
    let mut snap = snapshot();
    let r = request(&[r#"{"mainBranch":true}"#], Some("feat"));
    assert!(for_verification(&snap, "p", &r)[0].pending, "never verified");
    let verified = |id, version, success| Verification {
        id,
        sha: "A".into(),
        provider_version_id: version,
        success,
        created_at: String::new(),
    };
    snap.verifications.push(verified(1, 4, false));
    assert!(for_verification(&snap, "p", &r)[0].pending, "a failure verifies nothing");
    snap.verifications.push(verified(2, 4, true));
    assert!(!for_verification(&snap, "p", &r)[0].pending, "main (p1) verified it: not pending on feat either");
    let without = Request { include_pending_status: false, ..request(&[r#"{"branch":"feat"}"#], Some("x")) };
    assert!(!for_verification(&snapshot(), "p", &without)[0].pending, "pending only when asked");
}

#[test]
fn wip_adds_the_pending_latest_of_other_branches_since_the_date() {
    let r = Request {
        include_wip_pacts_since: Some("2026-01-01".into()),
        ..request(&[r#"{"mainBranch":true}"#], Some("main"))
    };
    let selected = for_verification(&snapshot(), "p", &r);
    assert_eq!(shas(&selected), ["A", "B"]);
    assert!(selected[1].wip && selected[1].pending);
    let later = Request { include_wip_pacts_since: Some("2026-02-01T00:00:00Z".into()), ..r };
    assert_eq!(shas(&for_verification(&snapshot(), "p", &later)), ["A"]);
}
