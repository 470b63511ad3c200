import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidTokenError } from "./errors.js";
import { decodeToken, encodeToken } from "./tokens.js";

/** A valid NATS subject token, and a KV key segment (`^[-/=.\w]+$` minus `.` and `/`). */
const TOKEN = /^[A-Za-z0-9_=-]+$/;
const KV_KEY = /^[-/=.\w]+$/;

/** Well-formed strings of any code points, including controls, `.`, `*`, `>`, `=` and astral ones. */
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary-ascii", maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom("a", "Z", "0", "_", "-", "=", ".", "*", ">", " ", ":", "é", "\uFEFF", "😀"),
  }),
);

function invalidToken(token: string): InvalidTokenError {
  try {
    decodeToken(token);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTokenError);
    return err as InvalidTokenError;
  }
  throw new Error(`decodeToken(${JSON.stringify(token)}) did not throw`);
}

describe("encodeToken (CONTRACT §3)", () => {
  it.each([
    ["42", "42"],
    ["public:test", "public=3Atest"],
    ["a.b c", "a=2Eb=20c"],
    ["é", "=C3=A9"],
  ])("encodes %j as %j", (id, token) => {
    expect(encodeToken(id)).toBe(token);
    expect(decodeToken(token)).toBe(id);
  });

  it("passes [A-Za-z0-9_-] through unchanged and escapes everything else", () => {
    const plain = "ABCXYZabcxyz0189_-";
    expect(encodeToken(plain)).toBe(plain);
    expect(encodeToken("*")).toBe("=2A");
    expect(encodeToken(">")).toBe("=3E");
    expect(encodeToken("=")).toBe("=3D");
    expect(encodeToken("/")).toBe("=2F");
    expect(encodeToken("\u0000")).toBe("=00");
    expect(encodeToken("\u007f")).toBe("=7F");
    expect(encodeToken("😀")).toBe("=F0=9F=98=80");
    expect(encodeToken("a😀b")).toBe("a=F0=9F=98=80b");
  });

  it("uses uppercase hex digits", () => {
    expect(encodeToken("\u00ff")).toBe("=C3=BF");
    expect(encodeToken("\u00fa")).toBe("=C3=BA");
  });

  it("keeps a leading U+FEFF (it is part of the id, not a byte-order mark)", () => {
    expect(encodeToken("\uFEFFa")).toBe("=EF=BB=BFa");
    expect(decodeToken("=EF=BB=BFa")).toBe("\uFEFFa");
    expect(decodeToken("=EF=BB=BF")).toBe("\uFEFF");
    expect(encodeToken("\uFEFFa")).not.toBe(encodeToken("a"));
  });

  it("round-trips: decodeToken(encodeToken(s)) === s", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(decodeToken(encodeToken(s))).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });

  it("always yields a valid NATS subject token and KV key for a non-empty id", () => {
    fc.assert(
      fc.property(
        anyString.filter((s) => s.length > 0),
        (s) => {
          const token = encodeToken(s);
          expect(token).toMatch(TOKEN);
          expect(token).toMatch(KV_KEY);
          expect(token).not.toMatch(/[.*>\s]/);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("is injective: distinct ids give distinct tokens", () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        fc.pre(a !== b);
        expect(encodeToken(a)).not.toBe(encodeToken(b));
      }),
      { numRuns: 1000 },
    );
    // Near misses that a sloppier encoding would merge.
    const ids = ["a.b", "a=2Eb", "a_b", "a-b", "a b", "A.b", "é", "=C3=A9", "\uFEFF", "\uFFFD", ""];
    const tokens = new Set(ids.map(encodeToken));
    expect(tokens.size).toBe(ids.length);
  });

  it("makes each token the UTF-8 bytes of the id, one plain byte or one =XX per byte", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const token = encodeToken(s);
        const escapes = token.match(/=[0-9A-F]{2}/g)?.length ?? 0;
        const plain = token.length - 3 * escapes;
        expect(escapes + plain).toBe(new TextEncoder().encode(s).length);
      }),
    );
  });
});

describe("decodeToken", () => {
  it.each([
    ["lowercase hex", "=c3=a9"],
    ["lowercase hex in one digit", "=C3=a9"],
    ["an escaped plain byte", "=41"],
    ["an escaped digit", "a=30"],
    ["an escaped underscore", "=5F"],
    ["an escaped dash", "=2D"],
    ["a truncated escape", "=4"],
    ["a bare =", "a="],
    ["a non-hex escape", "=G1"],
    ["invalid UTF-8", "=FF"],
    ["a lone continuation byte", "=80"],
    ["a truncated multi-byte sequence", "=C3"],
    ["an overlong encoding", "=C0=AE"],
    ["an encoded surrogate", "=ED=A0=80"],
    ["a dot", "a.b"],
    ["a dot after an escape", "=3Aa.b"],
    ["a space", "a b"],
    ["a wildcard", "a*"],
    ["a full wildcard", ">"],
    ["a raw non-ASCII character", "é"],
    ["a raw non-ASCII character after an escape", "=3Aé"],
  ])("rejects %s (%j) with InvalidTokenError", (_what, token) => {
    const err = invalidToken(token);
    expect(err.token).toBe(token);
    expect(err.name).toBe("InvalidTokenError");
    expect(err.message).toContain(JSON.stringify(token));
  });

  it("accepts exactly the tokens encodeToken produces", () => {
    // An oracle written from CONTRACT §3, not from decodeToken: a token is canonical when it is
    // a run of plain bytes [A-Za-z0-9_-] and =XX escapes (uppercase hex) of the other bytes,
    // and those bytes are UTF-8 (Buffer turns anything else into U+FFFD, so it does not
    // survive a round trip).
    const canonicalBytes = (token: string): Buffer | undefined => {
      if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})*$/.test(token)) return undefined;
      const bytes: number[] = [];
      for (let i = 0; i < token.length; i++) {
        if (token[i] !== "=") {
          bytes.push(token.charCodeAt(i));
          continue;
        }
        const byte = Number.parseInt(token.slice(i + 1, i + 3), 16);
        if (/^[A-Za-z0-9_-]$/.test(String.fromCharCode(byte))) return undefined;
        bytes.push(byte);
        i += 2;
      }
      const buf = Buffer.from(bytes);
      return Buffer.from(buf.toString("utf8"), "utf8").equals(buf) ? buf : undefined;
    };
    const piece = fc.oneof(
      fc.constantFrom("a", "Z", "9", "_", "-", ".", "=", " "),
      fc.integer({ min: 0, max: 255 }).map((b) => `=${b.toString(16).padStart(2, "0").toUpperCase()}`),
      fc.integer({ min: 0, max: 255 }).map((b) => `=${b.toString(16).padStart(2, "0")}`),
      fc.constantFrom("=C3=A9", "=EF=BB=BF", "=F0=9F=98=80", "=E2=82=AC"),
    );
    const token = fc.oneof(
      fc.array(piece, { maxLength: 12 }).map((pieces) => pieces.join("")),
      anyString.map(encodeToken),
    );
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(token, (t) => {
        const bytes = canonicalBytes(t);
        if (bytes === undefined) {
          // Not something encodeToken produces: refused.
          const err = invalidToken(t);
          expect(err.token).toBe(t);
          rejected++;
        } else {
          // Produced by encodeToken (of the id those bytes spell): accepted, back to that id.
          const id = decodeToken(t);
          expect(Buffer.from(id, "utf8").equals(bytes)).toBe(true);
          expect(encodeToken(id)).toBe(t);
          accepted++;
        }
      }),
      { numRuns: 2000 },
    );
    // Both directions were really exercised, not one of them by luck.
    expect(accepted).toBeGreaterThan(200);
    expect(rejected).toBeGreaterThan(200);
  });
});
