//! The scenarios. Their names are a contract: scripts and tables key on them.

mod coro_create;
mod fib25;
mod runtimes;
mod spawn_join;
mod switch;
mod yields;

use crate::harness::Config;

pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) run: fn(&Config),
}

pub(crate) const ALL: &[Scenario] = &[
    Scenario {
        name: "switch",
        run: switch::run,
    },
    Scenario {
        name: "coro_create",
        run: coro_create::run,
    },
    Scenario {
        name: "spawn_join",
        run: spawn_join::run,
    },
    Scenario {
        name: "yield",
        run: yields::run,
    },
    Scenario {
        name: "fib25",
        run: fib25::run,
    },
];

pub(crate) fn names() -> Vec<&'static str> {
    ALL.iter().map(|s| s.name).collect()
}
