//! `mpmc`: 2 producers and 2 consumers pass 1M messages over one channel
//! of capacity 1,024; per message.
//!
//! Producer `p` sends its share of the messages `0..n` (the `p`-th half),
//! then one [`END`]; a consumer receives until it gets an `END`, counting
//! and adding up the rest. There are as many `END`s as consumers, and each
//! producer's comes after all of its messages, so the last message of all
//! is an `END`: every message is received before both consumers stop. The
//! calling thread joins everyone and checks that the consumers' counts
//! add up to `n` and their sums to `0 + 1 + ... + (n - 1)`: a lost or
//! duplicated message fails the run instead of being timed. Every run
//! makes its own channel.
//!
//! spindle (`spindle_sync::channel::bounded`), crossbeam, kanal and flume
//! run on four OS threads, with each library's blocking `send`/`recv`.
//! spindle's fibers run the same four sides as fibers on the 2-worker
//! pool, with the same blocking calls (the fiber suspends, not its
//! worker); may as four coroutines, on `may::sync::mpmc::channel()`, which
//! is unbounded (may has no bounded channel): its producers never wait for
//! room.

use super::runtimes;
use crate::harness::{Config, System, compare};
use core::ops::Range;

const MESSAGES: usize = 1_000_000;
const CAPACITY: usize = 1024;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
/// Tells a consumer to stop; never a message (those are below `n`).
const END: u64 = u64::MAX;

const _: () = assert!(PRODUCERS == CONSUMERS, "one END per consumer");

/// What one consumer received: (count, sum).
type Total = (u64, u64);

/// Producer `p`'s share of the messages `0..n`.
fn share(p: usize, n: usize) -> Range<u64> {
    (p * n / PRODUCERS) as u64..((p + 1) * n / PRODUCERS) as u64
}

/// Producer `p`'s side: its share, then one [`END`].
fn produce(p: usize, n: usize, mut send: impl FnMut(u64)) {
    for message in share(p, n) {
        send(message);
    }
    send(END);
}

/// A consumer's side: receives until an [`END`].
fn consume(mut recv: impl FnMut() -> u64) -> Total {
    let (mut count, mut sum) = (0, 0);
    loop {
        let message = recv();
        if message == END {
            return (count, sum);
        }
        count += 1;
        sum += message;
    }
}

/// Panics unless the consumers received each of the `n` messages once.
fn check(system: &str, n: usize, totals: impl IntoIterator<Item = Total>) {
    let (count, sum) = totals
        .into_iter()
        .fold((0, 0), |(count, sum), (c, s)| (count + c, sum + s));
    let n = n as u64;
    assert_eq!(
        count, n,
        "mpmc/{system}: the consumers received {count} messages, the producers sent {n}: \
         messages were lost or duplicated"
    );
    let expected = n * (n - 1) / 2;
    assert_eq!(
        sum, expected,
        "mpmc/{system}: the messages received add up to {sum}, not {expected}: \
         messages were lost or duplicated"
    );
}

/// Runs the producers and consumers on OS threads over `(tx, rx)`, whose
/// library's blocking calls are `send` and `recv`, and checks the result.
fn on_threads<S, R>(
    system: &str,
    n: usize,
    (tx, rx): (S, R),
    send: impl Fn(&S, u64) + Sync,
    recv: impl Fn(&R) -> u64 + Sync,
) where
    S: Clone + Send,
    R: Clone + Send,
{
    let (send, recv) = (&send, &recv);
    let totals: Vec<Total> = std::thread::scope(|scope| {
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            scope.spawn(move || produce(p, n, |message| send(&tx, message)));
        }
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                scope.spawn(move || consume(|| recv(&rx)))
            })
            .collect();
        consumers
            .into_iter()
            .map(|consumer| consumer.join().expect("consumer thread"))
            .collect()
    });
    check(system, n, totals);
}

pub(crate) fn run(config: &Config) {
    let spindle = runtimes::spindle();
    runtimes::may();
    compare(
        config,
        "mpmc",
        config.ops(MESSAGES),
        vec![
            System::new("spindle", |n| {
                on_threads(
                    "spindle",
                    n,
                    spindle_sync::channel::bounded::<u64>(CAPACITY),
                    |tx, message| tx.send(message).expect("spindle send"),
                    |rx| rx.recv().expect("spindle recv"),
                );
            }),
            System::new("crossbeam", |n| {
                on_threads(
                    "crossbeam",
                    n,
                    crossbeam_channel::bounded::<u64>(CAPACITY),
                    |tx, message| tx.send(message).expect("crossbeam send"),
                    |rx| rx.recv().expect("crossbeam recv"),
                );
            }),
            System::new("kanal", |n| {
                on_threads(
                    "kanal",
                    n,
                    kanal::bounded::<u64>(CAPACITY),
                    |tx, message| tx.send(message).expect("kanal send"),
                    |rx| rx.recv().expect("kanal recv"),
                );
            }),
            System::new("flume", |n| {
                on_threads(
                    "flume",
                    n,
                    flume::bounded::<u64>(CAPACITY),
                    |tx, message| tx.send(message).expect("flume send"),
                    |rx| rx.recv().expect("flume recv"),
                );
            }),
            System::new("spindle-fiber", |n| {
                let (tx, rx) = spindle_sync::channel::bounded::<u64>(CAPACITY);
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let tx = tx.clone();
                        spindle_fiber::spawn(spindle, move || {
                            produce(p, n, |message| tx.send(message).expect("spindle send"));
                        })
                    })
                    .collect();
                let consumers: Vec<_> = (0..CONSUMERS)
                    .map(|_| {
                        let rx = rx.clone();
                        spindle_fiber::spawn(spindle, move || {
                            consume(|| rx.recv().expect("spindle recv"))
                        })
                    })
                    .collect();
                for producer in producers {
                    producer.join().expect("spindle producer fiber");
                }
                let totals = consumers
                    .into_iter()
                    .map(|consumer| consumer.join().expect("spindle consumer fiber"));
                check("spindle-fiber", n, totals);
            }),
            System::new("may", |n| {
                // Unbounded (may has no bounded channel); see the module docs.
                let (tx, rx) = may::sync::mpmc::channel::<u64>();
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let tx = tx.clone();
                        may::go!(move || {
                            produce(p, n, |message| tx.send(message).expect("may send"));
                        })
                    })
                    .collect();
                let consumers: Vec<_> = (0..CONSUMERS)
                    .map(|_| {
                        let rx = rx.clone();
                        may::go!(move || consume(|| rx.recv().expect("may recv")))
                    })
                    .collect();
                for producer in producers {
                    producer.join().expect("may producer coroutine");
                }
                let totals = consumers
                    .into_iter()
                    .map(|consumer| consumer.join().expect("may consumer coroutine"));
                check("may", n, totals);
            }),
        ],
    );
    runtimes::shutdown_spindle(spindle);
}
