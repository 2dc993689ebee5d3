//! The service's clock, given to it when it is built ([`crate::Server::bind_with_clock`]).
//!
//! Every expiry the service decides (sessions, pending logins and recoveries, enrollment
//! requests, rate-limit waits, request timestamps) reads [`Clock::now`], and the one timer that
//! waits for such an expiry (recording an enrollment request as expired) waits with
//! [`Clock::sleep_until`]. `enigm server` runs on the system clock; a test runs the service on
//! a [`ManualClock`] and advances it past an expiry instead of sleeping through it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Where the service reads the time: the system clock, or a test's [`ManualClock`]. Cheap to
/// clone; clones of a manual clock share its time.
#[derive(Clone, Debug, Default)]
pub struct Clock(Source);

#[derive(Clone, Debug, Default)]
enum Source {
    /// The system's wall clock.
    #[default]
    System,
    /// A time that moves only when its [`ManualClock`] advances it.
    Manual(Arc<watch::Sender<u64>>),
}

impl Clock {
    /// The system clock, as `enigm server` uses.
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        match &self.0 {
            Source::System => system_now(),
            Source::Manual(time) => *time.borrow(),
        }
    }

    /// Returns once the clock reads `at` or later: at once if it already does.
    pub async fn sleep_until(&self, at: u64) {
        match &self.0 {
            Source::System => {
                let wait = at.saturating_sub(system_now());
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            Source::Manual(time) => {
                let mut watching = time.subscribe();
                // The sender lives as long as this clock, so `wait_for` ends only when the
                // time is reached.
                let _ = watching.wait_for(|now| *now >= at).await;
            }
        }
    }
}

/// A clock for tests that stands still until [`ManualClock::advance`] moves it; the service
/// built with [`ManualClock::clock`] reads it, and its timers wake when it passes their time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    time: Arc<watch::Sender<u64>>,
}

impl ManualClock {
    /// A clock reading `start` (seconds since the Unix epoch).
    pub fn starting_at(start: u64) -> Self {
        Self {
            time: Arc::new(watch::Sender::new(start)),
        }
    }

    /// A clock reading the system time now: requests signed with the real time then fall
    /// within the service's clock skew allowance until the clock is advanced past it.
    pub fn from_system_time() -> Self {
        Self::starting_at(system_now())
    }

    /// The [`Clock`] to build the service with.
    pub fn clock(&self) -> Clock {
        Clock(Source::Manual(Arc::clone(&self.time)))
    }

    /// The time it reads.
    pub fn now(&self) -> u64 {
        *self.time.borrow()
    }

    /// Moves the clock `secs` seconds forward, waking every timer that comes due.
    pub fn advance(&self, secs: u64) {
        self.time.send_modify(|now| *now = now.saturating_add(secs));
    }
}

/// Seconds since the Unix epoch on the system clock (0 before it).
fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let before = system_now();
        let read = Clock::system().now();
        assert!(read >= before && read <= system_now());
    }

    #[test]
    fn a_manual_clock_stands_still_until_advanced() {
        let manual = ManualClock::starting_at(1_000);
        let clock = manual.clock();
        assert_eq!(clock.now(), 1_000);
        manual.advance(30);
        assert_eq!((clock.now(), manual.now()), (1_030, 1_030));
        assert_eq!(clock.clone().now(), 1_030, "clones share the time");
    }

    #[tokio::test]
    async fn a_timer_wakes_when_the_clock_passes_its_time_not_before() {
        let manual = ManualClock::starting_at(1_000);
        let clock = manual.clock();
        let timer = tokio::spawn(async move { clock.sleep_until(1_010).await });
        manual.advance(9);
        tokio::task::yield_now().await;
        assert!(!timer.is_finished(), "woke a second early");
        manual.advance(5);
        tokio::time::timeout(Duration::from_secs(10), timer)
            .await
            .expect("the timer never woke")
            .unwrap();
        // A time already passed does not wait at all.
        manual.clock().sleep_until(1_000).await;
    }
}
