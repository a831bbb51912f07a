//! `fib25`: recursive fib(25) with one spawn per call that recurses
//! (121,392 spawns); per spawn.
//!
//! Shaped like `rayon::join(a, b)`, which queues `b` for a thief and runs
//! `a` itself: each call with `n >= 2` spawns `fib(n - 2)` as a task,
//! computes `fib(n - 1)` inline, then awaits the task. So every system
//! makes the same 121,392 spawns, one per internal node of the call tree.
//! The async systems box the recursive future (`Box::pin`) and start from
//! a root task spawned on the workers; fibers recurse on their own stacks
//! from a root fiber; rayon starts inside `install`.
//! `--quick` computes a smaller fib. Every result is checked.

use super::runtimes;
use crate::harness::{Config, System, compare};
use core::future::Future;
use core::pin::Pin;

const N: u32 = 25;

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// Spawns made by `fib(n)`: one per call with `n >= 2`, i.e. fib(n + 1) - 1.
fn spawns(n: u32) -> usize {
    let (mut a, mut b) = (0_usize, 1_usize);
    for _ in 0..=n {
        (a, b) = (b, a + b);
    }
    a - 1
}

/// The largest `n` whose fib makes at most `ops` spawns (at least 2).
fn depth(ops: usize) -> u32 {
    (2..=N)
        .take_while(|&n| spawns(n) <= ops)
        .last()
        .unwrap_or(2)
}

/// fib(n), iteratively: the answer to check against.
fn fib_expected(n: u32) -> u64 {
    let (mut a, mut b) = (0_u64, 1_u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

fn fib_spindle(pool: &'static spindle_exec::StealPool, n: u32) -> BoxFuture {
    Box::pin(async move {
        if n < 2 {
            return u64::from(n);
        }
        let b = spindle_exec::spawn(pool, fib_spindle(pool, n - 2));
        let a = fib_spindle(pool, n - 1).await;
        a + b.await.expect("spindle task")
    })
}

/// The same shape on fibers: spawn `fib(n - 2)`, recurse into `fib(n - 1)`
/// on this fiber's own stack, then wait for the spawned one (the fiber
/// suspends; its worker runs others meanwhile).
fn fib_fiber(pool: &'static spindle_exec::StealPool, n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let b = spindle_fiber::spawn(pool, move || fib_fiber(pool, n - 2));
    let a = fib_fiber(pool, n - 1);
    a + spindle_exec::wait(b).expect("spindle fiber")
}

fn fib_tokio(n: u32) -> BoxFuture {
    Box::pin(async move {
        if n < 2 {
            return u64::from(n);
        }
        let b = tokio::spawn(fib_tokio(n - 2));
        let a = fib_tokio(n - 1).await;
        a + b.await.expect("tokio task")
    })
}

fn fib_rayon(n: u32) -> u64 {
    if n < 2 {
        return u64::from(n);
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

pub(crate) fn run(config: &Config) {
    assert_eq!(spawns(N), 121_392);
    assert_eq!(fib_expected(N), 75_025);
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    let rayon = runtimes::rayon();
    // The timed runs compute fib(depth) whole: their op count is its spawns.
    let ops = spawns(depth(config.ops(spawns(N))));
    compare(
        config,
        "fib25",
        ops,
        vec![
            System::new("spindle-fiber", |ops| {
                let n = depth(ops);
                let root = spindle_fiber::spawn(spindle, move || fib_fiber(spindle, n));
                assert_eq!(root.join().expect("spindle root fiber"), fib_expected(n));
            }),
            System::new("spindle-task", |ops| {
                let n = depth(ops);
                let root = spindle_exec::spawn(spindle, fib_spindle(spindle, n));
                assert_eq!(root.join().expect("spindle root"), fib_expected(n));
            }),
            System::new("tokio", |ops| {
                let n = depth(ops);
                let root = tokio.spawn(fib_tokio(n));
                assert_eq!(tokio.block_on(root).expect("tokio root"), fib_expected(n));
            }),
            System::new("rayon", |ops| {
                let n = depth(ops);
                assert_eq!(rayon.install(|| fib_rayon(n)), fib_expected(n));
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
    drop(rayon);
}
