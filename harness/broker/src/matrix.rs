//! The matrix: for pairs of consumer and provider versions, the pact
//! between them and the verification of that pact by that provider version;
//! and the can-i-deploy answer read from it.
//!
//! The question a deploy gate asks is "can version V of P go to
//! environment E?": every integration of P with a version currently deployed
//! to E must have a successful verification, whichever side P is on. A
//! missing verification is a no, as it is for the Pact Broker.

use crate::model::{Snapshot, Verification, Version};

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub consumer: String,
    pub consumer_version: String,
    pub provider: String,
    pub provider_version: String,
    /// The pact version (its content's SHA-256).
    pub sha: String,
    /// The latest verification of this pact by this provider version.
    pub verification: Option<Verification>,
}

/// The answer, with its reason and the rows it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub deployable: bool,
    pub reason: String,
    pub rows: Vec<Row>,
    pub success: usize,
    pub failed: usize,
    pub unknown: usize,
}

/// The rows between `version` and the versions in `others` (of any other pacticipant).
pub fn rows_between(snap: &Snapshot, version: &Version, others: &[&Version]) -> Vec<Row> {
    let mut rows = Vec::new();
    for other in others.iter().filter(|o| o.pacticipant_id != version.pacticipant_id) {
        for (consumer, provider) in [(version, *other), (*other, version)] {
            let publication = snap
                .publications
                .iter()
                .find(|p| p.consumer_version_id == consumer.id && p.provider_id == provider.pacticipant_id);
            if let Some(p) = publication {
                rows.push(Row {
                    consumer: snap.owner(consumer).to_owned(),
                    consumer_version: consumer.number.clone(),
                    provider: snap.owner(provider).to_owned(),
                    provider_version: provider.number.clone(),
                    sha: p.sha.clone(),
                    verification: snap.verifications_of(&p.sha, provider.id).last().cloned(),
                });
            }
        }
    }
    rows
}

/// Can `version` be deployed next to `others` (what is in the target)?
pub fn decide(snap: &Snapshot, version: &Version, others: &[&Version], target: &str) -> Answer {
    let rows = rows_between(snap, version, others);
    let count = |f: fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    let success = count(|r| r.verification.as_ref().is_some_and(|v| v.success));
    let failed = count(|r| r.verification.as_ref().is_some_and(|v| !v.success));
    let unknown = count(|r| r.verification.is_none());
    let name = format!("{} ({})", snap.owner(version), version.number);
    let mut problems: Vec<String> = Vec::new();
    for r in &rows {
        let pair = format!("{} ({}) and {} ({})", r.consumer, r.consumer_version, r.provider, r.provider_version);
        match &r.verification {
            Some(v) if v.success => {}
            Some(_) => problems.push(format!("The verification of the pact between {pair} failed")),
            None => problems.push(format!("There is no verified pact between {pair}")),
        }
    }
    let (deployable, reason) = if problems.is_empty() {
        let reason = if rows.is_empty() {
            format!("{name} has no integration with any version in {target}: nothing to break")
        } else {
            "All required verification results are published and successful".to_owned()
        };
        (true, reason)
    } else {
        (false, problems.join(". "))
    };
    Answer { deployable, reason, rows, success, failed, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Pacticipant, Publication};

    /// Consumer `c` 1 has pact `A` with provider `p`; `p` 1 verified it, `p` 2 failed it.
    fn snapshot() -> Snapshot {
        let version = |id, pid, number: &str| Version {
            id,
            pacticipant_id: pid,
            number: number.into(),
            branches: Vec::new(),
            tags: Vec::new(),
            created_at: String::new(),
        };
        let verification = |id, pv, success| Verification {
            id,
            sha: "A".into(),
            provider_version_id: pv,
            success,
            created_at: String::new(),
        };
        Snapshot {
            pacticipants: vec![
                Pacticipant { id: 1, name: "c".into(), main_branch: None },
                Pacticipant { id: 2, name: "p".into(), main_branch: None },
            ],
            versions: vec![version(1, 1, "c1"), version(2, 2, "p1"), version(3, 2, "p2"), version(4, 2, "p3")],
            publications: vec![Publication {
                id: 1,
                consumer_version_id: 1,
                provider_id: 2,
                sha: "A".into(),
                created_at: String::new(),
            }],
            verifications: vec![verification(1, 2, true), verification(2, 3, false)],
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_provider_goes_where_its_consumers_pacts_were_verified_by_it() {
        let snap = snapshot();
        let consumer = [snap.version(1).unwrap()];
        let yes = decide(&snap, snap.version(2).unwrap(), &consumer, "production");
        assert!(yes.deployable, "{yes:?}");
        let no = decide(&snap, snap.version(3).unwrap(), &consumer, "production");
        assert!(!no.deployable);
        assert_eq!(no.reason, "The verification of the pact between c (c1) and p (p2) failed");
        let unknown = decide(&snap, snap.version(4).unwrap(), &consumer, "production");
        assert_eq!((unknown.deployable, unknown.unknown), (false, 1));
        assert_eq!(unknown.reason, "There is no verified pact between c (c1) and p (p3)");
    }

    #[test]
    fn a_consumer_is_judged_from_its_side_and_nothing_deployed_breaks_nothing() {
        let snap = snapshot();
        let answer = decide(&snap, snap.version(1).unwrap(), &[snap.version(3).unwrap()], "production");
        assert!(!answer.deployable);
        assert_eq!(answer.rows.len(), 1);
        let alone = decide(&snap, snap.version(1).unwrap(), &[], "production");
        assert!(alone.deployable, "{}", alone.reason);
    }
}
