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
//! `scenario<TAB>system<TAB>value<TAB>unit` (`max_fibers` prints two per
//! system, one per unit). Progress goes to stderr. A system that fails
//! prints `fail` as its value, the reason on stderr.
//!
//! Systems that may crash, and memory measurements, run in child processes
//! of this same binary ([`child`]): `spindle-bench --child SCENARIO SYSTEM
//! N`, for the harness's own use.

mod child;
mod harness;
mod memory;
mod scenarios;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(child::FLAG) {
        return run_child(&args[1..]);
    }
    let mut quick = false;
    let mut wanted = Vec::new();
    for arg in args {
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

/// `--child SCENARIO SYSTEM N`: runs that system's child side on `N`.
fn run_child(args: &[String]) -> ExitCode {
    let [scenario, system, n] = args else {
        eprintln!("usage: spindle-bench {} SCENARIO SYSTEM N", child::FLAG);
        return ExitCode::FAILURE;
    };
    let Some(run) = scenarios::child(scenario, system) else {
        eprintln!("spindle-bench: no child system {scenario}/{system}");
        return ExitCode::FAILURE;
    };
    let Ok(n) = n.parse() else {
        eprintln!("spindle-bench: N must be a count, not {n:?}");
        return ExitCode::FAILURE;
    };
    child::set_panic_hook();
    run(n);
    ExitCode::SUCCESS
}
