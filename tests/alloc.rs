//! A counting global allocator for the test binary: [`peak_during`] reports the most
//! bytes the calling thread held at once while running a closure, so the hostile-input
//! tests can assert that a reader's memory stays a small multiple of its input.
//!
//! Only the calling thread is counted (other tests run in parallel); the readers tested
//! this way do not spawn threads. The benches include this file too (`#[path]`) and use
//! [`peak_during_all_threads`]: their fits run on rayon's pool, and benches run one at a
//! time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Forwards to the system allocator and counts the bytes of the tracking thread.
pub struct Counting;

thread_local! {
    // (tracking, live bytes, peak bytes); const-initialised, so reading it never allocates.
    static STATE: Cell<(bool, isize, isize)> = const { Cell::new((false, 0, 0)) };
}

// Live bytes and their high-water mark over every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn add(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
    let _ = STATE.try_with(|s| {
        let (on, live, peak) = s.get();
        if on {
            let live = live + delta;
            s.set((on, live, peak.max(live)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the peak bytes this thread allocated meanwhile.
#[allow(dead_code)] // the benches use only the all-threads count
pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    STATE.with(|s| s.set((true, 0, 0)));
    let r = f();
    let (_, _, peak) = STATE.with(|s| s.replace((false, 0, 0)));
    (r, peak.max(0) as usize)
}

/// Runs `f` and returns its result with the peak of live heap bytes over every thread
/// meanwhile, above what was live when it started (what the caller already holds).
#[allow(dead_code)] // the test binary uses only the one-thread count
pub fn peak_during_all_threads<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, (PEAK.load(Ordering::Relaxed) - base).max(0) as usize)
}
