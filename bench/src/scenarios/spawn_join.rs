//! `spawn_join`: spawn 100k empty tasks, then join them all; per task.
//!
//! The async systems spawn every task from one root task running on the
//! workers and await the handles there, in spawn order (spindle's fibers
//! the same way, from a root fiber, waiting with `spindle_exec::wait`); the calling thread
//! blocks on the root. rayon spawns them in a `scope` (whose body runs on a
//! worker) and the scope's end is the join. Each task returns its index
//! (rayon's writes it to its own slot), and the joiner checks the sum.
//!
//! may spawns its coroutines from the calling thread and joins them there,
//! in a child process ([`crate::child`]) that times itself after a
//! warm-up. From a coroutine, may queues each new coroutine on its own
//! worker without waking the other, so the 100k pile up unrun, each with
//! its own mapped stack, and may dies near 32k of them on Linux's default
//! `vm.max_map_count` ("failed to alloc sys stack"), or hangs. From a
//! thread, may hands them to both workers in turn, waking them, and they
//! keep up; the child is there in case they ever do not.

use super::runtimes::{self, AsyncExecutor};
use crate::child::{self, Entry};
use crate::harness::{Config, System, compare};
use std::time::Duration;

const TASKS: usize = 100_000;
const TIMEOUT: Duration = Duration::from_secs(60);

/// The systems run in a child: `n` is the task count.
pub(crate) const CHILDREN: &[Entry] = &[("may", |n| child::time(n, run_may))];

/// `0 + 1 + ... + (n - 1)`: what the joins of `n` tasks add up to.
fn expected(n: usize) -> usize {
    n * (n - 1) / 2
}

/// Child side: `n` coroutines spawned and joined from this thread.
fn run_may(n: usize) {
    runtimes::may();
    let handles: Vec<_> = (0..n).map(|i| may::go!(move || i)).collect();
    let mut sum = 0;
    for handle in handles {
        sum += handle.join().expect("may coroutine");
    }
    assert_eq!(sum, expected(n));
}

pub(crate) fn run(config: &Config) {
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    let rayon = runtimes::rayon();
    let async_executor = AsyncExecutor::new();
    let ex = async_executor.ex;
    compare(
        config,
        "spawn_join",
        config.ops(TASKS),
        vec![
            System::new("spindle-fiber", |n| {
                let root = spindle_fiber::spawn(spindle, move || {
                    let handles: Vec<_> = (0..n)
                        .map(|i| spindle_fiber::spawn(spindle, move || i))
                        .collect();
                    let mut sum = 0;
                    for handle in handles {
                        sum += spindle_exec::wait(handle).expect("spindle fiber");
                    }
                    sum
                });
                assert_eq!(root.join().expect("spindle root fiber"), expected(n));
            }),
            System::new("spindle-task", |n| {
                let root = spindle_exec::spawn(spindle, async move {
                    let handles: Vec<_> = (0..n)
                        .map(|i| spindle_exec::spawn(spindle, async move { i }))
                        .collect();
                    let mut sum = 0;
                    for handle in handles {
                        sum += handle.await.expect("spindle task");
                    }
                    sum
                });
                assert_eq!(root.join().expect("spindle root"), expected(n));
            }),
            System::new("tokio", |n| {
                let root = tokio.spawn(async move {
                    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
                    let mut sum = 0;
                    for handle in handles {
                        sum += handle.await.expect("tokio task");
                    }
                    sum
                });
                let sum = tokio.block_on(root).expect("tokio root");
                assert_eq!(sum, expected(n));
            }),
            System::new("rayon", |n| {
                let mut slots = vec![0; n];
                rayon.scope(|scope| {
                    for (i, slot) in slots.iter_mut().enumerate() {
                        scope.spawn(move |_| *slot = i);
                    }
                });
                assert_eq!(slots.iter().sum::<usize>(), expected(n));
            }),
            System::timed("may", child::timed("spawn_join", "may", TIMEOUT)),
            System::new("async-executor", |n| {
                let root = ex.spawn(async move {
                    let tasks: Vec<_> = (0..n).map(|i| ex.spawn(async move { i })).collect();
                    let mut sum = 0;
                    for task in tasks {
                        sum += task.await;
                    }
                    sum
                });
                assert_eq!(futures_lite::future::block_on(root), expected(n));
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
    drop(rayon);
    async_executor.shutdown();
}
