//! Timing and reporting.
//!
//! The systems of a scenario are timed in alternation (spindle, peer,
//! peer, spindle, ...: each round starts with the next system) after a
//! warm-up round, so that a noisy neighbour slows all of them alike; each
//! reports the median of its runs.

use std::time::Instant;

/// How hard to measure.
pub(crate) struct Config {
    /// Timed runs per (scenario, system); the median is reported.
    pub(crate) runs: usize,
    /// Divides every scenario's operation count (`--quick`).
    pub(crate) scale: usize,
}

impl Config {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Config { runs: 5, scale: 10 }
        } else {
            Config { runs: 21, scale: 1 }
        }
    }

    /// `ops` operations, scaled down under `--quick`.
    pub(crate) fn ops(&self, ops: usize) -> usize {
        (ops / self.scale).max(1)
    }
}

/// One system under test: its name and a function that performs `n`
/// operations.
pub(crate) struct System<'a> {
    name: &'static str,
    run: Box<dyn FnMut(usize) + 'a>,
}

impl<'a> System<'a> {
    pub(crate) fn new(name: &'static str, run: impl FnMut(usize) + 'a) -> Self {
        System {
            name,
            run: Box::new(run),
        }
    }
}

/// Times every system on `ops` operations, interleaved, and prints each
/// one's median time per operation in nanoseconds.
pub(crate) fn compare(config: &Config, scenario: &str, ops: usize, mut systems: Vec<System<'_>>) {
    // For profiling one system alone: SPINDLE_BENCH_ONLY=corosensei.
    if let Ok(only) = std::env::var("SPINDLE_BENCH_ONLY") {
        systems.retain(|s| s.name == only);
    }
    for system in &mut systems {
        (system.run)(ops.div_ceil(10));
    }
    let mut samples = vec![Vec::with_capacity(config.runs); systems.len()];
    // Each round starts with a different system, so none is always first
    // (or always right after the same other one).
    let count = systems.len();
    for round in 0..config.runs {
        for k in 0..count {
            let i = (round + k) % count;
            let start = Instant::now();
            (systems[i].run)(ops);
            samples[i].push(start.elapsed().as_secs_f64() * 1e9 / ops as f64);
        }
    }
    for (system, mut samples) in systems.iter().zip(samples) {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        eprintln!(
            "{scenario:>12} {:<16} median {median:9.2} ns/op  (min {:.2}, max {:.2}, {} runs of {ops})",
            system.name,
            samples[0],
            samples[samples.len() - 1],
            samples.len()
        );
        report(scenario, system.name, &format!("{median:.2}"), "ns/op");
    }
}

/// Prints one result line, the harness's only output on stdout.
pub(crate) fn report(scenario: &str, system: &str, value: &str, unit: &str) {
    println!("{scenario}\t{system}\t{value}\t{unit}");
}
