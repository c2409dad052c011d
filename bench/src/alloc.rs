//! The bench binary's global allocator: the system allocator, as the deployed binaries use,
//! counting allocations only while a [`Counting`] region is open.
//!
//! Counting must not weigh on what is timed: an always-on counter (two sequentially consistent
//! atomic read-modify-writes per allocation and per free, as `stats_alloc` does) taxes every
//! allocation of wsauth's verifier and none of the bare aws-lc-rs check beside it, whose C code
//! allocates through libc directly. Closed, a region costs one relaxed load per call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The system allocator with an on/off allocation counter.
pub struct CountingSystem {
    on: AtomicBool,
    allocations: AtomicU64,
    bytes: AtomicU64,
}

impl CountingSystem {
    pub const fn new() -> Self {
        Self {
            on: AtomicBool::new(false),
            allocations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    fn count(&self, bytes: usize) {
        if self.on.load(Ordering::Relaxed) {
            self.allocations.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Opens a region: allocations from now on are counted until [`Counting::close`].
    pub fn open(&'static self) -> Counting {
        self.allocations.store(0, Ordering::SeqCst);
        self.bytes.store(0, Ordering::SeqCst);
        self.on.store(true, Ordering::SeqCst);
        Counting(self)
    }
}

/// An open counting region (one at a time).
pub struct Counting(&'static CountingSystem);

impl Counting {
    /// Closes the region: (allocations, bytes allocated) while it was open. A reallocation
    /// counts as one allocation of its new size.
    pub fn close(self) -> (u64, u64) {
        self.0.on.store(false, Ordering::SeqCst);
        (
            self.0.allocations.load(Ordering::SeqCst),
            self.0.bytes.load(Ordering::SeqCst),
        )
    }
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only atomics.
unsafe impl GlobalAlloc for CountingSystem {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
