//! Fault injection (docs/reference/apns.md §6 item 8): answers APNs gives when it is unwell (500,
//! 503 `ServiceUnavailable`/`Shutdown`), connection endings (GOAWAY with JSON debug data and a
//! chosen last-stream-id, a bare TCP close), and a response-latency distribution.
//!
//! A [`FaultRule`] says which requests a [`Fault`] hits: a probability, an optional number of
//! times, and optional environment and topic filters. Rules are tried in order for every request,
//! after its body is read and before any check, so a fault hits valid and invalid requests alike
//! (APNs's front end fails before it validates). They come from the builder, the config file
//! (`[[faults]]`) or, at run time, [`EmulatorHandle::set_faults`](crate::EmulatorHandle::set_faults).
//! Draws come from one seeded generator ([`FaultPlan`]), so a run with a fixed seed and a
//! sequential client is repeatable.
//!
//! Injected answers are not counted towards the connection's error budget: they are the
//! server's fault, not the client's.

use std::time::Duration;

use pushtrace_apns::{Environment, Reason};
use serde::{Deserialize, Serialize};

use crate::config::EnvironmentName;

/// HTTP/2 error code `NO_ERROR` (RFC 9113 §7).
pub const NO_ERROR: u32 = 0x0;
/// HTTP/2 error code `PROTOCOL_ERROR`, sent with the stream-limit violation GOAWAY.
pub const PROTOCOL_ERROR: u32 = 0x1;

/// The debug text of APNs's GOAWAY for a client that exceeds `MAX_CONCURRENT_STREAMS`
/// (docs/reference/apns.md §3, observed by Pushy users in 2016).
pub const MAX_STREAMS_VIOLATED: &str = "Maximum active streams violated for this endpoint.";

/// What happens to a request a rule hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Answer with `reason`'s status and JSON body, without processing the request
    /// (`InternalServerError` 500, `ServiceUnavailable` 503, `Shutdown` 503, or any reason with
    /// a status in Apple's table).
    Status {
        /// The reason, as Apple spells it.
        #[serde(with = "reason_name")]
        reason: Reason,
    },
    /// End the connection with a GOAWAY frame carrying `{"reason": …}` as debug data. Streams
    /// above `last_stream_id` are not processed (they are reset with `REFUSED_STREAM`, safe to
    /// retry: RFC 9113 §6.8); the request that triggered it is one of them unless
    /// `last_stream_id` says otherwise.
    Goaway {
        /// The reason in the debug data (e.g. `Shutdown`).
        #[serde(with = "reason_name")]
        reason: Reason,
        /// Last stream the server says it processed; default: the highest stream processed so
        /// far on the connection.
        #[serde(default)]
        last_stream_id: Option<u32>,
        /// The HTTP/2 error code; default `NO_ERROR` (0).
        #[serde(default)]
        error_code: u32,
    },
    /// Close the TCP connection at once, with no GOAWAY and no answer (a dead load balancer).
    Disconnect,
}

/// Which requests a [`Fault`] hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// Chance that a matching request is hit, 0 to 1. Default 1.
    #[serde(default = "always")]
    pub probability: f64,
    /// Hit at most this many requests, then stop. Default: no limit.
    #[serde(default)]
    pub times: Option<u64>,
    /// Only requests to this environment.
    #[serde(default)]
    pub environment: Option<EnvironmentName>,
    /// Only requests whose `apns-topic` is exactly this.
    #[serde(default)]
    pub topic: Option<String>,
}

fn always() -> f64 {
    1.0
}

impl FaultRule {
    /// A rule that hits every request.
    pub fn always(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            probability: 1.0,
            times: None,
            environment: None,
            topic: None,
        }
    }

    /// Hits a matching request with this probability.
    pub fn probability(mut self, probability: f64) -> FaultRule {
        self.probability = probability;
        self
    }

    /// Hits at most `times` requests.
    pub fn times(mut self, times: u64) -> FaultRule {
        self.times = Some(times);
        self
    }

    /// Only requests to `environment`.
    pub fn environment(mut self, environment: Environment) -> FaultRule {
        self.environment = Some(match environment {
            Environment::Sandbox => EnvironmentName::Sandbox,
            Environment::Production => EnvironmentName::Production,
        });
        self
    }

    /// Only requests for `topic`.
    pub fn topic(mut self, topic: impl Into<String>) -> FaultRule {
        self.topic = Some(topic.into());
        self
    }

    /// Why the rule cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), FaultError> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(FaultError(format!(
                "probability {} is not between 0 and 1",
                self.probability
            )));
        }
        match &self.fault {
            Fault::Status { reason } if reason.status().is_none() => Err(FaultError(format!(
                "reason {reason:?} is not in Apple's table, so it has no status; use one such as \
                 InternalServerError, ServiceUnavailable or Shutdown"
            ))),
            Fault::Status { reason } if reason.status() == Some(200) => {
                Err(FaultError(format!("reason {reason} is not an error")))
            }
            Fault::Goaway {
                reason: Reason::Other(text),
                ..
            } => Err(FaultError(format!(
                "reason {text:?} is not in Apple's table; use one such as Shutdown"
            ))),
            _ => Ok(()),
        }
    }

    fn matches(&self, environment: Environment, topic: Option<&str>) -> bool {
        let environment_ok = self
            .environment
            .is_none_or(|e| Environment::from(e) == environment);
        let topic_ok = self.topic.as_deref().is_none_or(|t| Some(t) == topic);
        environment_ok && topic_ok
    }
}

/// Added response latency: how long after a request is processed its answer is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Fixed {
        /// Milliseconds.
        ms: u64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound, ms.
        min_ms: u64,
        /// Upper bound, ms.
        max_ms: u64,
    },
    /// Log-normal with the given median and 99th percentile: the long tail of a loaded service.
    LogNormal {
        /// Median, ms.
        median_ms: f64,
        /// 99th percentile, ms (at least the median).
        p99_ms: f64,
    },
}

/// The most latency one answer gets (a draw in a log-normal tail is capped here).
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

impl Latency {
    /// Why the distribution cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), FaultError> {
        match *self {
            Latency::Fixed { .. } => Ok(()),
            Latency::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(FaultError(format!(
                "latency min_ms {min_ms} is above max_ms {max_ms}"
            ))),
            Latency::Uniform { .. } => Ok(()),
            Latency::LogNormal { median_ms, p99_ms } => {
                if !(median_ms.is_finite() && median_ms > 0.0) {
                    Err(FaultError(format!(
                        "latency median_ms {median_ms} must be above 0"
                    )))
                } else if !(p99_ms.is_finite() && p99_ms >= median_ms) {
                    Err(FaultError(format!(
                        "latency p99_ms {p99_ms} must be at least median_ms {median_ms}"
                    )))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        let ms = match *self {
            Latency::Fixed { ms } => ms as f64,
            Latency::Uniform { min_ms, max_ms } => rng.u64(min_ms..=max_ms) as f64,
            Latency::LogNormal { median_ms, p99_ms } => {
                // ln X ~ N(mu, sigma): median = e^mu, p99 = e^(mu + 2.326 sigma).
                let mu = median_ms.ln();
                let sigma = (p99_ms.ln() - mu) / 2.326_347_874;
                (mu + sigma * standard_normal(rng)).exp()
            }
        };
        Duration::from_secs_f64((ms / 1000.0).clamp(0.0, MAX_LATENCY.as_secs_f64()))
    }
}

/// One N(0, 1) draw (Box–Muller).
fn standard_normal(rng: &mut fastrand::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.f64(); // (0, 1]: ln is finite
    let u2: f64 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A fault rule or latency that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultError(pub String);

/// A rule and how many requests it has hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultStatus {
    /// The rule.
    pub rule: FaultRule,
    /// Requests hit so far.
    pub fired: u64,
}

/// The rules and latency in force, and the generator they draw from.
#[derive(Debug)]
pub(crate) struct FaultPlan {
    rules: Vec<FaultStatus>,
    latency: Option<Latency>,
    rng: fastrand::Rng,
}

impl FaultPlan {
    pub(crate) fn new(seed: u64) -> FaultPlan {
        FaultPlan {
            rules: Vec::new(),
            latency: None,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Replaces the rules (checked first: on an error nothing changes).
    pub(crate) fn set_rules(&mut self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        for (index, rule) in rules.iter().enumerate() {
            rule.check()
                .map_err(|e| FaultError(format!("fault rule {index}: {}", e.0)))?;
        }
        self.rules = rules
            .into_iter()
            .map(|rule| FaultStatus { rule, fired: 0 })
            .collect();
        Ok(())
    }

    /// Adds a rule after the others (checked first); the others keep their counts.
    pub(crate) fn add_rule(&mut self, rule: FaultRule) -> Result<(), FaultError> {
        rule.check()
            .map_err(|e| FaultError(format!("fault rule {}: {}", self.rules.len(), e.0)))?;
        self.rules.push(FaultStatus { rule, fired: 0 });
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> Vec<FaultStatus> {
        self.rules.clone()
    }

    pub(crate) fn set_latency(&mut self, latency: Option<Latency>) -> Result<(), FaultError> {
        if let Some(latency) = &latency {
            latency.check()?;
        }
        self.latency = latency;
        Ok(())
    }

    pub(crate) fn latency(&self) -> Option<Latency> {
        self.latency.clone()
    }

    /// The fault for a request, if a rule hits it.
    pub(crate) fn pick(&mut self, environment: Environment, topic: Option<&str>) -> Option<Fault> {
        for status in &mut self.rules {
            let rule = &status.rule;
            if rule.times.is_some_and(|times| status.fired >= times)
                || !rule.matches(environment, topic)
            {
                continue;
            }
            if rule.probability < 1.0 && self.rng.f64() >= rule.probability {
                continue;
            }
            status.fired += 1;
            return Some(rule.fault.clone());
        }
        None
    }

    /// The added latency for one answer.
    pub(crate) fn delay(&mut self) -> Option<Duration> {
        let latency = self.latency.as_ref()?;
        Some(latency.draw(&mut self.rng)).filter(|d| !d.is_zero())
    }
}

/// `Reason` as its wire string in config files and the admin API.
mod reason_name {
    use pushtrace_apns::Reason;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(reason: &Reason, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(reason.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Reason::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_from_toml_like_json_and_are_checked() {
        let rules: Vec<FaultRule> = serde_json::from_str(
            r#"[
                {"fault": {"kind": "status", "reason": "ServiceUnavailable"}, "probability": 0.05},
                {"fault": {"kind": "goaway", "reason": "Shutdown", "last_stream_id": 0},
                 "times": 1, "environment": "production"},
                {"fault": {"kind": "disconnect"}, "topic": "com.acme.call.voip"}
            ]"#,
        )
        .unwrap();
        assert_eq!(
            rules[0].fault,
            Fault::Status {
                reason: Reason::ServiceUnavailable
            }
        );
        assert_eq!(rules[1].times, Some(1));
        assert_eq!(rules[2].probability, 1.0);
        let mut plan = FaultPlan::new(7);
        plan.set_rules(rules).unwrap();

        let bad = FaultRule::always(Fault::Status {
            reason: Reason::parse("Flaky"),
        });
        let error = plan.set_rules(vec![bad]).unwrap_err().to_string();
        assert!(
            error.contains("fault rule 0") && error.contains("Flaky"),
            "{error}"
        );
        assert_eq!(plan.rules().len(), 3, "a refused set changes nothing");
        let error = FaultRule::always(Fault::Disconnect)
            .probability(1.5)
            .check()
            .unwrap_err();
        assert!(error.0.contains("1.5"), "{error}");
        let unknown = serde_json::from_str::<FaultRule>(
            r#"{"fault": {"kind": "goaway", "reason": "Shutdown", "code": 1}}"#,
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn rules_match_in_order_with_filters_counts_and_probability() {
        let mut plan = FaultPlan::new(42);
        plan.set_rules(vec![
            FaultRule::always(Fault::Disconnect)
                .environment(Environment::Production)
                .times(2),
            FaultRule::always(Fault::Status {
                reason: Reason::InternalServerError,
            })
            .topic("a.voip"),
            FaultRule::always(Fault::Status {
                reason: Reason::ServiceUnavailable,
            })
            .probability(0.25),
        ])
        .unwrap();
        let production = Environment::Production;
        assert_eq!(plan.pick(production, None), Some(Fault::Disconnect));
        assert_eq!(plan.pick(production, None), Some(Fault::Disconnect));
        assert_ne!(plan.pick(production, None), Some(Fault::Disconnect));
        assert_eq!(
            plan.pick(Environment::Sandbox, Some("a.voip")),
            Some(Fault::Status {
                reason: Reason::InternalServerError
            })
        );
        let hits = (0..10_000)
            .filter(|_| plan.pick(Environment::Sandbox, Some("b.voip")).is_some())
            .count();
        assert!(
            (2_200..2_800).contains(&hits),
            "{hits} of 10000 at p = 0.25"
        );
        assert_eq!(plan.rules()[0].fired, 2);
    }

    #[test]
    fn latency_distributions_draw_what_they_say() {
        let mut plan = FaultPlan::new(1);
        assert_eq!(plan.delay(), None);
        plan.set_latency(Some(Latency::Fixed { ms: 30 })).unwrap();
        assert_eq!(plan.delay(), Some(Duration::from_millis(30)));
        plan.set_latency(Some(Latency::Uniform {
            min_ms: 10,
            max_ms: 20,
        }))
        .unwrap();
        for _ in 0..100 {
            let d = plan.delay().unwrap();
            assert!((10..=20).contains(&d.as_millis()), "{d:?}");
        }
        plan.set_latency(Some(Latency::LogNormal {
            median_ms: 20.0,
            p99_ms: 200.0,
        }))
        .unwrap();
        let mut draws: Vec<f64> = (0..20_000)
            .map(|_| plan.delay().unwrap().as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[10_000];
        let p99 = draws[19_800];
        assert!((18.0..22.0).contains(&median), "median {median}");
        assert!((160.0..250.0).contains(&p99), "p99 {p99}");

        let error = plan
            .set_latency(Some(Latency::LogNormal {
                median_ms: 50.0,
                p99_ms: 10.0,
            }))
            .unwrap_err();
        assert!(error.0.contains("p99_ms"), "{error}");
    }
}
