//! The consumer or provider version a build publishes, its branch and its
//! build URL, read as Pact tools read them: from the CI's variables first
//! (GitHub Actions, GitLab CI, Buildkite, Jenkins, CircleCI), then from git.
//! Flags override all of it.

use std::path::Path;
use std::process::Command;

/// What a build knows about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: Option<String>,
    pub branch: Option<String>,
    pub build_url: Option<String>,
}

/// From the environment, then from git in `dir`.
pub fn detect(dir: &Path) -> BuildInfo {
    let from_ci = from_env(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
    BuildInfo {
        version: from_ci.version.or_else(|| git(dir, &["rev-parse", "HEAD"])),
        branch: from_ci.branch.or_else(|| git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD")),
        build_url: from_ci.build_url,
    }
}

/// From CI variables alone, looked up through `var`.
pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> BuildInfo {
    let first = |names: &[&str]| names.iter().find_map(|n| var(n));
    let github_run = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        (Some(server), Some(repo), Some(run)) => Some(format!("{server}/{repo}/actions/runs/{run}")),
        _ => None,
    };
    BuildInfo {
        version: first(&["GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT"]),
        // On a pull request GitHub's REF_NAME is `N/merge`; HEAD_REF is the branch.
        branch: first(&[
            "GITHUB_HEAD_REF",
            "GITHUB_REF_NAME",
            "CI_COMMIT_REF_NAME",
            "BUILDKITE_BRANCH",
            "CIRCLE_BRANCH",
            "GIT_BRANCH",
        ]),
        build_url: github_run
            .or_else(|| first(&["CI_JOB_URL", "BUILDKITE_BUILD_URL", "CIRCLE_BUILD_URL", "BUILD_URL"])),
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_actions_gives_the_pull_requests_branch_and_the_runs_url() {
        let vars = [
            ("GITHUB_SHA", "abc123"),
            ("GITHUB_HEAD_REF", "feature/x"),
            ("GITHUB_REF_NAME", "7/merge"),
            ("GITHUB_SERVER_URL", "https://github.example"),
            ("GITHUB_REPOSITORY", "org/fare"),
            ("GITHUB_RUN_ID", "42"),
        ];
        let var = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string());
        let info = from_env(&var);
        assert_eq!(info.version.as_deref(), Some("abc123"));
        assert_eq!(info.branch.as_deref(), Some("feature/x"));
        assert_eq!(info.build_url.as_deref(), Some("https://github.example/org/fare/actions/runs/42"));
    }

    #[test]
    fn without_ci_variables_nothing_is_guessed() {
        assert_eq!(from_env(&|_| None), BuildInfo::default());
    }
}
