//! Single-threaded unit tests of `SpinLock`; the threaded ones are in
//! `tests/spin_lock.rs`, the loom models in `tests/loom_spinlock.rs`.

use super::SpinLock;

#[test]
fn try_lock_fails_while_held_and_succeeds_after_release() {
    let lock = SpinLock::new(0);
    let guard = lock.try_lock().expect("free lock");
    assert!(lock.is_locked());
    assert!(lock.try_lock().is_none());
    drop(guard);
    assert!(!lock.is_locked());
    assert!(lock.try_lock().is_some());
}

#[test]
fn writes_through_guard_are_seen_by_next_guard() {
    let lock = SpinLock::new(String::new());
    lock.lock().push_str("ab");
    lock.lock().push_str("cd");
    assert_eq!(*lock.lock(), "abcd");
}

#[test]
fn get_mut_and_into_inner_see_guard_writes() {
    let mut lock = SpinLock::new(vec![1]);
    lock.lock().push(2);
    lock.get_mut().push(3);
    assert_eq!(lock.into_inner(), [1, 2, 3]);
}

#[test]
fn debug_shows_data_when_free_and_does_not_block_when_held() {
    let lock = SpinLock::new(7);
    assert_eq!(format!("{lock:?}"), "SpinLock { data: 7 }");
    let guard = lock.lock();
    assert_eq!(format!("{lock:?}"), "SpinLock { data: <locked> }");
    assert_eq!(format!("{guard:?} {guard}"), "7 7");
}

#[test]
fn panic_while_held_releases_the_lock() {
    let lock = SpinLock::new(1);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut guard = lock.lock();
        *guard = 2;
        panic!("inside the critical section");
    }));
    assert!(result.is_err());
    assert!(!lock.is_locked());
    assert_eq!(*lock.lock(), 2);
}

#[test]
fn unsized_value_behind_a_lock() {
    let lock: &SpinLock<[u32]> = &SpinLock::new([1, 2, 3]);
    lock.lock()[1] = 20;
    assert_eq!(&*lock.lock(), &[1, 20, 3]);
}

#[test]
fn default_and_from_wrap_the_value() {
    assert_eq!(*SpinLock::<u8>::default().lock(), 0);
    assert_eq!(SpinLock::from(9).into_inner(), 9);
}

#[test]
fn const_new_works_in_a_static() {
    static COUNTER: SpinLock<u32> = SpinLock::new(0);
    *COUNTER.lock() += 1;
    assert!(*COUNTER.lock() >= 1);
}
