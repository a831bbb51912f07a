//! Async tasks: `spawn`, `JoinHandle`, `JoinError`, on the manual executor
//! and on a small background-thread executor defined here.
#![cfg(not(loom))]

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use spindle_exec::{
    Executor, Hint, JoinError, JoinHandle, ManualExecutor, Spawner, TaskRef, spawn,
};

const STRESS_TASKS: usize = if cfg!(miri) { 20 } else { 10_000 };

// ---------------------------------------------------------------- helpers

mod counting_alloc;
use counting_alloc::allocations_in;

/// An executor whose worker threads run tasks from one queue. After
/// [`ThreadPool::shutdown`], queued tasks are cancelled and so is every task
/// submitted later, inside `submit`, on the submitting thread.
#[derive(Clone)]
struct ThreadExecutor(Arc<PoolShared>);

struct PoolShared {
    queue: Mutex<(VecDeque<TaskRef>, bool)>,
    available: Condvar,
}

impl Spawner for ThreadExecutor {
    type Handle = Self;
    fn handle(&self) -> Self {
        self.clone()
    }
}

impl Executor for ThreadExecutor {
    fn submit(&self, task: TaskRef, _hint: Hint) {
        let mut queue = self.0.queue.lock().unwrap();
        if queue.1 {
            drop(queue);
            task.cancel();
        } else {
            queue.0.push_back(task);
            self.0.available.notify_one();
        }
    }
}

/// Owns the threads of a [`ThreadExecutor`]; shuts it down on drop.
struct ThreadPool {
    executor: ThreadExecutor,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ThreadPool {
    fn new(threads: usize) -> Self {
        let executor = ThreadExecutor(Arc::new(PoolShared {
            queue: Mutex::new((VecDeque::new(), false)),
            available: Condvar::new(),
        }));
        let threads = (0..threads)
            .map(|_| {
                let shared = Arc::clone(&executor.0);
                thread::spawn(move || {
                    loop {
                        let mut queue = shared.queue.lock().unwrap();
                        let task = loop {
                            if queue.1 {
                                return;
                            }
                            if let Some(task) = queue.0.pop_front() {
                                break task;
                            }
                            queue = shared.available.wait(queue).unwrap();
                        };
                        drop(queue);
                        task.run();
                    }
                })
            })
            .collect();
        ThreadPool { executor, threads }
    }

    /// Stops the workers (after the tasks they are running) and cancels
    /// what is queued. Returns how many queued tasks were cancelled.
    fn shutdown(&mut self) -> usize {
        let queued = {
            let mut queue = self.executor.0.queue.lock().unwrap();
            queue.1 = true;
            std::mem::take(&mut queue.0)
        };
        self.executor.0.available.notify_all();
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
        let cancelled = queued.len();
        queued.into_iter().for_each(TaskRef::cancel);
        cancelled
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Counts drops of the value it is part of.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// A future that is pending until `ready` is set, storing its latest waker
/// in `waker`, counting its polls, and dropping `drops` with itself.
struct Gate {
    shared: Arc<GateShared>,
    _drops: DropCount,
}

#[derive(Default)]
struct GateShared {
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
    polls: AtomicUsize,
}

impl GateShared {
    fn open(&self) {
        self.ready.store(true, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }
}

impl Future for Gate {
    type Output = &'static str;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        self.shared.polls.fetch_add(1, Ordering::SeqCst);
        *self.shared.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.shared.ready.load(Ordering::SeqCst) {
            Poll::Ready("open")
        } else {
            Poll::Pending
        }
    }
}

fn gate(drops: &Arc<AtomicUsize>) -> (Gate, Arc<GateShared>) {
    let shared = Arc::new(GateShared::default());
    (
        Gate {
            shared: Arc::clone(&shared),
            _drops: DropCount(Arc::clone(drops)),
        },
        shared,
    )
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Yields once: wakes itself and returns `Pending` the first time.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// xorshift64*: small, seedable, good enough to vary a stress test.
struct Rng(u64);

impl Rng {
    /// Seeded from `SPINDLE_SEED` if set, else at random (from std's
    /// hash seeds, which Miri supports); prints the seed so a failure can
    /// be replayed.
    fn from_env(test: &str) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::env::var("SPINDLE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            });
        println!("{test}: SPINDLE_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---------------------------------------------------------------- output

#[test]
fn output_is_delivered_through_join_on_the_manual_executor() {
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async { String::from("hello") });
    assert!(!task.is_finished());
    assert_eq!(executor.run_all(), 1);
    assert!(task.is_finished());
    assert_eq!(task.join().unwrap(), "hello");
}

#[test]
fn output_is_delivered_through_await_in_another_task() {
    let executor = ManualExecutor::new();
    let (future, shared) = gate(&counter());
    let first = spawn(&executor, future);
    let second = spawn(&executor, async move { first.await.unwrap().len() });
    executor.run_all();
    assert!(!second.is_finished(), "the awaited task is still pending");
    shared.open();
    // The gate's wake queues the first task; its completion wakes the second.
    assert_eq!(executor.run_all(), 2);
    assert_eq!(second.join().unwrap(), 4);
}

#[test]
fn output_is_delivered_through_join_from_a_background_executor() {
    let pool = ThreadPool::new(2);
    let handles: Vec<JoinHandle<usize>> = (0..100)
        .map(|i| {
            spawn(&pool.executor, async move {
                YieldNow(false).await;
                i * 3
            })
        })
        .collect();
    let outputs: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outputs, (0..100).map(|i| i * 3).collect::<Vec<_>>());
}

#[test]
fn output_is_delivered_through_await_across_background_threads() {
    let pool = ThreadPool::new(3);
    let leaves: Vec<JoinHandle<u64>> = (0..50_u64)
        .map(|i| spawn(&pool.executor, async move { i }))
        .collect();
    let sum = spawn(&pool.executor, async move {
        let mut sum = 0;
        for leaf in leaves {
            sum += leaf.await.unwrap();
        }
        sum
    });
    assert_eq!(sum.join().unwrap(), (0..50).sum::<u64>());
}

#[test]
fn a_task_that_wakes_itself_goes_to_the_back_of_the_queue() {
    let executor = ManualExecutor::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let yielder = {
        let log = Arc::clone(&log);
        spawn(&executor, async move {
            log.lock().unwrap().push("a1");
            YieldNow(false).await;
            log.lock().unwrap().push("a2");
        })
    };
    let other = {
        let log = Arc::clone(&log);
        spawn(&executor, async move { log.lock().unwrap().push("b") })
    };
    assert_eq!(executor.run_all(), 3);
    assert_eq!(*log.lock().unwrap(), ["a1", "b", "a2"]);
    yielder.join().unwrap();
    other.join().unwrap();
}

#[test]
fn spawn_allocates_once_and_running_waking_and_joining_allocate_nothing() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let (future, shared) = gate(&drops);
    let (spawned, task) = allocations_in(|| spawn(&executor, future));
    assert_eq!(spawned, 1, "one allocation per spawn");
    let (ran, _) = allocations_in(|| executor.run_all());
    assert_eq!(ran, 0, "polling allocates nothing");
    let (woken, _) = allocations_in(|| {
        shared.open();
        executor.run_all()
    });
    assert_eq!(woken, 0, "a wake and a re-run allocate nothing");
    let (joined, output) = allocations_in(|| task.join().unwrap());
    assert_eq!(joined, 0, "joining a finished task allocates nothing");
    assert_eq!(output, "open");
}

// ---------------------------------------------------------------- wakes

#[test]
fn waking_a_queued_task_does_not_queue_it_twice() {
    let executor = ManualExecutor::new();
    let (future, shared) = gate(&counter());
    let task = spawn(&executor, future);
    executor.run_all();
    let waker = shared.waker.lock().unwrap().clone().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref();
    // And by value, from a clone of its own.
    let clone = waker.clone();
    clone.wake();
    assert_eq!(executor.len(), 1);
    shared.open();
    assert_eq!(executor.run_all(), 1);
    assert_eq!(task.join().unwrap(), "open");
    assert_eq!(shared.polls.load(Ordering::SeqCst), 2);
}

#[test]
fn waking_a_finished_task_does_nothing_and_its_waker_stays_valid() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let (future, shared) = gate(&drops);
    shared.ready.store(true, Ordering::SeqCst);
    let task = spawn(&executor, future);
    executor.run_all();
    assert_eq!(task.join().unwrap(), "open");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the future is dropped when it completes"
    );
    // The stored waker outlives the handle and the run: it keeps the task's
    // memory alive (Miri checks this), and waking it queues nothing.
    let waker = shared.waker.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    waker.wake();
    assert_eq!(executor.len(), 0);
}

#[test]
fn a_wake_during_the_poll_polls_the_task_again() {
    let executor = ManualExecutor::new();
    let polls = counter();
    let task = {
        let polls = Arc::clone(&polls);
        spawn(
            &executor,
            std::future::poll_fn(move |cx| {
                let n = polls.fetch_add(1, Ordering::SeqCst);
                if n == 0 {
                    // Woken from another thread while this poll runs.
                    let waker = cx.waker().clone();
                    thread::spawn(move || waker.wake()).join().unwrap();
                    Poll::Pending
                } else {
                    Poll::Ready(n)
                }
            }),
        )
    };
    assert_eq!(executor.run_all(), 2);
    assert_eq!(task.join().unwrap(), 1);
}

/// Many tasks on pool threads, each woken several times by dedicated waker
/// threads. Each wake is, at random, either made *while the poll runs* (the
/// poll has already decided on `Pending` and waits until the waker thread
/// has woken it: the task must run again) or fired without waiting (it
/// lands before, during or after the end of the poll). Every task must
/// finish: a lost wake-up leaves one pending forever, reported after a
/// bounded wait.
#[test]
fn wakes_from_other_threads_while_running_are_never_lost() {
    let mut rng = Rng::from_env("wakes_from_other_threads_while_running_are_never_lost");
    let pool = ThreadPool::new(3);

    /// Sets `progress` to `step`, then wakes `waker`, then sets `ack`.
    struct WakeJob {
        progress: Arc<AtomicUsize>,
        step: usize,
        waker: Waker,
        ack: Option<Arc<AtomicBool>>,
    }

    /// Ready once `progress` reaches `target`; each poll before that asks
    /// its waker thread for the next step.
    struct Stepper {
        progress: Arc<AtomicUsize>,
        requested: usize,
        target: usize,
        /// Bit `i`: wait in the poll until step `i + 1`'s wake was made.
        wait_for_wake: u64,
        jobs: mpsc::Sender<WakeJob>,
        done: mpsc::Sender<()>,
    }

    impl Future for Stepper {
        type Output = usize;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let seen = self.progress.load(Ordering::SeqCst);
            if seen == self.target {
                self.done.send(()).unwrap();
                return Poll::Ready(seen);
            }
            if self.requested > seen {
                return Poll::Pending; // a wake is on its way
            }
            self.requested = seen + 1;
            let wait = self.wait_for_wake & (1 << seen) != 0;
            let ack = wait.then(|| Arc::new(AtomicBool::new(false)));
            let job = WakeJob {
                progress: Arc::clone(&self.progress),
                step: seen + 1,
                waker: cx.waker().clone(),
                ack: ack.clone(),
            };
            self.jobs.send(job).unwrap();
            if let Some(ack) = ack {
                // We return `Pending` for a step we did not see, after the
                // wake for it: only the wake-while-running path can save us.
                while !ack.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
            }
            Poll::Pending
        }
    }

    const WAKER_THREADS: usize = 2;
    let (senders, wakers): (Vec<_>, Vec<_>) = (0..WAKER_THREADS)
        .map(|_| {
            let (tx, rx) = mpsc::channel::<WakeJob>();
            let thread = thread::spawn(move || {
                for job in rx {
                    job.progress.store(job.step, Ordering::SeqCst);
                    job.waker.wake();
                    if let Some(ack) = job.ack {
                        ack.store(true, Ordering::SeqCst);
                    }
                }
            });
            (tx, thread)
        })
        .unzip();

    let (done_tx, done_rx) = mpsc::channel();
    let handles: Vec<_> = (0..STRESS_TASKS)
        .map(|i| {
            let target = 2 + rng.below(4) as usize;
            let stepper = Stepper {
                progress: Arc::new(AtomicUsize::new(0)),
                requested: 0,
                target,
                wait_for_wake: rng.next(),
                jobs: senders[i % WAKER_THREADS].clone(),
                done: done_tx.clone(),
            };
            (spawn(&pool.executor, stepper), target)
        })
        .collect();
    drop(senders);
    for finished in 0..STRESS_TASKS {
        if done_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let pending = handles.iter().filter(|(h, _)| !h.is_finished()).count();
            panic!(
                "lost wake-up: {pending} tasks never finished ({finished} did); see the seed above"
            );
        }
    }
    for (handle, target) in handles {
        assert_eq!(handle.join().unwrap(), target);
    }
    // The futures, and with them the job senders, are gone.
    for waker in wakers {
        waker.join().unwrap();
    }
}

// ---------------------------------------------------------------- panics

#[test]
fn a_panic_in_the_future_becomes_a_join_error_with_its_payload() {
    let executor = ManualExecutor::new();
    let literal = spawn(&executor, async { panic!("static message") });
    let formatted = spawn(&executor, async {
        let n = 42;
        panic!("formatted {n}")
    });
    let custom = spawn(&executor, async { std::panic::panic_any(7_u32) });
    executor.run_all();

    let error = literal.join().unwrap_err();
    assert!(error.is_panic() && !error.is_cancelled());
    assert_eq!(error.to_string(), "task panicked: static message");
    assert_eq!(
        error.into_panic().downcast_ref::<&str>(),
        Some(&"static message")
    );

    let error = formatted.join().unwrap_err();
    assert_eq!(error.to_string(), "task panicked: formatted 42");
    assert_eq!(format!("{error:?}"), r#"JoinError::Panic("formatted 42")"#);
    assert_eq!(
        *error.into_panic().downcast::<String>().unwrap(),
        "formatted 42"
    );

    let error = custom.join().unwrap_err();
    assert_eq!(error.to_string(), "task panicked");
    assert_eq!(
        *error.try_into_panic().unwrap().downcast::<u32>().unwrap(),
        7
    );
}

#[test]
fn a_panicking_task_drops_its_future_and_leaves_the_executor_usable() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let task = {
        let guard = DropCount(Arc::clone(&drops));
        spawn(&executor, async move {
            let _guard = guard;
            panic!("inside")
        })
    };
    let after = spawn(&executor, async { 1 });
    assert_eq!(executor.run_all(), 2);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(task.join().unwrap_err().is_panic());
    assert_eq!(after.join().unwrap(), 1);
}

#[test]
fn into_panic_on_a_cancelled_error_panics_and_try_into_panic_gives_it_back() {
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async {});
    task.abort();
    // The queue entry is stale now: running it changes nothing.
    executor.run_all();
    let error = task.join().unwrap_err();
    assert_eq!(error.to_string(), "task was cancelled");
    let error = error.try_into_panic().unwrap_err();
    assert!(error.is_cancelled());
    assert!(catch_unwind(AssertUnwindSafe(|| error.into_panic())).is_err());
}

// ---------------------------------------------------------------- abort

#[test]
fn abort_of_a_queued_task_drops_the_future_once_and_never_polls_it() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let (future, shared) = gate(&drops);
    let task = spawn(&executor, future);
    task.abort();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped right away");
    assert!(task.is_finished());
    task.abort(); // again: nothing more happens
    assert_eq!(
        executor.run_all(),
        1,
        "the stale queue entry runs and does nothing"
    );
    assert_eq!(shared.polls.load(Ordering::SeqCst), 0);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(task.join().unwrap_err().is_cancelled());
}

#[test]
fn abort_of_an_idle_task_drops_the_future_and_wakes_its_joiner() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let (future, shared) = gate(&drops);
    let mut task = spawn(&executor, future);
    executor.run_all();
    let joiner = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&joiner));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut task).poll(&mut cx).is_pending());
    task.abort();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(joiner.0.load(Ordering::SeqCst), 1);
    match Pin::new(&mut task).poll(&mut cx) {
        Poll::Ready(Err(error)) => assert!(error.is_cancelled()),
        other => panic!("expected a cancelled task, got {other:?}"),
    }
    // A wake after the abort finds the task complete.
    shared.open();
    assert_eq!(executor.len(), 0);
}

#[test]
fn abort_during_a_poll_drops_the_future_when_the_poll_returns() {
    let pool = ThreadPool::new(1);
    let drops = counter();
    let (in_poll_tx, in_poll_rx) = mpsc::channel::<()>();
    let (aborted_tx, aborted_rx) = mpsc::channel::<()>();
    let task = {
        let guard = DropCount(Arc::clone(&drops));
        let mut in_poll_tx = Some(in_poll_tx);
        spawn(
            &pool.executor,
            std::future::poll_fn(move |_| {
                let _ = &guard;
                if let Some(tx) = in_poll_tx.take() {
                    tx.send(()).unwrap();
                    aborted_rx.recv().unwrap();
                }
                Poll::<()>::Pending
            }),
        )
    };
    in_poll_rx.recv().unwrap();
    task.abort();
    assert_eq!(drops.load(Ordering::SeqCst), 0, "not while the poll runs");
    aborted_tx.send(()).unwrap();
    assert!(task.join().unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async { 5 });
    executor.run_all();
    task.abort();
    assert_eq!(task.join().unwrap(), 5);
}

#[test]
fn a_panic_while_dropping_an_aborted_future_is_reported_as_a_panic() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop panicked");
        }
    }
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async {
        let _bomb = PanicOnDrop;
        std::future::pending::<()>().await
    });
    executor.run_all();
    task.abort();
    let error = task.join().unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.to_string(), "task panicked: drop panicked");
}

// ---------------------------------------------------------------- handles

#[test]
fn dropping_the_handle_detaches_the_task_which_still_runs() {
    let executor = ManualExecutor::new();
    let ran = Arc::new(AtomicBool::new(false));
    let output_drops = counter();
    {
        let ran = Arc::clone(&ran);
        let output = DropCount(Arc::clone(&output_drops));
        drop(spawn(&executor, async move {
            YieldNow(false).await;
            ran.store(true, Ordering::SeqCst);
            output
        }));
    }
    assert_eq!(executor.run_all(), 2);
    assert!(ran.load(Ordering::SeqCst));
    assert_eq!(
        output_drops.load(Ordering::SeqCst),
        1,
        "the unclaimed output is dropped"
    );
}

#[test]
fn dropping_a_finished_handle_drops_the_unclaimed_output() {
    let executor = ManualExecutor::new();
    let output_drops = counter();
    let output = DropCount(Arc::clone(&output_drops));
    let task = spawn(&executor, async move { output });
    executor.run_all();
    assert_eq!(
        output_drops.load(Ordering::SeqCst),
        0,
        "kept for the handle"
    );
    drop(task);
    assert_eq!(output_drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_an_awaited_handle_before_completion_releases_its_waker() {
    let executor = ManualExecutor::new();
    let (future, shared) = gate(&counter());
    let mut task = spawn(&executor, future);
    executor.run_all();
    let joiner = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&joiner));
    assert!(
        Pin::new(&mut task)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    assert_eq!(Arc::strong_count(&joiner), 3, "the task holds a clone");
    drop(task);
    assert_eq!(Arc::strong_count(&joiner), 2, "released with the handle");
    shared.open();
    executor.run_all();
    assert_eq!(joiner.0.load(Ordering::SeqCst), 0, "nobody to wake");
}

#[test]
fn polling_the_handle_with_a_new_waker_replaces_the_old_one() {
    let executor = ManualExecutor::new();
    let (future, shared) = gate(&counter());
    let mut task = spawn(&executor, future);
    executor.run_all();
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    for joiner in [&first, &first, &second] {
        let waker = Waker::from(Arc::clone(joiner));
        assert!(
            Pin::new(&mut task)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    shared.open();
    executor.run_all();
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    let waker = Waker::from(second);
    let output = Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
    assert!(matches!(output, Poll::Ready(Ok("open"))));
}

#[test]
fn an_idle_task_nobody_can_wake_is_freed_with_its_future() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let (future, shared) = gate(&drops);
    let task = spawn(&executor, future);
    executor.run_all();
    drop(task);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "its waker could still wake it"
    );
    drop(shared.waker.lock().unwrap().take());
    assert_eq!(drops.load(Ordering::SeqCst), 1, "last reference gone");
}

#[test]
fn many_tasks_spawned_and_joined_on_a_background_executor() {
    let pool = ThreadPool::new(4);
    let n = if cfg!(miri) { 50 } else { 20_000 };
    let handles: Vec<_> = (0..n)
        .map(|i| spawn(&pool.executor, async move { i }))
        .collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..n).sum());
}

// ---------------------------------------------------------------- shutdown

#[test]
fn dropping_the_manual_executor_cancels_queued_tasks_and_drops_their_futures() {
    let executor = ManualExecutor::new();
    let handle = executor.handle();
    let drops = counter();
    let (future, shared) = gate(&drops);
    let queued: Vec<_> = (0..3)
        .map(|_| {
            let drops = DropCount(Arc::clone(&drops));
            spawn(&handle, async move {
                let _drops = drops;
            })
        })
        .collect();
    let waiting = spawn(&handle, future);
    executor.run_at_most(4); // runs the three and polls `waiting` once
    let late: Vec<_> = (0..2)
        .map(|_| {
            let drops = DropCount(Arc::clone(&drops));
            spawn(&handle, async move {
                let _drops = drops;
                "ran"
            })
        })
        .collect();
    drop(executor);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3 + 2,
        "queued futures dropped at once"
    );
    for task in late {
        assert!(task.join().unwrap_err().is_cancelled());
    }
    for task in queued {
        task.join().unwrap();
    }
    // A wake now submits to a dead executor, which cancels on the spot.
    assert!(!waiting.is_finished());
    shared.open();
    assert!(waiting.join().unwrap_err().is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 3 + 2 + 1);
}

/// Each task keeps a handle of the executor it was spawned on, to submit
/// itself when woken; the handle does not keep the executor alive.
#[test]
fn dropping_a_manual_executor_shared_with_its_tasks_cancels_them() {
    let executor = ManualExecutor::new();
    let drops = counter();
    let guard = DropCount(Arc::clone(&drops));
    let task = spawn(&executor, async move {
        let _guard = guard;
    });
    drop(executor);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(task.join().unwrap_err().is_cancelled());
}

#[test]
fn shutting_down_a_background_executor_cancels_queued_and_later_tasks() {
    let mut pool = ThreadPool::new(1);
    let drops = counter();
    let (blocker_future, blocker) = gate(&counter());
    // Keep the only worker busy so the next tasks stay queued.
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = spawn(&pool.executor, async move {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    started_rx.recv().unwrap();
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let drops = DropCount(Arc::clone(&drops));
            spawn(&pool.executor, async move {
                let _drops = drops;
            })
        })
        .collect();
    let waiting = spawn(&pool.executor, blocker_future);
    release_tx.send(()).unwrap();
    busy.join().unwrap();
    let cancelled = pool.shutdown();
    // Whatever the worker had not started when shutdown began is cancelled.
    let ran = queued.into_iter().filter_map(|t| t.join().ok()).count();
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    // `waiting` is finished now only if it was cancelled while queued.
    assert_eq!(ran + cancelled, 4 + usize::from(waiting.is_finished()));
    // Waking the waiting task now submits to a closed executor: cancelled
    // inside `submit`, with the task kept alive by the waker's reference.
    blocker.open();
    assert!(waiting.join().unwrap_err().is_cancelled());
}

// ---------------------------------------------------------------- traits

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
fn assert_unpin<T: Unpin>() {}

#[test]
fn join_handle_is_send_sync_and_unpin_when_the_output_is_send() {
    assert_send::<JoinHandle<u32>>();
    assert_sync::<JoinHandle<u32>>();
    // `Cell` is `Send` but not `Sync`: a shared handle never exposes it.
    assert_send::<JoinHandle<std::cell::Cell<u32>>>();
    assert_sync::<JoinHandle<std::cell::Cell<u32>>>();
    assert_unpin::<JoinHandle<std::marker::PhantomPinned>>();
}

#[test]
fn join_error_is_a_send_sync_error() {
    assert_error::<JoinError>();
    let executor = ManualExecutor::new();
    let task = spawn(&executor, async {});
    task.abort();
    executor.run_all();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(task.join().unwrap_err());
    assert_eq!(boxed.to_string(), "task was cancelled");
}
