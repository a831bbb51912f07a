//! The scenarios. Their names are a contract: scripts and tables key on them.

mod coro_create;
mod fib25;
mod idle_memory;
mod max_fibers;
mod mpmc;
mod mutex;
mod parking;
mod pingpong;
mod runtimes;
mod skynet;
mod spawn_join;
mod switch;
mod yields;

use crate::child::Entry;
use crate::harness::Config;

pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) run: fn(&Config),
    /// The systems it runs in child processes, by name ([`crate::child`]).
    pub(crate) children: &'static [Entry],
}

pub(crate) const ALL: &[Scenario] = &[
    Scenario {
        name: "switch",
        run: switch::run,
        children: &[],
    },
    Scenario {
        name: "coro_create",
        run: coro_create::run,
        children: &[],
    },
    Scenario {
        name: "spawn_join",
        run: spawn_join::run,
        children: spawn_join::CHILDREN,
    },
    Scenario {
        name: "yield",
        run: yields::run,
        children: &[],
    },
    Scenario {
        name: "pingpong",
        run: pingpong::run,
        children: &[],
    },
    Scenario {
        name: "fib25",
        run: fib25::run,
        children: &[],
    },
    Scenario {
        name: "skynet",
        run: skynet::run,
        children: skynet::CHILDREN,
    },
    Scenario {
        name: "mpmc",
        run: mpmc::run,
        children: &[],
    },
    Scenario {
        name: "mutex",
        run: mutex::run,
        children: &[],
    },
    Scenario {
        name: "idle_memory",
        run: idle_memory::run,
        children: idle_memory::SYSTEMS,
    },
    Scenario {
        name: "max_fibers",
        run: max_fibers::run,
        children: max_fibers::SYSTEMS,
    },
];

pub(crate) fn names() -> Vec<&'static str> {
    ALL.iter().map(|s| s.name).collect()
}

/// The child-process side of `scenario`'s `system`, if it has one.
pub(crate) fn child(scenario: &str, system: &str) -> Option<fn(usize)> {
    let scenario = ALL.iter().find(|s| s.name == scenario)?;
    let &(_, run) = scenario.children.iter().find(|(name, _)| *name == system)?;
    Some(run)
}
