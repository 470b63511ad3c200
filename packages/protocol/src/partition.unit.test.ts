import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fnv1a32, partitionOf } from "./partition.js";

/** FNV-1a 32 as written in its specification, over TextEncoder's UTF-8 bytes. */
function reference(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Number((BigInt(h) * 0x01000193n) & 0xffffffffn);
  }
  return h;
}

/** Any UTF-16 string: code points of every range plus lone (and reversed) surrogates. */
const utf16String = fc.string({
  unit: fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    fc.constantFrom("\u007f", "\u0080", "\u07ff", "\u0800", "\uffff", "\u{10000}", "\u{10ffff}"),
  ),
  maxLength: 30,
});

describe("fnv1a32", () => {
  it("has the published test vectors", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    expect(reference("a")).toBe(0xe40c292c);
    expect(reference("foobar")).toBe(0xbf9cf968);
  });

  it("hashes the UTF-8 bytes at every encoded-length boundary", () => {
    for (const s of [
      "\u007f",
      "\u0080",
      "\u07ff",
      "\u0800",
      "\uffff",
      "\u{10000}",
      "\u{10ffff}",
      "é",
      "😀",
    ]) {
      expect(fnv1a32(s), JSON.stringify(s)).toBe(reference(s));
    }
  });

  it("hashes lone surrogates as TextEncoder writes them (U+FFFD)", () => {
    for (const s of [
      "\ud800",
      "\udfff",
      "a\ud800",
      "\ud800a",
      "\udc00\ud800",
      "\ud83d\ud83d\ude00",
      "\ud800\ud800",
    ]) {
      expect(fnv1a32(s), JSON.stringify(s)).toBe(reference(s));
    }
    expect(fnv1a32("\ud800")).toBe(fnv1a32("\ufffd"));
  });

  it("equals the reference implementation for any string", () => {
    fc.assert(
      fc.property(utf16String, (s) => {
        expect(fnv1a32(s)).toBe(reference(s));
      }),
      { numRuns: 2000 },
    );
  });

  it("returns an unsigned 32-bit integer", () => {
    fc.assert(
      fc.property(utf16String, (s) => {
        const h = fnv1a32(s);
        expect(Number.isInteger(h)).toBe(true);
        expect(h).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThanOrEqual(0xffffffff);
      }),
    );
  });
});

describe("partitionOf", () => {
  it("is in [0, n) and stable", () => {
    fc.assert(
      fc.property(utf16String, fc.integer({ min: 1, max: 1024 }), (user, n) => {
        const p = partitionOf(user, n);
        expect(Number.isInteger(p)).toBe(true);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
        expect(partitionOf(user, n)).toBe(p);
        expect(p).toBe(reference(user) % n);
      }),
      { numRuns: 1000 },
    );
  });

  it("puts every user in partition 0 when there is one partition", () => {
    fc.assert(
      fc.property(utf16String, (user) => {
        expect(partitionOf(user, 1)).toBe(0);
      }),
    );
  });

  it("has fixed placements that other implementations can reproduce", () => {
    expect(partitionOf("a", 16)).toBe(0xe40c292c % 16);
    expect(partitionOf("", 16)).toBe(0x811c9dc5 % 16);
    expect(partitionOf("foobar", 7)).toBe(0xbf9cf968 % 7);
  });

  it("spreads users over the partitions", () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const p = partitionOf(`user-${i}`, 16);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const count of counts) {
      expect(count).toBeGreaterThan(700);
      expect(count).toBeLessThan(1300);
    }
  });
});
