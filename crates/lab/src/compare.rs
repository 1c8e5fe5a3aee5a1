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
use crate::scenario::{Expiration, Scenario, Span};

/// One way of sending calls: what it changes in the scenario's `[calls]`; `None` keeps the
/// scenario's own value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Strategy {
    pub name: String,
    pub expiration: Option<Expiration>,
    pub priority: Option<u8>,
    pub retry_after: Option<Span>,
    pub fallback: Option<bool>,
}

/// A strategy that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("strategy `{spec}`: {why}")]
pub struct StrategyError {
    pub spec: String,
    pub why: String,
}

const SPEC_HELP: &str = "write NAME=KEY=VALUE,… with expiration=0|deadline|30d, priority=10|5|1, \
                         retry=off|<duration such as 10s>, fallback=on|off (for example \
                         `retry=expiration=0,retry=10s`)";

impl Strategy {
    /// Reads `NAME=KEY=VALUE,KEY=VALUE`: `expiration` (`0`, `deadline`, `30d`), `priority`
    /// (10, 5, 1), `retry` (`off` or the wait for a receipt before resending, `10s`),
    /// `fallback` (`on`, `off`).
    pub fn parse(spec: &str) -> Result<Strategy, StrategyError> {
        let fail = |why: String| StrategyError {
            spec: spec.to_string(),
            why,
        };
        let (name, settings) = spec
            .split_once('=')
            .ok_or_else(|| fail(format!("no `=` after the name: {SPEC_HELP}")))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(fail(format!("the name is empty: {SPEC_HELP}")));
        }
        let mut strategy = Strategy {
            name: name.to_string(),
            expiration: None,
            priority: None,
            retry_after: None,
            fallback: None,
        };
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| fail(format!("`{setting}` is not KEY=VALUE: {SPEC_HELP}")))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = |what: &str| fail(format!("{key}=`{value}`: {what}"));
            match key {
                "expiration" => {
                    strategy.expiration = Some(match value {
                        "0" | "zero" => Expiration::Zero,
                        "deadline" => Expiration::Deadline,
                        "30d" | "max" => Expiration::Max,
                        _ => return Err(bad("use 0, deadline or 30d")),
                    })
                }
                "priority" => {
                    strategy.priority = Some(match value {
                        "10" => 10,
                        "5" => 5,
                        "1" => 1,
                        _ => return Err(bad("APNs accepts 10, 5 or 1")),
                    })
                }
                "retry" => {
                    let wait = match value {
                        "off" | "0" | "0s" => Span::ZERO,
                        _ => Span::parse(value).map_err(|e| bad(&e.to_string()))?,
                    };
                    if wait > Span::ZERO && wait < Span(1_000_000) {
                        return Err(bad("resend no sooner than 1s after a push"));
                    }
                    strategy.retry_after = Some(wait);
                }
                "fallback" => {
                    strategy.fallback = Some(match value {
                        "on" | "true" => true,
                        "off" | "false" => false,
                        _ => return Err(bad("use on or off")),
                    })
                }
                _ => {
                    return Err(fail(format!(
                        "unknown key `{key}`: the keys are expiration, priority, retry and fallback"
                    )));
                }
            }
        }
        Ok(strategy)
    }

    /// The questions of the founding thread, one strategy each: which expiration, whether a
    /// resend helps, what the fallback saves, what priority 5 costs.
    pub fn defaults() -> Vec<Strategy> {
        [
            "exp-0=expiration=0,retry=off,fallback=off,priority=10",
            "exp-deadline=expiration=deadline,retry=off,fallback=off,priority=10",
            "exp-30d=expiration=30d,retry=off,fallback=off,priority=10",
            "exp-0+retry-10s=expiration=0,retry=10s,fallback=off,priority=10",
            "exp-deadline+retry-10s=expiration=deadline,retry=10s,fallback=off,priority=10",
            "exp-0+fallback=expiration=0,retry=off,fallback=on,priority=10",
            "exp-deadline+retry+fallback=expiration=deadline,retry=10s,fallback=on,priority=10",
            "exp-deadline+prio-5=expiration=deadline,retry=off,fallback=off,priority=5",
        ]
        .iter()
        .map(|spec| Strategy::parse(spec).expect("the default strategies parse"))
        .collect()
    }

    /// The scenario with this strategy's sending.
    pub fn apply(&self, scenario: &Scenario) -> Scenario {
        let mut sc = scenario.clone();
        let calls = &mut sc.calls;
        if let Some(e) = self.expiration {
            calls.expiration = e;
        }
        if let Some(p) = self.priority {
            calls.priority = p;
        }
        if let Some(r) = self.retry_after {
            calls.retry_after = r;
        }
        if let Some(f) = self.fallback {
            calls.fallback = f;
        }
        sc
    }
}

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
    pub retry_after: Span,
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
                retry_after: calls.retry_after,
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
