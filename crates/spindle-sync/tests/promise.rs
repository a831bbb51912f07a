//! One-shot promises: delivery, breaking, cancellation, timeouts,
//! continuations and combinators, in the three worlds (fibers, threads,
//! async tasks).
#![cfg(not(loom))]

mod common;

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{BLOCKING, World, bounded, run_async, run_async_pair, run_blocking, scaled};
use spindle_core::fault::{self, Injector, Site};
use spindle_exec::{Executor, ManualExecutor, Spawner, StealPool, spawn, wait};
use spindle_sync::promise::{
    self, All, AllFailed, Cancelled, Error, First, FirstOk, Future, Promise, SetError, all, first,
    first_ok,
};

// ----- helpers ---------------------------------------------------------

/// A value one party puts in and another takes out, once.
type Cell<T> = Arc<Mutex<Option<T>>>;

fn cell<T>(value: T) -> Cell<T> {
    Arc::new(Mutex::new(Some(value)))
}

fn take<T>(cell: &Cell<T>) -> T {
    cell.lock().unwrap().take().expect("taken twice")
}

/// Polls `inner`; after its first `Pending` (its waiter is registered with
/// the real waker), sets `announce`. Lets a test act on a reader that is
/// known to be waiting, without sleeping.
struct AnnounceWhenPending<F> {
    inner: F,
    announce: Option<Promise<(), ()>>,
}

fn announcing<F>(inner: F) -> (AnnounceWhenPending<F>, Future<(), ()>) {
    let (announce, announced) = promise::promise();
    let wrapper = AnnounceWhenPending {
        inner,
        announce: Some(announce),
    };
    (wrapper, announced)
}

impl<F: StdFuture + Unpin> StdFuture for AnnounceWhenPending<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = Pin::new(&mut self.inner).poll(cx);
        if poll.is_pending()
            && let Some(announce) = self.announce.take()
        {
            announce.set_value(()).unwrap();
        }
        poll
    }
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos as u64) | 1
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

// ----- auto traits -----------------------------------------------------

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

#[test]
fn halves_and_combinators_are_send_and_sync_for_send_types() {
    assert_send::<Promise<u32>>();
    assert_sync::<Promise<u32>>();
    assert_send::<Future<u32>>();
    assert_sync::<Future<u32>>();
    assert_send::<Promise<Vec<u8>, std::io::Error>>();
    assert_send::<Future<Vec<u8>, std::io::Error>>();
    // `Cell` is `Send` but not `Sync`: still fine, the value is only moved.
    assert_send::<Future<std::cell::Cell<u8>, ()>>();
    assert_sync::<Future<std::cell::Cell<u8>, ()>>();
    assert_send::<Cancelled<'static, u32>>();
    assert_send::<All<u32>>();
    assert_send::<First<u32>>();
    assert_send::<FirstOk<u32>>();
    assert_send::<Error>();
    assert_sync::<Error>();
    assert_send::<AllFailed>();
    fn assert_unpin<T: Unpin>() {}
    assert_unpin::<Future<std::marker::PhantomPinned, ()>>();
    assert_unpin::<All<std::marker::PhantomPinned, ()>>();
}

// ----- delivery --------------------------------------------------------

#[test]
fn value_and_error_are_delivered_in_blocking_worlds() {
    for world in BLOCKING {
        let (value_promise, value_future) = promise::promise::<String, String>();
        let (error_promise, error_future) = promise::promise::<String, String>();
        let promises = cell((value_promise, error_promise));
        let futures = cell((value_future, error_future));
        let results = run_blocking(world, 2, move |party| {
            if party == 0 {
                let (value, error) = take(&promises);
                value.set_value("value".to_string()).unwrap();
                error.set_error("error".to_string()).unwrap();
                None
            } else {
                let (value, error) = take(&futures);
                Some((value.get(), error.get()))
            }
        });
        assert_eq!(
            results[1],
            Some((
                Ok("value".to_string()),
                Err(Error::Failed("error".to_string()))
            )),
            "{world:?}"
        );
    }
}

#[test]
fn value_and_error_are_delivered_async() {
    let (value_promise, value_future) = promise::promise::<u32, u32>();
    let (error_promise, error_future) = promise::promise::<u32, u32>();
    let ((), read) = run_async_pair(
        (value_promise, error_promise),
        (value_future, error_future),
        |(value, error)| async move {
            value.set_value(1).unwrap();
            error.set_error(2).unwrap();
        },
        |(value, error)| async move { (value.await, error.await) },
    );
    assert_eq!(read, (Ok(1), Err(Error::Failed(2))));
}

#[test]
fn a_set_before_the_read_is_there_at_once() {
    let (promise, future) = promise::promise::<u32, ()>();
    promise.set_value(5).unwrap();
    assert!(future.is_ready());
    assert_eq!(future.get(), Ok(5));
}

// ----- broken promises -------------------------------------------------

#[test]
fn promise_dropped_unset_reads_as_broken_in_blocking_worlds() {
    for world in BLOCKING {
        // The reader is waiting (registered) when the promise is dropped.
        let (promise, future) = promise::promise::<u32, ()>();
        let (reader, announced) = announcing(future);
        let reader = cell(reader);
        let producer = cell((promise, announced));
        let results = run_blocking(world, 2, move |party| {
            if party == 0 {
                let (promise, announced) = take(&producer);
                announced.get().unwrap(); // the reader is waiting now
                drop(promise);
                None
            } else {
                Some(wait(take(&reader)))
            }
        });
        assert_eq!(results[1], Some(Err(Error::Broken)), "{world:?}");

        // And a plain `get` after the drop.
        let (promise, future) = promise::promise::<u32, ()>();
        drop(promise);
        assert_eq!(future.get(), Err(Error::Broken));
    }
}

#[test]
fn promise_dropped_unset_reads_as_broken_async() {
    let (promise, future) = promise::promise::<u32, ()>();
    let (reader, announced) = announcing(future);
    let ((), read) = run_async_pair(
        (promise, announced),
        reader,
        |(promise, announced)| async move {
            announced.await.unwrap();
            drop(promise);
        },
        |reader| reader,
    );
    assert_eq!(read, Err(Error::Broken));
}

#[test]
fn promise_dropped_by_a_panicking_producer_reads_as_broken() {
    let (promise, future) = promise::promise::<u32, ()>();
    let producer = thread::spawn(move || {
        let _promise = promise;
        panic!("producer failed (expected by the test)");
    });
    assert_eq!(future.get(), Err(Error::Broken));
    assert!(producer.join().is_err());
}

// ----- cancellation ----------------------------------------------------

#[test]
fn set_after_the_reader_dropped_hands_the_value_back() {
    let (promise, future) = promise::promise::<String, String>();
    assert!(!promise.is_cancelled());
    drop(future);
    assert!(promise.is_cancelled());
    let error = promise.set_value("unread".to_string()).unwrap_err();
    assert_eq!(error, SetError("unread".to_string()));

    let (promise, future) = promise::promise::<String, String>();
    drop(future);
    let error = promise.set_error("unread error".to_string()).unwrap_err();
    assert_eq!(error.into_inner(), "unread error");
}

#[test]
fn a_value_set_but_never_read_is_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (promise, future) = promise::promise::<Counted, ()>();
    assert!(promise.set_value(Counted(Arc::clone(&drops))).is_ok());
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(future);
    assert_eq!(drops.load(Ordering::Relaxed), 1);

    let (promise, future) = promise::promise::<Counted, ()>();
    drop(future);
    let handed_back = promise.set_value(Counted(Arc::clone(&drops))).unwrap_err();
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    drop(handed_back);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn producer_waiting_in_cancelled_wakes_when_the_reader_leaves_in_blocking_worlds() {
    for world in BLOCKING {
        let (promise, future) = promise::promise::<u32, ()>();
        let (announce, announced) = promise::promise::<(), ()>();
        let producer = cell((promise, announce));
        let reader = cell((future, announced));
        let results = run_blocking(world, 2, move |party| {
            if party == 0 {
                let (mut promise, announce) = take(&producer);
                wait(AnnounceWhenPending {
                    inner: promise.cancelled_async(),
                    announce: Some(announce),
                });
                promise.is_cancelled()
            } else {
                let (future, announced) = take(&reader);
                announced.get().unwrap(); // the producer is waiting now
                drop(future);
                true
            }
        });
        assert_eq!(results, [true, true], "{world:?}");
    }
}

#[test]
fn producer_waiting_in_cancelled_wakes_when_the_reader_leaves_async() {
    let (promise, future) = promise::promise::<u32, ()>();
    let (announce, announced) = promise::promise::<(), ()>();
    let (cancelled, ()) = run_async_pair(
        (promise, announce),
        (future, announced),
        |(mut promise, announce)| async move {
            AnnounceWhenPending {
                inner: promise.cancelled_async(),
                announce: Some(announce),
            }
            .await;
            promise.is_cancelled()
        },
        |(future, announced)| async move {
            announced.await.unwrap();
            drop(future);
        },
    );
    assert!(cancelled);
}

#[test]
fn cancelled_timeout_expires_while_the_reader_stays() {
    let (mut promise, future) = promise::promise::<u32, ()>();
    let start = Instant::now();
    assert!(!promise.cancelled_timeout(Duration::from_millis(20)));
    assert!(start.elapsed() >= Duration::from_millis(20));
    // The expired wait was withdrawn: the promise still works.
    promise.set_value(9).unwrap();
    assert_eq!(future.get(), Ok(9));

    let (mut promise, future) = promise::promise::<u32, ()>();
    drop(future);
    assert!(promise.cancelled_timeout(Duration::from_secs(60)));
}

#[test]
fn a_dropped_cancelled_future_withdraws_its_wait() {
    let executor = ManualExecutor::new();
    let (mut promise, future) = promise::promise::<u32, ()>();
    let watching = Arc::new(AtomicBool::new(false));
    let watched = Arc::clone(&watching);
    // Poll `cancelled_async` once, then drop it; the promise stays usable.
    let task = spawn(&executor, async move {
        let mut cancelled = promise.cancelled_async();
        let polled =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut cancelled).poll(cx).is_pending()))
                .await;
        watched.store(polled, Ordering::Relaxed);
        drop(cancelled);
        promise
    });
    executor.run_all();
    assert!(watching.load(Ordering::Relaxed));
    let promise = task.join().unwrap();
    promise.set_value(3).unwrap();
    assert_eq!(future.get(), Ok(3));
}

// ----- try_get, is_ready, timeouts ---------------------------------------

#[test]
fn try_get_before_and_after_the_set() {
    let (promise, mut future) = promise::promise::<u32, ()>();
    assert!(!future.is_ready());
    assert_eq!(future.try_get(), None);
    promise.set_value(11).unwrap();
    assert!(future.is_ready());
    assert_eq!(future.try_get(), Some(Ok(11)));
    assert!(!future.is_ready(), "the result was taken");

    let (promise, mut future) = promise::promise::<u32, u8>();
    promise.set_error(4).unwrap();
    assert_eq!(future.try_get(), Some(Err(Error::Failed(4))));

    let (promise, mut future) = promise::promise::<u32, u8>();
    drop(promise);
    assert_eq!(future.try_get(), Some(Err(Error::Broken)));
}

#[test]
#[should_panic(expected = "already taken")]
fn reading_a_taken_result_again_panics() {
    let (promise, mut future) = promise::promise::<u32, ()>();
    promise.set_value(1).unwrap();
    assert_eq!(future.try_get(), Some(Ok(1)));
    let _ = future.try_get();
}

/// Injects a fault at every point of one kind.
struct Always(Site);

impl Injector for Always {
    fn inject(&self, site: Site) -> bool {
        site == self.0
    }
}

#[test]
fn try_get_reports_not_ready_under_an_injected_fault() {
    let (promise, mut future) = promise::promise::<u32, ()>();
    promise.set_value(2).unwrap();
    let previous = fault::set_injector(Some(Rc::new(Always(Site::TRY))));
    let faulty = future.try_get();
    fault::set_injector(previous);
    assert_eq!(faulty, None);
    assert_eq!(future.try_get(), Some(Ok(2)), "nothing was lost");
}

#[test]
fn reads_take_the_slow_path_under_injected_wait_and_wake_faults() {
    for site in [Site::WAIT, Site::WAKE] {
        let previous = fault::set_injector(Some(Rc::new(Always(site))));
        let (promise, future) = promise::promise::<u32, ()>();
        promise.set_value(6).unwrap();
        assert_eq!(future.get(), Ok(6));

        let (promise, future) = promise::promise::<u32, ()>();
        let setter = thread::spawn(move || promise.set_value(7));
        assert_eq!(future.get(), Ok(7));
        setter.join().unwrap().unwrap();

        let (mut promise, future) = promise::promise::<u32, ()>();
        drop(future);
        promise.cancelled();
        fault::set_injector(previous);
    }
}

#[test]
fn get_timeout_expires_and_the_value_still_arrives_in_blocking_worlds() {
    for world in BLOCKING {
        let (promise, future) = promise::promise::<u32, ()>();
        let producer = cell(promise);
        let reader = cell(future);
        let results = run_blocking(world, 1, move |_| {
            let mut future = take(&reader);
            let start = Instant::now();
            let expired = future.get_timeout(Duration::from_millis(20));
            let waited = start.elapsed();
            let past = future.get_deadline(Instant::now());
            take(&producer).set_value(8).unwrap();
            let got = future.get_timeout(Duration::from_secs(60));
            (expired, waited >= Duration::from_millis(20), past, got)
        });
        assert_eq!(results, [(None, true, None, Some(Ok(8)))], "{world:?}");
    }
}

// ----- then / map --------------------------------------------------------

#[test]
fn then_on_a_steal_pool_runs_the_continuation_and_chains() {
    bounded("then", || {
        let pool = StealPool::new(2).unwrap();
        let handle = pool.handle();
        let on_pool = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&on_pool);
        let (promise, future) = promise::promise::<u32, String>();
        let chained = future
            .then(&pool, move |result| {
                seen.store(handle.worker_index().is_some(), Ordering::Relaxed);
                result.map(|n| n + 1)
            })
            .map(&pool, |n| n * 10)
            .then(&pool, |result| result.map(|n| n.to_string()));
        let setter = thread::spawn(move || promise.set_value(4));
        assert_eq!(chained.get(), Ok("50".to_string()));
        assert!(on_pool.load(Ordering::Relaxed), "ran on a pool worker");
        setter.join().unwrap().unwrap();
    });
}

#[test]
fn then_sees_errors_and_map_passes_them_through() {
    let executor = ManualExecutor::new();
    let called = Arc::new(AtomicBool::new(false));

    let (promise, future) = promise::promise::<u32, String>();
    let recovered = future.then(&executor, |result| match result {
        Ok(n) => Ok::<u32, ()>(n),
        Err(Error::Failed(error)) => Ok(error.len() as u32),
        Err(Error::Broken) => Err(()),
    });
    promise.set_error("four".to_string()).unwrap();

    let (promise, future) = promise::promise::<u32, String>();
    let flag = Arc::clone(&called);
    let mapped = future.map(&executor, move |n| {
        flag.store(true, Ordering::Relaxed);
        n
    });
    promise.set_error("kept".to_string()).unwrap();

    let (promise, future) = promise::promise::<u32, String>();
    let flag = Arc::clone(&called);
    let broken = future.map(&executor, move |n| {
        flag.store(true, Ordering::Relaxed);
        n
    });
    drop(promise);

    executor.run_all();
    assert_eq!(recovered.get(), Ok(4));
    assert_eq!(mapped.get(), Err(Error::Failed("kept".to_string())));
    assert_eq!(broken.get(), Err(Error::Broken));
    assert!(!called.load(Ordering::Relaxed), "`map` skips errors");
}

#[test]
fn a_panicking_continuation_breaks_its_future() {
    let executor = ManualExecutor::new();
    let (promise, future) = promise::promise::<u32, ()>();
    let next = future.then(&executor, |_| -> Result<u32, ()> {
        panic!("continuation failed (expected by the test)")
    });
    promise.set_value(1).unwrap();
    executor.run_all();
    assert_eq!(next.get(), Err(Error::Broken));
}

#[test]
fn dropping_a_continuation_future_cancels_upstream() {
    bounded("then cancel", || {
        let pool = StealPool::new(2).unwrap();
        let called = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&called);
        let (mut promise, future) = promise::promise::<u32, ()>();
        let next = future.then(&pool, move |result| {
            flag.store(true, Ordering::Relaxed);
            result
        });
        drop(next);
        promise.cancelled(); // the continuation let go of `future`
        assert!(promise.is_cancelled());
        assert!(promise.set_value(1).is_err());
        assert!(!called.load(Ordering::Relaxed));
    });
}

#[test]
fn then_on_an_executor_that_shut_down_breaks_its_future() {
    let executor = ManualExecutor::new();
    let (promise, future) = promise::promise::<u32, ()>();
    let next = future.map(&executor, |n| n + 1);
    drop(executor); // the queued continuation is cancelled, with `future`
    assert!(promise.is_cancelled());
    assert_eq!(promise.set_value(1), Err(SetError(1)));
    assert_eq!(next.get(), Err(Error::Broken));
}

// ----- combinators -------------------------------------------------------

/// Promises and their futures, in two lists.
type Halves<T, E> = (Vec<Promise<T, E>>, Vec<Future<T, E>>);

/// `n` promises and their futures.
fn promises<T, E>(n: usize) -> Halves<T, E> {
    (0..n).map(|_| promise::promise()).unzip()
}

#[test]
fn all_collects_every_value_in_order_in_blocking_worlds() {
    for world in BLOCKING {
        let (producers, futures) = promises::<usize, ()>(8);
        let producers = cell(producers);
        let reader = cell(futures);
        let results = run_blocking(world, 2, move |party| {
            if party == 0 {
                // Set in reverse order while the reader waits.
                for (i, promise) in take(&producers).into_iter().enumerate().rev() {
                    promise.set_value(i * i).unwrap();
                }
                None
            } else {
                Some(all(take(&reader)).get())
            }
        });
        let expected: Vec<usize> = (0..8).map(|i| i * i).collect();
        assert_eq!(results[1], Some(Ok(expected)), "{world:?}");
    }
}

#[test]
fn all_collects_every_value_in_order_async() {
    let (producers, futures) = promises::<usize, ()>(8);
    let ((), read) = run_async_pair(
        producers,
        futures,
        |producers| async move {
            for (i, promise) in producers.into_iter().enumerate().rev() {
                promise.set_value(i).unwrap();
            }
        },
        all,
    );
    assert_eq!(read, Ok((0..8).collect()));
}

#[test]
fn all_fails_with_the_first_error_and_cancels_the_rest() {
    let (mut producers, futures) = promises::<u32, &str>(4);
    producers.remove(1).set_error("second failed").unwrap();
    assert_eq!(all(futures).get(), Err(Error::Failed("second failed")));
    for promise in &producers {
        assert!(promise.is_cancelled());
    }

    let (mut producers, futures) = promises::<u32, &str>(3);
    drop(producers.remove(2));
    assert_eq!(all(futures).get(), Err(Error::Broken));
    assert!(producers.iter().all(Promise::is_cancelled));

    assert_eq!(all(Vec::<Future<u32, ()>>::new()).get(), Ok(vec![]));
}

#[test]
fn first_takes_the_first_result_and_cancels_the_losers_in_blocking_worlds() {
    for world in BLOCKING {
        let (mut producers, futures) = promises::<u32, u32>(3);
        let winner = producers.remove(1);
        let losers = Arc::new(Mutex::new(producers));
        let winner = cell(winner);
        let reader = cell(futures);
        let results = run_blocking(world, 4, move |party| match party {
            0 => Some(first(take(&reader)).get()),
            1 => {
                take(&winner).set_error(7).unwrap();
                None
            }
            _ => {
                // Each loser's producer waits until it is cancelled.
                let mut promise = losers.lock().unwrap().pop().unwrap();
                promise.cancelled();
                assert!(promise.is_cancelled());
                None
            }
        });
        assert_eq!(results[0], Some(Err(Error::Failed(7))), "{world:?}");
    }
}

#[test]
fn first_takes_the_first_result_and_cancels_the_losers_async() {
    let (mut producers, futures) = promises::<u32, u32>(3);
    let winner = producers.remove(2);
    let losers = Arc::new(Mutex::new(producers));
    let winner = cell(winner);
    let reader = cell(futures);
    let results = run_async(4, move |party| {
        let (losers, winner, reader) = (
            Arc::clone(&losers),
            Arc::clone(&winner),
            Arc::clone(&reader),
        );
        async move {
            match party {
                0 => Some(first(take(&reader)).await),
                1 => {
                    take(&winner).set_value(5).unwrap();
                    None
                }
                _ => {
                    let mut promise = losers.lock().unwrap().pop().unwrap();
                    promise.cancelled_async().await;
                    None
                }
            }
        }
    });
    assert_eq!(results[0], Some(Ok(5)));
}

#[test]
fn first_prefers_the_earliest_ready_and_breaks_when_empty() {
    let (producers, futures) = promises::<u32, ()>(3);
    let mut producers = producers.into_iter();
    let a = producers.next().unwrap();
    let b = producers.next().unwrap();
    let c = producers.next().unwrap();
    c.set_value(3).unwrap();
    b.set_value(2).unwrap();
    assert_eq!(first(futures).get(), Ok(2));
    assert!(a.is_cancelled());

    assert_eq!(
        first(Vec::<Future<u32, ()>>::new()).get(),
        Err(Error::Broken)
    );
}

#[test]
fn first_ok_skips_errors_and_cancels_the_rest_in_blocking_worlds() {
    for world in BLOCKING {
        let (producers, futures) = promises::<u32, u32>(4);
        let producers = cell(producers);
        let reader = cell(futures);
        let results = run_blocking(world, 2, move |party| {
            if party == 0 {
                let mut producers = take(&producers);
                let mut last = producers.pop().unwrap();
                let second = producers.remove(1);
                producers.remove(0).set_error(1).unwrap();
                second.set_value(20).unwrap();
                // The two left are cancelled once the value wins.
                let mut third = producers.pop().unwrap();
                third.cancelled();
                last.cancelled();
                Some(third.is_cancelled() && last.is_cancelled())
            } else {
                Some(first_ok(take(&reader)).get() == Ok(20))
            }
        });
        assert_eq!(results, [Some(true), Some(true)], "{world:?}");
    }
}

#[test]
fn first_ok_collects_every_error_in_order_when_all_fail() {
    let (producers, futures) = promises::<u32, &str>(3);
    let mut producers = producers.into_iter();
    let a = producers.next().unwrap();
    let b = producers.next().unwrap();
    let c = producers.next().unwrap();
    c.set_error("c").unwrap();
    drop(b);
    let reader = thread::spawn(move || first_ok(futures).get());
    a.set_error("a").unwrap();
    let failed = reader.join().unwrap().unwrap_err();
    assert_eq!(
        failed.errors(),
        [Error::Failed("a"), Error::Broken, Error::Failed("c")]
    );
    assert_eq!(
        failed.to_string(),
        "all 3 promises failed (the first: the promise failed: a)"
    );

    let empty = first_ok(Vec::<Future<u32, ()>>::new()).get().unwrap_err();
    assert!(empty.into_errors().is_empty());
}

#[test]
fn first_ok_async() {
    let (producers, futures) = promises::<u32, u32>(3);
    let ((), read) = run_async_pair(
        producers,
        futures,
        |producers| async move {
            for (i, promise) in producers.into_iter().enumerate() {
                if i == 2 {
                    promise.set_value(30).unwrap();
                } else {
                    promise.set_error(i as u32).unwrap();
                }
            }
        },
        first_ok,
    );
    assert_eq!(read, Ok(30));
}

#[test]
fn combinator_get_timeout_expires_and_completes_later() {
    let (producers, futures) = promises::<u32, ()>(2);
    let mut both = all(futures);
    assert_eq!(both.get_timeout(Duration::from_millis(10)), None);
    for (i, promise) in producers.into_iter().enumerate() {
        promise.set_value(i as u32).unwrap();
    }
    assert_eq!(
        both.get_timeout(Duration::from_secs(60)),
        Some(Ok(vec![0, 1]))
    );

    let (producers, futures) = promises::<u32, ()>(2);
    let mut any = first(futures);
    assert_eq!(any.get_timeout(Duration::from_millis(10)), None);
    assert!(!producers[0].is_cancelled(), "a timeout cancels nothing");
    drop(any);
    assert!(producers.iter().all(Promise::is_cancelled));
}

// ----- stress ------------------------------------------------------------

/// A value that counts its drops.
struct Counted {
    value: u64,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the producer of promise `i` does, and whether its reader drops it.
#[derive(Clone, Copy)]
struct Plan {
    outcome: u8, // 0..=6: value, 7..=8: error, 9: dropped unset
    reader_cancels: bool,
}

#[derive(Default)]
struct Tally {
    sum: AtomicU64,
    values: AtomicUsize,
    errors: AtomicUsize,
    broken: AtomicUsize,
}

fn stress(world: World) {
    const READERS: usize = 4;
    const SETTERS: usize = 3;
    let seed = seed();
    println!("promise stress ({world:?}): seed {seed}");
    let mut rng = seed;
    let n = scaled(20_000);
    let plans: Vec<Plan> = (0..n)
        .map(|_| Plan {
            outcome: (xorshift(&mut rng) % 10) as u8,
            reader_cancels: xorshift(&mut rng).is_multiple_of(13),
        })
        .collect();
    let drops = Arc::new(AtomicUsize::new(0));
    let (producers, futures) = promises::<Counted, u64>(n);

    // Readers: futures dealt round-robin, read (or dropped) in order.
    let mut shares: Vec<Vec<(usize, Future<Counted, u64>)>> =
        (0..READERS).map(|_| Vec::new()).collect();
    for (i, future) in futures.into_iter().enumerate() {
        shares[i % READERS].push((i, future));
    }
    let shares: Vec<_> = shares.into_iter().map(cell).collect();
    let shares = Arc::new(shares);
    let tally = Arc::new(Tally::default());

    // Readers announce that they started; setters wait for all of them,
    // so that readers are there to block.
    let (started, readers_started): Halves<(), ()> = promises(READERS);
    let started = Arc::new(started.into_iter().map(cell).collect::<Vec<_>>());
    let (gates, gate_futures): Halves<(), ()> = promises(SETTERS);
    let coordinator = thread::spawn(move || {
        all(readers_started).get().unwrap();
        for gate in gates {
            gate.set_value(()).unwrap();
        }
    });

    // Setters: promises in order, shuffled within windows (so readers, who
    // read in order, keep catching up with them and block), dealt to
    // plain threads.
    const WINDOW: usize = 64;
    let mut order: Vec<(usize, Promise<Counted, u64>)> =
        producers.into_iter().enumerate().collect();
    for window in order.chunks_mut(WINDOW) {
        for i in (1..window.len()).rev() {
            window.swap(i, (xorshift(&mut rng) % (i as u64 + 1)) as usize);
        }
    }
    let handed_back = Arc::new(AtomicUsize::new(0));
    let mut setter_shares: Vec<Vec<_>> = (0..SETTERS).map(|_| Vec::new()).collect();
    for (k, entry) in order.into_iter().enumerate() {
        setter_shares[k % SETTERS].push(entry);
    }
    let setters: Vec<_> = setter_shares
        .into_iter()
        .zip(gate_futures)
        .map(|(share, gate)| {
            let plans = plans.clone();
            let drops = Arc::clone(&drops);
            let handed_back = Arc::clone(&handed_back);
            thread::spawn(move || {
                gate.get().unwrap();
                for (i, promise) in share {
                    let plan = plans[i];
                    let back = match plan.outcome {
                        0..=6 => promise
                            .set_value(Counted {
                                value: i as u64,
                                drops: Arc::clone(&drops),
                            })
                            .is_err(),
                        7..=8 => promise.set_error(i as u64).is_err(),
                        _ => {
                            drop(promise);
                            false
                        }
                    };
                    if back {
                        assert!(
                            plan.reader_cancels,
                            "handed back, but promise {i}'s reader stays"
                        );
                        handed_back.fetch_add(1, Ordering::Relaxed);
                    }
                    // Pace the setters, so that readers catch up and block.
                    thread::yield_now();
                }
            })
        })
        .collect();

    let read = {
        let plans = plans.clone();
        let tally = Arc::clone(&tally);
        move |i: usize, result: Option<Result<Counted, Error<u64>>>| match result {
            None => assert!(plans[i].reader_cancels),
            Some(Ok(counted)) => {
                assert!(plans[i].outcome <= 6, "promise {i}: a value it never got");
                assert_eq!(counted.value, i as u64);
                tally.sum.fetch_add(counted.value, Ordering::Relaxed);
                tally.values.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(Error::Failed(error))) => {
                assert!(matches!(plans[i].outcome, 7..=8));
                assert_eq!(error, i as u64);
                tally.errors.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(Error::Broken)) => {
                assert_eq!(plans[i].outcome, 9, "promise {i}: broken but set");
                tally.broken.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let read = Arc::new(read);
    match world {
        World::Async => {
            let plans = plans.clone();
            run_async(READERS, move |party| {
                let shares = Arc::clone(&shares);
                let read = Arc::clone(&read);
                let plans = plans.clone();
                let started = Arc::clone(&started);
                async move {
                    take(&started[party]).set_value(()).unwrap();
                    for (i, future) in take(&shares[party]) {
                        if plans[i].reader_cancels {
                            drop(future);
                            read(i, None);
                        } else {
                            read(i, Some(future.await));
                        }
                    }
                }
            });
        }
        blocking => {
            let plans = plans.clone();
            run_blocking(blocking, READERS, move |party| {
                take(&started[party]).set_value(()).unwrap();
                for (i, future) in take(&shares[party]) {
                    if plans[i].reader_cancels {
                        drop(future);
                        read(i, None);
                    } else {
                        read(i, Some(future.get()));
                    }
                }
            });
        }
    }
    coordinator.join().unwrap();
    for setter in setters {
        setter.join().unwrap();
    }

    let kept = |range: std::ops::RangeInclusive<u8>| {
        plans
            .iter()
            .filter(|plan| !plan.reader_cancels && range.contains(&plan.outcome))
            .count()
    };
    let expected_sum: u64 = (0..n)
        .filter(|&i| !plans[i].reader_cancels && plans[i].outcome <= 6)
        .map(|i| i as u64)
        .sum();
    assert_eq!(
        tally.values.load(Ordering::Relaxed),
        kept(0..=6),
        "seed {seed}"
    );
    assert_eq!(
        tally.sum.load(Ordering::Relaxed),
        expected_sum,
        "seed {seed}"
    );
    assert_eq!(
        tally.errors.load(Ordering::Relaxed),
        kept(7..=8),
        "seed {seed}"
    );
    assert_eq!(
        tally.broken.load(Ordering::Relaxed),
        kept(9..=9),
        "seed {seed}"
    );
    let cancelled_sets = plans
        .iter()
        .filter(|plan| plan.reader_cancels && plan.outcome <= 8)
        .count();
    assert!(
        handed_back.load(Ordering::Relaxed) <= cancelled_sets,
        "seed {seed}"
    );
    // Every value made was dropped exactly once: read, dropped unread by
    // its reader, or handed back and dropped by its setter.
    let made = plans.iter().filter(|plan| plan.outcome <= 6).count();
    assert_eq!(drops.load(Ordering::Relaxed), made, "seed {seed}");
}

#[test]
fn stress_many_promises_set_from_threads_while_readers_block_fibers() {
    stress(World::Fibers);
}

#[test]
fn stress_many_promises_set_from_threads_while_readers_block_threads() {
    stress(World::Threads);
}

#[test]
fn stress_many_promises_set_from_threads_while_readers_await() {
    stress(World::Async);
}
