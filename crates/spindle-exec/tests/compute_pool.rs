//! `ComputePool`: threads, wake-ups, hint order, shutdown, panics,
//! handles (tasks sent to one worker: `compute_submit_to.rs`).
//!
//! Tasks here are raw [`Task`]s with a closure (see `task`), so these tests
//! depend on nothing but the pool and the task protocol. Waits are bounded
//! by `TIMEOUT` and only there to turn a hang into a failure.

use spindle_exec::{ComputePool, ComputePoolBuilder, Executor, Hint, Policy, PoolError, TaskRef};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

mod common;
use common::{Countdown, Rng, TIMEOUT, blocker, task, task_with_cancel};

/// Sends on its channel when the thread that holds it exits.
struct OnThreadExit(Sender<()>);

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

thread_local! {
    static EXIT_NOTE: RefCell<Option<OnThreadExit>> = const { RefCell::new(None) };
}

/// Arranges for `tx` to hear when the current thread exits.
fn notify_on_thread_exit(tx: Sender<()>) {
    EXIT_NOTE.with(|note| *note.borrow_mut() = Some(OnThreadExit(tx)));
}

// ---------------------------------------------------------------- threads

#[test]
fn runs_tasks_on_every_worker_thread_at_once() {
    let pool = ComputePool::builder()
        .threads(2)
        .name("both")
        .build()
        .unwrap();
    let meet = Countdown::new(2);
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let (meet, tx) = (meet.clone(), tx.clone());
        pool.submit(
            task(move || {
                meet.hit();
                // Returns 2 only if the other task runs meanwhile, on the
                // other worker.
                let met = meet.wait() == 2;
                let me = thread::current();
                tx.send((me.id(), me.name().map(str::to_owned), met))
                    .unwrap();
            }),
            Hint::Back,
        );
    }
    let seen: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(TIMEOUT).expect("a task never finished"))
        .collect();
    assert!(
        seen.iter().all(|s| s.2),
        "both tasks must run at the same time"
    );
    let ids: HashSet<ThreadId> = seen.iter().map(|s| s.0).collect();
    assert_eq!(ids.len(), 2);
    let mut names: Vec<_> = seen.into_iter().map(|s| s.1.unwrap()).collect();
    names.sort();
    assert_eq!(names, ["both-0", "both-1"]);
}

#[test]
fn default_thread_count_is_the_available_parallelism() {
    let pool = ComputePool::builder().build().unwrap();
    let expected =
        thread::available_parallelism().map_or(1, |n| n.get().min(ComputePool::MAX_THREADS));
    assert_eq!(pool.threads(), expected);
}

// ---------------------------------------------------------------- wake-ups

#[test]
fn no_task_is_lost_under_concurrent_submission() {
    const SUBMITTERS: usize = 4;
    const PER_SUBMITTER: usize = 25_000;
    let (mut rng, seed) = Rng::from_env();
    let threads = 1 + rng.below(4) as usize;
    let pool = ComputePool::new(threads).unwrap();
    let done = Countdown::new(SUBMITTERS * PER_SUBMITTER);
    thread::scope(|s| {
        for submitter in 0..SUBMITTERS {
            let mut rng = Rng::with_seed(seed.wrapping_add(submitter as u64 + 1));
            let (pool, done) = (&pool, &done);
            s.spawn(move || {
                for _ in 0..PER_SUBMITTER {
                    let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
                    let done = Arc::clone(done);
                    pool.submit(task(move || done.hit()), hint);
                    // Now and then let the workers catch up and go to sleep.
                    if rng.below(64) == 0 {
                        thread::yield_now();
                    }
                }
            });
        }
    });
    assert_eq!(
        done.wait(),
        SUBMITTERS * PER_SUBMITTER,
        "seed {seed}, {threads} threads"
    );
    assert_eq!(pool.queued(), 0);
}

#[test]
fn no_wakeup_is_lost_when_workers_sleep_between_tasks() {
    // One task in flight per submitter: the workers go idle after nearly
    // every task, so each submit has to wake one.
    const SUBMITTERS: usize = 4;
    const ROUNDS: usize = 2_000;
    let pool = ComputePool::new(2).unwrap();
    thread::scope(|s| {
        for submitter in 0..SUBMITTERS {
            let pool = &pool;
            s.spawn(move || {
                let (tx, rx) = mpsc::channel();
                for round in 0..ROUNDS {
                    let tx = tx.clone();
                    pool.submit(task(move || tx.send(round).unwrap()), Hint::Back);
                    let got = rx.recv_timeout(TIMEOUT);
                    assert_eq!(
                        got,
                        Ok(round),
                        "submitter {submitter}: task of round {round} never ran"
                    );
                }
            });
        }
    });
}

#[test]
fn tasks_submitted_by_tasks_all_run() {
    // A binary tree of tasks, each submitting its children with a random
    // hint: 2^14 - 1 tasks, nearly all submitted from the workers.
    const DEPTH: u32 = 14;
    let (rng, seed) = Rng::from_env();
    let pool = ComputePool::new(3).unwrap();
    let done = Countdown::new((1 << DEPTH) - 1);

    fn node(pool: ComputePool, done: Arc<Countdown>, depth: u32, seed: u64) -> TaskRef {
        task(move || {
            if depth > 1 {
                for child in 0..2 {
                    let mut rng = Rng::with_seed(seed ^ u64::from(depth) << 32 ^ child);
                    let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
                    let seed = rng.next();
                    pool.submit(node(pool.clone(), done.clone(), depth - 1, seed), hint);
                }
            }
            done.hit();
        })
    }

    pool.submit(
        node(pool.clone(), done.clone(), DEPTH, rng.state()),
        Hint::Back,
    );
    assert_eq!(done.wait(), (1 << DEPTH) - 1, "seed {seed}");
}

// ---------------------------------------------------------------- hints

#[test]
fn next_runs_before_back_on_one_thread() {
    let pool = ComputePool::new(1).unwrap();
    let (block, started, release) = blocker(|| {});
    pool.submit(block, Hint::Back);
    started.recv_timeout(TIMEOUT).unwrap();

    let order = Arc::new(Mutex::new(Vec::new()));
    let done = Countdown::new(5);
    for (name, hint) in [
        ("back 1", Hint::Back),
        ("next 1", Hint::Next),
        ("back 2", Hint::Back),
        ("next 2", Hint::Next),
        ("inline", Hint::Inline),
    ] {
        let (order, done) = (order.clone(), done.clone());
        pool.submit(
            task(move || {
                order.lock().unwrap().push((name, thread::current().id()));
                done.hit();
            }),
            hint,
        );
    }
    assert_eq!(
        pool.queued(),
        5,
        "nothing may run while the worker is blocked"
    );
    release.send(()).unwrap();
    assert_eq!(done.wait(), 5);

    let order = order.lock().unwrap();
    let names: Vec<_> = order.iter().map(|(name, _)| *name).collect();
    // Inline from a thread outside the pool is treated as Next.
    assert_eq!(names, ["inline", "next 2", "next 1", "back 1", "back 2"]);
    assert!(
        order.iter().all(|(_, id)| *id != thread::current().id()),
        "all ran on the worker"
    );
}

#[test]
fn inline_on_a_worker_runs_before_submit_returns() {
    let pool = ComputePool::new(2).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = pool.clone();
    pool.submit(
        task(move || {
            let ran_on = Arc::new(Mutex::new(None));
            let inner = ran_on.clone();
            handle.submit(
                task(move || *inner.lock().unwrap() = Some(thread::current().id())),
                Hint::Inline,
            );
            let ran_on = *ran_on.lock().unwrap();
            tx.send((ran_on, thread::current().id())).unwrap();
        }),
        Hint::Back,
    );
    let (ran_on, worker) = rx.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(
        ran_on,
        Some(worker),
        "the inline task ran on the submitting worker, before submit returned"
    );
}

#[test]
fn inline_nesting_is_bounded() {
    // A chain of tasks, each submitting the next inline: the nesting
    // (measured per thread) must stop growing, and the chain must finish.
    const CHAIN: usize = 200;
    thread_local! {
        static DEPTH: Cell<usize> = const { Cell::new(0) };
    }
    let pool = ComputePool::new(1).unwrap();
    let deepest = Arc::new(AtomicUsize::new(0));
    let done = Countdown::new(CHAIN);

    fn link(
        pool: ComputePool,
        deepest: Arc<AtomicUsize>,
        done: Arc<Countdown>,
        left: usize,
    ) -> TaskRef {
        task(move || {
            let depth = DEPTH.with(|d| {
                d.set(d.get() + 1);
                d.get()
            });
            deepest.fetch_max(depth, Ordering::SeqCst);
            if left > 1 {
                pool.submit(
                    link(pool.clone(), deepest.clone(), done.clone(), left - 1),
                    Hint::Inline,
                );
            }
            DEPTH.with(|d| d.set(d.get() - 1));
            done.hit();
        })
    }

    pool.submit(
        link(pool.clone(), deepest.clone(), done.clone(), CHAIN),
        Hint::Back,
    );
    assert_eq!(done.wait(), CHAIN);
    let deepest = deepest.load(Ordering::SeqCst);
    assert!(deepest > 1, "Hint::Inline on a worker must run inline");
    assert!(deepest <= 16, "inline nesting reached {deepest}");
}

#[test]
fn a_custom_policy_decides_the_order() {
    /// Last in, first out, whatever the hint.
    struct Lifo(Vec<TaskRef>);
    impl Policy for Lifo {
        fn push(&mut self, task: TaskRef, _hint: Hint) {
            self.0.push(task);
        }
        fn pop(&mut self) -> Option<TaskRef> {
            self.0.pop()
        }
        fn len(&self) -> usize {
            self.0.len()
        }
    }
    impl Drop for Lifo {
        fn drop(&mut self) {
            self.0.drain(..).for_each(TaskRef::cancel);
        }
    }

    let builder: ComputePoolBuilder<Lifo> =
        ComputePool::builder().threads(1).policy(Lifo(Vec::new()));
    let pool = builder.build().unwrap();
    let (block, started, release) = blocker(|| {});
    pool.submit(block, Hint::Back);
    started.recv_timeout(TIMEOUT).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let done = Countdown::new(3);
    for i in 0..3 {
        let (order, done) = (order.clone(), done.clone());
        pool.submit(
            task(move || {
                order.lock().unwrap().push(i);
                done.hit();
            }),
            Hint::Back,
        );
    }
    release.send(()).unwrap();
    assert_eq!(done.wait(), 3);
    assert_eq!(*order.lock().unwrap(), [2, 1, 0]);
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_drains_queued_tasks_then_cancels_late_ones() {
    const QUEUED: usize = 100;
    let pool = ComputePool::new(2).unwrap();
    // Both workers blocked; the first starts the shutdown before it tells
    // us it runs, so everything below is queued or submitted after that.
    let handle = pool.clone();
    let (block_a, started_a, release_a) = blocker(move || handle.shutdown_background());
    let (block_b, started_b, release_b) = blocker(|| {});
    pool.submit(block_a, Hint::Back);
    pool.submit(block_b, Hint::Back);
    started_a.recv_timeout(TIMEOUT).unwrap();
    started_b.recv_timeout(TIMEOUT).unwrap();

    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..QUEUED {
        let (runs, handle) = (runs.clone(), pool.clone());
        pool.submit(
            task(move || {
                runs.fetch_add(1, Ordering::SeqCst);
                // Submitted while the pool drains: runs too.
                let runs = runs.clone();
                handle.submit(
                    task(move || _ = runs.fetch_add(1, Ordering::SeqCst)),
                    Hint::Back,
                );
            }),
            Hint::Back,
        );
    }
    release_a.send(()).unwrap();
    release_b.send(()).unwrap();
    assert_eq!(pool.shutdown(), Ok(()));
    assert_eq!(runs.load(Ordering::SeqCst), 2 * QUEUED);
    assert_eq!(pool.queued(), 0);

    let ran = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let (r, c) = (ran.clone(), cancelled.clone());
    pool.submit(
        task_with_cancel(
            move || r.store(true, Ordering::SeqCst),
            move || c.store(true, Ordering::SeqCst),
        ),
        Hint::Back,
    );
    assert!(
        cancelled.load(Ordering::SeqCst),
        "a task submitted after shutdown is cancelled at once"
    );
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(pool.shutdown(), Ok(()), "a second shutdown is fine");
}

#[test]
fn concurrent_shutdowns_each_wait_for_the_drain() {
    const QUEUED: usize = 50;
    let pool = ComputePool::new(1).unwrap();
    let (block, started, release) = blocker(|| {});
    pool.submit(block, Hint::Back);
    started.recv_timeout(TIMEOUT).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..QUEUED {
        let runs = runs.clone();
        pool.submit(
            task(move || _ = runs.fetch_add(1, Ordering::SeqCst)),
            Hint::Back,
        );
    }
    thread::scope(|s| {
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (pool, runs) = (&pool, &runs);
                s.spawn(move || {
                    pool.shutdown().unwrap();
                    runs.load(Ordering::SeqCst)
                })
            })
            .collect();
        release.send(()).unwrap();
        for waiter in waiters {
            assert_eq!(
                waiter.join().unwrap(),
                QUEUED,
                "shutdown returned before the drain ended"
            );
        }
    });
}

#[test]
fn shutdown_on_a_worker_is_an_error_not_a_deadlock() {
    let pool = ComputePool::new(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = pool.clone();
    pool.submit(
        task(move || tx.send(handle.shutdown()).unwrap()),
        Hint::Back,
    );
    let refused = rx.recv_timeout(TIMEOUT).unwrap();
    // `ShutdownError` is matched by its `Debug` form so this file does not
    // depend on the crate root re-exporting it.
    assert_eq!(format!("{refused:?}"), "Err(OnWorkerThread)");

    // Nothing was done: the pool still runs tasks.
    let (tx, rx) = mpsc::channel();
    pool.submit(task(move || tx.send(()).unwrap()), Hint::Back);
    rx.recv_timeout(TIMEOUT)
        .expect("the pool stopped after a refused shutdown");
}

#[test]
fn dropping_the_last_handle_drains_and_joins() {
    const QUEUED: usize = 1_000;
    let pool = ComputePool::new(2).unwrap();
    // Both workers leave a note to be sent when their thread exits.
    let (exit_tx, exit_rx) = mpsc::channel();
    let meet = Countdown::new(2);
    for _ in 0..2 {
        let (exit_tx, meet) = (exit_tx.clone(), meet.clone());
        pool.submit(
            task(move || {
                notify_on_thread_exit(exit_tx);
                meet.hit();
                assert_eq!(meet.wait(), 2);
            }),
            Hint::Back,
        );
    }
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..QUEUED {
        let runs = runs.clone();
        pool.submit(
            task(move || _ = runs.fetch_add(1, Ordering::SeqCst)),
            Hint::Back,
        );
    }
    drop(pool);
    assert_eq!(runs.load(Ordering::SeqCst), QUEUED, "every queued task ran");
    // Joined: both threads have exited (thread-locals destroyed) already.
    assert!(
        exit_rx.try_recv().is_ok() && exit_rx.try_recv().is_ok(),
        "the workers were joined"
    );
}

#[test]
fn dropping_the_last_handle_inside_a_task_does_not_deadlock() {
    let pool = ComputePool::new(1).unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    let last = pool.clone();
    pool.submit(
        task(move || {
            notify_on_thread_exit(exit_tx);
            go_rx.recv_timeout(TIMEOUT).unwrap();
            drop(last);
            dropped_tx.send(()).unwrap();
        }),
        Hint::Back,
    );
    drop(pool); // not the last handle: returns at once
    go_tx.send(()).unwrap();
    dropped_rx
        .recv_timeout(TIMEOUT)
        .expect("dropping the last handle on a worker deadlocked");
    exit_rx
        .recv_timeout(TIMEOUT)
        .expect("the worker never exited after the last handle was dropped");
}

// ---------------------------------------------------------------- panics

#[test]
fn a_panicking_task_does_not_kill_its_worker() {
    let pool = ComputePool::builder()
        .threads(1)
        .name("sturdy")
        .build()
        .unwrap();
    for _ in 0..3 {
        pool.submit(
            task(|| panic!("a raw task panics (expected by this test)")),
            Hint::Back,
        );
    }
    let (tx, rx) = mpsc::channel();
    pool.submit(
        task(move || {
            tx.send(thread::current().name().map(str::to_owned))
                .unwrap()
        }),
        Hint::Back,
    );
    let name = rx
        .recv_timeout(TIMEOUT)
        .expect("the pool stopped running tasks after a panic");
    assert_eq!(name.as_deref(), Some("sturdy-0"));
    assert_eq!(pool.panic_count(), 3);
}

#[test]
fn a_panic_in_an_inline_task_stays_in_that_task() {
    let pool = ComputePool::new(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = pool.clone();
    pool.submit(
        task(move || {
            handle.submit(
                task(|| panic!("an inline task panics (expected by this test)")),
                Hint::Inline,
            );
            // Reached only if the panic did not unwind into the submitter.
            tx.send(handle.panic_count()).unwrap();
        }),
        Hint::Back,
    );
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), 1);
}

// ---------------------------------------------------------------- builder

#[test]
fn bad_builder_settings_are_errors_not_panics() {
    assert!(matches!(ComputePool::new(0), Err(PoolError::NoThreads)));
    assert!(matches!(
        ComputePool::builder().threads(0).build(),
        Err(PoolError::NoThreads)
    ));
    let too_many = ComputePool::MAX_THREADS + 1;
    assert!(matches!(
        ComputePool::new(too_many),
        Err(PoolError::TooManyThreads { requested, max }) if requested == too_many && max == ComputePool::MAX_THREADS
    ));
    assert!(matches!(
        ComputePool::builder()
            .threads(1)
            .stack_size(usize::MAX)
            .build(),
        Err(PoolError::StackTooLarge {
            requested: usize::MAX,
            ..
        })
    ));
    assert!(matches!(
        ComputePool::builder().threads(1).name("bad\0name").build(),
        Err(PoolError::InvalidName(name)) if name == "bad\0name"
    ));
    let err = ComputePool::new(0).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(err.source().is_none());
}

#[test]
fn handles_and_errors_have_the_promised_auto_traits() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    fn error<T: Error + Send + Sync + 'static>() {}
    fn error_result<T: Error + Send + Sync + 'static>(_: fn(&ComputePool) -> Result<(), T>) {}
    send_sync::<ComputePool>();
    send::<ComputePoolBuilder>();
    error::<PoolError>();
    error_result(ComputePool::shutdown);
    let pool = ComputePool::new(1).unwrap();
    let executor: Arc<dyn Executor> = Arc::new(pool.clone());
    let (tx, rx) = mpsc::channel();
    executor.submit(task(move || tx.send(()).unwrap()), Hint::Back);
    rx.recv_timeout(TIMEOUT).unwrap();
    assert!(format!("{pool:?}").contains("threads: 1"));
}
