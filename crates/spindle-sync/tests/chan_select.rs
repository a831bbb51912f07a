//! `select!`, `select_biased!` and `Select`: fairness, bias, readiness of
//! disconnected channels, defaults and timeouts, waking, conservation.
#![cfg(not(loom))]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BLOCKING, World, run_async, run_blocking, scaled};
use spindle_sync::channel::{self, Receiver, RecvError, Select, SendError, Sender};
use spindle_sync::{select, select_biased};

/// Chi-square statistic of `counts` against a uniform distribution.
fn chi_square(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// 2 degrees of freedom, p = 0.0001: a fair select exceeds it once in
/// ten thousand runs.
const CHI_SQUARE_2_DOF: f64 = 18.42;

/// Three channels that always have a message: which one each select takes.
fn ready_channels() -> Vec<(Sender<usize>, Receiver<usize>)> {
    (0..3)
        .map(|i| {
            let (tx, rx) = channel::unbounded();
            for _ in 0..8 {
                tx.send(i).unwrap();
            }
            (tx, rx)
        })
        .collect()
}

fn choose_with_macro(channels: &[(Sender<usize>, Receiver<usize>)]) -> usize {
    let [(a_tx, a), (b_tx, b), (c_tx, c)] = channels else {
        unreachable!()
    };
    let (which, tx) = select! {
        recv(a) -> m => (m.unwrap(), a_tx),
        recv(b) -> m => (m.unwrap(), b_tx),
        recv(c) -> m => (m.unwrap(), c_tx),
    };
    tx.send(which).unwrap(); // keep it ready
    which
}

async fn choose_with_builder(channels: &[(Sender<usize>, Receiver<usize>)]) -> usize {
    let mut select = Select::new();
    for (_, rx) in channels {
        select.recv(rx, |m| m.unwrap());
    }
    let which = select.wait_async().await;
    channels[which].0.send(which).unwrap();
    which
}

#[test]
fn select_picks_uniformly_among_ready_cases_in_every_world() {
    let rounds = scaled(6_000).max(600);
    for world in [World::Fibers, World::Threads, World::Async] {
        let counts = match world {
            World::Async => run_async(1, move |_| async move {
                let channels = ready_channels();
                let mut counts = [0; 3];
                for _ in 0..rounds {
                    counts[choose_with_builder(&channels).await] += 1;
                }
                counts
            }),
            _ => run_blocking(world, 1, move |_| {
                let channels = ready_channels();
                let mut counts = [0; 3];
                for _ in 0..rounds {
                    counts[choose_with_macro(&channels)] += 1;
                }
                counts
            }),
        }[0];
        let chi = chi_square(&counts);
        assert!(
            chi < CHI_SQUARE_2_DOF,
            "{world:?}: counts {counts:?} are not uniform (chi-square {chi:.1})"
        );
    }
}

#[test]
fn biased_select_takes_the_first_ready_case_in_order() {
    let channels = ready_channels();
    let [(_, a), (_, b), (_, c)] = &channels[..] else {
        unreachable!()
    };
    for _ in 0..6 {
        let got = select_biased! {
            recv(a) -> m => m.unwrap(),
            recv(b) -> m => m.unwrap(),
            recv(c) -> m => m.unwrap(),
        };
        assert_eq!(got, 0);
    }
    // Two left in `a`, then `b` is the first ready case.
    for _ in 0..3 {
        let expected = if a.is_empty() { 1 } else { 0 };
        let got = select_biased! {
            recv(a) -> m => m.unwrap(),
            recv(b) -> m => m.unwrap(),
            default => 99,
        };
        assert_eq!(got, expected);
    }
    let mut select = Select::new();
    select.biased(true);
    select.recv(c, |m| m.unwrap()).recv(b, |m| m.unwrap());
    assert_eq!(select.wait(), 2);
}

#[test]
fn a_disconnected_channel_is_ready_with_an_error() {
    let (tx, rx) = channel::bounded::<u8>(1);
    let (_keep, idle) = channel::bounded::<u8>(1);
    drop(tx);
    let got = select! {
        recv(idle) -> _m => "idle",
        recv(rx) -> m => { assert_eq!(m, Err(RecvError)); "disconnected" }
    };
    assert_eq!(got, "disconnected");

    let (tx, rx) = channel::bounded::<u8>(0);
    drop(rx);
    let got = select! {
        send(tx, 5) -> outcome => outcome,
        recv(idle) -> _m => Ok(()),
    };
    assert_eq!(got, Err(SendError(5)));
}

#[test]
fn default_runs_when_nothing_is_ready_and_the_timeout_expires() {
    let (_tx, rx) = channel::bounded::<u8>(1);
    let got = select! {
        recv(rx) -> _m => "message",
        default => "nothing",
    };
    assert_eq!(got, "nothing");
    for world in BLOCKING {
        let (_tx, rx) = channel::bounded::<u8>(1);
        let rx = Arc::new(rx);
        let waited = run_blocking(world, 1, move |_| {
            let start = Instant::now();
            let got = select! {
                recv(rx) -> _m => false,
                default(Duration::from_millis(30)) => true,
            };
            assert!(got, "{world:?}: nothing was sent");
            start.elapsed()
        });
        assert!(
            waited[0] >= Duration::from_millis(30),
            "{world:?}: gave up early"
        );
    }
}

#[test]
fn a_waiting_select_wakes_for_a_later_send_or_room() {
    for world in BLOCKING {
        let (a_tx, a) = channel::bounded::<u32>(1);
        let (b_tx, b) = channel::bounded::<u32>(1);
        let (full_tx, full_rx) = channel::bounded::<u32>(1);
        full_tx.send(0).unwrap();
        let ends = Arc::new(Mutex::new(Some((a, b, full_tx))));
        let results = run_blocking(world, 2, move |i| {
            if i == 0 {
                let (a, b, full_tx) = ends.lock().unwrap().take().unwrap();
                let mut got = Vec::new();
                // First: a receive that waits for `b`'s message.
                got.push(select! {
                    recv(a) -> m => m.unwrap(),
                    recv(b) -> m => m.unwrap() + 100,
                });
                // Then: a send that waits for room.
                got.push(select! {
                    send(full_tx, 9) -> r => { r.unwrap(); 1000 },
                    recv(a) -> m => m.unwrap(),
                });
                got
            } else {
                std::thread::sleep(Duration::from_millis(10));
                b_tx.send(5).unwrap();
                std::thread::sleep(Duration::from_millis(10));
                assert_eq!(full_rx.recv(), Ok(0));
                assert_eq!(full_rx.recv(), Ok(9));
                let _keep_a_open = &a_tx;
                Vec::new()
            }
        });
        assert_eq!(results[0], [105, 1000], "{world:?}");
    }
}

/// A select over the receivers still `open`, answering which one and what
/// it got.
fn select_open<'a>(
    receivers: &'a [Receiver<usize>],
    open: &[bool],
) -> Select<'a, (usize, Result<usize, RecvError>)> {
    let mut select = Select::new();
    for (which, rx) in receivers.iter().enumerate().filter(|&(w, _)| open[w]) {
        select.recv(rx, move |m| (which, m));
    }
    select
}

#[test]
fn selects_receive_every_message_exactly_once() {
    const CHANNELS: usize = 3;
    let per_channel = scaled(5_000);
    for world in [World::Fibers, World::Threads, World::Async] {
        let pairs: Vec<_> = (0..CHANNELS)
            .map(|_| channel::bounded::<usize>(2))
            .collect();
        let senders: Vec<Sender<usize>> = pairs.iter().map(|(tx, _)| tx.clone()).collect();
        let receivers: Arc<Vec<Receiver<usize>>> =
            Arc::new(pairs.into_iter().map(|(_, rx)| rx).collect());
        let senders = Arc::new(Mutex::new(
            senders.into_iter().map(Some).collect::<Vec<_>>(),
        ));
        let (async_senders, async_receivers) = (Arc::clone(&senders), Arc::clone(&receivers));
        // Parties 0..3 send on their channel; parties 3..5 select over all.
        let body = move |i: usize| -> Vec<usize> {
            if i < CHANNELS {
                let tx = senders.lock().unwrap()[i].take().unwrap();
                for n in 0..per_channel {
                    tx.send(i * per_channel + n).unwrap();
                }
                Vec::new()
            } else {
                let mut got = Vec::new();
                let mut open = [true; CHANNELS];
                // A disconnected channel stays ready: leave it out of the
                // next select, or the select would pick it for ever.
                while open.iter().any(|&o| o) {
                    match select_open(&receivers, &open).wait() {
                        (_, Ok(m)) => got.push(m),
                        (which, Err(RecvError)) => open[which] = false,
                    }
                }
                got
            }
        };
        let received: Vec<Vec<usize>> = match world {
            World::Async => run_async(CHANNELS + 2, move |i| {
                let (senders, receivers) =
                    (Arc::clone(&async_senders), Arc::clone(&async_receivers));
                async move {
                    if i < CHANNELS {
                        let tx = senders.lock().unwrap()[i].take().unwrap();
                        for n in 0..per_channel {
                            tx.send_async(i * per_channel + n).await.unwrap();
                        }
                        return Vec::new();
                    }
                    let mut got = Vec::new();
                    let mut open = [true; CHANNELS];
                    while open.iter().any(|&o| o) {
                        match select_open(&receivers, &open).wait_async().await {
                            (_, Ok(m)) => got.push(m),
                            (which, Err(RecvError)) => open[which] = false,
                        }
                    }
                    got
                }
            }),
            _ => run_blocking(world, CHANNELS + 2, body),
        };
        let mut all: Vec<usize> = received.into_iter().flatten().collect();
        let unique: HashSet<usize> = all.iter().copied().collect();
        assert_eq!(
            unique.len(),
            all.len(),
            "{world:?}: a message was received twice"
        );
        all.sort_unstable();
        assert_eq!(
            all,
            (0..CHANNELS * per_channel).collect::<Vec<_>>(),
            "{world:?}: messages lost"
        );
    }
}
