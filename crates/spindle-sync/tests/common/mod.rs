//! Running the same test in the three worlds every primitive serves:
//! fibers, plain threads and async tasks, each bounded in time.
#![allow(dead_code, unreachable_pub, unused_imports)] // each test file uses a part of it

use std::future::Future;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use spindle_exec::{StealPool, spawn, wait};

mod faults;
mod wakers;

pub use faults::{EveryOther, install_faults};
pub use wakers::{
    Counter, Manual, OnWake, counting_waker, newcomer_between_wake_rounds_waits_for_the_next,
    noop_waker, on_wake, poll,
};

/// Long enough for any healthy run on a loaded CI machine; a lost wake-up
/// hangs for ever instead.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Workers of the pools the fiber and async worlds run on.
pub const WORKERS: usize = 2;

/// Who runs the parties of a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// Fibers on a two-worker `StealPool`, blocking calls.
    Fibers,
    /// One OS thread per party, blocking calls.
    Threads,
    /// Async tasks on a two-worker `StealPool`, `_async` futures.
    Async,
}

/// The blocking worlds.
pub const BLOCKING: [World; 2] = [World::Fibers, World::Threads];

/// Divides a stress count for slow runs (sanitizers, emulators, Miri).
pub fn scaled(count: usize) -> usize {
    let divisor = std::env::var("SPINDLE_STRESS_DIVISOR")
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    (count / divisor).max(1)
}

/// Runs `f` on a helper thread and fails the test if it does not finish
/// within [`TIMEOUT`].
pub fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("{what}: not done in {TIMEOUT:?} (lost wake-up?)"))
}

/// Runs `parties` calls `body(i)` concurrently in a blocking `world`
/// (fibers or threads), and returns their results in order. Panics in a
/// party fail the test.
pub fn run_blocking<T, F>(world: World, parties: usize, body: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> T + Send + Sync + 'static,
{
    let body = Arc::new(body);
    bounded(&format!("{world:?}"), move || match world {
        World::Fibers => {
            let pool = StealPool::new(WORKERS).unwrap();
            let fibers: Vec<_> = (0..parties)
                .map(|i| {
                    let body = Arc::clone(&body);
                    spindle_fiber::spawn(&pool, move || body(i))
                })
                .collect();
            fibers.into_iter().map(|f| wait(f).unwrap()).collect()
        }
        World::Threads => {
            let threads: Vec<_> = (0..parties)
                .map(|i| {
                    let body = Arc::clone(&body);
                    thread::spawn(move || body(i))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        }
        World::Async => panic!("run_blocking runs fibers or threads; use run_async"),
    })
}

/// Runs `first(a)` and `second(b)` as two async tasks on a two-worker
/// pool, each owning its value, and returns both outputs.
pub fn run_async_pair<A, B, FA, FB>(
    a: A,
    b: B,
    first: impl FnOnce(A) -> FA,
    second: impl FnOnce(B) -> FB,
) -> (FA::Output, FB::Output)
where
    FA: Future + Send + 'static,
    FB: Future + Send + 'static,
    FA::Output: Send + 'static,
    FB::Output: Send + 'static,
{
    let (first, second) = (first(a), second(b));
    bounded("async", move || {
        let pool = StealPool::new(WORKERS).unwrap();
        let first = spawn(&pool, first);
        let second = spawn(&pool, second);
        (wait(first).unwrap(), wait(second).unwrap())
    })
}

/// Runs `parties` async tasks `body(i)` on a two-worker pool and returns
/// their results in order.
pub fn run_async<T, F, Fut>(parties: usize, body: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    bounded("async", move || {
        let pool = StealPool::new(WORKERS).unwrap();
        let tasks: Vec<_> = (0..parties).map(|i| spawn(&pool, body(i))).collect();
        tasks.into_iter().map(|t| wait(t).unwrap()).collect()
    })
}
