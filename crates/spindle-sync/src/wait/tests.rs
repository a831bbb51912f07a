//! The waiting mechanism on its own: list order and removal, claims,
//! aborts, stale nodes, hand-offs across threads. No executor and no asm,
//! so these run under Miri.

use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::Waker;
use std::sync::Arc;
use std::task::Wake;
use std::thread;

use spindle_core::SpinLock;

use super::{Outcome, Signal, Wait, WaitList, Waiter, WakeBatch};

/// Counts its wakes.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (Arc::clone(&counter), Waker::from(counter))
}

#[test]
fn waiters_are_woken_in_order_and_removal_keeps_the_rest_in_order() {
    let (counter, waker) = counting_waker();
    let mut list = WaitList::<usize>::new();
    let waits: Vec<_> = (0..4).map(Wait::new).collect();
    let waits: Vec<_> = waits.into_iter().map(Box::pin).collect();
    for wait in &waits {
        wait.as_ref().enqueue(&mut list, &waker);
    }
    // The second gives up: the others keep their order.
    assert!(!waits[1].cancel(|node| list.remove(node)));
    let mut order = Vec::new();
    while let Some(woken) = list.notify_one(|data| order.push(*data)) {
        woken.wake();
    }
    assert_eq!(order, [0, 2, 3]);
    assert_eq!(counter.0.load(Ordering::SeqCst), 3);
    for (i, wait) in waits.iter().enumerate() {
        assert_eq!(wait.take_woken(), i != 1, "wait {i}");
        assert!(!wait.is_queued());
    }
}

#[test]
fn a_stale_select_node_is_pruned_and_wakes_nobody() {
    let (counter, waker) = counting_waker();
    let mut first = WaitList::<()>::new();
    let mut second = WaitList::<()>::new();
    let signal = pin!(Signal::new());
    let a = pin!(Waiter::new(()));
    let b = pin!(Waiter::new(()));
    // SAFETY: no node linked yet.
    unsafe { signal.set_waker(&waker) };
    // SAFETY: nodes and signal outlive their links (unlinked below).
    unsafe {
        first.push_back(a.as_ref(), &signal, 0);
        second.push_back(b.as_ref(), &signal, 1);
    }
    wake_one(&mut second);
    assert_eq!(signal.outcome(), Outcome::Woken(1));
    // The node left in the first list is stale: pruned, nobody woken.
    assert!(first.notify_one(|()| {}).is_none());
    assert!(first.is_empty());
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert!(!first.remove(&a));
}

fn wake_one(list: &mut WaitList<()>) {
    list.notify_one(|()| {}).expect("a waiter").wake();
}

#[test]
fn an_aborted_wait_cannot_be_claimed() {
    let (_counter, waker) = counting_waker();
    let mut list = WaitList::<()>::new();
    let wait = Box::pin(Wait::new(()));
    wait.as_ref().enqueue(&mut list, &waker);
    let signal_aborted = wait.cancel(|node| {
        // A notifier running between the abort and the removal finds the
        // node stale.
        assert!(list.notify_one(|()| {}).is_none());
        list.remove(node)
    });
    assert!(!signal_aborted);
    assert!(list.is_empty());
}

#[test]
fn notify_all_wakes_in_batches() {
    let (counter, waker) = counting_waker();
    let mut list = WaitList::<()>::new();
    let waits: Vec<_> = (0..70).map(|_| Box::pin(Wait::new(()))).collect();
    for wait in &waits {
        wait.as_ref().enqueue(&mut list, &waker);
    }
    let mut batch = WakeBatch::new();
    let mut rounds = 0;
    while list.notify_all(&mut batch) {
        batch.wake_all();
        rounds += 1;
    }
    batch.wake_all();
    assert_eq!(rounds, 2);
    assert_eq!(counter.0.load(Ordering::SeqCst), 70);
    assert!(waits.iter().all(|w| w.take_woken()));
}

#[test]
fn a_hand_off_from_another_thread_is_seen_with_its_delivery() {
    let rounds = if cfg!(miri) { 10 } else { 200 };
    let list = Arc::new(SpinLock::new(WaitList::<AtomicUsize>::new()));
    let (_counter, waker) = counting_waker();
    for round in 0..rounds {
        let wait = Box::pin(Wait::new(AtomicUsize::new(0)));
        wait.as_ref().enqueue(&mut list.lock(), &waker);
        let notifier = {
            let list = Arc::clone(&list);
            thread::spawn(move || {
                let woken = list
                    .lock()
                    .notify_one(|data| data.store(round + 1, Ordering::Relaxed));
                woken.expect("the waiter is queued").wake();
            })
        };
        // The owner's lock-free check: once it reports the wake, the
        // delivery made before it is visible.
        while !wait.take_woken() {
            std::hint::spin_loop();
        }
        assert_eq!(wait.data().load(Ordering::Relaxed), round + 1);
        notifier.join().unwrap();
    }
}
