//! Loom models of the work-stealing pool's lock-free parts, compiled from
//! the real sources (`src/steal/{sync,ring,idle}.rs`) against loom's
//! primitives:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom-steal \
//!     cargo test -p spindle-exec --release --test loom_steal
//! ```
//!
//! - ring: push, pop, steal-half and overflow racing; every value comes
//!   out exactly once, also across the 2^32 index wrap. Under loom a ring
//!   holds 4 values.
//! - idle: the sleep protocol (see `src/steal/README.md`) with a stand-in
//!   queue: a worker that parks while work is queued is always woken
//!   (loom reports a thread parked forever as a deadlock), and shutdown
//!   either runs or refuses a racing submission, never loses it.
//!
//! The stand-in queues publish with read-modify-writes (`swap`) where the
//! real ones store: loom 0.7 can let a later `swap` by the consumer miss a
//! plain store that coherence says it must see, and report a lost wake-up
//! that cannot happen (see `hand_over` in `idle.rs`).
#![cfg(loom)]
#![allow(dead_code, unused_imports)]

#[path = "../src/steal/sync.rs"]
mod sync;

#[path = "../src/steal/ring.rs"]
mod ring;

#[path = "../src/steal/idle.rs"]
mod idle;

use idle::{Idle, Wake};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use loom::thread;
use ring::{Ring, Steal};
use std::ptr::NonNull;

/// Runs `f` under loom, with a preemption bound unless the environment
/// sets one, so every model finishes in seconds.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

// ---------------------------------------------------------------- ring

/// Values `0..n`, boxed, as the pointers the ring carries.
fn values(n: usize) -> Vec<NonNull<usize>> {
    (0..n)
        .map(|i| NonNull::from(Box::leak(Box::new(i))))
        .collect()
}

/// Takes back the boxes of `taken` and checks they are `0..n`, each once.
fn check_each_once(taken: Vec<NonNull<usize>>, n: usize) {
    let mut seen: Vec<usize> = taken
        .into_iter()
        // SAFETY: every pointer came from `values` and was handed out by
        // the ring once (which is what this checks).
        .map(|value| *unsafe { Box::from_raw(value.as_ptr()) })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
}

/// Pops everything left in `ring`, which the calling thread owns.
fn pop_all(ring: &Ring<usize>, out: &mut Vec<NonNull<usize>>) {
    // SAFETY: called by the ring's owner thread only.
    while let Some(value) = unsafe { ring.pop() } {
        out.push(value);
    }
}

/// A value pointer carried back from a loom thread.
struct Carried(NonNull<usize>);

// SAFETY: the pointer is to a leaked `Box<usize>`, reclaimed once, by
// `check_each_once`; a `usize` may move between threads.
unsafe impl Send for Carried {}

/// A thief: steals from `victim` into a ring of its own, then empties it.
fn thief(victim: Arc<Ring<usize>>) -> thread::JoinHandle<Vec<Carried>> {
    thread::spawn(move || {
        let own = Ring::new();
        let mut taken = Vec::new();
        loop {
            // SAFETY: this thread owns `own`, which is empty, and is not
            // `victim`.
            match unsafe { victim.steal_into(&own) } {
                Steal::Success(first, count) => {
                    assert!(count >= 1);
                    taken.push(first);
                    pop_all(&own, &mut taken);
                    assert_eq!(taken.len(), count);
                    break;
                }
                Steal::Empty => break,
                Steal::Retry => thread::yield_now(),
            }
        }
        taken.into_iter().map(Carried).collect()
    })
}

fn back(values: Vec<Carried>) -> Vec<NonNull<usize>> {
    values.into_iter().map(|carried| carried.0).collect()
}

#[test]
fn pop_and_steal_take_each_value_once() {
    model(|| {
        let ring = Arc::new(Ring::new());
        for value in values(3) {
            // SAFETY: this thread owns `ring`.
            assert!(unsafe { ring.push(value) }.is_ok());
        }
        let thief = thief(ring.clone());
        let mut taken = Vec::new();
        pop_all(&ring, &mut taken);
        taken.extend(back(thief.join().unwrap()));
        check_each_once(taken, 3);
    });
}

#[test]
fn push_while_stealing_keeps_fifo_and_loses_nothing() {
    model(|| {
        let ring = Arc::new(Ring::new());
        let mut input = values(3).into_iter();
        // SAFETY: this thread owns `ring`.
        assert_eq!(unsafe { ring.push(input.next().unwrap()) }, Ok(true));
        let thief = thief(ring.clone());
        for value in input {
            // SAFETY: as above. Room for all: capacity 4.
            assert!(unsafe { ring.push(value) }.is_ok());
        }
        let mut taken = Vec::new();
        pop_all(&ring, &mut taken);
        // The owner sees its own values oldest first.
        let own: Vec<usize> = taken
            .iter()
            .map(|value| {
                // SAFETY: the boxes are live until `check_each_once`.
                unsafe { *value.as_ref() }
            })
            .collect();
        assert!(own.windows(2).all(|pair| pair[0] < pair[1]), "{own:?}");
        taken.extend(back(thief.join().unwrap()));
        check_each_once(taken, 3);
    });
}

#[test]
fn overflow_races_steal() {
    model(|| {
        let ring = Arc::new(Ring::new());
        let mut input = values(ring::CAPACITY + 1).into_iter();
        for value in input.by_ref().take(ring::CAPACITY) {
            // SAFETY: this thread owns `ring`.
            assert!(unsafe { ring.push(value) }.is_ok());
        }
        let thief = thief(ring.clone());
        // The pool's `push_ring`: push, or move half out and retry.
        let mut overflow = Vec::new();
        let mut pending = input.next().unwrap();
        loop {
            // SAFETY: as above.
            match unsafe { ring.push(pending) } {
                Ok(_) => break,
                Err(value) => pending = value,
            }
            // SAFETY: as above.
            let moved = unsafe { ring.take_half(|value| overflow.push(value)) };
            if moved > 0 {
                overflow.push(pending);
                break;
            }
        }
        let mut taken = overflow;
        pop_all(&ring, &mut taken);
        taken.extend(back(thief.join().unwrap()));
        check_each_once(taken, ring::CAPACITY + 1);
    });
}

#[test]
fn two_thieves_race_the_owner() {
    model(|| {
        let ring = Arc::new(Ring::new());
        for value in values(2) {
            // SAFETY: this thread owns `ring`.
            assert!(unsafe { ring.push(value) }.is_ok());
        }
        let thieves = [thief(ring.clone()), thief(ring.clone())];
        let mut taken = Vec::new();
        pop_all(&ring, &mut taken);
        for thief in thieves {
            taken.extend(back(thief.join().unwrap()));
        }
        check_each_once(taken, 2);
    });
}

#[test]
fn a_thief_is_robbed_while_it_steals() {
    model(|| {
        let owner = Arc::new(Ring::new());
        for value in values(3) {
            // SAFETY: this thread owns `owner`.
            assert!(unsafe { owner.push(value) }.is_ok());
        }
        // Thief A steals into a ring that thief B steals from meanwhile.
        let middle = Arc::new(Ring::new());
        let a = {
            let (owner, middle) = (owner.clone(), middle.clone());
            thread::spawn(move || {
                let mut taken = Vec::new();
                // SAFETY: this thread owns `middle`, which is empty, and it
                // is not `owner`.
                if let Steal::Success(first, _) = unsafe { owner.steal_into(&middle) } {
                    taken.push(first);
                }
                pop_all(&middle, &mut taken);
                taken.into_iter().map(Carried).collect::<Vec<_>>()
            })
        };
        let b = thief(middle.clone());
        let mut taken = Vec::new();
        pop_all(&owner, &mut taken);
        taken.extend(back(a.join().unwrap()));
        taken.extend(back(b.join().unwrap()));
        check_each_once(taken, 3);
    });
}

#[test]
fn indices_wrap_around() {
    model(|| {
        // Two below the wrap: pushes and steals cross it.
        let ring = Arc::new(Ring::starting_at(u32::MAX - 1));
        for value in values(3) {
            // SAFETY: this thread owns `ring`.
            assert!(unsafe { ring.push(value) }.is_ok());
        }
        assert_eq!(ring.len(), 3);
        let thief = thief(ring.clone());
        let mut taken = Vec::new();
        pop_all(&ring, &mut taken);
        taken.extend(back(thief.join().unwrap()));
        check_each_once(taken, 3);
    });
}

// ---------------------------------------------------------------- idle

/// The worker side of the sleep protocol, as `worker.rs` runs it, around a
/// stand-in for "any queue": `take` tries to take work, `visible` says
/// whether there seems to be some, `exit` whether to leave.
fn worker_loop(
    idle: &Idle,
    index: usize,
    take: impl Fn() -> bool,
    visible: impl Fn() -> bool,
    may_search: bool,
) {
    idle.register(index);
    let mut searching = false;
    loop {
        // Step 2: one search round (the real loop makes several).
        if !searching && may_search && idle.try_begin_search() {
            searching = true;
        }
        if searching {
            fence(Ordering::SeqCst);
        }
        if take() {
            // Step 3.
            if searching && idle.end_search() {
                fence(Ordering::SeqCst);
                idle.notify_one();
            }
            return;
        }
        // Step 4.
        idle.announce_park(index, searching);
        searching = false;
        fence(Ordering::SeqCst);
        // Step 5.
        let wake = if visible() {
            idle.cancel_park(index)
        } else {
            // Step 6.
            Some(idle.park(index))
        };
        match wake {
            Some(Wake::Search) => searching = true,
            Some(Wake::Exit) => return,
            Some(Wake::Work) | None => {}
        }
    }
}

#[test]
fn submission_wakes_a_parking_worker() {
    model(|| {
        let idle = Arc::new(Idle::new(1));
        let queued = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (idle, queued) = (idle.clone(), queued.clone());
            thread::spawn(move || {
                worker_loop(
                    &idle,
                    0,
                    || queued.swap(0, Ordering::Relaxed) == 1,
                    || queued.load(Ordering::Relaxed) == 1,
                    true,
                );
            })
        };
        // Step 1: queue, fence, notify.
        queued.swap(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        idle.notify_one();
        worker.join().unwrap();
    });
}

#[test]
fn one_task_two_workers_the_other_is_told_to_exit() {
    model(|| {
        let idle = Arc::new(Idle::new(2));
        let queued = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|index| {
                let (idle, queued, done) = (idle.clone(), queued.clone(), done.clone());
                thread::spawn(move || {
                    let take = || {
                        if queued.swap(0, Ordering::Relaxed) == 1 {
                            // The stand-in for shutdown: tell the other to go.
                            done.swap(true, Ordering::Relaxed);
                            fence(Ordering::SeqCst);
                            idle.wake_all(Wake::Exit);
                            true
                        } else {
                            done.load(Ordering::Relaxed)
                        }
                    };
                    let visible =
                        || queued.load(Ordering::Relaxed) == 1 || done.load(Ordering::Relaxed);
                    worker_loop(&idle, index, take, visible, true);
                })
            })
            .collect();
        queued.swap(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        idle.notify_one();
        for worker in workers {
            worker.join().unwrap();
        }
    });
}

#[test]
fn task_sent_to_a_worker_wakes_it() {
    model(|| {
        let idle = Arc::new(Idle::new(1));
        let inbox = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (idle, inbox) = (idle.clone(), inbox.clone());
            thread::spawn(move || {
                worker_loop(
                    &idle,
                    0,
                    || inbox.swap(0, Ordering::Relaxed) == 1,
                    || inbox.load(Ordering::Relaxed) == 1,
                    false,
                );
            })
        };
        inbox.swap(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        idle.wake_worker(0);
        worker.join().unwrap();
    });
}

/// The injector stand-in for the shutdown model: a count and a closed flag
/// under one lock, with the count mirrored in an atomic.
struct Queue {
    inner: loom::sync::Mutex<(usize, bool)>,
    len: AtomicUsize,
}

#[test]
fn shutdown_runs_or_refuses_a_racing_submission() {
    model(|| {
        let idle = Arc::new(Idle::new(1));
        let queue = Arc::new(Queue {
            inner: loom::sync::Mutex::new((0, false)),
            len: AtomicUsize::new(0),
        });
        let shutdown = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicUsize::new(0));

        let worker = {
            let (idle, queue, shutdown, ran) =
                (idle.clone(), queue.clone(), shutdown.clone(), ran.clone());
            thread::spawn(move || {
                idle.register(0);
                loop {
                    {
                        let mut inner = queue.inner.lock().unwrap();
                        if inner.0 > 0 {
                            inner.0 -= 1;
                            queue.len.store(inner.0, Ordering::Relaxed);
                            ran.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                    let unparked = idle.announce_park(0, false);
                    fence(Ordering::SeqCst);
                    if queue.len.load(Ordering::Relaxed) > 0 {
                        match idle.cancel_park(0) {
                            Some(Wake::Exit) => return,
                            _ => continue,
                        }
                    }
                    // Step 7.
                    if unparked == 0
                        && shutdown.load(Ordering::SeqCst)
                        && idle.close_if_all_parked(|| {
                            let mut inner = queue.inner.lock().unwrap();
                            if inner.0 > 0 {
                                return false;
                            }
                            inner.1 = true;
                            true
                        })
                    {
                        return;
                    }
                    if idle.park(0) == Wake::Exit {
                        return;
                    }
                }
            })
        };

        let submitter = {
            let (idle, queue) = (idle.clone(), queue.clone());
            thread::spawn(move || {
                let accepted = {
                    let mut inner = queue.inner.lock().unwrap();
                    if inner.1 {
                        false
                    } else {
                        inner.0 += 1;
                        queue.len.store(inner.0, Ordering::Relaxed);
                        true
                    }
                };
                if accepted {
                    fence(Ordering::SeqCst);
                    idle.notify_one();
                }
                accepted
            })
        };

        // `begin_shutdown`.
        shutdown.store(true, Ordering::SeqCst);
        idle.wake_all(Wake::Work);

        let accepted = submitter.join().unwrap();
        worker.join().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), usize::from(accepted));
    });
}
