//! Strategy what-ifs: the same fleet and the same calls under several ways of sending the call
//! push, with what became of the calls under each.
//!
//! Every strategy runs the scenario from its own seed. A device's world (its outages, wakes,
//! user sessions and call arrivals) draws from one random stream and each push from a stream of
//! its own keyed by call and attempt, so the strategies see the same phones at the same moments
//! and the same calls (common random numbers): a difference between two strategies is the
//! strategies', not the dice's.

use std::fmt;

use pushtrace_fleet::stats::{Interval, Z_95, wilson};
use serde::Serialize;

use crate::fleet::{CallCounts, run_fleet};
use crate::scenario::{Expiration, Retry, Scenario};
pub use crate::strategy::{Strategy, StrategyError};

/// A share with its 95 % Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub count: u64,
    pub of: u64,
    pub share: f64,
    pub interval: Interval,
}

impl Rate {
    pub fn new(count: u64, of: u64) -> Rate {
        Rate {
            count,
            of,
            share: if of == 0 {
                0.0
            } else {
                count as f64 / of as f64
            },
            interval: wilson(count, of),
        }
    }
}

/// A mean with its 95 % normal interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Mean {
    pub mean: f64,
    pub interval: Interval,
}

/// What one strategy did to the calls.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyResult {
    pub name: String,
    /// The sending it ran with (the scenario's values where the strategy said nothing).
    pub expiration: Expiration,
    pub priority: u8,
    pub retry_after: Retry,
    pub fallback: bool,
    pub calls: u64,
    pub rang_in_time: Rate,
    pub missed: Rate,
    pub stale_rings: Rate,
    pub pushes_per_call: Mean,
    /// Of all calls, those the fallback alone told the callee of.
    pub fallback_saves: Rate,
    /// Of all calls, those whose fallback alert the phone showed.
    pub fallback_shown: Rate,
    pub counts: CallCounts,
}

/// The strategies side by side.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub devices: u32,
    pub days: f64,
    pub seed: u64,
    pub strategies: Vec<StrategyResult>,
}

/// Runs `scenario` under each strategy on `threads` threads; `device_done` is called as each
/// device of each strategy is simulated.
pub fn compare(
    scenario: &Scenario,
    strategies: &[Strategy],
    threads: usize,
    device_done: &(dyn Fn() + Sync),
) -> Comparison {
    let results = strategies
        .iter()
        .map(|strategy| {
            let sc = strategy.apply(scenario);
            let summary = run_fleet(&sc, threads, false, |_| device_done());
            let c = summary.calls;
            let calls = &sc.calls;
            StrategyResult {
                name: strategy.name.clone(),
                expiration: calls.expiration,
                priority: calls.priority,
                retry_after: calls.retry_after.clone(),
                fallback: calls.fallback,
                calls: c.calls,
                rang_in_time: Rate::new(c.rang_in_time, c.calls),
                missed: Rate::new(c.missed(), c.calls),
                stale_rings: Rate::new(c.stale_rings, c.calls),
                pushes_per_call: mean(c.pushes, c.pushes_squared, c.calls),
                fallback_saves: Rate::new(c.fallback_saves, c.calls),
                fallback_shown: Rate::new(c.fallbacks_shown, c.calls),
                counts: c,
            }
        })
        .collect();
    Comparison {
        scenario: scenario.fleet.name.clone(),
        devices: scenario.fleet.devices,
        days: scenario.fleet.duration.secs_f64() / 86_400.0,
        seed: scenario.fleet.seed,
        strategies: results,
    }
}

fn mean(sum: u64, squares: u64, n: u64) -> Mean {
    if n == 0 {
        return Mean {
            mean: 0.0,
            interval: Interval {
                low: 0.0,
                high: 0.0,
            },
        };
    }
    let n = n as f64;
    let mean = sum as f64 / n;
    let variance = (squares as f64 / n - mean * mean).max(0.0);
    let half = Z_95 * (variance / n).sqrt();
    Mean {
        mean,
        interval: Interval {
            low: mean - half,
            high: mean + half,
        },
    }
}

impl fmt::Display for Comparison {
    /// One row per strategy: shares of calls in percent with their 95 % intervals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .strategies
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max("strategy".len());
        let pct = |r: &Rate| {
            format!(
                "{:.2} [{:.2}-{:.2}]",
                r.share * 100.0,
                r.interval.low * 100.0,
                r.interval.high * 100.0
            )
        };
        writeln!(
            f,
            "{:<width$}  {:>7}  {:>21}  {:>21}  {:>21}  {:>11}  {:>21}",
            "strategy",
            "calls",
            "rang in time %",
            "missed %",
            "stale rings %",
            "pushes/call",
            "fallback saves %"
        )?;
        for s in &self.strategies {
            writeln!(
                f,
                "{:<width$}  {:>7}  {:>21}  {:>21}  {:>21}  {:>11.3}  {:>21}",
                s.name,
                s.calls,
                pct(&s.rang_in_time),
                pct(&s.missed),
                pct(&s.stale_rings),
                s.pushes_per_call.mean,
                if s.fallback {
                    pct(&s.fallback_saves)
                } else {
                    "-".to_string()
                }
            )?;
        }
        write!(
            f,
            "{} phones x {} days of {}, seed {}: the same phones and calls under every strategy; \
             [low-high] are 95 % Wilson intervals",
            self.devices, self.days, self.scenario, self.seed
        )
    }
}
