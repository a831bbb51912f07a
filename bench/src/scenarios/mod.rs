//! The scenarios. Their names are a contract: scripts and tables key on them.

mod coro_create;
mod switch;

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
];

pub(crate) fn names() -> Vec<&'static str> {
    ALL.iter().map(|s| s.name).collect()
}
