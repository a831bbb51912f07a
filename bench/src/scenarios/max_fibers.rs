//! `max_fibers`: how many parked fibers one process holds, up to 1M, and
//! the resident bytes per fiber at that count.
//!
//! Each system runs once, in a child of its own ([`crate::child`]): it
//! parks fibers on one shared gate, a
//! thousand at a time ([`parking`]). After each thousand,
//! once all have parked, the child prints how many are parked and how far
//! its resident set ([`memory::rss`]) has grown since before the first.
//! Its last such line is the result, whether the child then reached the
//! limit and ended clean or died trying (running out of stacks usually
//! ends a process): two lines, `COUNT fibers` and `BYTES bytes/fiber`.
//! A death is told on stderr with its reason; a child that dies before
//! parking its first thousand reports `fail` on both lines.
//!
//! spindle's fibers use 16 KiB stacks here (the smallest class): past
//! the mapping budget (about 28k guarded stacks) the pool carves them from
//! slabs without a guard page each, canary-checked.
//!
//! may maps every coroutine stack on its own, under a guard page, which
//! costs two of the kernel's memory maps: it stops near 32k on Linux's
//! default `vm.max_map_count` (65530), "failed to alloc sys stack".
//! `--quick` stops at 100k.

use super::parking::{self, Park};
use crate::child::{self, Entry};
use crate::harness::{Config, report, selected};
use crate::memory;
use std::time::Duration;

const LIMIT: usize = 1_000_000;
const BATCH: usize = 1_000;
/// A million fibers take seconds to park, not minutes.
const TIMEOUT: Duration = Duration::from_secs(300);

/// The systems, each run in a child: `n` is the most fibers to park.
pub(crate) const SYSTEMS: &[Entry] = &[
    ("spindle-fiber", |n| hold(n, parking::spindle_fiber_small)),
    ("may", |n| hold(n, parking::may)),
];

/// Child side: parks up to `n` fibers with `park`, emitting
/// `COUNT<TAB>BYTES` (fibers parked, RSS growth) after each batch.
fn hold(n: usize, park: Park) {
    let mut baseline = 0;
    park(n, BATCH, &mut |parked| {
        if parked == 0 {
            baseline = memory::rss();
        } else {
            let grown = memory::rss().saturating_sub(baseline);
            child::emit(format_args!("{parked}\t{grown}"));
        }
    });
}

pub(crate) fn run(config: &Config) {
    let limit = config.ops(LIMIT);
    for &(name, _) in SYSTEMS.iter().filter(|(name, _)| selected(name)) {
        let outcome = child::run("max_fibers", name, limit, TIMEOUT);
        let last = outcome.lines.last().and_then(|line| {
            let (count, grown) = line.split_once('\t')?;
            Some((count.parse::<usize>().ok()?, grown.parse::<usize>().ok()?))
        });
        let Some((count, grown)) = last else {
            let reason = outcome.failure.as_deref().unwrap_or("it reported no count");
            eprintln!("{:>12} {name:<16} FAILED: {reason}", "max_fibers");
            report("max_fibers", name, "fail", "fibers");
            report("max_fibers", name, "fail", "bytes/fiber");
            continue;
        };
        let per_fiber = grown as f64 / count as f64;
        eprintln!(
            "{:>12} {name:<16} {count} parked of {limit}, {per_fiber:.2} bytes each",
            "max_fibers"
        );
        if let Some(reason) = outcome.failure {
            eprintln!("{:>12} {name:<16} died after {count} parked: {reason}", "");
        }
        report("max_fibers", name, &count.to_string(), "fibers");
        report(
            "max_fibers",
            name,
            &format!("{per_fiber:.2}"),
            "bytes/fiber",
        );
    }
}
