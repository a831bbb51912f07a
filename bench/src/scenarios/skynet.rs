//! `skynet`: the skynet benchmark, a tree of tasks 6 levels deep, 10
//! children per node, whose 1M leaves each return their id and whose
//! nodes return their children's sum; per leaf.
//!
//! Node `(num, size)` spawns its ten children `(num + i * size / 10,
//! size / 10)` and awaits them in order; a leaf (`size == 1`) returns
//! `num`. That is 1,111,111 spawns, and the root checks the sum of the
//! leaf ids, `0 + 1 + ... + 999_999`. `--quick` grows a tree of 100k
//! leaves.
//!
//! spindle spawns every node as a fiber (default stack) from its parent,
//! from a root fiber, and waits for the children with `spindle_exec::wait`;
//! tokio spawns every node as a task from its parent, from a root task on
//! the workers. may spawns every node as a coroutine with `go!` and joins
//! it: its coroutines each map a stack of their own, and a tree this size
//! keeps far more of them alive than Linux's default `vm.max_map_count`
//! allows (near 32k), so may runs in a child process ([`crate::child`]),
//! which times itself after a warm-up and whose crash is reported as
//! `fail`.

use super::runtimes;
use crate::child::{self, Entry};
use crate::harness::{Config, System, compare};
use core::future::Future;
use core::pin::Pin;
use std::time::Duration;

const LEAVES: usize = 1_000_000;
const TIMEOUT: Duration = Duration::from_secs(120);

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// The systems run in a child: `n` is the leaf count.
pub(crate) const CHILDREN: &[Entry] = &[("may", |n| child::time(n, run_may))];

/// The largest power of ten no bigger than `ops` (at least 10): the leaf
/// count of a whole tree.
fn leaves(ops: usize) -> u64 {
    let mut leaves = 10;
    while leaves * 10 <= ops {
        leaves *= 10;
    }
    leaves as u64
}

/// The sum of the leaf ids of a tree of `leaves` leaves.
fn expected(leaves: u64) -> u64 {
    leaves * (leaves - 1) / 2
}

fn skynet_tokio(num: u64, size: u64) -> BoxFuture {
    Box::pin(async move {
        if size == 1 {
            return num;
        }
        let size = size / 10;
        let children: [_; 10] =
            core::array::from_fn(|i| tokio::spawn(skynet_tokio(num + i as u64 * size, size)));
        let mut sum = 0;
        for child in children {
            sum += child.await.expect("tokio task");
        }
        sum
    })
}

/// The same tree on fibers: each node spawns its children as fibers and
/// waits for them in order (the node's fiber suspends meanwhile).
fn skynet_fiber(pool: &'static spindle_exec::StealPool, num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let size = size / 10;
    let children: [_; 10] = core::array::from_fn(|i| {
        spindle_fiber::spawn(pool, move || {
            skynet_fiber(pool, num + i as u64 * size, size)
        })
    });
    children
        .into_iter()
        .map(|child| spindle_exec::wait(child).expect("spindle fiber"))
        .sum()
}

fn skynet_may(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let size = size / 10;
    let children: [_; 10] =
        core::array::from_fn(|i| may::go!(move || skynet_may(num + i as u64 * size, size)));
    children
        .into_iter()
        .map(|child| child.join().expect("may coroutine"))
        .sum()
}

/// Child side: one whole tree for `ops` leaves, on may.
fn run_may(ops: usize) {
    runtimes::may();
    let leaves = leaves(ops);
    let root = may::go!(move || skynet_may(0, leaves));
    assert_eq!(root.join().expect("may root"), expected(leaves));
}

pub(crate) fn run(config: &Config) {
    assert_eq!(expected(leaves(LEAVES)), 499_999_500_000);
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    compare(
        config,
        "skynet",
        leaves(config.ops(LEAVES)) as usize,
        vec![
            System::new("spindle-fiber", |ops| {
                let leaves = leaves(ops);
                let root = spindle_fiber::spawn(spindle, move || skynet_fiber(spindle, 0, leaves));
                assert_eq!(root.join().expect("spindle root fiber"), expected(leaves));
            }),
            System::new("tokio", |ops| {
                let leaves = leaves(ops);
                let root = tokio.spawn(skynet_tokio(0, leaves));
                assert_eq!(tokio.block_on(root).expect("tokio root"), expected(leaves));
            }),
            System::timed("may", child::timed("skynet", "may", TIMEOUT)),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
}
