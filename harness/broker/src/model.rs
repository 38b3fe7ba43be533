//! Everything the broker knows, read in one go: the decisions (which pacts
//! a provider verifies, can-i-deploy) are plain functions over it. A local
//! broker holds hundreds of rows, not millions, so reading them all keeps
//! the rules in Rust, where they are tested, rather than in SQL.

use rusqlite::Connection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacticipant {
    pub id: i64,
    pub name: String,
    pub main_branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: i64,
    pub pacticipant_id: i64,
    pub number: String,
    pub branches: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: String,
}

/// A consumer version's pact with one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub id: i64,
    pub consumer_version_id: i64,
    pub provider_id: i64,
    pub sha: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub id: i64,
    pub sha: String,
    pub provider_version_id: i64,
    pub success: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub uuid: String,
    pub name: String,
    pub display_name: Option<String>,
    pub production: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub uuid: String,
    pub version_id: i64,
    pub environment_uuid: String,
    pub application_instance: Option<String>,
    pub current: bool,
}

/// The whole broker, each list in creation order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub pacticipants: Vec<Pacticipant>,
    pub versions: Vec<Version>,
    pub publications: Vec<Publication>,
    pub verifications: Vec<Verification>,
    pub environments: Vec<Environment>,
    pub deployments: Vec<Deployment>,
}

impl Snapshot {
    pub fn load(conn: &Connection) -> rusqlite::Result<Snapshot> {
        let pacticipants = all(conn, "SELECT id, name, main_branch FROM pacticipants ORDER BY id", |r| {
            Ok(Pacticipant { id: r.get(0)?, name: r.get(1)?, main_branch: r.get(2)? })
        })?;
        let mut versions = all(conn, "SELECT id, pacticipant_id, number, created_at FROM versions ORDER BY id", |r| {
            Ok(Version {
                id: r.get(0)?,
                pacticipant_id: r.get(1)?,
                number: r.get(2)?,
                branches: Vec::new(),
                tags: Vec::new(),
                created_at: r.get(3)?,
            })
        })?;
        let branches = all(conn, "SELECT version_id, branch FROM branch_versions ORDER BY id", pair)?;
        let tags = all(conn, "SELECT version_id, name FROM tags ORDER BY id", pair)?;
        for v in &mut versions {
            v.branches = branches.iter().filter(|(id, _)| *id == v.id).map(|(_, b)| b.clone()).collect();
            v.tags = tags.iter().filter(|(id, _)| *id == v.id).map(|(_, t)| t.clone()).collect();
        }
        let publications = all(
            conn,
            "SELECT id, consumer_version_id, provider_id, sha, created_at FROM pact_publications ORDER BY id",
            |r| {
                Ok(Publication {
                    id: r.get(0)?,
                    consumer_version_id: r.get(1)?,
                    provider_id: r.get(2)?,
                    sha: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )?;
        let verifications = all(
            conn,
            "SELECT id, sha, provider_version_id, success, created_at FROM verifications ORDER BY id",
            |r| {
                Ok(Verification {
                    id: r.get(0)?,
                    sha: r.get(1)?,
                    provider_version_id: r.get(2)?,
                    success: r.get(3)?,
                    created_at: r.get(4)?,
                })
            },
        )?;
        let environments =
            all(conn, "SELECT uuid, name, display_name, production FROM environments ORDER BY created_at", |r| {
                Ok(Environment { uuid: r.get(0)?, name: r.get(1)?, display_name: r.get(2)?, production: r.get(3)? })
            })?;
        let deployments = all(
            conn,
            "SELECT uuid, version_id, environment_uuid, application_instance, currently_deployed
             FROM deployed_versions ORDER BY created_at",
            |r| {
                Ok(Deployment {
                    uuid: r.get(0)?,
                    version_id: r.get(1)?,
                    environment_uuid: r.get(2)?,
                    application_instance: r.get(3)?,
                    current: r.get(4)?,
                })
            },
        )?;
        Ok(Snapshot { pacticipants, versions, publications, verifications, environments, deployments })
    }

    pub fn pacticipant(&self, name: &str) -> Option<&Pacticipant> {
        self.pacticipants.iter().find(|p| p.name == name)
    }

    pub fn pacticipant_by_id(&self, id: i64) -> Option<&Pacticipant> {
        self.pacticipants.iter().find(|p| p.id == id)
    }

    pub fn version(&self, id: i64) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    pub fn version_of(&self, pacticipant_id: i64, number: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.pacticipant_id == pacticipant_id && v.number == number)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The name of a version's pacticipant ("?" for a dangling id, which
    /// the foreign keys rule out).
    pub fn owner(&self, version: &Version) -> &str {
        self.pacticipant_by_id(version.pacticipant_id).map(|p| p.name.as_str()).unwrap_or("?")
    }

    /// The versions currently deployed to `environment` (every environment
    /// when `None`), oldest first.
    pub fn deployed(&self, environment: Option<&str>) -> Vec<&Version> {
        let env = environment.map(|name| self.environment(name).map(|e| e.uuid.as_str()));
        self.deployments
            .iter()
            .filter(|d| d.current)
            .filter(|d| match env {
                None => true,
                Some(uuid) => uuid == Some(d.environment_uuid.as_str()),
            })
            .filter_map(|d| self.version(d.version_id))
            .collect()
    }

    /// The verifications of pact version `sha` by provider version `provider_version_id`, latest last.
    pub fn verifications_of(&self, sha: &str, provider_version_id: i64) -> impl Iterator<Item = &Verification> {
        self.verifications.iter().filter(move |v| v.sha == sha && v.provider_version_id == provider_version_id)
    }
}

fn pair(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    conn.prepare(sql)?.query_map([], row)?.collect()
}
