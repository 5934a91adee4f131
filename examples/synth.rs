//! Writes a synthetic ALB log tree (see `greenlight::synth`) and prints a one-line summary.
//!
//! ```text
//! cargo run --example synth -- --out DIR [--seed N] [--first-day YYYY-MM-DD] [--days N]
//!     [--nodes N] [--objects-per-node-per-day N] [--lines-per-object N] [--truth FILE]
//!     [--long-tail-per-mille N] [--long-tail-values N] [--fields N]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Parser;
use greenlight::synth::{SynthConfig, write_tree};

#[derive(Parser)]
#[command(about = "Write a deterministic synthetic ALB access-log tree")]
struct Args {
    /// Folder to write into (created; must be empty or absent).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "2026-03-01")]
    first_day: NaiveDate,
    #[arg(long, default_value_t = 1)]
    days: u32,
    #[arg(long, default_value_t = 2)]
    nodes: u32,
    #[arg(long, default_value_t = 4)]
    objects_per_node_per_day: u32,
    #[arg(long, default_value_t = 200)]
    lines_per_object: u32,
    #[arg(long, default_value = "123456789012")]
    account: String,
    #[arg(long, default_value = "eu-west-1")]
    region: String,
    #[arg(long, default_value = "my-alb")]
    lb_name: String,
    #[arg(long, default_value_t = 3)]
    garbage_per_day: u32,
    #[arg(long, default_value_t = 3)]
    lines_across_midnight: u32,
    /// Per mille of kept requests that go to the long tail of URLs.
    #[arg(long, default_value_t = 200)]
    long_tail_per_mille: u32,
    /// Distinct numbers a long-tail URL draws from (three URL shapes each). Small enough for
    /// the volume, the distinct URLs stay the same however many lines are written.
    #[arg(long, default_value_t = 900_000)]
    long_tail_values: u32,
    /// Write every parseable line with this many fields (20-36) instead of a mix of layouts.
    #[arg(long, value_parser = clap::value_parser!(u16).range(20..=36))]
    fields: Option<u16>,
    /// Also write the truth (expected mining results) as JSON to this file.
    #[arg(long)]
    truth: Option<PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = SynthConfig {
        seed: a.seed,
        first_day: a.first_day,
        days: a.days,
        nodes: a.nodes,
        objects_per_node_per_day: a.objects_per_node_per_day,
        lines_per_object: a.lines_per_object,
        account: a.account,
        region: a.region,
        lb_name: a.lb_name,
        garbage_per_day: a.garbage_per_day,
        lines_across_midnight: a.lines_across_midnight,
        long_tail_per_mille: a.long_tail_per_mille,
        long_tail_values: a.long_tail_values,
        fields: a.fields.map(usize::from),
    };
    if let Ok(mut entries) = std::fs::read_dir(&a.out)
        && entries.next().is_some()
    {
        eprintln!(
            "synth: {} is not empty; refusing to mix trees",
            a.out.display()
        );
        return ExitCode::FAILURE;
    }
    let truth = match write_tree(&a.out, &cfg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("synth: writing {}: {e}", a.out.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &a.truth {
        let json = match serde_json::to_string_pretty(&truth.to_json()) {
            Ok(j) => j + "\n",
            Err(e) => {
                eprintln!("synth: rendering truth: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(path, json) {
            eprintln!("synth: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let days: Vec<String> = truth
        .days
        .iter()
        .map(|(d, t)| format!("{d}: {} urls/{} kept", t.list.len(), t.kept_lines))
        .collect();
    println!(
        "synth: wrote {} objects ({} access logs, {} to skip), {} lines to {}; mine {}",
        truth.objects,
        truth.access_log_objects,
        truth.objects - truth.access_log_objects,
        truth.lines,
        a.out.display(),
        days.join(", ")
    );
    ExitCode::SUCCESS
}
