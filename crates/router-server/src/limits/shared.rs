//! Key limit counters in Redis, shared by every replica: one Lua script checks and holds
//! atomically (no read-modify-write race between replicas), another releases the hold and
//! charges the real cost and tokens.
//!
//! Keys, for a key named `n`: `turnout:limits:{n}:credit:<period>` (USD spent in the period,
//! kept for its length plus a margin, for ever without `limit_reset`), `…:held:<period>` (USD
//! held by requests in flight, expiring 10 minutes after the last hold, so a replica that dies
//! mid-request does not hold credit for ever), and `…:req:<minute>`, `…:tok:<minute>`,
//! `…:tokheld:<minute>` (requests, tokens and held tokens of a minute, kept two minutes).

use std::sync::Arc;

use router_session::RedisLink;

use super::window::period_ttl_secs;
use super::{Ask, Refusal};

/// Checks the limits and holds the estimates. KEYS: credit, held, req, tok, tokheld. ARGV:
/// limit (-1: none), cost, rpm (-1), tpm (-1), tokens, credit TTL in seconds (0: none).
/// Answers 0 (admitted), 1 (credit spent), 2 (requests per minute), 3 (tokens per minute).
const ADMIT: &str = r"
local limit = tonumber(ARGV[1])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local tokens = tonumber(ARGV[5])
if limit >= 0 then
  local used = tonumber(redis.call('GET', KEYS[1]) or '0')
  local held = math.max(0, tonumber(redis.call('GET', KEYS[2]) or '0'))
  if used + held >= limit then return 1 end
end
if rpm >= 0 then
  if tonumber(redis.call('GET', KEYS[3]) or '0') >= rpm then return 2 end
end
if tpm >= 0 then
  local counted = tonumber(redis.call('GET', KEYS[4]) or '0')
    + math.max(0, tonumber(redis.call('GET', KEYS[5]) or '0'))
  if counted > 0 and counted + tokens > tpm then return 3 end
end
if limit >= 0 then
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], 600)
end
if rpm >= 0 then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 120)
end
if tpm >= 0 then
  redis.call('INCRBY', KEYS[5], tokens)
  redis.call('EXPIRE', KEYS[5], 120)
end
return 0
";

/// Releases the holds and charges. KEYS: credit, held, tok, tokheld. ARGV: held cost, real
/// cost, held tokens, real tokens, credit TTL (0: none), whether credit is counted (1/0),
/// whether tokens are (1/0).
const SETTLE: &str = r"
if ARGV[6] == '1' then
  if tonumber(redis.call('INCRBYFLOAT', KEYS[2], -tonumber(ARGV[1]))) < 0 then
    redis.call('SET', KEYS[2], '0', 'EX', 600)
  end
  redis.call('INCRBYFLOAT', KEYS[1], ARGV[2])
  if tonumber(ARGV[5]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
end
if ARGV[7] == '1' then
  if redis.call('DECRBY', KEYS[4], ARGV[3]) < 0 then
    redis.call('SET', KEYS[4], '0', 'EX', 120)
  end
  redis.call('INCRBY', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], 120)
end
return 0
";

/// The Redis key of counter `kind` of key `name` in window `window`.
fn key(name: &str, kind: &str, window: u64) -> String {
    format!("turnout:limits:{{{name}}}:{kind}:{window}")
}

/// Checks `ask` for key `name` in Redis: `None` when Redis cannot be reached.
pub(crate) async fn admit(
    link: &Arc<RedisLink>,
    name: &str,
    ask: &Ask,
) -> Option<Result<(), Refusal>> {
    let windows = ask.windows;
    let command = redis::cmd("EVAL")
        .arg(ADMIT)
        .arg(5)
        .arg(key(name, "credit", windows.period))
        .arg(key(name, "held", windows.period))
        .arg(key(name, "req", windows.minute))
        .arg(key(name, "tok", windows.minute))
        .arg(key(name, "tokheld", windows.minute))
        .arg(ask.limit.unwrap_or(-1.0))
        .arg(ask.cost)
        .arg(
            ask.rpm
                .map_or(-1, |it| i64::try_from(it).unwrap_or(i64::MAX)),
        )
        .arg(
            ask.tpm
                .map_or(-1, |it| i64::try_from(it).unwrap_or(i64::MAX)),
        )
        .arg(ask.tokens)
        .arg(period_ttl_secs(ask.reset))
        .clone();
    let answer: i64 = link
        .run(|mut conn| async move { command.query_async(&mut conn).await })
        .await?;
    Some(match answer {
        0 => Ok(()),
        1 => Err(Refusal::Credit),
        2 => Err(Refusal::Requests),
        _ => Err(Refusal::Tokens),
    })
}

/// Releases `ask`'s holds and charges `cost` and `tokens` in Redis; `false` when Redis could
/// not be reached.
pub(crate) async fn settle(
    link: &Arc<RedisLink>,
    name: &str,
    ask: &Ask,
    cost: f64,
    tokens: u64,
) -> bool {
    let windows = ask.windows;
    let command = redis::cmd("EVAL")
        .arg(SETTLE)
        .arg(4)
        .arg(key(name, "credit", windows.period))
        .arg(key(name, "held", windows.period))
        .arg(key(name, "tok", windows.minute))
        .arg(key(name, "tokheld", windows.minute))
        .arg(ask.cost)
        .arg(cost)
        .arg(ask.tokens)
        .arg(tokens)
        .arg(period_ttl_secs(ask.reset))
        .arg(u8::from(ask.limit.is_some()))
        .arg(u8::from(ask.tpm.is_some()))
        .clone();
    link.run(|mut conn| async move { command.query_async::<i64>(&mut conn).await })
        .await
        .is_some()
}

/// USD key `name` spent in credit period `period`, as Redis counts it; `None` when Redis
/// cannot be reached.
pub(crate) async fn used(link: &Arc<RedisLink>, name: &str, period: u64) -> Option<f64> {
    let command = redis::cmd("GET").arg(key(name, "credit", period)).clone();
    let answer: Option<String> = link
        .run(|mut conn| async move { command.query_async(&mut conn).await })
        .await?;
    Some(answer.and_then(|it| it.parse().ok()).unwrap_or(0.0))
}
