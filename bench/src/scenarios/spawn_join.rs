//! `spawn_join`: spawn 100k empty tasks, then join them all; per task.
//!
//! The async systems spawn every task from one root task running on the
//! workers and await the handles there, in spawn order; the calling thread
//! blocks on the root. rayon spawns them in a `scope` (whose body runs on a
//! worker) and the scope's end is the join. Each task returns its index
//! (rayon's writes it to its own slot), and the joiner checks the sum.

use super::runtimes::{self, AsyncExecutor};
use crate::harness::{Config, System, compare};

const TASKS: usize = 100_000;

/// `0 + 1 + ... + (n - 1)`: what the joins of `n` tasks add up to.
fn expected(n: usize) -> usize {
    n * (n - 1) / 2
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
