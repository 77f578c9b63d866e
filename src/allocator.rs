//! The memory allocator of every entry point (`main.rs` makes it the global one), and how
//! memory that a purge freed goes back to the system.
//!
//! mimalloc rather than the C library's `malloc`: a page spends most of its time in
//! Handlebars, which allocates and frees a few hundred small strings per page (a path for
//! every lookup, a copy of every value, its escaped copy). With mimalloc a page costs about a
//! fifth fewer instructions and the cheapest request about a seventh fewer (measured when it
//! came in: "Pages, measured against static bytes" in `git show 2c55094:BENCHMARKS.md`). What it costs: the process starts at about
//! 20 MiB resident instead of 9 (per-thread heaps, reserved up front), though a session
//! takes fewer bytes, and freed memory goes back only when asked ([`release_freed_memory`]).

pub use mimalloc::MiMalloc as Allocator;

/// Hands memory that the memory store's purge freed back to the operating system.
///
/// Freeing a record returns its blocks to the allocator, not to the system: mimalloc keeps
/// pages that still look in use to some thread's heap, so after 100,000 sessions expired the
/// process kept about half of their memory ("Memory" in `git show 2c55094:BENCHMARKS.md`). `mi_collect(true)`
/// collects the freed blocks and returns the free pages; it runs only after a purge that
/// removed something, at most once per purge interval. Outside the app's own binaries (the
/// library's unit tests use the system allocator) it finds nothing to do.
pub fn release_freed_memory() {
    // SAFETY: mi_collect takes no pointers from us and may be called from any thread at any
    // time; it only walks mimalloc's own heaps.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
