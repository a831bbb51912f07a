//! `Condvar`: producer/consumer, `notify_all`, timeouts and passing on a
//! notification a dropped waiter received, in the three worlds.
#![cfg(not(loom))]

mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{BLOCKING, Manual, run_async, run_blocking, scaled};
use spindle_sync::{Condvar, CondvarWaitFuture, Mutex};

/// A bounded queue: the classic two-condvar monitor.
struct Queue {
    items: Mutex<VecDeque<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
}

const CAPACITY: usize = 4;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;

impl Queue {
    fn new() -> Arc<Self> {
        Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        })
    }

    fn push(&self, item: u64) {
        let mut items = self
            .not_full
            .wait_while(self.items.lock(), |items| items.len() >= CAPACITY);
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
    }

    fn pop(&self) -> u64 {
        let mut items = self
            .not_empty
            .wait_while(self.items.lock(), |items| items.is_empty());
        let item = items.pop_front().expect("not empty");
        drop(items);
        self.not_full.notify_one();
        item
    }

    async fn push_async(&self, item: u64) {
        let mut items = self.items.lock_async().await;
        while items.len() >= CAPACITY {
            items = self.not_full.wait_async(items).await;
        }
        items.push_back(item);
        drop(items);
        self.not_empty.notify_one();
    }

    async fn pop_async(&self) -> u64 {
        let mut items = self.items.lock_async().await;
        while items.is_empty() {
            items = self.not_empty.wait_async(items).await;
        }
        let item = items.pop_front().expect("not empty");
        drop(items);
        self.not_full.notify_one();
        item
    }
}

/// Parties `0..PRODUCERS` push `per_producer` items each (party `p` pushes
/// `p * per_producer + k`); the others pop as many in all. Returns what
/// each consumer summed.
fn expected_sum(per_producer: usize) -> u64 {
    let items = (PRODUCERS * per_producer) as u64;
    items * (items - 1) / 2
}

#[test]
fn producers_and_consumers_exchange_every_item_in_every_world() {
    let per_producer = scaled(5_000);
    let per_consumer = PRODUCERS * per_producer / CONSUMERS;
    for world in BLOCKING {
        let queue = Queue::new();
        let sums = run_blocking(world, PRODUCERS + CONSUMERS, move |party| {
            if party < PRODUCERS {
                for k in 0..per_producer {
                    queue.push((party * per_producer + k) as u64);
                }
                0
            } else {
                (0..per_consumer).map(|_| queue.pop()).sum::<u64>()
            }
        });
        assert_eq!(
            sums.iter().sum::<u64>(),
            expected_sum(per_producer),
            "{world:?}"
        );
    }
    let queue = Queue::new();
    let sums = run_async(PRODUCERS + CONSUMERS, move |party| {
        let queue = Arc::clone(&queue);
        async move {
            if party < PRODUCERS {
                for k in 0..per_producer {
                    queue.push_async((party * per_producer + k) as u64).await;
                }
                0
            } else {
                let mut sum = 0;
                for _ in 0..per_consumer {
                    sum += queue.pop_async().await;
                }
                sum
            }
        }
    });
    assert_eq!(
        sums.iter().sum::<u64>(),
        expected_sum(per_producer),
        "async"
    );
}

/// Waiters count themselves in under the lock before waiting, so once the
/// notifier sees them all, all are queued: one `notify_all` must wake
/// every one of them.
struct Gate {
    state: Mutex<(usize, bool)>, // (waiting, open)
    arrived: Condvar,
    opened: Condvar,
}

fn open_gate_when_all_wait(gate: Arc<Gate>, parties: usize) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut state = gate
            .arrived
            .wait_while(gate.state.lock(), |(waiting, _)| *waiting < parties);
        state.1 = true;
        drop(state);
        gate.opened.notify_all();
    })
}

#[test]
fn notify_all_wakes_every_waiter_in_every_world() {
    const PARTIES: usize = 6;
    let new_gate = || {
        Arc::new(Gate {
            state: Mutex::new((0, false)),
            arrived: Condvar::new(),
            opened: Condvar::new(),
        })
    };
    for world in BLOCKING {
        let gate = new_gate();
        let opener = open_gate_when_all_wait(Arc::clone(&gate), PARTIES);
        run_blocking(world, PARTIES, move |_| {
            let mut state = gate.state.lock();
            state.0 += 1;
            gate.arrived.notify_one();
            let state = gate.opened.wait_while(state, |(_, open)| !*open);
            assert!(state.1);
        });
        opener.join().unwrap();
    }
    let gate = new_gate();
    let opener = open_gate_when_all_wait(Arc::clone(&gate), PARTIES);
    run_async(PARTIES, move |_| {
        let gate = Arc::clone(&gate);
        async move {
            let mut state = gate.state.lock_async().await;
            state.0 += 1;
            gate.arrived.notify_one();
            while !state.1 {
                state = gate.opened.wait_async(state).await;
            }
        }
    });
    opener.join().unwrap();
}

/// Two hand-polled waits on `condvar`, first then second, both waiting.
fn two_waiters<'a>(
    mutex: &'a Mutex<()>,
    condvar: &'a Condvar,
) -> [Manual<CondvarWaitFuture<'a, ()>>; 2] {
    let mut first = Manual::new(condvar.wait_async(mutex.lock()));
    assert!(first.poll().is_pending());
    assert!(!mutex.is_locked(), "waiting must unlock the mutex");
    let mut second = Manual::new(condvar.wait_async(mutex.lock()));
    assert!(second.poll().is_pending());
    [first, second]
}

#[test]
fn a_notification_to_a_dropped_waiter_is_passed_on() {
    let mutex = Mutex::new(());
    let condvar = Condvar::new();
    let [first, mut second] = two_waiters(&mutex, &condvar);

    condvar.notify_one();
    assert_eq!((first.wakes(), second.wakes()), (1, 0));
    drop(first); // notified, never re-locked
    assert_eq!(second.wakes(), 1, "the notification was lost");
    let Poll::Ready(guard) = second.poll() else {
        panic!("notified, with the mutex free, but not done");
    };
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn a_notification_to_a_waiter_dropped_while_relocking_is_passed_on() {
    let mutex = Mutex::new(());
    let condvar = Condvar::new();
    let [mut first, mut second] = two_waiters(&mutex, &condvar);

    let held = mutex.lock();
    condvar.notify_one();
    // Notified; now queued on the mutex, which we hold.
    assert!(first.poll().is_pending());
    drop(first);
    assert_eq!(second.wakes(), 1, "the notification was lost");
    assert!(second.poll().is_pending(), "we hold the mutex");
    drop(held);
    assert!(second.poll().is_ready());
}

#[test]
fn wait_timeout_times_out_and_a_notification_ends_it_early() {
    // Blocking worlds only: a future has no timed form.
    for world in BLOCKING {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let waited = run_blocking(world, 1, {
            let pair = Arc::clone(&pair);
            move |_| {
                let (mutex, condvar) = &*pair;
                let start = Instant::now();
                let (guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(30));
                assert!(result.timed_out());
                assert!(mutex.is_locked(), "the guard is handed back");
                drop(guard);
                start.elapsed()
            }
        });
        assert!(waited[0] >= Duration::from_millis(30), "{world:?}");
        assert!(!pair.0.is_locked());

        let results = run_blocking(world, 2, move |party| {
            let (mutex, condvar) = &*pair;
            if party == 0 {
                let timeout = Duration::from_secs(60);
                let (guard, result) = condvar.wait_timeout_while(mutex.lock(), timeout, |r| !*r);
                assert!(*guard);
                result.timed_out()
            } else {
                *mutex.lock() = true;
                condvar.notify_all();
                false
            }
        });
        assert!(!results[0], "{world:?}: notified, but timed out");
    }
}

/// `<T as AmbiguousIfSend<_>>::check()` compiles only if `T` is not `Send`.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

#[test]
fn send_and_sync() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Condvar>();
    sync::<Condvar>();
    send::<CondvarWaitFuture<'static, u8>>();
    send::<CondvarWaitFuture<'static, std::cell::Cell<u8>>>();
    <CondvarWaitFuture<'static, std::rc::Rc<u8>> as AmbiguousIfSend<_>>::check();
}
