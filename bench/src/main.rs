//! spindle-bench: spindle against the library a user would otherwise pick,
//! side by side in one run.
//!
//! Every claim is a ratio against a peer measured in the same process on
//! the same machine: absolute times on shared machines mean little. Each
//! scenario times spindle and its peers in alternation (after a warm-up
//! round) and reports each one's median. `--quick` shrinks the counts for
//! a CI smoke run.
//!
//! ```text
//! cargo run --release -p spindle-bench -- [--quick] [SCENARIO ...]
//! ```
//!
//! Prints one line per (scenario, system) on stdout:
//! `scenario<TAB>system<TAB>value<TAB>unit`. Progress goes to stderr.

mod harness;
mod scenarios;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut quick = false;
    let mut wanted = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--quick" => quick = true,
            "-h" | "--help" => {
                eprintln!("usage: spindle-bench [--quick] [SCENARIO ...]");
                eprintln!("scenarios: {}", scenarios::names().join(" "));
                return ExitCode::SUCCESS;
            }
            name => wanted.push(name.to_string()),
        }
    }
    let unknown: Vec<_> = wanted
        .iter()
        .filter(|w| !scenarios::names().contains(&w.as_str()))
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "spindle-bench: unknown scenario(s) {unknown:?}; known: {}",
            scenarios::names().join(" ")
        );
        return ExitCode::FAILURE;
    }
    let config = harness::Config::new(quick);
    for scenario in scenarios::ALL {
        if wanted.is_empty() || wanted.iter().any(|w| w == scenario.name) {
            (scenario.run)(&config);
        }
    }
    ExitCode::SUCCESS
}
