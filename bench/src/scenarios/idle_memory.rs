//! `idle_memory`: resident bytes per parked task, 100k tasks (may: 20k).
//!
//! Every run of every system is a fresh child process ([`crate::child`]),
//! so that no other system's memory, nor memory another run left with the
//! allocator, is counted. In it, [`parking`] sets the
//! system up and reads the resident set size ([`memory::rss`]), then
//! spawns the tasks from the child's main thread and waits until every one
//! has run once and parked on the shared gate; after 100 ms more, for the
//! workers to go idle, it reads the RSS again. The value is the growth
//! divided by the number of tasks; the median of the runs is reported.
//!
//! Counted, per task: the task itself (an async task's allocation with its
//! future; a coroutine's control block and the pages of its stack it
//! touched; a spindle fiber's task lives on its stack), the runtime's bookkeeping for it, the gate's record of it (a
//! 16-byte waker; may's waiter node; a spindle fiber's waiter lives in its
//! own frame, see `parking::FiberGate`), and the allocator's overhead on
//! all of these. Not counted: the runtime's fixed set-up (threads, queues:
//! started before the baseline) and the handles the spawner keeps (their
//! slots are resident before the baseline too).
//!
//! may parks 20k coroutines (BENCH.md): each has a mapping of its own (a
//! 32 KiB stack under a guard page), and Linux's default
//! `vm.max_map_count` (65530) ends may near 32k of them. `--quick` parks
//! 20k tasks of every system, one run each.

use super::parking::{self, Park};
use crate::child::{self, Entry};
use crate::harness::{Config, Plan, System, interleave};
use crate::memory;
use std::time::Duration;

const TASKS: usize = 100_000;
/// The fewest tasks a run parks, `--quick` too: fewer, and a few pages
/// more or less in the runtime's fixed costs would show.
const MIN_TASKS: usize = 20_000;
const MAY_TASKS: usize = 20_000;

/// How long the workers get to go idle once every task has parked.
const SETTLE: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_secs(60);

/// The systems, each run in a child: `n` is the task count.
pub(crate) const SYSTEMS: &[Entry] = &[
    ("spindle-fiber", |n| measure(n, parking::spindle_fiber)),
    ("spindle-task", |n| measure(n, parking::spindle_task)),
    ("tokio", |n| measure(n, parking::tokio)),
    ("may", |n| measure(n.min(MAY_TASKS), parking::may)),
];

/// Child side: parks `n` tasks with `park` and emits the RSS growth per
/// task, in bytes.
fn measure(n: usize, park: Park) {
    let mut baseline = 0;
    park(n, n, &mut |parked| {
        if parked == 0 {
            baseline = memory::rss();
        } else {
            std::thread::sleep(SETTLE);
            let grown = memory::rss().saturating_sub(baseline);
            child::emit(grown as f64 / parked as f64);
        }
    });
}

pub(crate) fn run(config: &Config) {
    eprintln!("idle_memory: may parks at most {MAY_TASKS} coroutines");
    let plan = Plan {
        unit: "bytes",
        ops: config.ops(TASKS).max(MIN_TASKS),
        runs: config.process_runs,
        warm_up: false,
    };
    let systems = SYSTEMS
        .iter()
        .map(|&(name, _)| System::sampled(name, child::sampled("idle_memory", name, TIMEOUT)))
        .collect();
    interleave("idle_memory", &plan, systems);
}
