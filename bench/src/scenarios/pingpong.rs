//! `pingpong`: 100k round trips between two tasks over two channels of
//! capacity 1; per round trip.
//!
//! The pinger sends `i` on one channel and waits for it to come back on
//! the other, checking that it is `i`, for every `i` below the count; the
//! ponger receives as many pings, sends each one back and adds them up.
//! Both sides are spawned on the workers (spindle's ponger fiber by its
//! pinger, see below), and the calling thread joins them and checks the
//! sum. Every run makes its own pair of channels.
//!
//! spindle's fibers use `spindle_sync`'s blocking `send`/`recv` (the fiber
//! suspends, not its worker), its async tasks `send_async`/`recv_async`;
//! tokio `tokio::sync::mpsc::channel(1)`; crossbeam
//! `crossbeam_channel::bounded(1)` between two OS threads. may has no
//! bounded channel: its coroutines use `may::sync::mpsc::channel()`,
//! unbounded, its default, which holds at most one message here anyway,
//! since each side waits for the other's answer before sending again.

use super::runtimes;
use crate::harness::{Config, System, compare};
use spindle_sync::channel::bounded;

const ROUND_TRIPS: usize = 100_000;

/// Checks that the `n` pings one run's ponger answered add up to
/// `0 + 1 + ... + (n - 1)`.
fn check(system: &str, n: usize, sum: u64) {
    let n = n as u64;
    let expected = n * (n - 1) / 2;
    assert_eq!(
        sum, expected,
        "pingpong/{system}: the ponger's pings add up to {sum}, not {expected}"
    );
}

/// Checks what came back for ping `i`.
fn check_pong(system: &str, i: u64, pong: u64) {
    assert_eq!(pong, i, "pingpong/{system}: ping {i} came back as {pong}");
}

pub(crate) fn run(config: &Config) {
    let spindle = runtimes::spindle();
    let tokio = runtimes::tokio();
    runtimes::may();
    compare(
        config,
        "pingpong",
        config.ops(ROUND_TRIPS),
        vec![
            System::new("spindle-fiber", |n| {
                let (ping_tx, ping_rx) = bounded::<u64>(1);
                let (pong_tx, pong_rx) = bounded::<u64>(1);
                // The pinger spawns the ponger, so the pair starts on one
                // worker (as goroutines spawned by one goroutine start on
                // its P); pinned fibers stay where they first ran.
                let pinger = spindle_fiber::spawn(spindle, move || {
                    let ponger = spindle_fiber::spawn(spindle, move || {
                        let mut sum = 0;
                        for _ in 0..n {
                            let ping = ping_rx.recv().expect("spindle ping");
                            pong_tx.send(ping).expect("spindle pong");
                            sum += ping;
                        }
                        sum
                    });
                    for i in 0..n as u64 {
                        ping_tx.send(i).expect("spindle ping");
                        check_pong("spindle-fiber", i, pong_rx.recv().expect("spindle pong"));
                    }
                    spindle_exec::wait(ponger).expect("spindle ponger fiber")
                });
                let sum = pinger.join().expect("spindle pinger fiber");
                check("spindle-fiber", n, sum);
            }),
            System::new("spindle-task", |n| {
                let (ping_tx, ping_rx) = bounded::<u64>(1);
                let (pong_tx, pong_rx) = bounded::<u64>(1);
                let pinger = spindle_exec::spawn(spindle, async move {
                    for i in 0..n as u64 {
                        ping_tx.send_async(i).await.expect("spindle ping");
                        let pong = pong_rx.recv_async().await.expect("spindle pong");
                        check_pong("spindle-task", i, pong);
                    }
                });
                let ponger = spindle_exec::spawn(spindle, async move {
                    let mut sum = 0;
                    for _ in 0..n {
                        let ping = ping_rx.recv_async().await.expect("spindle ping");
                        pong_tx.send_async(ping).await.expect("spindle pong");
                        sum += ping;
                    }
                    sum
                });
                pinger.join().expect("spindle pinger task");
                let sum = ponger.join().expect("spindle ponger task");
                check("spindle-task", n, sum);
            }),
            System::new("tokio", |n| {
                let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
                let pinger = tokio.spawn(async move {
                    for i in 0..n as u64 {
                        ping_tx.send(i).await.expect("tokio ping");
                        let pong = pong_rx.recv().await.expect("tokio pong");
                        check_pong("tokio", i, pong);
                    }
                });
                let ponger = tokio.spawn(async move {
                    let mut sum = 0;
                    for _ in 0..n {
                        let ping = ping_rx.recv().await.expect("tokio ping");
                        pong_tx.send(ping).await.expect("tokio pong");
                        sum += ping;
                    }
                    sum
                });
                let sum = tokio.block_on(async move {
                    pinger.await.expect("tokio pinger task");
                    ponger.await.expect("tokio ponger task")
                });
                check("tokio", n, sum);
            }),
            System::new("may", |n| {
                // Unbounded (may has no bounded channel); see the module docs.
                let (ping_tx, ping_rx) = may::sync::mpsc::channel::<u64>();
                let (pong_tx, pong_rx) = may::sync::mpsc::channel::<u64>();
                let pinger = may::go!(move || {
                    for i in 0..n as u64 {
                        ping_tx.send(i).expect("may ping");
                        check_pong("may", i, pong_rx.recv().expect("may pong"));
                    }
                });
                let ponger = may::go!(move || {
                    let mut sum = 0;
                    for _ in 0..n {
                        let ping = ping_rx.recv().expect("may ping");
                        pong_tx.send(ping).expect("may pong");
                        sum += ping;
                    }
                    sum
                });
                pinger.join().expect("may pinger coroutine");
                let sum = ponger.join().expect("may ponger coroutine");
                check("may", n, sum);
            }),
            System::new("crossbeam", |n| {
                let (ping_tx, ping_rx) = crossbeam_channel::bounded::<u64>(1);
                let (pong_tx, pong_rx) = crossbeam_channel::bounded::<u64>(1);
                let sum = std::thread::scope(|scope| {
                    scope.spawn(move || {
                        for i in 0..n as u64 {
                            ping_tx.send(i).expect("crossbeam ping");
                            check_pong("crossbeam", i, pong_rx.recv().expect("crossbeam pong"));
                        }
                    });
                    let ponger = scope.spawn(move || {
                        let mut sum = 0;
                        for _ in 0..n {
                            let ping = ping_rx.recv().expect("crossbeam ping");
                            pong_tx.send(ping).expect("crossbeam pong");
                            sum += ping;
                        }
                        sum
                    });
                    ponger.join().expect("crossbeam ponger thread")
                });
                check("crossbeam", n, sum);
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
    drop(tokio);
}
