//! The physical limit of a figure on this machine: how many requests a second its cores allow,
//! from the CPU cost of one HTTP round trip (the baseline, `GET /healthz`, measured in the same run)
//! plus the cryptography the figure needs, each timed in process before measuring. A figure's
//! share of its limit says how much the server spends beyond that unavoidable work.

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use trustgate_core::ids::{ClientId, CustomerId};
use trustgate_core::secret::{ClientSecret, ServerKey};
use trustgate_core::token::{Algorithm, Claims, Issuer, KeySet, SigningKey, TokenUse};

use super::measure::Row;

/// How long each timing runs at least; one measurement of a slow signature (RS256) still repeats.
const TIMING: Duration = Duration::from_millis(300);
const AT_LEAST: u32 = 20;

/// CPU time of the cryptography on the request path, per operation, on one core.
pub(super) struct Costs {
    /// Per algorithm: signing, and verifying, one access token.
    tokens: Vec<(Algorithm, Duration, Duration)>,
    /// Checking a client secret against its verifier: one HMAC-SHA-256.
    secret: Duration,
    cores: f64,
}

/// Times `op` until [`TIMING`] has passed and it ran [`AT_LEAST`] times; the mean per run.
fn time(mut op: impl FnMut()) -> Duration {
    for _ in 0..AT_LEAST {
        op();
    }
    let started = Instant::now();
    let mut runs = 0u32;
    while runs < AT_LEAST || started.elapsed() < TIMING {
        op();
        runs += 1;
    }
    started.elapsed() / runs
}

impl Costs {
    /// Times signing and verifying an access token with each of `algorithms`, and a secret check.
    pub(super) fn measure(algorithms: &[Algorithm]) -> anyhow::Result<Self> {
        let issuer = Issuer { url: "http://127.0.0.1".to_owned(), audience: "bench".to_owned() };
        let mut tokens = Vec::new();
        for &algorithm in algorithms {
            let keys = KeySet::new(vec![SigningKey::generate(algorithm)?])
                .ok_or_else(|| anyhow::anyhow!("no key set for {algorithm}"))?;
            let claims = Claims::new(
                &issuer,
                ClientId::generate(),
                None,
                CustomerId::generate(),
                OffsetDateTime::now_utc(),
                TokenUse::Access,
            );
            let token = keys.sign(&claims)?;
            let sign = time(|| {
                std::hint::black_box(keys.sign(&claims)).ok();
            });
            let now = OffsetDateTime::now_utc();
            let verify = time(|| {
                std::hint::black_box(keys.verify(&token, now, &issuer)).ok();
            });
            tokens.push((algorithm, sign, verify));
        }
        let key = ServerKey::generate();
        let secret = ClientSecret::generate();
        let verifier = key.verifier(&secret);
        let secret = time(|| {
            std::hint::black_box(key.matches(&secret, &verifier));
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        Ok(Self { tokens, secret, cores })
    }

    /// One line for the report: what each operation costs here.
    pub(super) fn describe(&self) -> String {
        let micros = |d: &Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
        let mut parts: Vec<String> = Vec::new();
        for (algorithm, sign, verify) in &self.tokens {
            parts.push(format!("{algorithm} sign {}, verify {}", micros(sign), micros(verify)));
        }
        parts.push(format!("secret check {}", micros(&self.secret)));
        parts.join("; ")
    }

    /// The share of its limit that `row` reached, in percent; `None` for a figure without one
    /// (the baseline itself, refusals, load under attack).
    pub(super) fn share(&self, row: &Row, default: Algorithm) -> Option<f64> {
        let extra = self.extra(row, default)?;
        // The baseline saturates the cores with requests that do nothing else: each took this much CPU.
        let round_trip = self.cores / row.baseline.max(1.0);
        let limit = self.cores / (round_trip + extra.as_secs_f64());
        Some(100.0 * row.run.rate() / limit)
    }

    fn extra(&self, row: &Row, default: Algorithm) -> Option<Duration> {
        let scenario = row.scenario.as_str();
        let algorithm = Algorithm::ALL.into_iter().find(|a| scenario.contains(a.as_str())).unwrap_or(default);
        let plain = !scenario.contains(" while ") && !scenario.contains("unknown");
        let (_, sign, verify) = self.tokens.iter().find(|(a, _, _)| *a == algorithm)?;
        if scenario.starts_with("token grant") && plain {
            return Some(*sign + self.secret);
        }
        if scenario.starts_with("authorized call") && plain {
            // Verified tokens are cached: only a miss pays for a verification.
            let misses = 1.0 - hit_ratio(&row.hits, "verified_tokens").unwrap_or(0.0);
            return Some(verify.mul_f64(misses));
        }
        None
    }
}

/// The hit ratio of `cache` in a row's `hits` text (`verified_tokens 99.3%`), as a fraction.
fn hit_ratio(hits: &str, cache: &str) -> Option<f64> {
    let rest = hits.split(", ").find_map(|part| part.strip_prefix(cache))?;
    rest.trim().trim_end_matches('%').parse::<f64>().ok().map(|percent| percent / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_ratio_is_read_from_the_rows_hits_text() {
        let hits = "authorization 100.0%, notification_lists 100.0%, verified_tokens 99.5%";
        assert_eq!(hit_ratio(hits, "verified_tokens"), Some(0.995));
        assert_eq!(hit_ratio(hits, "revoked"), None);
    }
}
