//! Timing and reporting.
//!
//! The systems of a scenario are timed in alternation (spindle, peer,
//! peer, spindle, ...: each round starts with the next system) after a
//! warm-up round, so that a noisy neighbour slows all of them alike; each
//! reports the median of its runs. A run may also measure something other
//! than time (the memory scenarios) or fail (a peer that crashes its child
//! process): a failed system is reported as `fail`, not dropped.

use std::time::{Duration, Instant};

/// How hard to measure.
pub(crate) struct Config {
    /// Timed runs per (scenario, system); the median is reported.
    pub(crate) runs: usize,
    /// Runs per (scenario, system) of the scenarios that start a fresh
    /// process for every run (memory); the median is reported.
    pub(crate) process_runs: usize,
    /// Divides every scenario's operation count (`--quick`).
    pub(crate) scale: usize,
}

impl Config {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Config {
                runs: 5,
                process_runs: 1,
                scale: 10,
            }
        } else {
            Config {
                runs: 21,
                process_runs: 5,
                scale: 1,
            }
        }
    }

    /// `ops` operations, scaled down under `--quick`.
    pub(crate) fn ops(&self, ops: usize) -> usize {
        (ops / self.scale).max(1)
    }
}

/// One run's value in the scenario's unit, or why the system failed.
pub(crate) type Sample = Result<f64, String>;

/// One system under test: its name and a function that performs `n`
/// operations and measures them.
pub(crate) struct System<'a> {
    name: &'static str,
    run: Box<dyn FnMut(usize) -> Sample + 'a>,
}

impl<'a> System<'a> {
    /// A system the harness times: `run(n)` performs `n` operations.
    pub(crate) fn new(name: &'static str, mut run: impl FnMut(usize) + 'a) -> Self {
        Self::sampled(name, move |n| {
            let start = Instant::now();
            run(n);
            Ok(ns_per_op(start.elapsed(), n))
        })
    }

    /// A system that times itself, e.g. in a child process whose start-up
    /// must not count: `run(n)` returns how long its `n` operations took.
    pub(crate) fn timed(
        name: &'static str,
        mut run: impl FnMut(usize) -> Result<Duration, String> + 'a,
    ) -> Self {
        Self::sampled(name, move |n| run(n).map(|elapsed| ns_per_op(elapsed, n)))
    }

    /// A system whose `run(n)` returns the value itself (bytes, ...).
    pub(crate) fn sampled(name: &'static str, run: impl FnMut(usize) -> Sample + 'a) -> Self {
        System {
            name,
            run: Box::new(run),
        }
    }
}

fn ns_per_op(elapsed: Duration, ops: usize) -> f64 {
    elapsed.as_secs_f64() * 1e9 / ops as f64
}

/// Times every system on `ops` operations, interleaved, after a warm-up
/// round on a tenth of them, and prints each one's median time per
/// operation in nanoseconds.
pub(crate) fn compare(config: &Config, scenario: &str, ops: usize, systems: Vec<System<'_>>) {
    let plan = Plan {
        unit: "ns/op",
        ops,
        runs: config.runs,
        warm_up: true,
    };
    interleave(scenario, &plan, systems);
}

/// How [`interleave`] runs the systems of a scenario.
pub(crate) struct Plan {
    /// The unit of the systems' samples.
    pub(crate) unit: &'static str,
    /// The `n` every run is given.
    pub(crate) ops: usize,
    /// Runs per system; the median is reported.
    pub(crate) runs: usize,
    /// Whether one untimed round on `ops / 10` goes first.
    pub(crate) warm_up: bool,
}

/// Runs every system `plan.runs` times, interleaved, and prints each one's
/// median sample. A system that fails (the warm-up included) is run no
/// more and reported as `fail`, with the reason on stderr.
pub(crate) fn interleave(scenario: &str, plan: &Plan, mut systems: Vec<System<'_>>) {
    systems.retain(|s| selected(s.name));
    let mut failures: Vec<Option<String>> = vec![None; systems.len()];
    if plan.warm_up {
        for (system, failure) in systems.iter_mut().zip(&mut failures) {
            if let Err(reason) = (system.run)(plan.ops.div_ceil(10)) {
                *failure = Some(reason);
            }
        }
    }
    let mut samples = vec![Vec::with_capacity(plan.runs); systems.len()];
    // Each round starts with a different system, so none is always first
    // (or always right after the same other one).
    let count = systems.len();
    for round in 0..plan.runs {
        for k in 0..count {
            let i = (round + k) % count;
            if failures[i].is_some() {
                continue;
            }
            match (systems[i].run)(plan.ops) {
                Ok(sample) => samples[i].push(sample),
                Err(reason) => failures[i] = Some(reason),
            }
        }
    }
    for ((system, mut samples), failure) in systems.iter().zip(samples).zip(failures) {
        if let Some(reason) = failure {
            eprintln!("{scenario:>12} {:<16} FAILED: {reason}", system.name);
            report(scenario, system.name, "fail", plan.unit);
            continue;
        }
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        eprintln!(
            "{scenario:>12} {:<16} median {median:9.2} {}  (min {:.2}, max {:.2}, {} runs of {})",
            system.name,
            plan.unit,
            samples[0],
            samples[samples.len() - 1],
            samples.len(),
            plan.ops
        );
        report(scenario, system.name, &format!("{median:.2}"), plan.unit);
    }
}

/// Whether to run `system`: all are, unless `SPINDLE_BENCH_ONLY` names
/// one (to profile it alone: `SPINDLE_BENCH_ONLY=corosensei`).
pub(crate) fn selected(system: &str) -> bool {
    std::env::var("SPINDLE_BENCH_ONLY").map_or(true, |only| only == system)
}

/// Prints one result line, the harness's only output on stdout.
pub(crate) fn report(scenario: &str, system: &str, value: &str, unit: &str) {
    println!("{scenario}\t{system}\t{value}\t{unit}");
}
