//! The security headers of every answer, pure. The Console holds the admin token, so no other
//! site may frame it, and neither page may run script or style it did not load from its own
//! origin. The Worker adds these headers to each of its answers (`entry`); the static pages get
//! the same ones from the platform's asset handler, through the `_headers` file that
//! `scripts/build-www.sh` writes from the constants below (one policy, one place).

use super::problem::Answer;

/// The pages' and the API's Content-Security-Policy: everything from the Worker's own origin;
/// `'wasm-unsafe-eval'` lets the Playground compile the translator (`pkg/web`); `data:` images
/// only for the pages' empty icon; no plugin, no `<base>`, and no framing by any site.
/// Kept on one line: `scripts/build-www.sh` reads it from here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Never guess a content type: JSON answers are not scripts or pages.
pub const CONTENT_TYPE_OPTIONS: &str = "nosniff";
/// Links out of the pages carry no URL of the Worker.
pub const REFERRER_POLICY: &str = "no-referrer";
/// Framing refused for browsers that predate `frame-ancestors`.
pub const FRAME_OPTIONS: &str = "DENY";

/// The headers, as `scripts/build-www.sh` writes them into `_headers`.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", CONTENT_TYPE_OPTIONS),
    ("Referrer-Policy", REFERRER_POLICY),
    ("X-Frame-Options", FRAME_OPTIONS),
];

/// Adds [`SECURITY_HEADERS`] to an answer (each replacing any value the answer already had).
pub fn add_security_headers(answer: &mut Answer) {
    for (name, value) in SECURITY_HEADERS {
        answer
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        answer.headers.push((name, value.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::{Problem, health_answer};

    #[test]
    fn every_answer_gets_the_headers_once() {
        for mut answer in [health_answer(false), Problem::NotFound.answer()] {
            add_security_headers(&mut answer);
            add_security_headers(&mut answer);
            for (name, value) in SECURITY_HEADERS {
                assert_eq!(answer.header(name), Some(value));
                let n = answer
                    .headers
                    .iter()
                    .filter(|(h, _)| h.eq_ignore_ascii_case(name));
                assert_eq!(n.count(), 1, "{name}");
            }
            assert!(
                answer.header("content-type").is_some(),
                "other headers kept"
            );
        }
    }

    #[test]
    fn the_policy_refuses_framing_and_inline_script() {
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split("; ").collect();
        assert!(directives.contains(&"default-src 'self'"));
        assert!(directives.contains(&"frame-ancestors 'none'"));
        assert!(directives.contains(&"script-src 'self' 'wasm-unsafe-eval'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains('\n'));
    }
}
