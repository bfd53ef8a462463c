//! Secret newtypes. Their `Debug` and `Display` never show more than the last four characters,
//! and equality is constant-time, so a secret cannot leak through a log line or a timing.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many trailing characters of a secret may be shown (CONTRACTS §5).
pub const SHOWN_SUFFIX: usize = 4;

/// `****abcd` for a secret, or `****` when it is too short to show any of it safely.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= SHOWN_SUFFIX * 2 {
        return "****".to_owned();
    }
    let tail: String = chars[chars.len() - SHOWN_SUFFIX..].iter().collect();
    format!("****{tail}")
}

/// A Segment source write key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WriteKey(String);

impl WriteKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        WriteKey(key.into())
    }

    /// The key itself: only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `Basic base64("<writeKey>:")`: Segment's HTTP API takes the key as the user name with an
    /// empty password (CONTRACTS §2; note the colon).
    pub fn basic_auth_header(&self) -> String {
        let mut userpass = String::with_capacity(self.0.len() + 1);
        userpass.push_str(&self.0);
        userpass.push(':');
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(userpass)
        )
    }

    /// `****abcd`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

impl PartialEq for WriteKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for WriteKey {}

impl fmt::Debug for WriteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteKey({})", self.redacted())
    }
}

impl fmt::Display for WriteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Longest alert webhook URL accepted, in bytes.
pub const MAX_WEBHOOK_URL_LEN: usize = 2_048;

/// The URL alerts are posted to (a Slack incoming webhook or any receiver of `{"text": ...}`).
/// Such URLs carry their credential in the path, so it is a secret like a write key: shown as
/// its last four characters, compared in constant time, write-only in the admin API.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Wraps a URL (see [`WebhookUrl::problem`] for what is accepted).
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The URL itself: only for the request that posts an alert.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is wrong with the URL, if anything: it must be `https`, or `http` to this machine
    /// (`localhost`, `127.0.0.1`, `[::1]`: local runs and tests), without user or password.
    pub fn problem(&self) -> Option<&'static str> {
        if self.0.len() > MAX_WEBHOOK_URL_LEN {
            return Some("longer than 2048 bytes");
        }
        if !self.0.is_ascii() {
            return Some("must be ASCII (an internationalised host in its punycode form, xn--...)");
        }
        let Ok(url) = url::Url::parse(&self.0) else {
            return Some("must be an absolute URL");
        };
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" if url.host_str().is_some() => {}
            "http" if local => {}
            _ => return Some("must be an https URL (http only to localhost)"),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("must not hold a user name or password");
        }
        None
    }
}

impl PartialEq for WebhookUrl {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}
impl Eq for WebhookUrl {}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", redact(&self.0))
    }
}

/// The credentials of an `Authorization: Bearer <credentials>` header value: the scheme in any
/// case (RFC 9110 §11.1), surrounding spaces ignored; `None` for another scheme or nothing after
/// it. The one parser of ingest's tokens and the admin API's.
pub fn bearer_credentials(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim()).filter(|c| !c.is_empty())
}

/// The bearer token Braze presents. Never stored: only its [`TokenHash`] is.
#[derive(Clone)]
pub struct BearerToken(String);

/// Characters Braze allows in a token: base64 plus `- . _ ~` (CONTRACTS §1).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '.' | '_' | '~')
}

/// Longest token accepted; anything longer is refused before hashing.
pub const MAX_TOKEN_LEN: usize = 512;

impl BearerToken {
    /// A token from its text, if it uses only the allowed characters.
    pub fn parse(token: &str) -> Option<Self> {
        let ok =
            !token.is_empty() && token.len() <= MAX_TOKEN_LEN && token.chars().all(is_token_char);
        ok.then(|| BearerToken(token.to_owned()))
    }

    /// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
    pub fn from_authorization(header: &str) -> Option<Self> {
        Self::parse(bearer_credentials(header)?)
    }

    /// The token itself: only to show it once to whoever created it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token, the only form that is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken({})", redact(&self.0))
    }
}

/// SHA-256 of a bearer token, stored as 64 lowercase hex digits.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Parses 64 hex digits.
    pub fn from_hex(hex_digits: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut out).ok()?;
        Some(TokenHash(out))
    }

    /// Whether `token` hashes to this value, compared in constant time.
    pub fn verify(&self, token: &BearerToken) -> bool {
        self.0.ct_eq(&token.hash().0).into()
    }

    /// The hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TokenHash::from_hex(&text).ok_or_else(|| {
            serde::de::Error::custom("expected 64 hex digits (SHA-256 of the token)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_key_never_prints_in_full() {
        let key = WriteKey::new("wk_live_1234567890abcd");
        assert_eq!(format!("{key}"), "****abcd");
        assert_eq!(format!("{key:?}"), "WriteKey(****abcd)");
        assert!(!format!("{key:?}").contains("live"));
        assert_eq!(redact("short"), "****");
    }

    #[test]
    fn webhook_urls() {
        let url = WebhookUrl::new("https://hooks.example.com/services/T0/B0/secretpart1234");
        assert_eq!(url.problem(), None);
        assert_eq!(format!("{url:?}"), "WebhookUrl(****1234)");
        assert_eq!(
            WebhookUrl::new("http://127.0.0.1:8787/hook").problem(),
            None
        );
        assert_eq!(WebhookUrl::new("http://localhost/hook").problem(), None);
        let punycode = WebhookUrl::new("https://xn--bcher-kva.example/hook");
        assert_eq!(
            punycode.problem(),
            None,
            "an internationalised host in punycode"
        );
        for bad in [
            "http://hooks.example.com/x",
            "ftp://example.com/x",
            "hooks.example.com/x",
            "https://user:pw@example.com/x",
            "https://bücher.example/hook",
            "",
        ] {
            assert!(WebhookUrl::new(bad).problem().is_some(), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_WEBHOOK_URL_LEN));
        assert!(WebhookUrl::new(long).problem().is_some());
    }

    #[test]
    fn basic_auth_has_the_trailing_colon() {
        // base64("abc:") == "YWJjOg=="
        assert_eq!(WriteKey::new("abc").basic_auth_header(), "Basic YWJjOg==");
    }

    #[test]
    fn bearer_parsing_and_verification() {
        let t = BearerToken::from_authorization("Bearer s3cr3t-token_~.x+/=").unwrap();
        let hash = t.hash();
        let again = TokenHash::from_hex(&hash.to_hex()).unwrap();
        assert!(again.verify(&t));
        assert!(!again.verify(&BearerToken::parse("s3cr3t-token_~.x+/").unwrap()));
        assert!(BearerToken::from_authorization("bearer abc").is_some());
        assert!(BearerToken::from_authorization("Basic abc").is_none());
        assert!(BearerToken::from_authorization("Bearer").is_none());
        assert!(BearerToken::from_authorization("Bearer a b").is_none());
        assert!(BearerToken::from_authorization("Bearer ä").is_none());
        assert!(BearerToken::parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_none());
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn bearer_credentials_are_read_by_one_parser() {
        for header in ["Bearer t0k", "bearer t0k", "BEARER t0k", "  Bearer   t0k  "] {
            assert_eq!(bearer_credentials(header), Some("t0k"), "{header:?}");
            assert_eq!(
                BearerToken::from_authorization(header).map(|t| t.expose().to_owned()),
                Some("t0k".to_owned())
            );
        }
        for header in ["Basic t0k", "Bearer", "Bearer ", "Bearert0k", "t0k", ""] {
            assert_eq!(bearer_credentials(header), None, "{header:?}");
        }
        // Admin tokens are the operator's: any characters once the scheme is read.
        assert_eq!(bearer_credentials("Bearer a!b"), Some("a!b"));
    }

    #[test]
    fn known_sha256_vector() {
        // sha256("abc")
        let h = BearerToken::parse("abc").unwrap().hash().to_hex();
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_hash_rejects_bad_hex() {
        assert!(TokenHash::from_hex("zz").is_none());
        assert!(TokenHash::from_hex(&"a".repeat(63)).is_none());
        assert!(serde_json::from_str::<TokenHash>("\"abc\"").is_err());
    }
}
