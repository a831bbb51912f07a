//! `block_on` on plain threads, and `wait` with and without a `Blocker`.
#![cfg(not(loom))]

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use spindle_exec::{Blocker, ManualExecutor, block_on, set_blocker, spawn, wait};

const ROUNDS: usize = if cfg!(miri) { 20 } else { 2_000 };

mod counting_alloc;
use counting_alloc::allocations;

/// Pending `times` times; each time hands its waker to `wake_with`, which
/// must make sure it is woken (now, on another thread, later...).
struct PendingTimes<W> {
    times: usize,
    polls: usize,
    wake_with: W,
}

impl<W: FnMut(Waker) + Unpin> Future for PendingTimes<W> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls > self.times {
            return Poll::Ready(self.polls);
        }
        let waker = cx.waker().clone();
        (self.wake_with)(waker);
        Poll::Pending
    }
}

fn pending_times<W: FnMut(Waker) + Unpin>(times: usize, wake_with: W) -> PendingTimes<W> {
    PendingTimes {
        times,
        polls: 0,
        wake_with,
    }
}

#[test]
fn block_on_returns_the_output_of_a_ready_future() {
    assert_eq!(block_on(async { 40 + 2 }), 42);
}

#[test]
fn block_on_allocates_its_parker_once_per_thread() {
    thread::spawn(|| {
        let before = allocations();
        assert_eq!(block_on(pending_times(1, Waker::wake)), 2);
        assert!(
            allocations() > before,
            "the first call makes the thread's parker"
        );
        let before = allocations();
        for _ in 0..10 {
            assert_eq!(block_on(pending_times(1, Waker::wake)), 2);
        }
        assert_eq!(allocations(), before, "later calls reuse it");
    })
    .join()
    .unwrap();
}

#[test]
fn block_on_is_woken_from_another_thread() {
    // A long-lived thread wakes whatever waker it receives, whenever it
    // gets to it: before, during or after this thread parks.
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker_thread = thread::spawn(move || rx.into_iter().for_each(Waker::wake));
    let polls = block_on(pending_times(ROUNDS, move |waker| tx.send(waker).unwrap()));
    assert_eq!(polls, ROUNDS + 1);
    waker_thread.join().unwrap();
}

#[test]
fn block_on_loses_no_wake_made_during_the_poll() {
    // Woken on another thread before the poll returns `Pending`.
    let polls = block_on(pending_times(ROUNDS / 10, |waker| {
        thread::spawn(move || waker.wake()).join().unwrap();
    }));
    assert_eq!(polls, ROUNDS / 10 + 1);
    // And by the polling thread itself.
    assert_eq!(block_on(pending_times(ROUNDS, Waker::wake)), ROUNDS + 1);
}

#[test]
fn block_on_nested_in_a_poll_keeps_both_wakers_working() {
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker_thread = thread::spawn(move || rx.into_iter().for_each(Waker::wake));
    let inner_tx = tx.clone();
    let outer = pending_times(3, move |waker| {
        // The inner `block_on` runs inside the outer one's poll.
        let inner_tx = inner_tx.clone();
        assert_eq!(
            block_on(pending_times(2, move |w| inner_tx.send(w).unwrap())),
            3
        );
        tx.send(waker).unwrap();
    });
    assert_eq!(block_on(outer), 4);
    waker_thread.join().unwrap();
}

#[test]
fn block_on_works_again_after_a_poll_panicked() {
    let panicked = catch_unwind(|| block_on(async { panic!("in poll") }));
    assert!(panicked.is_err());
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker_thread = thread::spawn(move || rx.into_iter().for_each(Waker::wake));
    assert_eq!(block_on(pending_times(5, move |w| tx.send(w).unwrap())), 6);
    waker_thread.join().unwrap();
}

#[test]
fn block_on_runs_a_task_joined_while_a_background_thread_runs_it() {
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async { "from the runner" });
    let runner = thread::spawn(move || executor.run_all());
    assert_eq!(block_on(task).unwrap(), "from the runner");
    assert_eq!(runner.join().unwrap(), 1);
}

// ---------------------------------------------------------------- wait

/// Polls in a loop with its own thread waker, counting its calls and polls:
/// what a fiber runtime's blocker does, minus the fiber. After a poll that
/// returns `Pending` it signals `on_pending`, if set.
struct CountingBlocker {
    calls: AtomicUsize,
    polls: AtomicUsize,
    on_pending: Mutex<Option<mpsc::Sender<()>>>,
}

impl CountingBlocker {
    const fn new() -> Self {
        CountingBlocker {
            calls: AtomicUsize::new(0),
            polls: AtomicUsize::new(0),
            on_pending: Mutex::new(None),
        }
    }
}

struct ThreadWaker {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

impl Blocker for CountingBlocker {
    fn block(&self, mut future: Pin<&mut dyn Future<Output = ()>>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let notify = Arc::new(ThreadWaker {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        });
        let waker = Waker::from(Arc::clone(&notify));
        let mut cx = Context::from_waker(&waker);
        loop {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if future.as_mut().poll(&mut cx).is_ready() {
                return;
            }
            if let Some(tx) = &*self.on_pending.lock().unwrap() {
                let _ = tx.send(());
            }
            while !notify.woken.swap(false, Ordering::SeqCst) {
                thread::park();
            }
        }
    }
}

/// A blocker that breaks the contract: it returns without polling.
struct QuittingBlocker;

impl Blocker for QuittingBlocker {
    fn block(&self, _future: Pin<&mut dyn Future<Output = ()>>) {}
}

/// Runs `f` on a fresh thread with `blocker` installed there.
fn with_blocker<B, R>(blocker: &'static B, f: impl FnOnce() -> R + Send) -> R
where
    B: Blocker + Sync,
    R: Send,
{
    thread::scope(|s| {
        s.spawn(move || {
            assert!(set_blocker(Some(blocker)).is_none());
            let result = f();
            assert!(set_blocker(None).is_some());
            result
        })
        .join()
        .unwrap()
    })
}

#[test]
fn wait_without_a_blocker_blocks_the_thread() {
    let (tx, rx) = mpsc::channel::<Waker>();
    let waker_thread = thread::spawn(move || rx.into_iter().for_each(Waker::wake));
    assert_eq!(wait(pending_times(3, move |w| tx.send(w).unwrap())), 4);
    waker_thread.join().unwrap();
}

#[test]
fn wait_hands_the_future_to_the_installed_blocker() {
    static BLOCKER: CountingBlocker = CountingBlocker::new();
    let polls = with_blocker(&BLOCKER, || {
        let (tx, rx) = mpsc::channel::<Waker>();
        let waker_thread = thread::spawn(move || rx.into_iter().for_each(Waker::wake));
        let polls = wait(pending_times(3, move |w| tx.send(w).unwrap()));
        waker_thread.join().unwrap();
        polls
    });
    assert_eq!(polls, 4);
    assert_eq!(BLOCKER.calls.load(Ordering::SeqCst), 1);
    assert_eq!(BLOCKER.polls.load(Ordering::SeqCst), 4);
}

#[test]
fn join_of_an_unfinished_task_waits_through_the_installed_blocker() {
    static BLOCKER: CountingBlocker = CountingBlocker::new();
    let (pending_tx, pending_rx) = mpsc::channel();
    *BLOCKER.on_pending.lock().unwrap() = Some(pending_tx);
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async { 9 });
    // Runs the task only once the blocker has polled the handle.
    let runner = thread::spawn(move || {
        pending_rx.recv().unwrap();
        executor.run_all()
    });
    assert_eq!(with_blocker(&BLOCKER, move || task.join().unwrap()), 9);
    assert_eq!(runner.join().unwrap(), 1);
    assert_eq!(BLOCKER.calls.load(Ordering::SeqCst), 1);
    assert_eq!(BLOCKER.polls.load(Ordering::SeqCst), 2);
}

#[test]
fn join_of_a_finished_task_does_not_wait() {
    static BLOCKER: CountingBlocker = CountingBlocker::new();
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async { 10 });
    executor.run_all();
    assert_eq!(with_blocker(&BLOCKER, move || task.join().unwrap()), 10);
    assert_eq!(BLOCKER.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn the_blocker_is_per_thread() {
    static BLOCKER: CountingBlocker = CountingBlocker::new();
    with_blocker(&BLOCKER, || {
        // Another thread has none installed.
        thread::spawn(|| assert_eq!(wait(async { 1 }), 1))
            .join()
            .unwrap();
    });
    assert_eq!(BLOCKER.calls.load(Ordering::SeqCst), 0);
    assert_eq!(wait(async { 2 }), 2);
    assert_eq!(BLOCKER.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn set_blocker_returns_the_previous_blocker() {
    static FIRST: CountingBlocker = CountingBlocker::new();
    static SECOND: CountingBlocker = CountingBlocker::new();
    thread::spawn(|| {
        assert!(set_blocker(Some(&FIRST)).is_none());
        let previous = set_blocker(Some(&SECOND)).expect("FIRST was installed");
        assert_eq!(wait(async { 3 }), 3);
        let replaced = set_blocker(Some(previous)).expect("SECOND was installed");
        assert!(std::ptr::addr_eq(replaced, &SECOND));
        assert_eq!(wait(async { 4 }), 4);
        set_blocker(None);
    })
    .join()
    .unwrap();
    assert_eq!(FIRST.calls.load(Ordering::SeqCst), 1);
    assert_eq!(SECOND.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn wait_panics_if_the_blocker_returns_before_the_future_completed() {
    static QUITTER: QuittingBlocker = QuittingBlocker;
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(Arc::clone(&dropped));
    let result = with_blocker(&QUITTER, move || {
        catch_unwind(AssertUnwindSafe(|| {
            wait(async move {
                let _guard = guard;
                5
            })
        }))
        .map_err(|payload| payload.downcast_ref::<&str>().map(|s| s.to_string()))
    });
    let message = result.unwrap_err().expect("a &str panic message");
    assert!(
        message.contains("returned before the future completed"),
        "{message}"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the unfinished future is dropped"
    );
}
