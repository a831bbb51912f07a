//! Wakers and a one-shot poll for futures polled by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that runs a closure (counting wakes, logging, or acting in the
/// middle of a wake-up).
pub struct OnWake(pub Box<dyn Fn() + Send + Sync>);

impl Wake for OnWake {
    fn wake(self: Arc<Self>) {
        (self.0)();
    }
}

/// A waker that runs `f` on each wake.
pub fn on_wake(f: impl Fn() + Send + Sync + 'static) -> Waker {
    Waker::from(Arc::new(OnWake(Box::new(f))))
}

/// A waker that does nothing, owned.
pub fn noop_waker() -> Waker {
    Waker::noop().clone()
}

/// A waker that counts its wakes.
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Counter {
    /// How often it was woken in all.
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and its counter.
pub fn counting_waker() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter::default());
    (Arc::clone(&counter), Waker::from(counter))
}

/// Polls `future` once with `waker`.
pub fn poll<F: Future>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// A future polled by hand, with its own counting waker.
pub struct Manual<F> {
    /// The future, pinned.
    pub future: Pin<Box<F>>,
    counter: Arc<Counter>,
    waker: Waker,
    /// Wakes seen when it was last polled.
    seen: usize,
}

impl<F: Future> Manual<F> {
    pub fn new(future: F) -> Self {
        let (counter, waker) = counting_waker();
        Manual {
            future: Box::pin(future),
            counter,
            waker,
            seen: 0,
        }
    }

    /// Polls it once with its waker.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.seen = self.wakes();
        poll(self.future.as_mut(), &self.waker)
    }

    /// How often the waker was woken in all.
    pub fn wakes(&self) -> usize {
        self.counter.wakes()
    }

    /// Whether it was woken since it was last polled.
    pub fn woken(&self) -> bool {
        self.wakes() > self.seen
    }
}
