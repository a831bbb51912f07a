//! Loom models of the channel (`src/channel/chan.rs`, `ring.rs`): hand-offs
//! into a waiting receiver's node, a dropped receive giving its message
//! back, a woken sender passing its wake on, disconnection waking waiters,
//! and the lock-free ring: its fast path racing waiters that close it (each
//! of the two `SeqCst` fences is needed: without either, a model
//! deadlocks), senders and a receiver across a lap, a disconnection.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom
//! LOOM_MAX_PREEMPTIONS=3 cargo test -p spindle-sync --release --test
//! loom_channel`
#![cfg(loom)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::atomic::AtomicBool;
use loom::sync::atomic::Ordering::SeqCst;
use loom::thread;
use spindle_sync::channel::{self, Receiver, RecvError, Sender, TryRecvError};

/// Wakes a loom thread parked in [`block_on`]: sets its flag, then
/// unparks it.
struct Unpark {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.thread.unpark();
    }
}

/// Polls `future` on the current loom thread, parking between polls.
///
/// (`loom::future::block_on` needs loom's `futures` feature, which the
/// workspace does not enable.) The flag is needed because loom's
/// `yield_now` drops a pending unpark token (`rt::Thread::set_yield`
/// overwrites `Runnable { unparked: true }`), unlike std: a wake that
/// arrives while the thread spins on the channel's lock would otherwise be
/// lost and show up as a false deadlock.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        // No yield between this check and `park`: a wake after the check
        // leaves its unpark token for `park`.
        if !unpark.woken.swap(false, SeqCst) {
            thread::park();
        }
    }
}

/// Models with three threads: loom's state space explodes past one
/// preemption there (the spin lock's and the signal's spin loops under
/// contention), so they run with a bound of 1 (`SPINDLE_LOOM_3T_PREEMPTIONS`
/// overrides it, for a long run); each has a two-thread variant that runs
/// with the full bound (`LOOM_MAX_PREEMPTIONS`).
fn model_three_threads(f: impl Fn() + Sync + Send + 'static) {
    let bound = std::env::var("SPINDLE_LOOM_3T_PREEMPTIONS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(f);
}

/// A two-thread model of `check` on a fresh channel from `make`.
fn model_on(make: fn() -> (Sender<u32>, Receiver<u32>), check: fn(Sender<u32>, Receiver<u32>)) {
    loom::model(move || {
        let (tx, rx) = make();
        check(tx, rx);
    });
}

fn bounded_1() -> (Sender<u32>, Receiver<u32>) {
    channel::bounded(1)
}

fn rendezvous() -> (Sender<u32>, Receiver<u32>) {
    channel::rendezvous()
}

/// Both futures to completion on one thread. Polls only the unfinished
/// ones, both on every wake; a spurious poll of a waiting channel future
/// only refreshes its waker, so this hides no lost wake.
fn join2<A: Future, B: Future>(a: A, b: B) -> impl Future<Output = (A::Output, B::Output)> {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(move |cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// The output of a future polled once already (`first`), waiting for it
/// if that poll was pending.
fn finish<F: Future>(first: Poll<F::Output>, future: F) -> F::Output {
    match first {
        Poll::Ready(output) => output,
        Poll::Pending => block_on(future),
    }
}

/// Sends `value` with `try_send` on a new thread, through a clone of `tx`
/// that the thread returns (so the channel keeps a sender).
fn try_send_on_a_thread(tx: &Sender<u32>, value: u32) -> thread::JoinHandle<Sender<u32>> {
    let tx = tx.clone();
    thread::spawn(move || {
        tx.try_send(value).unwrap();
        tx
    })
}

/// One sender, one receiver: every message arrives, in order, and the
/// sender's departure ends the stream.
fn in_order(tx: Sender<u32>, rx: Receiver<u32>, messages: u32) {
    let sender = thread::spawn(move || {
        for i in 0..messages {
            block_on(tx.send_async(i)).unwrap();
        }
    });
    for i in 0..messages {
        assert_eq!(block_on(rx.recv_async()), Ok(i));
    }
    assert_eq!(block_on(rx.recv_async()), Err(RecvError));
    sender.join().unwrap();
}

/// (a) bounded(1), three messages, both sides waiting in turn.
#[test]
fn bounded_1_delivers_every_message_in_order() {
    model_on(bounded_1, |tx, rx| in_order(tx, rx, 3));
}

/// (b) rendezvous, two messages: each send completes by a hand-off.
#[test]
fn rendezvous_delivers_every_message_in_order() {
    model_on(rendezvous, |tx, rx| in_order(tx, rx, 2));
}

/// (c) A waiting receive is dropped while a sender hands it a message:
/// the message is received exactly once, by the receive's last poll or by
/// a later `try_recv` (the give-back put it in the buffer).
fn dropped_receive_races_hand_off(tx: Sender<u32>, rx: Receiver<u32>) {
    let sender = thread::spawn(move || tx.try_send(1).is_ok());
    let mut got = Vec::new();
    {
        let mut recv = pin!(rx.recv_async());
        for _ in 0..2 {
            match poll_once(recv.as_mut()) {
                Poll::Ready(Ok(v)) => {
                    got.push(v);
                    break;
                }
                // The sender came and left without a hand-off.
                Poll::Ready(Err(RecvError)) => break,
                Poll::Pending => {}
            }
        }
        // Dropped here, maybe holding the message.
    }
    let sent = sender.join().unwrap();
    match rx.try_recv() {
        Ok(v) => got.push(v),
        Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
    }
    let expected: &[u32] = if sent { &[1] } else { &[] };
    assert_eq!(got, expected);
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_dropped_receive_racing_a_hand_off_loses_nothing_bounded_1() {
    model_on(bounded_1, dropped_receive_races_hand_off);
}

#[test]
fn a_dropped_receive_racing_a_hand_off_loses_nothing_rendezvous() {
    model_on(rendezvous, dropped_receive_races_hand_off);
}

/// (c') The same with a second receiver waiting: the message is handed on
/// to it (or it finds it in the buffer); it must not wait for ever.
#[test]
fn a_dropped_receive_hands_on_to_a_waiting_receiver() {
    model_three_threads(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        let other = rx.clone();
        let waiting = thread::spawn(move || block_on(other.recv_async()));
        let sender = thread::spawn(move || block_on(tx.send_async(1)).unwrap());
        let mut got = None;
        {
            let mut recv = pin!(rx.recv_async());
            if let Poll::Ready(result) = poll_once(recv.as_mut()) {
                got = Some(result);
            }
        }
        sender.join().unwrap();
        let theirs = waiting.join().unwrap();
        match got {
            // We took it; the other receiver saw the sender leave.
            Some(mine) => assert_eq!((mine, theirs), (Ok(1), Err(RecvError))),
            None => assert_eq!(theirs, Ok(1)),
        }
    });
}

/// (c'') Two threads: the receive is handed the message for sure, and its
/// drop (the give-back) races another receiver arriving and waiting.
#[test]
fn a_give_back_races_a_receiver_arriving() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        let other = rx.clone();
        let mut recv = Box::pin(rx.recv_async());
        assert!(poll_once(recv.as_mut()).is_pending());
        tx.try_send(1).unwrap(); // handed into `recv`
        let waiting = thread::spawn(move || block_on(other.recv_async()));
        drop(recv); // gives 1 back: to `waiting`, or to the buffer
        assert_eq!(waiting.join().unwrap(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

/// (d) The last sender leaves while a receiver waits: the receiver sees
/// the disconnection instead of waiting for ever.
fn sender_leaves(tx: Sender<u32>, rx: Receiver<u32>) {
    let sender = thread::spawn(move || drop(tx));
    assert_eq!(block_on(rx.recv_async()), Err(RecvError));
    sender.join().unwrap();
}

#[test]
fn the_last_sender_leaving_releases_a_waiting_receiver_bounded_1() {
    model_on(bounded_1, sender_leaves);
}

#[test]
fn the_last_sender_leaving_releases_a_waiting_receiver_rendezvous() {
    model_on(rendezvous, sender_leaves);
}

/// Receives three messages: 0 (buffered) first, then 1 and 2 in either
/// order.
fn receive_0_then_1_and_2(rx: &Receiver<u32>) {
    let mut got: Vec<u32> = (0..3).map(|_| block_on(rx.recv_async()).unwrap()).collect();
    assert_eq!(got[0], 0);
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
}

/// (e) Two senders blocked on a full bounded(1), one receiver draining:
/// no wake is lost, every message arrives once.
#[test]
fn two_blocked_senders_and_a_draining_receiver_lose_no_wake() {
    model_three_threads(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.try_send(0).unwrap();
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send_async(v)).unwrap())
            })
            .collect();
        drop(tx);
        receive_0_then_1_and_2(&rx);
        for sender in senders {
            sender.join().unwrap();
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

/// (e') The same with both senders' futures on one thread (so the full
/// preemption bound fits): the receiver's wakes reach each in turn.
#[test]
fn two_blocked_send_futures_and_a_draining_receiver_lose_no_wake() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.try_send(0).unwrap();
        let sender = thread::spawn(move || {
            let (a, b) = block_on(join2(tx.send_async(1), tx.send_async(2)));
            a.unwrap();
            b.unwrap();
        });
        receive_0_then_1_and_2(&rx);
        sender.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

/// (f) A sender polled once and then dropped, possibly after the receiver
/// woke it for the room it freed: the wake goes on to the other waiting
/// sender, which completes although nobody receives again (a missing
/// pass-on shows as a deadlock; a later receive would mask it).
#[test]
fn a_woken_sender_that_is_dropped_passes_the_wake_on() {
    model_three_threads(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.try_send(0).unwrap();
        let tx2 = tx.clone();
        let quitter = thread::spawn(move || {
            let mut send = pin!(tx2.send_async(1));
            poll_once(send.as_mut()).is_ready()
        });
        let patient = thread::spawn(move || block_on(tx.send_async(2)).unwrap());
        assert_eq!(block_on(rx.recv_async()), Ok(0));
        let mut got = vec![0];
        let quitter_sent = quitter.join().unwrap();
        if quitter_sent {
            // It took the room; free it for the patient sender.
            got.push(block_on(rx.recv_async()).unwrap());
        }
        patient.join().unwrap();
        got.extend(rx.try_iter());
        let expected: &[u32] = if quitter_sent { &[0, 1, 2] } else { &[0, 2] };
        assert_eq!(got, expected);
    });
}

/// (f') Two threads, full bound: both sends wait (the quitter first in
/// line) before one receive frees the room; the quitter is dropped racing
/// that receive's wake, and the patient sender must still complete.
#[test]
fn a_woken_send_dropped_racing_the_wake_passes_it_on() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.try_send(0).unwrap();
        let mut quitter = Box::pin(tx.send_async(1));
        let mut patient = Box::pin(tx.send_async(2));
        assert!(poll_once(quitter.as_mut()).is_pending());
        assert!(poll_once(patient.as_mut()).is_pending());
        let receiver = thread::spawn(move || {
            assert_eq!(block_on(rx.recv_async()), Ok(0));
            rx
        });
        drop(quitter); // maybe woken: the wake must go on to `patient`
        block_on(patient).unwrap();
        let rx = receiver.join().unwrap();
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2]);
    });
}

/// (h) The ring's fast path against a receiver that starts waiting: the
/// sender pushes without the lock while the receiver queues; either the
/// receiver sees the message when it looks again, or the sender sees the
/// fast path closed and wakes it (a missing fence shows as a deadlock).
#[test]
fn a_fast_send_racing_a_receiver_that_starts_waiting_wakes_it() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        let receiver = thread::spawn(move || block_on(rx.recv_async()));
        // The ring is empty: this never fails.
        tx.try_send(1).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(1));
    });
}

/// (h') The mirror image: a fast receive frees the room a sender has
/// started waiting for.
#[test]
fn a_fast_receive_racing_a_sender_that_starts_waiting_wakes_it() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        tx.try_send(0).unwrap();
        let sender = thread::spawn(move || block_on(tx.send_async(1)));
        // The ring holds 0 until this takes it.
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!(block_on(rx.recv_async()), Ok(1));
        sender.join().unwrap().unwrap();
    });
}

/// (i) The ring alone: two senders and a receiver on `bounded(2)`, all on
/// the fast path, across a lap. Every message reported sent arrives once,
/// each sender's in order.
#[test]
fn the_ring_loses_nothing_between_two_senders_and_a_receiver_across_a_lap() {
    model_three_threads(|| {
        let (tx, rx) = channel::bounded::<u32>(2);
        // Start one slot into the ring, so the race crosses the lap.
        tx.try_send(99).unwrap();
        assert_eq!(rx.try_recv(), Ok(99));
        let tx2 = tx.clone();
        let sends = |tx: Sender<u32>, from: u32| {
            move || {
                (from..from + 2)
                    .filter(|&v| tx.try_send(v).is_ok())
                    .collect::<Vec<_>>()
            }
        };
        let a = thread::spawn(sends(tx, 0));
        let b = thread::spawn(sends(tx2, 10));
        let mut got: Vec<u32> = (0..2).filter_map(|_| rx.try_recv().ok()).collect();
        let (sent_a, sent_b) = (a.join().unwrap(), b.join().unwrap());
        got.extend(rx.try_iter());
        for (sender, sent) in [(0, &sent_a), (10, &sent_b)] {
            let theirs: Vec<u32> = got
                .iter()
                .copied()
                .filter(|v| v / 10 == sender / 10)
                .collect();
            assert_eq!(
                &theirs, sent,
                "sender {sender}: lost, duplicated or reordered"
            );
        }
        assert_eq!(got.len(), sent_a.len() + sent_b.len());
    });
}

/// (j) The last receiver leaves while a sender pushes without the lock:
/// the message is dropped then, by the disconnection or by the sender
/// that sees the fast path closed, not left in the ring.
#[test]
fn a_fast_send_racing_the_last_receiver_leaving_leaks_nothing() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<Arc<()>>(2);
        let message = Arc::new(());
        let receiver = thread::spawn(move || drop(rx));
        let _ = tx.try_send(Arc::clone(&message));
        receiver.join().unwrap();
        // The sender still holds the channel: only a drain frees it.
        assert_eq!(Arc::strong_count(&message), 1);
        drop(tx);
    });
}

/// (k) A message stamped behind a fast push still in flight: two
/// receivers queue while the ring's head slot is claimed but not yet
/// stamped (so both see it empty; the second finds the fast path closed
/// and does not look again). The in-flight sender wakes one receiver;
/// that one takes the head message, and the other must still get the
/// message stamped behind it (the senders stay alive: no disconnection
/// rescues the waiter).
#[test]
fn two_waiting_receivers_get_a_message_hidden_behind_an_in_flight_push() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2);
        let slow = try_send_on_a_thread(&tx, 0);
        // Nobody waits yet: the ring has room, and this never fails.
        tx.try_send(1).unwrap();
        let (a, b) = block_on(join2(rx.recv_async(), rx.recv_async()));
        let mut got = [a.unwrap(), b.unwrap()];
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        drop(slow.join().unwrap());
        drop(tx);
    });
}

/// (k') The mirror image: two senders wait for room while the slot the
/// tail points to is being read by a fast receive in flight; a second
/// fast receive has freed the slot behind it. Both senders must complete
/// (the receivers stay alive).
#[test]
fn two_waiting_senders_get_room_hidden_behind_an_in_flight_pop() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2);
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        let rx2 = rx.clone();
        let slow = thread::spawn(move || {
            let got = rx2.try_recv().unwrap();
            (got, rx2)
        });
        let first = rx.try_recv().unwrap();
        let (a, b) = block_on(join2(tx.send_async(2), tx.send_async(3)));
        a.unwrap();
        b.unwrap();
        let (second, rx2) = slow.join().unwrap();
        let mut got = vec![first, second];
        got.extend(rx.try_iter());
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
        drop(rx2);
    });
}

/// (l) A select registering a receive on a ring channel: `can_recv`
/// (under the lock) sees a message, a fast receive on another thread takes
/// it before `recv_locked` runs, and the select must not complete with
/// `RecvError` (the sender is alive; a second message follows).
#[test]
fn a_select_receive_never_reports_a_live_channel_disconnected() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        let rx2 = rx.clone();
        let other = thread::spawn(move || {
            tx.try_send(1).unwrap();
            let stolen = rx2.try_recv().ok();
            block_on(tx.send_async(2)).unwrap();
            (stolen, tx, rx2)
        });
        let mut select = channel::Select::new();
        select.recv(&rx, |r| r);
        let got = block_on(select.wait_async());
        let (stolen, tx, rx2) = other.join().unwrap();
        let got = got.expect("select reported a live channel disconnected");
        let mut all: Vec<u32> = stolen
            .into_iter()
            .chain([got])
            .chain(rx.try_iter())
            .collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
        drop((tx, rx2));
    });
}

/// (m) `len` racing a fast send and a fast receive on other threads: a
/// snapshot never exceeds the capacity (and never underflows).
#[test]
fn len_racing_fast_operations_stays_within_capacity() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2);
        let rx2 = rx.clone();
        // Spawned first: it knows nothing of the send or the receive.
        let observer = thread::spawn(move || {
            let len = rx2.len();
            assert!(len <= 2, "len {len} on a bounded(2) channel");
            rx2
        });
        // The send on a thread of its own, the receive here after it:
        // the receive's claim of `head` is not a release the observer can
        // acquire, so it may see `head` moved on and `tail` not.
        let sender = thread::spawn(move || {
            tx.try_send(1).unwrap();
            tx
        });
        let tx = sender.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        drop(observer.join().unwrap());
        drop(tx);
    });
}

/// (n) A receive woken to "try again" (a fast send landed while it
/// waited: `pushed_while_closed` wakes it with nothing handed over) is
/// dropped before it tries: the wake must go on to the other waiting
/// receive, which otherwise waits for ever beside a message in the ring
/// (the sender stays alive).
#[test]
fn a_dropped_receive_woken_for_the_ring_passes_the_wake_on() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1);
        let sender = try_send_on_a_thread(&tx, 1);
        let mut first = Box::pin(rx.recv_async());
        let mut second = Box::pin(rx.recv_async());
        let first_got = poll_once(first.as_mut());
        let second_got = poll_once(second.as_mut());
        let tx2 = sender.join().unwrap();
        // Dropped without another poll: maybe woken to look at the ring.
        drop(first);
        let got = match (first_got, second_got) {
            (Poll::Ready(got), _) => got,
            (_, Poll::Ready(got)) => got,
            _ => block_on(second),
        };
        assert_eq!(got, Ok(1));
        drop((tx, tx2));
    });
}

/// (o) A select woken through a ring channel's receive case with
/// nothing handed over (a fast send landed while it waited) completes
/// another ready case instead: the wake must go on to the other receiver
/// waiting on the ring channel (the senders stay alive).
#[test]
fn a_select_woken_for_the_ring_that_completes_another_case_passes_the_wake_on() {
    loom::model(|| {
        let (tx_a, rx_a) = channel::bounded::<u32>(1);
        let (tx_b, rx_b) = channel::bounded::<u32>(1);
        let sender = try_send_on_a_thread(&tx_a, 1);
        let mut select = channel::Select::new();
        select
            .biased(true)
            .recv(&rx_b, |r| ('b', r))
            .recv(&rx_a, |r| ('a', r));
        let mut select = Box::pin(select.wait_async());
        let mut other = Box::pin(rx_a.recv_async());
        let select_got = poll_once(select.as_mut());
        let other_got = poll_once(other.as_mut());
        let tx_a2 = sender.join().unwrap();
        tx_b.try_send(7).unwrap();
        match finish(select_got, select) {
            ('a', got) => assert_eq!(got, Ok(1)),
            ('b', got) => {
                assert_eq!(got, Ok(7));
                assert_eq!(finish(other_got, other), Ok(1));
            }
            _ => unreachable!(),
        }
        drop((tx_a, tx_a2, tx_b));
    });
}

/// (j') Two fast senders racing the last receiver leaving (one may be in
/// flight, hiding the other's message from the disconnection's drain):
/// nothing stays in the ring.
#[test]
fn two_fast_sends_racing_the_last_receiver_leaving_leak_nothing() {
    model_three_threads(|| {
        let (tx, rx) = channel::bounded::<Arc<()>>(2);
        let message = Arc::new(());
        let tx2 = tx.clone();
        let m2 = Arc::clone(&message);
        let other = thread::spawn(move || {
            let _ = tx2.try_send(m2);
            tx2
        });
        let receiver = thread::spawn(move || drop(rx));
        let _ = tx.try_send(Arc::clone(&message));
        receiver.join().unwrap();
        let tx2 = other.join().unwrap();
        assert_eq!(Arc::strong_count(&message), 1);
        drop((tx, tx2));
    });
}

/// (k'') The locked variant of (k): both receives wait, then a locked
/// send lands behind a fast send still in flight (its own look at the
/// ring sees the slot in flight, so it wakes nobody); both receives must
/// complete.
#[test]
fn a_locked_send_behind_an_in_flight_push_reaches_the_second_receiver() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2);
        let slow = try_send_on_a_thread(&tx, 0);
        let mut a = Box::pin(rx.recv_async());
        let mut b = Box::pin(rx.recv_async());
        let got_a = poll_once(a.as_mut());
        let got_b = poll_once(b.as_mut());
        block_on(tx.send_async(1)).unwrap();
        let mut got = [finish(got_a, a).unwrap(), finish(got_b, b).unwrap()];
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
        drop((tx, slow.join().unwrap()));
    });
}

/// (o') The send-side twin of (o), single-threaded: a select woken for
/// room through its send case completes another ready case instead; the
/// wake must go on to the other sender waiting for that room.
#[test]
fn a_select_woken_for_room_that_completes_another_case_passes_the_wake_on() {
    loom::model(|| {
        let (tx_a, rx_a) = channel::bounded::<u32>(1);
        let (tx_b, rx_b) = channel::bounded::<u32>(1);
        tx_a.try_send(0).unwrap();
        let mut select = channel::Select::new();
        select
            .biased(true)
            .recv(&rx_b, |r| r.map(|_| 'b'))
            .send(&tx_a, 1, |r| r.map(|()| 'a').map_err(|_| RecvError));
        let mut select = Box::pin(select.wait_async());
        let mut other = Box::pin(tx_a.send_async(2));
        assert!(poll_once(select.as_mut()).is_pending());
        assert!(poll_once(other.as_mut()).is_pending());
        assert_eq!(rx_a.try_recv(), Ok(0)); // room: wakes the select
        tx_b.try_send(7).unwrap();
        assert_eq!(block_on(select), Ok('b'));
        block_on(other).unwrap();
        assert_eq!(rx_a.try_recv(), Ok(2));
    });
}
