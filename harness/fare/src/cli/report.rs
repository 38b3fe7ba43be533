//! `fare report merge`: the reports of a partitioned run (`fare e2e
//! --partition`, one per CI runner) made one, as an unpartitioned run would
//! have written it; exit 2 if two inputs hold the same scenario.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::merge;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Merge the JUnit files (`--junit OUT`) or the run records (`--record
    /// OUT`) that the partitions of one run wrote into one; inputs that
    /// hold the same scenario are refused.
    Merge(MergeArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("output").required(true).args(["junit", "record"])))]
pub struct MergeArgs {
    /// Merge JUnit XML (each partition's `fare e2e --junit FILE`) into OUT:
    /// the same tests, failures, errors and skipped as the whole run, its
    /// time the sum of the partitions'.
    #[arg(long, value_name = "OUT")]
    pub junit: Option<PathBuf>,
    /// Merge run records (each partition's `fare e2e --record FILE`) into
    /// OUT, for `fare contracts coverage --record OUT`.
    #[arg(long, value_name = "OUT")]
    pub record: Option<PathBuf>,
    /// The partitions' files, one per partition.
    #[arg(value_name = "IN", required = true)]
    pub inputs: Vec<PathBuf>,
}

pub fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let ReportCommand::Merge(args) = &args.command;
    let n = args.inputs.len();
    // Each message already says what its sources say: once is enough.
    let said_once = |e: merge::MergeError| anyhow::anyhow!(kit::error_chain(&e));
    if let Some(out) = &args.junit {
        let merged = merge::junit::merge_files(&args.inputs).map_err(said_once)?;
        super::e2e::write(out, &merged.render())?;
        let t = merged.totals();
        let time = t.time_ms.map(|ms| format!(" in {:.1}s", ms as f64 / 1000.0)).unwrap_or_default();
        println!(
            "{}: {} tests, {} failures, {} errors, {} skipped{time}, from {n} files",
            out.display(),
            t.tests,
            t.failures,
            t.errors,
            t.skipped
        );
    }
    if let Some(out) = &args.record {
        let merged = merge::record::merge_files(&args.inputs).map_err(said_once)?;
        merged.write(out).map_err(|e| anyhow::anyhow!(kit::error_chain(&e)))?;
        println!(
            "{}: {} scenarios, {} events, {} spans, from {n} records",
            out.display(),
            merged.scenarios.len(),
            merged.events.len(),
            merged.spans.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::Cli;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from([&["fare", "report", "merge"], args].concat())
    }

    #[test]
    fn merge_takes_one_output_and_the_partitions_files() {
        assert!(parse(&["--junit", "out.xml", "1.xml", "2.xml"]).is_ok());
        assert!(parse(&["--record", "out.json", "1.json"]).is_ok());
        assert!(parse(&["1.xml", "2.xml"]).is_err(), "no output");
        assert!(parse(&["--junit", "out.xml"]).is_err(), "no input");
        assert!(parse(&["--junit", "out.xml", "--record", "out.json", "1.xml"]).is_err(), "one kind at a time");
    }
}
