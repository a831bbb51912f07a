//! Loom models of the promise hand-off (`src/promise/README.md`): set,
//! drop and reader departure against polls and each other.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p
//! spindle-sync --release --test loom_promise`
#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::thread;
use spindle_sync::promise::{Error, SetError, first, promise};

/// Wakes a loom thread parked in [`block_on`].
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on the current loom thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// A set racing the reader's departure: the value is handed back or
/// dropped by the reader, exactly once either way.
#[test]
fn set_races_reader_drop() {
    loom::model(|| {
        let value = Arc::new(());
        let (promise, future) = promise::<Arc<()>, ()>();
        let sent = Arc::clone(&value);
        let setter = thread::spawn(move || promise.set_value(sent).err());
        drop(future);
        let handed_back = setter.join().unwrap();
        if let Some(SetError(back)) = handed_back {
            assert!(Arc::ptr_eq(&back, &value));
        }
        // Neither leaked nor dropped twice (that would underflow or crash).
        assert_eq!(Arc::strong_count(&value), 1);
    });
}

/// A set racing a waiting reader: the reader gets the value.
#[test]
fn set_races_poll() {
    loom::model(|| {
        let (promise, future) = promise::<u32, ()>();
        let setter = thread::spawn(move || promise.set_value(7).unwrap());
        assert_eq!(block_on(future), Ok(7));
        setter.join().unwrap();
    });
}

/// An unset drop racing a waiting reader: the reader gets `Broken`.
#[test]
fn drop_races_poll() {
    loom::model(|| {
        let (promise, future) = promise::<u32, ()>();
        let dropper = thread::spawn(move || drop(promise));
        assert_eq!(block_on(future), Err(Error::Broken));
        dropper.join().unwrap();
    });
}

/// A set racing `try_get` and then a poll of the same future.
#[test]
fn set_races_try_get_then_poll() {
    loom::model(|| {
        let (promise, mut future) = promise::<u32, u32>();
        let setter = thread::spawn(move || promise.set_error(3).unwrap());
        let result = match future.try_get() {
            Some(result) => result,
            None => block_on(&mut future),
        };
        assert_eq!(result, Err(Error::Failed(3)));
        setter.join().unwrap();
    });
}

/// The reader leaving races a producer waiting in `cancelled`.
#[test]
fn reader_drop_races_cancelled() {
    loom::model(|| {
        let (mut promise, future) = promise::<u32, ()>();
        let producer = thread::spawn(move || {
            block_on(promise.cancelled_async());
            promise.set_value(1)
        });
        drop(future);
        assert_eq!(producer.join().unwrap(), Err(SetError(1)));
    });
}

/// `first` over two promises, one set on another thread: the result
/// arrives, and the loser's producer sees the cancellation.
#[test]
fn first_cancels_the_loser() {
    loom::model(|| {
        let (winner, a) = promise::<u32, ()>();
        let (loser, b) = promise::<u32, ()>();
        let setter = thread::spawn(move || winner.set_value(1).unwrap());
        assert_eq!(block_on(first([a, b])), Ok(1));
        assert!(loser.is_cancelled());
        setter.join().unwrap();
    });
}
