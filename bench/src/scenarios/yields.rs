//! `yield`: 1,000 tasks each yield 1,000 times; per yield.
//!
//! A yield is one trip through the scheduler: the task wakes itself,
//! returns `Pending`, is queued again and polled again. spindle uses the
//! bench's [`yield_now`](super::runtimes::yield_now) (wake, then
//! `Pending` once), tokio its own `tokio::task::yield_now()`, may its
//! `may::coroutine::yield_now()` (the coroutine switches out and is queued
//! again), spindle's fibers `spindle_fiber::yield_now()` (the fiber
//! switches out, and its task is queued again). One root task (a coroutine for may) spawns the tasks and joins
//! them; each returns how often it yielded, and the root checks the total.

use super::runtimes;
use crate::harness::{Config, System, compare};

const TASKS: usize = 1_000;
const YIELDS: usize = 1_000;

/// `n` yields split over the tasks: (tasks, yields per task). `--quick`
/// keeps the 1,000 tasks and yields fewer times each.
fn split(n: usize) -> (usize, usize) {
    let tasks = TASKS.min(n);
    (tasks, n / tasks)
}

pub(crate) fn run(config: &Config) {
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    runtimes::may();
    let ops = config.ops(TASKS * YIELDS);
    assert_eq!(ops % TASKS.min(ops), 0, "whole yields per task");
    compare(
        config,
        "yield",
        ops,
        vec![
            System::new("spindle-fiber", |n| {
                let (tasks, yields) = split(n);
                let root = spindle_fiber::spawn(spindle, move || {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            spindle_fiber::spawn(spindle, move || {
                                for _ in 0..yields {
                                    spindle_fiber::yield_now();
                                }
                                yields
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for handle in handles {
                        total += spindle_exec::wait(handle).expect("spindle fiber");
                    }
                    total
                });
                assert_eq!(root.join().expect("spindle root fiber"), tasks * yields);
            }),
            System::new("spindle-task", |n| {
                let (tasks, yields) = split(n);
                let root = spindle_exec::spawn(spindle, async move {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            spindle_exec::spawn(spindle, async move {
                                for _ in 0..yields {
                                    runtimes::yield_now().await;
                                }
                                yields
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for handle in handles {
                        total += handle.await.expect("spindle task");
                    }
                    total
                });
                assert_eq!(root.join().expect("spindle root"), tasks * yields);
            }),
            System::new("tokio", |n| {
                let (tasks, yields) = split(n);
                let root = tokio.spawn(async move {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            tokio::spawn(async move {
                                for _ in 0..yields {
                                    tokio::task::yield_now().await;
                                }
                                yields
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for handle in handles {
                        total += handle.await.expect("tokio task");
                    }
                    total
                });
                let total = tokio.block_on(root).expect("tokio root");
                assert_eq!(total, tasks * yields);
            }),
            System::new("may", |n| {
                let (tasks, yields) = split(n);
                let root = may::go!(move || {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            may::go!(move || {
                                for _ in 0..yields {
                                    may::coroutine::yield_now();
                                }
                                yields
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for handle in handles {
                        total += handle.join().expect("may coroutine");
                    }
                    total
                });
                assert_eq!(root.join().expect("may root"), tasks * yields);
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
}
