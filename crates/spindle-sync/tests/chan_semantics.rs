//! Channel semantics in the three worlds: FIFO per sender, exactly-once
//! delivery under MPMC stress, disconnection, timeouts, rendezvous.
#![cfg(not(loom))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BLOCKING, World, run_async, run_blocking, scaled};
use spindle_sync::channel::{
    self, Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError,
};

/// The flavours every behaviour is checked on.
fn flavours<T>() -> Vec<(&'static str, Sender<T>, Receiver<T>)> {
    let (a, b) = channel::rendezvous();
    let (c, d) = channel::bounded(1);
    let (e, f) = channel::bounded(7);
    let (g, h) = channel::unbounded();
    vec![
        ("rendezvous", a, b),
        ("bounded(1)", c, d),
        ("bounded(7)", e, f),
        ("unbounded", g, h),
    ]
}

/// One party's end of the channel, handed out once.
enum End<T> {
    Send(Sender<T>),
    Recv(Receiver<T>),
}

/// Hands each party its own end (`senders` senders, then receivers), so
/// the channel disconnects when the sending parties are done.
fn ends<T>(
    tx: Sender<T>,
    rx: Receiver<T>,
    senders: usize,
    parties: usize,
) -> Arc<Mutex<Vec<Option<End<T>>>>> {
    let ends = (0..parties)
        .map(|i| {
            Some(if i < senders {
                End::Send(tx.clone())
            } else {
                End::Recv(rx.clone())
            })
        })
        .collect();
    Arc::new(Mutex::new(ends))
}

fn take_end<T>(ends: &Mutex<Vec<Option<End<T>>>>, i: usize) -> End<T> {
    ends.lock().unwrap()[i]
        .take()
        .expect("each end is taken once")
}

/// Each sender's messages arrive in the order it sent them, and every
/// message arrives exactly once (2 senders, 2 receivers), in every world.
fn check_fifo_and_conservation(world: World, name: &str, tx: Sender<u64>, rx: Receiver<u64>) {
    const SENDERS: usize = 2;
    let per_sender = scaled(20_000) as u64;
    let ends = ends(tx, rx, SENDERS, 4);
    let received: Vec<Vec<u64>> = match world {
        World::Async => run_async(4, move |i| {
            let end = take_end(&ends, i);
            async move {
                let mut got = Vec::new();
                match end {
                    End::Send(tx) => {
                        for n in 0..per_sender {
                            tx.send_async(i as u64 * per_sender + n).await.unwrap();
                        }
                    }
                    End::Recv(rx) => {
                        while let Ok(v) = rx.recv_async().await {
                            got.push(v);
                        }
                    }
                }
                got
            }
        }),
        _ => run_blocking(world, 4, move |i| {
            let mut got = Vec::new();
            match take_end(&ends, i) {
                End::Send(tx) => {
                    for n in 0..per_sender {
                        tx.send(i as u64 * per_sender + n).unwrap();
                    }
                }
                End::Recv(rx) => got.extend(rx.iter()),
            }
            got
        }),
    };
    let mut all = Vec::new();
    for got in &received {
        for sender in 0..SENDERS as u64 {
            let theirs: Vec<u64> = got
                .iter()
                .copied()
                .filter(|v| v / per_sender == sender)
                .collect();
            assert!(
                theirs.windows(2).all(|w| w[0] < w[1]),
                "{world:?} {name}: sender {sender}'s messages out of order"
            );
        }
        all.extend_from_slice(got);
    }
    all.sort_unstable();
    let expected: Vec<u64> = (0..SENDERS as u64 * per_sender).collect();
    assert!(
        all == expected,
        "{world:?} {name}: {} received, {} sent (lost or duplicated)",
        all.len(),
        expected.len()
    );
}

#[test]
fn each_sender_is_fifo_and_every_message_arrives_once() {
    for world in [World::Fibers, World::Threads, World::Async] {
        for (name, tx, rx) in flavours() {
            eprintln!("{world:?} {name}");
            check_fifo_and_conservation(world, name, tx, rx);
        }
    }
}

#[test]
fn buffered_messages_outlive_the_senders() {
    for world in BLOCKING {
        let counts = run_blocking(world, 1, |_| {
            let (tx, rx) = channel::bounded(3);
            for i in 0..3 {
                tx.send(i).unwrap();
            }
            drop(tx);
            let got: Vec<i32> = rx.iter().collect();
            assert_eq!(got, [0, 1, 2]);
            assert_eq!(rx.recv(), Err(RecvError));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            got.len()
        });
        assert_eq!(counts, [3]);
    }
}

#[test]
fn a_blocked_receiver_is_released_when_the_last_sender_goes() {
    for world in BLOCKING {
        let (tx, rx) = channel::bounded::<u8>(1);
        let ends = ends(tx, rx, 1, 2);
        let results = run_blocking(world, 2, move |i| match take_end(&ends, i) {
            End::Recv(rx) => rx.recv(),
            End::Send(tx) => {
                // Let the receiver block first, most of the time.
                std::thread::sleep(Duration::from_millis(20));
                drop(tx);
                Ok(0)
            }
        });
        assert_eq!(results[1], Err(RecvError), "{world:?}");
    }
}

#[test]
fn sends_fail_and_hand_the_message_back_once_receivers_are_gone() {
    let (tx, rx) = channel::bounded(2);
    tx.send(String::from("kept")).unwrap();
    drop(rx);
    assert!(tx.is_disconnected());
    assert_eq!(
        tx.send(String::from("back")),
        Err(SendError(String::from("back")))
    );
    assert_eq!(
        tx.try_send(String::from("again")),
        Err(TrySendError::Disconnected(String::from("again")))
    );
    assert_eq!(
        tx.send_timeout(String::from("late"), Duration::from_millis(1)),
        Err(SendTimeoutError::Disconnected(String::from("late")))
    );
}

#[test]
fn a_blocked_sender_is_released_when_the_last_receiver_goes() {
    for world in BLOCKING {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.send(1).unwrap();
        let tx = Arc::new(tx);
        let rx = Arc::new(Mutex::new(Some(rx)));
        let results = run_blocking(world, 2, move |i| {
            if i == 0 {
                tx.send(2).map_err(SendError::into_inner)
            } else {
                // Let the sender block first, most of the time.
                std::thread::sleep(Duration::from_millis(20));
                rx.lock().unwrap().take();
                Ok(())
            }
        });
        assert_eq!(results[0], Err(2), "{world:?}");
    }
}

#[test]
fn timeouts_expire_and_hand_the_message_back() {
    for world in BLOCKING {
        let results = run_blocking(world, 1, |_| {
            let (tx, rx) = channel::bounded::<u8>(1);
            let start = Instant::now();
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(30)),
                Err(RecvTimeoutError::Timeout)
            );
            tx.send(1).unwrap();
            assert_eq!(
                tx.send_timeout(2, Duration::from_millis(30)),
                Err(SendTimeoutError::Timeout(2))
            );
            assert_eq!(rx.recv_timeout(Duration::from_millis(30)), Ok(1));
            start.elapsed()
        });
        assert!(
            results[0] >= Duration::from_millis(60),
            "{world:?}: timed out early"
        );
    }
}

#[test]
fn rendezvous_send_completes_only_when_taken() {
    for world in BLOCKING {
        let taken = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel::rendezvous::<usize>();
        let rx = Arc::new(rx);
        let tx = Arc::new(tx);
        let seen = Arc::clone(&taken);
        run_blocking(world, 2, move |i| {
            if i == 0 {
                for n in 0..100 {
                    tx.send(n).unwrap();
                    // Whatever we sent has been taken by now.
                    assert!(
                        seen.load(Ordering::SeqCst) >= n,
                        "{world:?}: send returned before the take"
                    );
                }
            } else {
                for n in 0..100 {
                    assert_eq!(rx.recv(), Ok(n));
                    taken.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
}
