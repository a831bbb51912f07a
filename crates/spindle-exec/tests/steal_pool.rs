//! `StealPool`: workers, hints, stealing, pinned submission, wake-ups,
//! shutdown, panics, the builder.
//!
//! Tasks here are raw [`Task`]s with a closure (see `task`), so these tests
//! depend on nothing but the pool and the task protocol. Waits are bounded
//! by `TIMEOUT` and only there to turn a hang into a failure.
#![cfg(not(loom))]

use spindle_exec::{
    Executor, Hint, StealMetrics, StealPool, StealPoolError, StealShutdownError, SubmitToError,
    TaskRef,
};
use std::collections::HashSet;
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

mod common;
use common::{Countdown, Rng, TIMEOUT, task, task_with_cancel};

fn pool(threads: usize) -> StealPool {
    StealPool::builder()
        .threads(threads)
        .name("steal-test")
        .build()
        .unwrap()
}

/// Runs `f` on a worker of `pool` and waits for it (bounded).
fn on_worker<R: Send + 'static>(pool: &StealPool, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    pool.submit(task(move || tx.send(f()).unwrap()), Hint::Back);
    rx.recv_timeout(TIMEOUT).expect("the task never ran")
}

// ---------------------------------------------------------------- workers

#[test]
fn tasks_run_on_both_workers_at_once() {
    let pool = pool(2);
    // Each task waits until both are running: only two workers running
    // side by side can get both past the meeting point.
    let meet = Countdown::new(2);
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let (meet, tx) = (meet.clone(), tx.clone());
        pool.submit(
            task(move || {
                meet.hit();
                let met = meet.wait() == 2;
                tx.send((met, thread::current().id(), StealPool::current_worker()))
                    .unwrap();
            }),
            Hint::Back,
        );
    }
    let runs: Vec<_> = (0..2).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    assert!(
        runs.iter().all(|&(met, _, _)| met),
        "the two tasks never ran at once"
    );
    let threads: HashSet<ThreadId> = runs.iter().map(|&(_, id, _)| id).collect();
    assert_eq!(threads.len(), 2);
    let workers: HashSet<Option<usize>> = runs.iter().map(|&(_, _, w)| w).collect();
    assert_eq!(workers, HashSet::from([Some(0), Some(1)]));
}

#[test]
fn current_worker_is_known_only_on_workers() {
    let pool = pool(2);
    let other = self::pool(1);
    assert_eq!(StealPool::current_worker(), None);
    assert_eq!(pool.worker_index(), None);
    let (index, own, foreign) = on_worker(&pool, {
        let (pool, other) = (pool.clone(), other.clone());
        move || {
            (
                StealPool::current_worker(),
                pool.worker_index(),
                other.worker_index(),
            )
        }
    });
    assert!(matches!(index, Some(0 | 1)));
    assert_eq!(own, index);
    assert_eq!(foreign, None, "a worker of another pool is not one of ours");
}

// ---------------------------------------------------------------- hints

#[test]
fn next_hint_runs_newest_first_before_queued_back_tasks() {
    // One worker, so no other can steal and change the order, and none
    // wants work: the worker keeps every `Next` task to itself.
    let pool = pool(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let names = [
        "a", "b", "c", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9",
    ];
    let done = Countdown::new(names.len());
    let record = |name: &'static str| {
        let (order, done) = (order.clone(), done.clone());
        task(move || {
            order.lock().unwrap().push(name);
            done.hit();
        })
    };
    let executor = pool.clone();
    let mut tasks = names.map(record).into_iter();
    pool.submit(
        task(move || {
            for task in tasks.by_ref().take(3) {
                executor.submit(task, Hint::Back);
            }
            for task in tasks {
                executor.submit(task, Hint::Next);
            }
        }),
        Hint::Back,
    );
    assert_eq!(done.wait(), names.len());
    assert_eq!(
        *order.lock().unwrap(),
        [
            "n9", "n8", "n7", "n6", "n5", "n4", "n3", "n2", "n1", "a", "b", "c"
        ]
    );
}

#[test]
fn next_slot_chain_yields_to_queued_tasks() {
    // A task that keeps resubmitting itself with `Next` would run forever
    // from the next slot; the streak limit lets the queued task in.
    let pool = pool(1);
    let chain_runs = Arc::new(AtomicUsize::new(0));
    let queued_ran_after = Arc::new(AtomicUsize::new(usize::MAX));
    let done = Countdown::new(1);

    fn link(pool: StealPool, runs: Arc<AtomicUsize>, done: Arc<Countdown>) -> TaskRef {
        task(move || {
            if runs.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                done.hit();
                return;
            }
            let next = link(pool.clone(), runs, done);
            pool.submit(next, Hint::Next);
        })
    }

    let (executor, runs, seen) = (pool.clone(), chain_runs.clone(), queued_ran_after.clone());
    let chain = link(pool.clone(), chain_runs.clone(), done.clone());
    pool.submit(
        task(move || {
            executor.submit(
                task(move || seen.store(runs.load(Ordering::SeqCst), Ordering::SeqCst)),
                Hint::Back,
            );
            executor.submit(chain, Hint::Next);
        }),
        Hint::Back,
    );
    assert_eq!(done.wait(), 1);
    pool.shutdown().unwrap();
    let after = queued_ran_after.load(Ordering::SeqCst);
    assert!(
        after < 100,
        "the queued task waited for the whole chain ({after})"
    );
    assert!(after > 0, "the chain never ran from the next slot first");
}

#[test]
fn inline_runs_inside_submit_once_deep() {
    let pool = pool(1);
    let inner_ran = Arc::new(AtomicBool::new(false));
    let inner_ran_inline = Arc::new(AtomicBool::new(true));
    let (executor, inner, inner_inline) =
        (pool.clone(), inner_ran.clone(), inner_ran_inline.clone());
    let outer_ran_inline = on_worker(&pool, move || {
        let outer_ran = Arc::new(AtomicBool::new(false));
        let (executor2, outer) = (executor.clone(), outer_ran.clone());
        executor.submit(
            task(move || {
                // Nested inline: queued in the next slot, runs after this.
                let flag = inner.clone();
                executor2.submit(
                    task(move || flag.store(true, Ordering::SeqCst)),
                    Hint::Inline,
                );
                inner_inline.store(inner.load(Ordering::SeqCst), Ordering::SeqCst);
                outer.store(true, Ordering::SeqCst);
            }),
            Hint::Inline,
        );
        outer_ran.load(Ordering::SeqCst)
    });
    assert!(
        outer_ran_inline,
        "the inline task had not run when `submit` returned"
    );
    pool.shutdown().unwrap();
    assert!(
        !inner_ran_inline.load(Ordering::SeqCst),
        "inline runs nested"
    );
    assert!(inner_ran.load(Ordering::SeqCst));
}

#[test]
fn injector_is_not_starved_by_a_busy_worker() {
    // One worker runs a task that resubmits itself `Back` forever; a task
    // from outside must still get in (every 61st tick checks the injector).
    let pool = pool(1);
    let outside_ran = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicUsize::new(0));
    let started = Countdown::new(1);

    fn spinner(
        pool: StealPool,
        flag: Arc<AtomicBool>,
        spins: Arc<AtomicUsize>,
        started: Arc<Countdown>,
    ) -> TaskRef {
        task(move || {
            if spins.fetch_add(1, Ordering::SeqCst) == 0 {
                started.hit();
            }
            if flag.load(Ordering::SeqCst) || spins.load(Ordering::SeqCst) > 50_000_000 {
                return;
            }
            pool.submit(spinner(pool.clone(), flag, spins, started), Hint::Back);
        })
    }

    pool.submit(
        spinner(
            pool.clone(),
            outside_ran.clone(),
            spins.clone(),
            started.clone(),
        ),
        Hint::Back,
    );
    assert_eq!(started.wait(), 1);
    let flag = outside_ran.clone();
    pool.submit(task(move || flag.store(true, Ordering::SeqCst)), Hint::Back);
    pool.shutdown().unwrap();
    assert!(outside_ran.load(Ordering::SeqCst));
    assert!(
        spins.load(Ordering::SeqCst) <= 50_000_000,
        "the outside task ran only after the spinner gave up"
    );
}

// ---------------------------------------------------------------- stealing

/// Holds worker 1 of a 2-worker pool while a task on worker 0 queues
/// `tasks` tasks there, then releases worker 1 and blocks worker 0 until
/// they have all run: only worker 1, stealing, can run them. Returns
/// whether they all ran, and whether any ran on worker 0.
fn steal_from_blocked_worker(pool: &StealPool, tasks: usize) -> (bool, bool) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (held_tx, held_rx) = mpsc::channel();
    pool.submit_to(
        1,
        task(move || {
            held_tx.send(()).unwrap();
            release_rx.recv_timeout(TIMEOUT).unwrap();
        }),
        Hint::Back,
    )
    .unwrap();
    held_rx.recv_timeout(TIMEOUT).unwrap();

    let done = Countdown::new(tasks);
    let executor = pool.clone();
    let (result_tx, result_rx) = mpsc::channel();
    pool.submit_to(
        0,
        task(move || {
            let me = thread::current().id();
            let ran_here = Arc::new(AtomicBool::new(false));
            for _ in 0..tasks {
                let (done, ran_here) = (done.clone(), ran_here.clone());
                executor.submit(
                    task(move || {
                        if thread::current().id() == me {
                            ran_here.store(true, Ordering::SeqCst);
                        }
                        done.hit();
                    }),
                    Hint::Back,
                );
            }
            release_tx.send(()).unwrap();
            let all_done = done.wait() == tasks;
            result_tx
                .send((all_done, ran_here.load(Ordering::SeqCst)))
                .unwrap();
        }),
        Hint::Back,
    )
    .unwrap();
    result_rx.recv_timeout(TIMEOUT).unwrap()
}

#[test]
fn idle_worker_steals_from_a_blocked_worker() {
    const TASKS: usize = 200; // fits in one ring: no spill
    let pool = pool(2);
    let (all_done, ran_here) = steal_from_blocked_worker(&pool, TASKS);
    assert!(all_done, "the idle worker did not run them all");
    assert!(!ran_here);
    let metrics = pool.metrics();
    assert!(metrics.stolen >= TASKS as u64 / 2, "{metrics:?}");
    assert_eq!(metrics.overflowed, 0);
}

#[test]
fn idle_worker_steals_a_blocked_workers_spill_too() {
    const TASKS: usize = 3000; // most go to the spill
    let pool = pool(2);
    let (all_done, ran_here) = steal_from_blocked_worker(&pool, TASKS);
    assert!(all_done, "the idle worker did not run them all");
    assert!(!ran_here);
    let metrics = pool.metrics();
    assert!(metrics.overflowed > 0, "{metrics:?}");
    assert!(metrics.stolen >= TASKS as u64, "{metrics:?}");
}

#[test]
fn one_worker_runs_back_tasks_in_order_through_its_spill() {
    const TASKS: usize = 1000;
    let pool = pool(1);
    let order = Arc::new(Mutex::new(Vec::with_capacity(TASKS)));
    let done = Countdown::new(TASKS);
    let executor = pool.clone();
    let (order2, done2) = (order.clone(), done.clone());
    on_worker(&pool, move || {
        for i in 0..TASKS {
            let (order, done) = (order2.clone(), done2.clone());
            executor.submit(
                task(move || {
                    order.lock().unwrap().push(i);
                    done.hit();
                }),
                Hint::Back,
            );
        }
    });
    assert_eq!(done.wait(), TASKS);
    pool.shutdown().unwrap();
    assert_eq!(*order.lock().unwrap(), (0..TASKS).collect::<Vec<_>>());
    let metrics = pool.metrics();
    assert!(metrics.overflowed > 0, "{metrics:?}");
    assert_eq!(metrics.ran, TASKS as u64 + 1);
    assert_eq!(metrics.submitted, TASKS as u64 + 1);
}

// ---------------------------------------------------------------- submit_to

#[test]
fn submit_to_lands_on_that_worker() {
    let pool = pool(3);
    let (tx, rx) = mpsc::channel();
    // From outside the pool, and from a task on some worker.
    for worker in 0..3 {
        let tx = tx.clone();
        pool.submit_to(
            worker,
            task(move || {
                tx.send((worker, thread::current().id(), StealPool::current_worker()))
                    .unwrap()
            }),
            Hint::Back,
        )
        .unwrap();
    }
    let executor = pool.clone();
    let tx2 = tx.clone();
    pool.submit(
        task(move || {
            for worker in 0..3 {
                let tx = tx2.clone();
                executor
                    .submit_to(
                        worker,
                        task(move || {
                            tx.send((worker, thread::current().id(), StealPool::current_worker()))
                                .unwrap()
                        }),
                        Hint::Next,
                    )
                    .unwrap();
            }
        }),
        Hint::Back,
    );
    let runs: Vec<_> = (0..6).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    for (worker, _, current) in &runs {
        assert_eq!(Some(*worker), *current);
    }
    for worker in 0..3 {
        let threads: HashSet<ThreadId> = runs
            .iter()
            .filter(|run| run.0 == worker)
            .map(|run| run.1)
            .collect();
        assert_eq!(threads.len(), 1, "worker {worker} ran on several threads");
    }
    let all: HashSet<ThreadId> = runs.iter().map(|run| run.1).collect();
    assert_eq!(all.len(), 3);
}

#[test]
fn tasks_sent_to_a_blocked_worker_wait_for_it() {
    // Worker 0 is blocked while tasks are sent to it; worker 1 is idle and
    // would steal them if they were stealable.
    const TASKS: usize = 50;
    let pool = pool(2);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    pool.submit_to(
        0,
        task(move || {
            started_tx.send(thread::current().id()).unwrap();
            release_rx.recv_timeout(TIMEOUT).unwrap();
        }),
        Hint::Back,
    )
    .unwrap();
    let blocked = started_rx.recv_timeout(TIMEOUT).unwrap();
    let done = Countdown::new(TASKS);
    let threads = Arc::new(Mutex::new(HashSet::new()));
    for _ in 0..TASKS {
        let (done, threads) = (done.clone(), threads.clone());
        pool.submit_to(
            0,
            task(move || {
                threads.lock().unwrap().insert(thread::current().id());
                done.hit();
            }),
            Hint::Back,
        )
        .unwrap();
    }
    // Give worker 1 work of its own meanwhile, to make sure it is awake.
    on_worker(&pool, || ());
    assert_eq!(done.count(), 0);
    release_tx.send(()).unwrap();
    assert_eq!(done.wait(), TASKS);
    assert_eq!(*threads.lock().unwrap(), HashSet::from([blocked]));
    assert_eq!(pool.metrics().stolen, 0);
}

#[test]
fn submit_to_unknown_worker_hands_the_task_back() {
    let pool = pool(2);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let err: SubmitToError = pool
        .submit_to(
            2,
            task(move || flag.store(true, Ordering::SeqCst)),
            Hint::Back,
        )
        .unwrap_err();
    assert_eq!((err.worker(), err.workers()), (2, 2));
    assert!(err.to_string().contains("no worker 2"));
    err.into_task().run();
    assert!(ran.load(Ordering::SeqCst));
}

// ---------------------------------------------------------------- wake-ups

#[test]
fn no_task_is_lost_under_bursty_submission() {
    // 4 outside threads submit in bursts with pauses, so workers go to
    // sleep and wake again many times; half the tasks are submitted by
    // tasks, with every hint. Every one of them must run: a lost wake-up
    // shows up as a timeout here.
    const PER_THREAD: usize = 12_500;
    const TOTAL: usize = 4 * PER_THREAD * 2;
    let (mut rng, _) = Rng::from_env();
    let pool = pool(3);
    let done = Countdown::new(TOTAL);
    let submitters: Vec<_> = (0..4)
        .map(|_| {
            let (pool, done) = (pool.clone(), done.clone());
            let mut rng = Rng::with_seed(rng.next());
            thread::spawn(move || {
                let mut left = PER_THREAD;
                while left > 0 {
                    let burst = (rng.below(200) as usize + 1).min(left);
                    for _ in 0..burst {
                        let (executor, done) = (pool.clone(), done.clone());
                        let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
                        let worker = rng.below(4) as usize;
                        pool.submit(
                            task(move || {
                                let child_done = done.clone();
                                let child = task(move || child_done.hit());
                                if worker < executor.threads() && hint == Hint::Back {
                                    executor.submit_to(worker, child, hint).unwrap();
                                } else {
                                    executor.submit(child, hint);
                                }
                                done.hit();
                            }),
                            if rng.below(2) == 0 {
                                Hint::Back
                            } else {
                                Hint::Next
                            },
                        );
                    }
                    left -= burst;
                    for _ in 0..rng.below(3) {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for submitter in submitters {
        submitter.join().unwrap();
    }
    assert_eq!(
        done.wait(),
        TOTAL,
        "tasks were lost; metrics: {:?}",
        pool.metrics()
    );
    pool.shutdown().unwrap();
    let metrics = pool.metrics();
    assert_eq!(metrics.ran, TOTAL as u64);
    assert_eq!(metrics.submitted, TOTAL as u64);
}

#[test]
fn sleeping_workers_wake_for_each_lone_task() {
    // One task at a time, each submitted only after the previous one ran:
    // the workers are asleep (or about to be) at every submission.
    let (mut rng, _) = Rng::from_env();
    let pool = pool(2);
    for _ in 0..2000 {
        let (tx, rx) = mpsc::channel();
        let hint = [Hint::Back, Hint::Next, Hint::Inline][rng.below(3) as usize];
        if rng.below(2) == 0 {
            pool.submit(task(move || tx.send(()).unwrap()), hint);
        } else {
            let worker = rng.below(2) as usize;
            pool.submit_to(worker, task(move || tx.send(()).unwrap()), hint)
                .unwrap();
        }
        rx.recv_timeout(TIMEOUT).expect("a lone task never ran");
    }
    assert!(pool.metrics().parked > 0);
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_drains_and_cancels_late_submissions() {
    let pool = pool(2);
    let (runs, cancels) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counted = |runs: &Arc<AtomicUsize>, cancels: &Arc<AtomicUsize>| {
        let (runs, cancels) = (runs.clone(), cancels.clone());
        task_with_cancel(
            move || {
                runs.fetch_add(1, Ordering::SeqCst);
            },
            move || {
                cancels.fetch_add(1, Ordering::SeqCst);
            },
        )
    };
    for i in 0..1000 {
        let (executor, child) = (pool.clone(), counted(&runs, &cancels));
        let runs = runs.clone();
        pool.submit(
            task(move || {
                runs.fetch_add(1, Ordering::SeqCst);
                // Submitted while the pool drains: runs too.
                executor.submit(child, if i % 2 == 0 { Hint::Back } else { Hint::Next });
            }),
            Hint::Back,
        );
    }
    pool.shutdown().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2000);
    assert_eq!(cancels.load(Ordering::SeqCst), 0);

    pool.submit(counted(&runs, &cancels), Hint::Back);
    pool.submit_to(1, counted(&runs, &cancels), Hint::Next)
        .unwrap();
    assert_eq!(cancels.load(Ordering::SeqCst), 2);
    assert_eq!(runs.load(Ordering::SeqCst), 2000);
    // Again: a no-op.
    pool.shutdown().unwrap();
}

#[test]
fn shutdown_on_a_worker_is_refused() {
    let pool = pool(1);
    let handle = pool.clone();
    let result = on_worker(&pool, move || handle.shutdown());
    assert_eq!(result, Err(StealShutdownError::OnWorkerThread));
}

#[test]
fn dropping_the_last_handle_joins_the_workers() {
    let pool = pool(2);
    let (tx, rx) = mpsc::channel::<()>();
    for worker in 0..2 {
        let tx = tx.clone();
        // Each worker thread holds a sender until it exits.
        pool.submit_to(worker, task(move || keep_until_thread_exit(tx)), Hint::Back)
            .unwrap();
    }
    drop(tx);
    on_worker(&pool, || ());
    drop(pool);
    // Every sender is gone once the threads are.
    assert!(matches!(
        rx.try_recv(),
        Err(mpsc::TryRecvError::Disconnected)
    ));
}

fn keep_until_thread_exit(tx: mpsc::Sender<()>) {
    thread_local! {
        static KEEP: std::cell::RefCell<Option<mpsc::Sender<()>>> = const { std::cell::RefCell::new(None) };
    }
    KEEP.with(|keep| *keep.borrow_mut() = Some(tx));
}

#[test]
fn last_handle_dropped_on_a_worker_lets_the_threads_finish() {
    let pool = pool(2);
    let (tx, rx) = mpsc::channel();
    let handle = pool.clone();
    drop(pool);
    // `handle` is now the last handle; drop it on a worker.
    let executor = handle.clone();
    executor.submit(
        task(move || {
            drop(handle);
            tx.send(()).unwrap();
        }),
        Hint::Back,
    );
    drop(executor);
    rx.recv_timeout(TIMEOUT).unwrap();
}

// ---------------------------------------------------------------- panics

#[test]
fn panicking_task_does_not_kill_the_worker() {
    let pool = pool(1);
    let before = on_worker(&pool, || thread::current().id());
    pool.submit(task(|| panic!("a task panicked (on purpose)")), Hint::Back);
    let after = on_worker(&pool, || thread::current().id());
    assert_eq!(before, after);
    assert_eq!(pool.metrics().panicked, 1);
}

// ---------------------------------------------------------------- builder

#[test]
fn builder_rejects_bad_settings() {
    assert!(matches!(
        StealPool::builder().threads(0).build(),
        Err(StealPoolError::NoThreads)
    ));
    assert!(matches!(
        StealPool::builder()
            .threads(StealPool::MAX_THREADS + 1)
            .build(),
        Err(StealPoolError::TooManyThreads { .. })
    ));
    assert!(matches!(
        StealPool::builder()
            .stack_size(StealPool::MAX_STACK_SIZE + 1)
            .build(),
        Err(StealPoolError::StackTooLarge { .. })
    ));
    match StealPool::builder().name("bad\0name").build() {
        Err(StealPoolError::InvalidName(name)) => assert_eq!(name, "bad\0name"),
        other => panic!("expected InvalidName, got {other:?}"),
    }
    let err = StealPool::new(0).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(err.source().is_none());
}

#[test]
fn builder_defaults_to_available_parallelism_and_names_threads() {
    let pool = StealPool::builder().name("named").build().unwrap();
    let expected = thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(pool.threads(), expected.min(StealPool::MAX_THREADS));
    let name = on_worker(&pool, || thread::current().name().map(str::to_owned));
    assert!(name.unwrap().starts_with("named-"));
}

#[cfg(any(target_os = "linux", windows))]
#[test]
fn pinned_workers_run_on_their_cpu() {
    let pool = StealPool::builder()
        .threads(2)
        .pin_workers(true)
        .build()
        .unwrap();
    for worker in 0..2 {
        let (tx, rx) = mpsc::channel();
        pool.submit_to(
            worker,
            task(move || tx.send(current_cpu()).unwrap()),
            Hint::Back,
        )
        .unwrap();
        let cpu = rx.recv_timeout(TIMEOUT).unwrap();
        let allowed = allowed_cpus();
        assert_eq!(cpu, allowed[worker % allowed.len()], "worker {worker}");
    }
}

#[cfg(target_os = "linux")]
fn current_cpu() -> usize {
    // SAFETY: no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap()
}

#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: all zeroes is an empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; size and pointer describe `set`.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0);
    (0..8 * size_of::<libc::cpu_set_t>())
        // SAFETY: `cpu` is within the set.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

#[cfg(windows)]
fn current_cpu() -> usize {
    // SAFETY: no preconditions.
    unsafe { windows_sys::Win32::System::Threading::GetCurrentProcessorNumber() as usize }
}

#[cfg(windows)]
fn allowed_cpus() -> Vec<usize> {
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessAffinityMask};
    let (mut process, mut system) = (0_usize, 0_usize);
    // SAFETY: a pseudo-handle and two live out-pointers.
    let ok = unsafe { GetProcessAffinityMask(GetCurrentProcess(), &mut process, &mut system) };
    assert_ne!(ok, 0);
    (0..usize::BITS as usize)
        .filter(|&cpu| process >> cpu & 1 == 1)
        .collect()
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_count_what_happened() {
    let pool = pool(2);
    let fresh = pool.metrics();
    assert_eq!((fresh.submitted, fresh.ran, fresh.stolen), (0, 0, 0));
    let done = Countdown::new(100);
    for _ in 0..100 {
        let done = done.clone();
        pool.submit(task(move || done.hit()), Hint::Back);
    }
    assert_eq!(done.wait(), 100);
    pool.shutdown().unwrap();
    let metrics = pool.metrics();
    assert_eq!((metrics.submitted, metrics.ran), (100, 100));
    assert_eq!(metrics.injector_depth, 0);
    assert_eq!(metrics.panicked, 0);
}

// ---------------------------------------------------------------- traits

#[test]
fn handles_and_errors_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<StealPool>();
    send_sync::<StealPoolError>();
    send_sync::<StealMetrics>();
    send::<SubmitToError>();
    fn error<T: Error>() {}
    error::<StealPoolError>();
    error::<SubmitToError>();
    error::<StealShutdownError>();
    fn executor<T: Executor + Clone>() {}
    executor::<StealPool>();
}

/// A task's handle must not keep the pool running: dropping the pool's last
/// user handle shuts it down even while a task waits, and dropping that
/// task's waker afterwards (on any thread) does not wait for anything.
#[test]
fn a_waiting_task_does_not_keep_the_pool_alive() {
    use std::sync::Mutex;
    use std::task::Waker;
    let pool = pool(2);
    let parked: Arc<Mutex<Option<Waker>>> = Arc::default();
    let store = Arc::clone(&parked);
    let task = spindle_exec::spawn(
        &pool,
        std::future::poll_fn(move |cx| {
            *store.lock().unwrap() = Some(cx.waker().clone());
            std::task::Poll::<()>::Pending
        }),
    );
    while parked.lock().unwrap().is_none() {
        thread::yield_now();
    }
    drop(pool); // joins the workers: the waiting task does not hold them
    let waker = parked.lock().unwrap().take().unwrap();
    waker.wake(); // submits to a closed pool: the task is cancelled
    assert!(task.join().unwrap_err().is_cancelled());
}
