//! Cancel safety of the channel futures (`channel/chan.rs`, invariants 2
//! and 3): a receive dropped after a sender handed it a message gives the
//! message back; a send dropped before it completed never delivered; a
//! woken sender that gives up passes its wake on.
//!
//! Three layers: deterministic cases on futures polled by hand with a
//! counting waker; a property test running random scripts of such polls
//! and drops on every flavour; and stress runs in the three worlds whose
//! parties give up constantly (`_timeout` forms with tiny timeouts, or
//! futures dropped after a few polls).
#![cfg(not(loom))]

mod common;

use std::collections::HashSet;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Manual, World, run_async, run_blocking, scaled};
use proptest::prelude::*;
use spindle_sync::channel::{
    self, Receiver, RecvError, RecvFuture, RecvTimeoutError, SendError, SendFuture,
    SendTimeoutError, Sender, TryRecvError, TrySendError,
};

// ---------------------------------------------------------------------------
// Helpers

impl<T> Manual<SendFuture<'_, T>> {
    fn cancel(&mut self) -> Option<T> {
        self.future.as_mut().cancel()
    }
}

impl<T> Manual<RecvFuture<'_, T>> {
    fn cancel(&mut self) -> Option<T> {
        self.future.as_mut().cancel()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    Rendezvous,
    Bounded(usize),
    Unbounded,
}

impl Flavour {
    const ALL: [Flavour; 4] = [
        Flavour::Rendezvous,
        Flavour::Bounded(1),
        Flavour::Bounded(3),
        Flavour::Unbounded,
    ];

    /// The flavours whose sends can wait.
    const WAITING: [Flavour; 3] = [
        Flavour::Rendezvous,
        Flavour::Bounded(1),
        Flavour::Bounded(3),
    ];

    fn make<T>(self) -> (Sender<T>, Receiver<T>) {
        match self {
            Flavour::Rendezvous => channel::rendezvous(),
            Flavour::Bounded(n) => channel::bounded(n),
            Flavour::Unbounded => channel::unbounded(),
        }
    }

    /// The buffer's capacity (`usize::MAX` unbounded).
    fn cap(self) -> usize {
        match self {
            Flavour::Rendezvous => 0,
            Flavour::Bounded(n) => n,
            Flavour::Unbounded => usize::MAX,
        }
    }
}

/// Fills a bounded channel's buffer with `0..cap`; a pending send's
/// message then waits.
fn fill(tx: &Sender<u64>, flavour: Flavour) {
    for i in 0..flavour.cap() as u64 {
        assert_eq!(tx.try_send(i), Ok(()), "{flavour:?}: filling");
    }
    assert_eq!(
        tx.try_send(1000),
        Err(TrySendError::Full(1000)),
        "{flavour:?}"
    );
}

/// Makes room for one message in a channel `fill` filled: takes the first
/// message out, or, for a rendezvous channel, starts a receive that waits
/// (returned, to be polled later).
fn room_for_one(rx: &Receiver<u64>, flavour: Flavour) -> Option<Manual<RecvFuture<'_, u64>>> {
    if flavour == Flavour::Rendezvous {
        let mut waiting = Manual::new(rx.recv_async());
        assert!(waiting.poll().is_pending());
        Some(waiting)
    } else {
        assert_eq!(rx.try_recv(), Ok(0));
        None
    }
}

fn assert_send<T: Send>() {}

#[test]
fn the_futures_are_send() {
    assert_send::<SendFuture<'static, u64>>();
    assert_send::<RecvFuture<'static, u64>>();
}

// ---------------------------------------------------------------------------
// Deterministic cases

/// A receive that was handed a message and is dropped before it looked
/// gives the message back, ahead of the messages sent after it.
#[test]
fn a_dropped_receive_gives_its_message_back_ahead_of_later_ones() {
    for flavour in Flavour::ALL {
        let (tx, rx) = flavour.make::<u64>();
        let mut first = Manual::new(rx.recv_async());
        assert!(first.poll().is_pending(), "{flavour:?}");
        assert_eq!(tx.try_send(1), Ok(()), "{flavour:?}: a waiting receiver");
        assert_eq!(first.wakes(), 1, "{flavour:?}: handed over, so woken");
        assert_eq!(rx.len(), 0, "{flavour:?}: handed over, not buffered");
        // A later message: buffered, or (rendezvous) a waiting send.
        let mut later = Manual::new(tx.send_async(2));
        let later_sent = later.poll().is_ready();
        assert_eq!(later_sent, flavour != Flavour::Rendezvous, "{flavour:?}");
        if flavour == Flavour::Bounded(1) {
            // 1 is in flight; the buffer holds 2: full.
            assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        }

        drop(first);
        assert_eq!(rx.len(), 1 + usize::from(later_sent), "{flavour:?}");
        // 1 comes first, through a future as through `try_recv`.
        let mut again = Manual::new(rx.recv_async());
        assert!(
            matches!(again.poll(), Poll::Ready(Ok(1))),
            "{flavour:?}: the given-back message first"
        );
        if flavour == Flavour::Rendezvous {
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // A receiver arriving lets the waiting send in.
            let mut next = Manual::new(rx.recv_async());
            assert!(next.poll().is_pending());
            assert!(later.woken(), "a waiting receiver wakes the waiting sender");
            assert!(matches!(later.poll(), Poll::Ready(Ok(()))));
            assert_eq!(next.wakes(), 1);
            assert!(matches!(next.poll(), Poll::Ready(Ok(2))));
        } else {
            assert_eq!(rx.try_recv(), Ok(2), "{flavour:?}");
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");
    }
}

/// The same with `try_recv` taking the given-back message, and with the
/// senders gone meanwhile: the message still comes first, and the
/// disconnection only after it.
#[test]
fn a_message_given_back_after_the_senders_left_is_still_received() {
    for flavour in Flavour::ALL {
        let (tx, rx) = flavour.make::<u64>();
        let mut first = Manual::new(rx.recv_async());
        assert!(first.poll().is_pending());
        assert_eq!(tx.try_send(7), Ok(()));
        drop(tx);
        drop(first);
        assert_eq!(rx.try_recv(), Ok(7), "{flavour:?}");
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Disconnected),
            "{flavour:?}"
        );
    }
}

/// A send dropped while it waits never delivers its message: not into the
/// buffer, not to a receiver that arrives later.
#[test]
fn a_dropped_pending_send_never_delivers() {
    for flavour in Flavour::WAITING {
        let (tx, rx) = flavour.make::<u64>();
        fill(&tx, flavour);
        let mut send = Manual::new(tx.send_async(99));
        assert!(send.poll().is_pending(), "{flavour:?}");
        assert!(send.poll().is_pending(), "{flavour:?}: polled again");
        drop(send);
        for i in 0..flavour.cap() as u64 {
            assert_eq!(rx.try_recv(), Ok(i), "{flavour:?}");
        }
        let mut recv = Manual::new(rx.recv_async());
        assert!(recv.poll().is_pending(), "{flavour:?}");
        assert_eq!(recv.wakes(), 0, "{flavour:?}: nothing handed over");
        drop(recv);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");
        assert_eq!(rx.len(), 0);
    }
}

/// A send that was woken (room, or a receiver arrived) and is dropped
/// before its next poll has not delivered either.
#[test]
fn a_woken_send_that_is_dropped_never_delivers() {
    for flavour in Flavour::WAITING {
        let (tx, rx) = flavour.make::<u64>();
        fill(&tx, flavour);
        let mut send = Manual::new(tx.send_async(99));
        assert!(send.poll().is_pending());
        let recv = room_for_one(&rx, flavour);
        assert_eq!(send.wakes(), 1, "{flavour:?}: woken");
        drop(send);
        for i in 1..flavour.cap() as u64 {
            assert_eq!(rx.try_recv(), Ok(i), "{flavour:?}");
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");
        if let Some(mut waiting) = recv {
            assert_eq!(waiting.wakes(), 0, "nothing was handed over");
            // The receiver still waits and takes the next message.
            assert_eq!(tx.try_send(5), Ok(()));
            assert!(matches!(waiting.poll(), Poll::Ready(Ok(5))));
        }
    }
}

/// `SendFuture::cancel` hands the message back while the send has not
/// completed, and returns `None` once it has (sent, or handed back in the
/// error).
#[test]
fn cancel_returns_the_message_while_pending_and_none_after_completion() {
    for flavour in Flavour::ALL {
        let (tx, rx) = flavour.make::<u64>();
        // Never polled.
        let mut send = Manual::new(tx.send_async(1));
        assert_eq!(send.cancel(), Some(1), "{flavour:?}: never polled");
        assert_eq!(send.cancel(), None, "{flavour:?}: cancelled twice");
        drop(send);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");

        // Pending.
        if flavour != Flavour::Unbounded {
            fill(&tx, flavour);
            let mut send = Manual::new(tx.send_async(2));
            assert!(send.poll().is_pending());
            assert_eq!(send.cancel(), Some(2), "{flavour:?}: pending");
            drop(send);
            for i in 0..flavour.cap() as u64 {
                assert_eq!(rx.try_recv(), Ok(i));
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");
        }

        // Completed.
        let mut recv = Manual::new(rx.recv_async());
        assert!(recv.poll().is_pending());
        let mut send = Manual::new(tx.send_async(3));
        assert!(matches!(send.poll(), Poll::Ready(Ok(()))), "{flavour:?}");
        assert_eq!(send.cancel(), None, "{flavour:?}: sent");
        assert!(matches!(recv.poll(), Poll::Ready(Ok(3))), "{flavour:?}");

        // Completed with an error (the message is in it).
        drop(recv);
        drop(rx);
        let mut send = Manual::new(tx.send_async(4));
        assert!(
            matches!(send.poll(), Poll::Ready(Err(SendError(4)))),
            "{flavour:?}"
        );
        assert_eq!(send.cancel(), None, "{flavour:?}: failed");
    }
}

/// How a woken sender gives up.
#[derive(Clone, Copy, Debug)]
enum GiveUp {
    Drop,
    Cancel,
}

/// A woken sender that gives up (dropped or cancelled) passes its wake to
/// the next waiting sender, which then completes.
#[test]
fn a_woken_sender_that_gives_up_passes_the_wake_on() {
    for flavour in Flavour::WAITING {
        for how in [GiveUp::Drop, GiveUp::Cancel] {
            let (tx, rx) = flavour.make::<u64>();
            fill(&tx, flavour);
            let mut first = Manual::new(tx.send_async(100));
            let mut second = Manual::new(tx.send_async(200));
            assert!(first.poll().is_pending());
            assert!(second.poll().is_pending());
            // Room (or a receiver) for one: the first in line is woken.
            let recv = room_for_one(&rx, flavour);
            assert_eq!((first.wakes(), second.wakes()), (1, 0), "{flavour:?}");
            match how {
                GiveUp::Drop => drop(first),
                GiveUp::Cancel => {
                    assert_eq!(first.cancel(), Some(100));
                    drop(first);
                }
            }
            assert_eq!(second.wakes(), 1, "{flavour:?} {how:?}: wake passed on");
            assert!(
                matches!(second.poll(), Poll::Ready(Ok(()))),
                "{flavour:?} {how:?}: the second sender uses the room"
            );
            let mut got = Vec::new();
            if let Some(mut waiting) = recv {
                match waiting.poll() {
                    Poll::Ready(Ok(v)) => got.push(v),
                    other => panic!("{how:?}: the receiver got {other:?}"),
                }
            }
            got.extend(rx.try_iter());
            let mut expected: Vec<u64> = (1..flavour.cap() as u64).collect();
            expected.push(200);
            assert_eq!(got, expected, "{flavour:?} {how:?}");
        }
    }
}

/// A receive that was handed a message and is dropped while another
/// receiver waits hands the message to that receiver.
#[test]
fn a_dropped_receive_hands_its_message_to_the_next_waiting_receiver() {
    for flavour in Flavour::ALL {
        let (tx, rx) = flavour.make::<u64>();
        let rx2 = rx.clone();
        let mut first = Manual::new(rx.recv_async());
        let mut second = Manual::new(rx2.recv_async());
        assert!(first.poll().is_pending());
        assert!(second.poll().is_pending());
        assert_eq!(tx.try_send(7), Ok(()));
        assert_eq!((first.wakes(), second.wakes()), (1, 0), "{flavour:?}");
        drop(first);
        assert_eq!(second.wakes(), 1, "{flavour:?}: handed on");
        assert_eq!(rx.len(), 0, "{flavour:?}: not buffered");
        assert!(matches!(second.poll(), Poll::Ready(Ok(7))), "{flavour:?}");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavour:?}");
    }
}

/// A chain: each receiver in line is handed the message and dropped in
/// turn; the last one gets it, then it goes back to the buffer.
#[test]
fn a_message_survives_a_chain_of_dropped_receives() {
    for flavour in Flavour::ALL {
        let (tx, rx) = flavour.make::<u64>();
        let mut waiting: Vec<_> = (0..4).map(|_| Manual::new(rx.recv_async())).collect();
        for recv in &mut waiting {
            assert!(recv.poll().is_pending());
        }
        assert_eq!(tx.try_send(9), Ok(()));
        for (i, recv) in waiting.into_iter().enumerate() {
            assert_eq!(recv.wakes(), 1, "{flavour:?}: receiver {i} holds it");
            drop(recv);
        }
        assert_eq!(rx.len(), 1, "{flavour:?}: back in the buffer");
        assert_eq!(rx.try_recv(), Ok(9), "{flavour:?}");
    }
}

/// The one documented reorder: two receives are handed 1 and 2; the first
/// is *dropped*, so 1 goes back to the buffer while 2 has been received,
/// and one receiver sees 2, then 1 (`Receiver::recv_async`, cancel
/// safety). `RecvFuture::cancel` instead keeps the handed-over message, in
/// order; the blocking and timed forms use it.
#[test]
fn a_dropped_handed_receive_may_reorder_but_cancel_keeps_order() {
    for cancel in [false, true] {
        let (tx, rx) = channel::bounded::<u64>(1);
        let mut first = Manual::new(rx.recv_async());
        let mut second = Manual::new(rx.recv_async());
        assert!(first.poll().is_pending());
        assert!(second.poll().is_pending());
        tx.try_send(1).unwrap(); // handed to `first`
        tx.try_send(2).unwrap(); // handed to `second`
        let mut got = Vec::new();
        if cancel {
            got.extend(first.cancel());
        }
        drop(first); // if not cancelled: 1 goes back to the front
        if let Poll::Ready(Ok(v)) = second.poll() {
            got.push(v);
        }
        got.extend(rx.try_iter());
        let expected: &[u64] = if cancel { &[1, 2] } else { &[2, 1] };
        assert_eq!(got, expected, "cancel: {cancel}");
    }
}

// ---------------------------------------------------------------------------
// Property test: random scripts of polls and drops

/// One step of a script. Party indices are taken modulo the party counts.
#[derive(Clone, Copy, Debug)]
enum Op {
    TrySend(usize),
    StartSend(usize),
    PollSend(usize),
    DropSend(usize),
    CancelSend(usize),
    TryRecv(usize),
    StartRecv(usize),
    PollRecv(usize),
    DropRecv(usize),
    /// Polls every woken future until none is (what an executor does).
    PollWoken,
}

fn op() -> impl Strategy<Value = Op> {
    let party = 0..3_usize;
    prop_oneof![
        2 => party.clone().prop_map(Op::TrySend),
        3 => party.clone().prop_map(Op::StartSend),
        2 => party.clone().prop_map(Op::PollSend),
        2 => party.clone().prop_map(Op::DropSend),
        1 => party.clone().prop_map(Op::CancelSend),
        2 => party.clone().prop_map(Op::TryRecv),
        3 => party.clone().prop_map(Op::StartRecv),
        2 => party.clone().prop_map(Op::PollRecv),
        2 => party.prop_map(Op::DropRecv),
        2 => Just(Op::PollWoken),
    ]
}

/// Runs `ops` on a `flavour` channel with `senders` sending parties and
/// `receivers` receiving parties (each with its own clone, and at most one
/// operation under way, like a thread), then drains it and checks:
/// every message reported sent is received exactly once, nothing else is
/// received, each party sees each sender's messages in order (strictly
/// with one receiving party or no dropped hand-off; see
/// `a_dropped_handed_receive_may_reorder_but_cancel_keeps_order`), and no waiter is left waiting when it
/// could proceed.
fn run_script(flavour: Flavour, senders: usize, receivers: usize, ops: &[Op]) {
    let (tx, rx) = flavour.make::<u64>();
    let txs: Vec<Sender<u64>> = (0..senders).map(|_| tx.clone()).collect();
    let rxs: Vec<Receiver<u64>> = (0..receivers).map(|_| rx.clone()).collect();
    drop(tx);
    let mut next = vec![0_u64; senders];
    let mut sends: Sends<'_> = (0..senders).map(|_| None).collect();
    let mut recvs: Recvs<'_> = (0..receivers).map(|_| None).collect();
    // Per sender, what was reported sent, in order.
    let mut sent: Vec<Vec<u64>> = vec![Vec::new(); senders];
    // Messages whose send was given up (dropped or cancelled).
    let mut abandoned = HashSet::new();
    // Per receiving party, what it received, in order.
    let mut received: Vec<Vec<u64>> = vec![Vec::new(); receivers];
    // Receives dropped after they were woken (handed a message).
    let mut dropped_hand_offs = 0;

    let value = |s: usize, next: &mut Vec<u64>| {
        let v = ((s as u64) << 32) | next[s];
        next[s] += 1;
        v
    };

    for &op in ops {
        match op {
            Op::TrySend(s) => {
                let s = s % senders;
                if sends[s].is_none() {
                    let v = value(s, &mut next);
                    match txs[s].try_send(v) {
                        Ok(()) => sent[s].push(v),
                        Err(TrySendError::Full(back)) => {
                            assert_eq!(back, v);
                            abandoned.insert(v);
                        }
                        Err(e) => panic!("try_send: {e:?}"),
                    }
                }
            }
            Op::StartSend(s) => {
                let s = s % senders;
                if sends[s].is_none() {
                    let v = value(s, &mut next);
                    sends[s] = Some((v, Manual::new(txs[s].send_async(v))));
                    poll_send(&mut sends[s], &mut sent[s]);
                }
            }
            Op::PollSend(s) => poll_send(&mut sends[s % senders], &mut sent[s % senders]),
            Op::DropSend(s) => {
                if let Some((v, send)) = sends[s % senders].take() {
                    drop(send);
                    abandoned.insert(v);
                }
            }
            Op::CancelSend(s) => {
                if let Some((v, mut send)) = sends[s % senders].take() {
                    assert_eq!(send.cancel(), Some(v), "cancel of a pending send");
                    abandoned.insert(v);
                }
            }
            Op::TryRecv(r) => {
                let r = r % receivers;
                if recvs[r].is_none() {
                    match rxs[r].try_recv() {
                        Ok(v) => received[r].push(v),
                        Err(TryRecvError::Empty) => {}
                        Err(e) => panic!("try_recv: {e:?}"),
                    }
                }
            }
            Op::StartRecv(r) => {
                let r = r % receivers;
                if recvs[r].is_none() {
                    recvs[r] = Some(Manual::new(rxs[r].recv_async()));
                    poll_recv(&mut recvs[r], &mut received[r]);
                }
            }
            Op::PollRecv(r) => poll_recv(&mut recvs[r % receivers], &mut received[r % receivers]),
            Op::DropRecv(r) => {
                if let Some(recv) = recvs[r % receivers].take() {
                    dropped_hand_offs += usize::from(recv.woken());
                    drop(recv);
                }
            }
            Op::PollWoken => {
                poll_woken(&mut sends, &mut recvs, &mut sent, &mut received);
                check_nobody_waits_needlessly(flavour, &sends, &recvs, &rxs[0]);
            }
        }
    }

    // Drain: let the woken run, then drop every future still waiting, then
    // take what is left.
    poll_woken(&mut sends, &mut recvs, &mut sent, &mut received);
    check_nobody_waits_needlessly(flavour, &sends, &recvs, &rxs[0]);
    for (v, send) in sends.iter_mut().filter_map(Option::take) {
        drop(send);
        abandoned.insert(v);
    }
    for recv in recvs.iter_mut().filter_map(Option::take) {
        dropped_hand_offs += usize::from(recv.woken());
    }
    let drained: Vec<u64> = rxs[0].try_iter().collect();
    assert_eq!(rxs[0].try_recv(), Err(TryRecvError::Empty));
    drop(sends);
    drop(txs);
    assert_eq!(rxs[0].try_recv(), Err(TryRecvError::Disconnected));

    // Exactly once, and only what was reported sent.
    let mut all: Vec<u64> = received.iter().flatten().chain(&drained).copied().collect();
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "a message was received twice");
    let mut expected: Vec<u64> = sent.iter().flatten().copied().collect();
    expected.sort_unstable();
    for v in &all {
        assert!(
            !abandoned.contains(v),
            "message {v:#x} was received although its send was given up"
        );
    }
    assert_eq!(all, expected, "received != reported sent");

    // Per-sender order, per receiving party (the drain is one more party).
    let mut parties = received;
    if receivers == 1 {
        parties[0].extend(&drained);
    } else {
        parties.push(drained);
    }
    let displaced: usize = parties
        .iter()
        .flat_map(|seq| {
            (0..senders as u64).map(move |s| {
                let theirs: Vec<u64> = seq.iter().copied().filter(|v| v >> 32 == s).collect();
                theirs.len() - longest_increasing(&theirs)
            })
        })
        .sum();
    if receivers == 1 || dropped_hand_offs == 0 {
        assert_eq!(
            displaced, 0,
            "a sender's messages out of order: {parties:?}"
        );
    } else {
        // Each dropped hand-off can delay the one message it gives back
        // (known issue above); nothing else may move.
        assert!(
            displaced <= dropped_hand_offs,
            "{displaced} messages out of order, {dropped_hand_offs} dropped hand-offs: {parties:?}"
        );
    }
}

type Sends<'a> = Vec<Option<(u64, Manual<SendFuture<'a, u64>>)>>;
type Recvs<'a> = Vec<Option<Manual<RecvFuture<'a, u64>>>>;

/// Polls the send in `slot`, if any; a completed one is recorded in `sent`
/// and leaves the slot.
fn poll_send(slot: &mut Option<(u64, Manual<SendFuture<'_, u64>>)>, sent: &mut Vec<u64>) {
    if let Some((v, send)) = slot {
        match send.poll() {
            Poll::Ready(Ok(())) => {
                sent.push(*v);
                *slot = None;
            }
            Poll::Ready(Err(e)) => panic!("send: {e:?}"),
            Poll::Pending => {}
        }
    }
}

/// Polls the receive in `slot`, if any; a completed one is recorded in
/// `received` and leaves the slot.
fn poll_recv(slot: &mut Option<Manual<RecvFuture<'_, u64>>>, received: &mut Vec<u64>) {
    if let Some(recv) = slot {
        match recv.poll() {
            Poll::Ready(Ok(v)) => {
                received.push(v);
                *slot = None;
            }
            Poll::Ready(Err(e)) => panic!("recv: {e:?}"),
            Poll::Pending => {}
        }
    }
}

/// Polls woken futures until none is woken, recording completions.
fn poll_woken(
    sends: &mut Sends<'_>,
    recvs: &mut Recvs<'_>,
    sent: &mut [Vec<u64>],
    received: &mut [Vec<u64>],
) {
    for _round in 0..1000 {
        let mut any = false;
        for (s, slot) in sends.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|(_, send)| send.woken()) {
                any = true;
                poll_send(slot, &mut sent[s]);
            }
        }
        for (r, slot) in recvs.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(Manual::woken) {
                any = true;
                poll_recv(slot, &mut received[r]);
            }
        }
        if !any {
            return;
        }
    }
    panic!("futures kept waking each other");
}

/// With no future woken, every waiting future must have a reason to wait
/// (a lost wake shows up here): a waiting receiver means an empty buffer
/// and no waiting sender; a waiting sender means a full buffer (or,
/// rendezvous, no waiting receiver).
fn check_nobody_waits_needlessly(
    flavour: Flavour,
    sends: &Sends<'_>,
    recvs: &Recvs<'_>,
    rx: &Receiver<u64>,
) {
    let receiving = recvs.iter().flatten().count();
    let sending = sends.iter().flatten().count();
    if receiving > 0 {
        assert_eq!(rx.len(), 0, "{flavour:?}: a receiver waits by a message");
        assert_eq!(
            sending, 0,
            "{flavour:?}: a sender and a receiver both wait (lost wake)"
        );
    }
    if sending > 0 {
        assert!(
            rx.len() >= flavour.cap(),
            "{flavour:?}: a sender waits with room (lost wake)"
        );
    }
}

/// The length of the longest strictly increasing subsequence.
fn longest_increasing(seq: &[u64]) -> usize {
    let mut tails: Vec<u64> = Vec::new();
    for &v in seq {
        match tails.binary_search(&v) {
            Ok(_) => {}
            Err(i) if i == tails.len() => tails.push(v),
            Err(i) => tails[i] = v,
        }
    }
    tails.len()
}

/// Sending parties, receiving parties and the steps of a script.
fn script() -> impl Strategy<Value = (usize, usize, Vec<Op>)> {
    (1..=3_usize, 1..=3_usize, prop::collection::vec(op(), 1..80))
}

fn script_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(script_config())]

    #[test]
    fn scripts_of_polls_and_drops_rendezvous((senders, receivers, ops) in script()) {
        run_script(Flavour::Rendezvous, senders, receivers, &ops);
    }

    #[test]
    fn scripts_of_polls_and_drops_bounded_1((senders, receivers, ops) in script()) {
        run_script(Flavour::Bounded(1), senders, receivers, &ops);
    }

    #[test]
    fn scripts_of_polls_and_drops_bounded_3((senders, receivers, ops) in script()) {
        run_script(Flavour::Bounded(3), senders, receivers, &ops);
    }

    #[test]
    fn scripts_of_polls_and_drops_unbounded((senders, receivers, ops) in script()) {
        run_script(Flavour::Unbounded, senders, receivers, &ops);
    }
}

// ---------------------------------------------------------------------------
// Stress: parties that give up all the time, in the three worlds

/// A tiny xorshift, seeded per party from the printed test seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seed() -> u64 {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    eprintln!("chan_cancel seed: {seed}");
    seed
}

/// How long each stress run's senders keep sending.
const BUDGET: Duration = Duration::from_millis(100);

/// A timeout: mostly under 100 µs (about what a hand-off takes, so
/// deadlines race hand-offs), sometimes up to 1 ms, now and then 2 ms.
fn tiny(rng: &mut Rng) -> Duration {
    match rng.below(16) {
        0 => Duration::from_millis(2),
        1..=4 => Duration::from_micros(rng.below(1000)),
        _ => Duration::from_micros(rng.below(100)),
    }
}

/// `future` polled at most `polls` times (waking itself in between, like
/// a yield), then given up: `None`, and the caller drops it.
fn impatient<'a, F: Future>(
    mut future: Pin<&'a mut F>,
    mut polls: u64,
) -> impl Future<Output = Option<F::Output>> + 'a {
    poll_fn(move |cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending if polls <= 1 => Poll::Ready(None),
        Poll::Pending => {
            polls -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

enum End {
    Send(Sender<u64>),
    Recv(Receiver<u64>),
}

/// What a party did: the messages it reported sent, or received, in
/// order.
#[derive(Debug)]
enum Did {
    Sent(Vec<u64>),
    Received(Vec<u64>),
}

const SENDERS: usize = 2;

/// The random source of party `party` in a run seeded with `seed`.
fn party_rng(seed: u64, party: usize) -> Rng {
    Rng::new(seed ^ (party as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// The messages sender `party` tries to send, each once: its sequence
/// number under its party number, until there are `scaled(20_000)` or
/// [`BUDGET`] is spent.
fn messages(party: usize) -> impl Iterator<Item = u64> {
    let stop = Instant::now() + BUDGET;
    (0..scaled(20_000) as u64)
        .take_while(move |_| Instant::now() < stop)
        .map(move |seq| ((party as u64) << 32) | seq)
}

/// Blocking sender: `send_timeout` with tiny timeouts, a fresh message
/// each attempt, for [`BUDGET`].
fn send_blocking(tx: Sender<u64>, party: usize, seed: u64) -> Did {
    let mut rng = party_rng(seed, party);
    let mut sent = Vec::new();
    for v in messages(party) {
        match tx.send_timeout(v, tiny(&mut rng)) {
            Ok(()) => sent.push(v),
            Err(SendTimeoutError::Timeout(back)) => assert_eq!(back, v),
            Err(e) => panic!("send_timeout: {e:?}"),
        }
    }
    Did::Sent(sent)
}

/// Blocking receiver: `recv_timeout` with tiny timeouts until the senders
/// are gone and the channel is empty.
fn recv_blocking(rx: Receiver<u64>, party: usize, seed: u64) -> Did {
    let mut rng = party_rng(seed, party);
    let mut got = Vec::new();
    loop {
        match rx.recv_timeout(tiny(&mut rng)) {
            Ok(v) => got.push(v),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Did::Received(got),
        }
    }
}

/// Async sender: each send polled 1 to 4 times, then cancelled.
async fn send_async(tx: Sender<u64>, party: usize, seed: u64) -> Did {
    let mut rng = party_rng(seed, party);
    let mut sent = Vec::new();
    for v in messages(party) {
        let mut send = pin!(tx.send_async(v));
        match impatient(send.as_mut(), 1 + rng.below(4)).await {
            Some(Ok(())) => sent.push(v),
            Some(Err(e)) => panic!("send_async: {e:?}"),
            // Half the time cancelled (the message must come back), half
            // the time just dropped.
            None if rng.below(2) == 0 => assert_eq!(send.as_mut().cancel(), Some(v)),
            None => {}
        }
    }
    Did::Sent(sent)
}

/// Async receiver: each receive polled 1 to 4 times, then dropped.
async fn recv_async(rx: Receiver<u64>, party: usize, seed: u64) -> Did {
    let mut rng = party_rng(seed, party);
    let mut got = Vec::new();
    loop {
        let mut recv = pin!(rx.recv_async());
        match impatient(recv.as_mut(), 1 + rng.below(4)).await {
            Some(Ok(v)) => got.push(v),
            Some(Err(RecvError)) => return Did::Received(got),
            None => {}
        }
    }
}

/// One stress run: [`SENDERS`] senders and `receivers` receivers on a
/// `flavour` channel in `world`. Checks exactly-once delivery of what was
/// reported sent; per-sender order strictly with one receiver or in the
/// blocking worlds (timed receives cancel, they do not drop), and reports
/// reorders of async receives that are dropped with two receivers (the
/// documented exception above makes them possible, rarely).
fn stress(world: World, flavour: Flavour, receivers: usize, seed: u64) {
    let (tx, rx) = flavour.make::<u64>();
    let parties = SENDERS + receivers;
    let ends: Vec<Option<End>> = (0..parties)
        .map(|i| {
            Some(if i < SENDERS {
                End::Send(tx.clone())
            } else {
                End::Recv(rx.clone())
            })
        })
        .collect();
    drop((tx, rx));
    let ends = Arc::new(Mutex::new(ends));
    let take = move |i: usize| ends.lock().unwrap()[i].take().expect("taken once");
    let started = Instant::now();
    let did: Vec<Did> = match world {
        World::Async => run_async(parties, move |i| {
            let end = take(i);
            async move {
                match end {
                    End::Send(tx) => send_async(tx, i, seed).await,
                    End::Recv(rx) => recv_async(rx, i, seed).await,
                }
            }
        }),
        _ => run_blocking(world, parties, move |i| match take(i) {
            End::Send(tx) => send_blocking(tx, i, seed),
            End::Recv(rx) => recv_blocking(rx, i, seed),
        }),
    };
    let mut sent = Vec::new();
    let mut received = Vec::new();
    for d in did {
        match d {
            Did::Sent(v) => sent.push(v),
            Did::Received(v) => received.push(v),
        }
    }
    let what = format!("{world:?} {flavour:?} {receivers} receivers");
    let mut all: Vec<u64> = received.iter().flatten().copied().collect();
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "{what}: a message was received twice");
    let mut expected: Vec<u64> = sent.iter().flatten().copied().collect();
    expected.sort_unstable();
    assert!(
        all == expected,
        "{what}: {} received, {} reported sent (lost, or a given-up send delivered)",
        all.len(),
        expected.len()
    );
    let mut displaced = 0;
    for seq in &received {
        for s in 0..SENDERS as u64 {
            let theirs: Vec<u64> = seq.iter().copied().filter(|v| v >> 32 == s).collect();
            displaced += theirs.len() - longest_increasing(&theirs);
        }
    }
    if receivers == 1 || world != World::Async {
        assert_eq!(displaced, 0, "{what}: a sender's messages out of order");
    }
    eprintln!(
        "{what}: {} sent, {displaced} out of order, {:?}",
        expected.len(),
        started.elapsed()
    );
}

fn stress_world(world: World) {
    let seed = seed();
    for flavour in Flavour::ALL {
        for receivers in [1, 2] {
            stress(world, flavour, receivers, seed);
        }
    }
}

#[test]
fn stress_giving_up_on_fibers_loses_and_duplicates_nothing() {
    stress_world(World::Fibers);
}

#[test]
fn stress_giving_up_on_threads_loses_and_duplicates_nothing() {
    stress_world(World::Threads);
}

#[test]
fn stress_giving_up_in_async_tasks_loses_and_duplicates_nothing() {
    stress_world(World::Async);
}
