//! Writes a multi-day synthetic ALB log tree with a chosen number of distinct URLs a day, one
//! day at a time (so the generator's ground truth never holds more than a day), for measuring
//! the retention window (`benches/history.sh`).
//!
//! ```text
//! cargo run --release --example history_corpus -- --out DIR [--days 30]
//!     [--first-day 2026-03-01] [--objects-per-node-per-day 8] [--lines-per-object 85000]
//!     [--long-tail-per-mille 950] [--long-tail-values 100000000]
//! ```
//!
//! Each day uses its own seed (`seed + day index`), so the long tails of different days are
//! (nearly) disjoint: with the defaults a day holds about 1 million distinct URLs and 30 days
//! about 30 million.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{Days, NaiveDate};
use clap::Parser;
use greenlight::synth::{SynthConfig, write_tree};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 30)]
    days: u32,
    #[arg(long, default_value = "2026-03-01")]
    first_day: NaiveDate,
    #[arg(long, default_value_t = 1000)]
    seed: u64,
    #[arg(long, default_value_t = 2)]
    nodes: u32,
    #[arg(long, default_value_t = 8)]
    objects_per_node_per_day: u32,
    #[arg(long, default_value_t = 85_000)]
    lines_per_object: u32,
    #[arg(long, default_value_t = 950)]
    long_tail_per_mille: u32,
    #[arg(long, default_value_t = 100_000_000)]
    long_tail_values: u32,
}

fn main() -> ExitCode {
    let a = Args::parse();
    for i in 0..a.days {
        let cfg = SynthConfig {
            seed: a.seed + u64::from(i),
            first_day: a.first_day + Days::new(u64::from(i)),
            days: 1,
            nodes: a.nodes,
            objects_per_node_per_day: a.objects_per_node_per_day,
            lines_per_object: a.lines_per_object,
            long_tail_per_mille: a.long_tail_per_mille,
            long_tail_values: a.long_tail_values,
            ..SynthConfig::default()
        };
        match write_tree(&a.out, &cfg) {
            Ok(truth) => {
                let distinct: usize = truth.days.values().map(|d| d.list.len()).sum();
                println!("{}: {distinct} distinct replayable URLs", cfg.first_day);
            }
            Err(e) => {
                eprintln!("history_corpus: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
