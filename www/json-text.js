// JSON shown as text, never as a JavaScript value: the Playground's Segment payloads and raw events,
// and the Console's quarantine objects. Every token is copied as written, so a number JavaScript
// cannot hold (9007199254740993, 1e400) reads as the Worker sends it, and nothing here recurses,
// so a value nested thousands of levels deep (which the Worker accepts, forwards or quarantines)
// is shown instead of overflowing the stack (`JSON.stringify` of a parsed value would).

/** Levels indented one per line; a container deeper than this is shown as its raw text, on one line. */
export const MAX_INDENT_DEPTH = 100;

/** JSON tokens: a string, a structural character, or a literal (number, true, false, null). */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|[{}[\],:]|[^\s{}[\],:"]+/g;

/**
 * Indents JSON text as `JSON.stringify(value, null, 2)` would, copying every token as written.
 * A container that opens deeper than `maxDepth` levels is copied as its raw text from its opening
 * to its closing bracket. Returns `{text, collapsed}`, `collapsed` counting the containers copied
 * raw. Text that is not JSON is indented token by token all the same (never thrown at).
 */
export function indentJson(text, { maxDepth = MAX_INDENT_DEPTH } = {}) {
  const re = new RegExp(JSON_TOKEN.source, "g");
  let out = "";
  let depth = 0;
  let collapsed = 0;
  const newline = () => `\n${"  ".repeat(depth)}`;
  let m = re.exec(text);
  while (m) {
    const t = m[0];
    if (t === "{" || t === "[") {
      const close = t === "{" ? "}" : "]";
      const start = m.index;
      const next = re.exec(text);
      if (next?.[0] === close) {
        out += t + close;
      } else if (depth >= maxDepth) {
        // Copy the raw text up to the matching bracket; strings are tokens, so brackets inside
        // them are never counted.
        let level = 1;
        let end = text.length;
        for (let n = next; n; n = re.exec(text)) {
          if (n[0] === "{" || n[0] === "[") level++;
          else if (n[0] === "}" || n[0] === "]") level--;
          if (level === 0) {
            end = n.index + 1;
            break;
          }
        }
        out += text.slice(start, end);
        collapsed++;
      } else {
        depth++;
        out += t + newline();
        m = next;
        continue;
      }
    } else if (t === "}" || t === "]") {
      depth = Math.max(0, depth - 1);
      out += newline() + t;
    } else if (t === ",") out += `,${newline()}`;
    else if (t === ":") out += ": ";
    else out += t;
    m = re.exec(text);
  }
  return { text: out, collapsed };
}

/** The indented text of `indentJson`. */
export const prettyJson = (text, options) => indentJson(text, options).text;
