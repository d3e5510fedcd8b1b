//! The sequencer: the order in which reporters see events.
//!
//! Steps that run in parallel send their events in whatever order the network and the
//! instances produce them. The sequencer turns that into one stream whose order depends only
//! on the plan and on what happened on each instance, never on timing:
//!
//! - every event of a step is contiguous, and steps appear in plan order (main steps, then
//!   rollback steps), whatever order they ran in;
//! - a step's events are passed on live while every step before it in plan order is complete,
//!   and held until then otherwise;
//! - run-level events (preflight, Ctrl-C, cleanup) pass straight through.
//!
//! Within a step the order is fixed by `step.rs`: `StepStarted`, `CommandCreated`, then per
//! wave and attempt the `Invoked` events in batch order, `StopSent` when it stops, the
//! `InstanceFinished` events in target order, `ErrorBudgetExceeded`, and `StepFinished`.
//! The journal does not go through here: it records events as they happen.

use crate::exec::event::RunEvent;

/// Holds back the events of steps that are not at the front yet.
#[derive(Debug)]
pub struct Sequencer {
    held: Vec<Vec<RunEvent>>,
    complete: Vec<bool>,
    front: usize,
}

impl Sequencer {
    /// A sequencer over `slots` steps, numbered in plan order.
    pub fn new(slots: usize) -> Self {
        Self {
            held: vec![Vec::new(); slots],
            complete: vec![false; slots],
            front: 0,
        }
    }

    /// An event of step `slot`: returned at once when the step is at the front, else held.
    pub fn push(&mut self, slot: usize, event: RunEvent) -> Vec<RunEvent> {
        if slot <= self.front || slot >= self.held.len() {
            return vec![event];
        }
        self.held[slot].push(event);
        Vec::new()
    }

    /// Step `slot` has no more events; returns what that releases, in order.
    pub fn complete(&mut self, slot: usize) -> Vec<RunEvent> {
        if let Some(done) = self.complete.get_mut(slot) {
            *done = true;
        }
        let mut out = Vec::new();
        while self.front < self.held.len() && self.complete[self.front] {
            self.front += 1;
            if let Some(next) = self.held.get_mut(self.front) {
                out.append(next);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warn(text: &str) -> RunEvent {
        RunEvent::Warning {
            message: text.to_owned(),
        }
    }

    fn texts(events: &[RunEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                RunEvent::Warning { message } => message.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Replays a schedule of arrivals: `(slot, text)` pushes, `(slot, "")` completes.
    fn replay(arrivals: &[(usize, &str)]) -> Vec<String> {
        let mut seq = Sequencer::new(3);
        let mut out = Vec::new();
        for (slot, text) in arrivals {
            if text.is_empty() {
                out.extend(seq.complete(*slot));
            } else {
                out.extend(seq.push(*slot, warn(text)));
            }
        }
        texts(&out)
    }

    #[test]
    fn same_outcomes_in_any_arrival_order_give_one_order() {
        let expected = ["a1", "a2", "b1", "b2", "c1"];
        let orders: [&[(usize, &str)]; 4] = [
            // In plan order.
            &[
                (0, "a1"),
                (0, "a2"),
                (0, ""),
                (1, "b1"),
                (1, "b2"),
                (1, ""),
                (2, "c1"),
                (2, ""),
            ],
            // b runs alongside a and finishes first.
            &[
                (0, "a1"),
                (1, "b1"),
                (1, "b2"),
                (1, ""),
                (0, "a2"),
                (0, ""),
                (2, "c1"),
                (2, ""),
            ],
            // All three interleaved, completing in reverse.
            &[
                (2, "c1"),
                (1, "b1"),
                (0, "a1"),
                (1, "b2"),
                (2, ""),
                (0, "a2"),
                (1, ""),
                (0, ""),
            ],
            // A step with no events at all.
            &[
                (0, "a1"),
                (0, "a2"),
                (1, "b1"),
                (1, "b2"),
                (2, "c1"),
                (1, ""),
                (2, ""),
                (0, ""),
            ],
        ];
        for order in orders {
            assert_eq!(replay(order), expected, "{order:?}");
        }
    }

    #[test]
    fn the_front_step_is_live() {
        let mut seq = Sequencer::new(2);
        assert_eq!(seq.push(0, warn("a")).len(), 1);
        assert!(seq.push(1, warn("b")).is_empty());
        assert_eq!(texts(&seq.complete(0)), ["b"]);
        // Now the second step is at the front: live.
        assert_eq!(seq.push(1, warn("b2")).len(), 1);
        assert!(seq.complete(1).is_empty());
        // Past the last slot everything passes.
        assert_eq!(seq.push(5, warn("late")).len(), 1);
    }
}
