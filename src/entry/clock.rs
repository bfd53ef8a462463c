//! The Worker's clock and randomness, the only place the platform's are read: the clock plus
//! the test offset when `TEST_HOOKS = "1"` (see [`crate::config::offset_now`]; without the hooks
//! the offset key is never read), jitter seeds and CSPRNG bytes.

use ::worker::{Date, Env};

use crate::config::{CLOCK_OFFSET_KEY, CONFIG_BINDING, Settings, offset_now};

/// The platform clock, UNIX ms (for durations in log lines).
#[allow(clippy::disallowed_methods)] // The one reader of the Worker's clock.
pub fn platform_ms() -> u64 {
    Date::now().as_millis()
}

/// Now, in UNIX milliseconds, as ingest and the consumer see it.
pub async fn now_ms(env: &Env, settings: &Settings) -> u64 {
    let now = platform_ms();
    if !settings.test_hooks {
        return now;
    }
    let offset = match env.kv(CONFIG_BINDING) {
        Ok(kv) => kv.get(CLOCK_OFFSET_KEY).text().await.ok().flatten(),
        Err(_) => None,
    };
    offset_now(now, offset.as_deref())
}

/// 64 random bits from the platform, for jitter seeds and key suffixes (never for secrets).
#[allow(clippy::disallowed_methods)] // The one reader of the Worker's randomness.
pub fn random_u64() -> u64 {
    let hi = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    let lo = (js_sys::Math::random() * f64::from(u32::MAX)) as u64;
    (hi << 32) | lo
}

/// `N` bytes from the platform's CSPRNG (`crypto.getRandomValues`), for secrets such as bearer
/// tokens. `None` only if the runtime has no Web Crypto, which Workers always have.
pub fn secure_random<const N: usize>() -> Option<[u8; N]> {
    use wasm_bindgen::JsCast;
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    let fill: js_sys::Function = js_sys::Reflect::get(&crypto, &"getRandomValues".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let buf = js_sys::Uint8Array::new_with_length(u32::try_from(N).ok()?);
    fill.call1(&crypto, &buf).ok()?;
    let mut out = [0u8; N];
    buf.copy_to(&mut out);
    Some(out)
}
