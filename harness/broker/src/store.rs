//! The broker's writes, each inside the caller's transaction. Creating is
//! idempotent where the Pact Broker's is (a pacticipant, version, branch or
//! tag named twice is the same one); a pact published again for the same
//! consumer version and provider replaces the earlier one, as the Pact
//! Broker's default `onConflict: overwrite` does.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::BrokerError;

pub fn ensure_pacticipant(conn: &Connection, name: &str) -> Result<i64, BrokerError> {
    if name.trim().is_empty() {
        return Err(BrokerError::invalid("name", "a pacticipant needs a name"));
    }
    conn.execute("INSERT OR IGNORE INTO pacticipants (name) VALUES (?1)", [name])?;
    Ok(conn.query_row("SELECT id FROM pacticipants WHERE name = ?1", [name], |r| r.get(0))?)
}

pub fn set_main_branch(conn: &Connection, pacticipant_id: i64, branch: &str) -> Result<(), BrokerError> {
    conn.execute("UPDATE pacticipants SET main_branch = ?2 WHERE id = ?1", params![pacticipant_id, branch])?;
    Ok(())
}

/// Sets the main branch if none is set: the Pact Broker guesses `main`,
/// `master` or `develop` from the first branch it sees.
pub fn guess_main_branch(conn: &Connection, pacticipant_id: i64, branch: &str) -> Result<(), BrokerError> {
    if matches!(branch, "main" | "master" | "develop") {
        conn.execute(
            "UPDATE pacticipants SET main_branch = ?2 WHERE id = ?1 AND main_branch IS NULL",
            params![pacticipant_id, branch],
        )?;
    }
    Ok(())
}

pub fn version_id(conn: &Connection, pacticipant_id: i64, number: &str) -> Result<Option<i64>, BrokerError> {
    Ok(conn
        .query_row(
            "SELECT id FROM versions WHERE pacticipant_id = ?1 AND number = ?2",
            params![pacticipant_id, number],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn ensure_version(
    conn: &Connection,
    pacticipant_id: i64,
    number: &str,
    build_url: Option<&str>,
) -> Result<i64, BrokerError> {
    if number.trim().is_empty() {
        return Err(BrokerError::invalid("pacticipantVersionNumber", "a version needs a number"));
    }
    conn.execute(
        "INSERT OR IGNORE INTO versions (pacticipant_id, number) VALUES (?1, ?2)",
        params![pacticipant_id, number],
    )?;
    if let Some(url) = build_url {
        conn.execute(
            "UPDATE versions SET build_url = ?3 WHERE pacticipant_id = ?1 AND number = ?2",
            params![pacticipant_id, number, url],
        )?;
    }
    version_id(conn, pacticipant_id, number)?.ok_or_else(|| BrokerError::not_found("version", number))
}

pub fn add_branch(conn: &Connection, version_id: i64, branch: &str) -> Result<(), BrokerError> {
    conn.execute(
        "INSERT OR IGNORE INTO branch_versions (version_id, branch) VALUES (?1, ?2)",
        params![version_id, branch],
    )?;
    Ok(())
}

pub fn add_tag(conn: &Connection, version_id: i64, tag: &str) -> Result<(), BrokerError> {
    conn.execute("INSERT OR IGNORE INTO tags (version_id, name) VALUES (?1, ?2)", params![version_id, tag])?;
    Ok(())
}

/// Stores `content` as the pact of `consumer_version_id` with the
/// provider; returns the pact version (the SHA-256 of the content).
pub fn put_pact(
    conn: &Connection,
    consumer_id: i64,
    consumer_version_id: i64,
    provider_id: i64,
    content: &str,
) -> Result<String, BrokerError> {
    let sha = format!("{:x}", Sha256::digest(content.as_bytes()));
    conn.execute(
        "INSERT OR IGNORE INTO pact_contents (sha, consumer_id, provider_id, content) VALUES (?1, ?2, ?3, ?4)",
        params![sha, consumer_id, provider_id, content],
    )?;
    conn.execute(
        "INSERT INTO pact_publications (consumer_version_id, provider_id, sha) VALUES (?1, ?2, ?3)
         ON CONFLICT (consumer_version_id, provider_id) DO UPDATE SET sha = excluded.sha",
        params![consumer_version_id, provider_id, sha],
    )?;
    Ok(sha)
}

pub fn pact_content(conn: &Connection, sha: &str) -> Result<Option<String>, BrokerError> {
    Ok(conn.query_row("SELECT content FROM pact_contents WHERE sha = ?1", [sha], |r| r.get(0)).optional()?)
}

pub fn add_verification(
    conn: &Connection,
    sha: &str,
    provider_version_id: i64,
    success: bool,
    build_url: Option<&str>,
    body: &str,
) -> Result<i64, BrokerError> {
    conn.execute(
        "INSERT INTO verifications (sha, provider_version_id, success, build_url, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![sha, provider_version_id, success, build_url, body],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn verification_body(conn: &Connection, id: i64) -> Result<Option<String>, BrokerError> {
    Ok(conn.query_row("SELECT body FROM verifications WHERE id = ?1", [id], |r| r.get(0)).optional()?)
}

pub fn create_environment(
    conn: &Connection,
    name: &str,
    display_name: Option<&str>,
    production: bool,
) -> Result<String, BrokerError> {
    if name.trim().is_empty() || name.contains(char::is_whitespace) {
        return Err(BrokerError::invalid("name", "an environment needs a name without spaces"));
    }
    let taken: bool =
        conn.query_row("SELECT EXISTS(SELECT 1 FROM environments WHERE name = ?1)", [name], |r| r.get(0))?;
    if taken {
        return Err(BrokerError::Conflict {
            field: "name".into(),
            message: format!("an environment named `{name}` exists already"),
        });
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO environments (uuid, name, display_name, production) VALUES (?1, ?2, ?3, ?4)",
        params![uuid, name, display_name, production],
    )?;
    Ok(uuid)
}

/// Records `version_id` as deployed to the environment; the version of the
/// same pacticipant deployed there before (to the same application
/// instance) is no longer current, as the Pact Broker does.
pub fn record_deployment(
    conn: &Connection,
    version_id: i64,
    environment_uuid: &str,
    application_instance: Option<&str>,
) -> Result<String, BrokerError> {
    conn.execute(
        "UPDATE deployed_versions SET currently_deployed = 0
         WHERE environment_uuid = ?1 AND application_instance IS ?2 AND version_id IN (
             SELECT id FROM versions WHERE pacticipant_id = (SELECT pacticipant_id FROM versions WHERE id = ?3))",
        params![environment_uuid, application_instance, version_id],
    )?;
    let uuid = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO deployed_versions (uuid, version_id, environment_uuid, application_instance) VALUES (?1, ?2, ?3, ?4)",
        params![uuid, version_id, environment_uuid, application_instance],
    )?;
    Ok(uuid)
}
