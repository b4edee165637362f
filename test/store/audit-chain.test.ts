import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { blake3 } from "@napi-rs/blake-hash";
import {
  ChainVerifier,
  chainHash,
  GENESIS,
  GENESIS_HASH,
  type HashAlgorithm,
  preferredHashAlgorithm,
} from "../../src/store/audit-chain.js";

function chain(texts: string[], algorithm: HashAlgorithm = "blake3"): { seq: number; record: string; hash: string }[] {
  let previous = GENESIS_HASH;
  return texts.map((record, index) => {
    previous = chainHash(previous, record, algorithm);
    return { seq: index + 1, record, hash: previous };
  });
}

function verify(
  rows: { seq: number; record: string; hash: string }[],
  head = rows.at(-1),
  algorithm: HashAlgorithm = "blake3",
) {
  const verifier = new ChainVerifier(GENESIS, algorithm);
  for (const row of rows) {
    const verdict = verifier.add(row);
    if (verdict) return verdict;
  }
  return verifier.finish(head ? { seq: head.seq, hash: head.hash } : GENESIS);
}

describe("audit chain", () => {
  test("new chains use SHA-256 where the CPU has SHA-256 instructions, BLAKE3 elsewhere", () => {
    const x86 = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme ${flags} avx2\n\n`;
    assert.equal(preferredHashAlgorithm(x86("sse4_2 sha_ni"), "linux", "x64"), "sha256");
    assert.equal(preferredHashAlgorithm(x86("sse4_2 avx512f"), "linux", "x64"), "blake3");
    assert.equal(
      preferredHashAlgorithm("processor\t: 0\nFeatures\t: fp asimd aes pmull sha1 sha2 crc32\n", "linux", "arm64"),
      "sha256",
    );
    assert.equal(preferredHashAlgorithm("processor\t: 0\nFeatures\t: fp asimd crc32\n", "linux", "arm64"), "blake3");
    // A model name that happens to contain the word is not an instruction set.
    assert.equal(preferredHashAlgorithm("model name\t: sha_ni emulator\nflags\t\t: fpu\n", "linux", "x64"), "blake3");
    assert.equal(preferredHashAlgorithm(null, "darwin", "arm64"), "sha256");
    assert.equal(preferredHashAlgorithm(null, "win32", "x64"), "blake3");
  });

  test("the hash is BLAKE3 of the previous hex hash followed by the record text", () => {
    // Worked out with b3sum (Debian's package, a build apart from the library's) so that the rule in
    // docs/store.md stays checkable from a shell:
    //   printf '%s%s' "$(printf '0%.0s' $(seq 1 64))" '{"a":1}' | b3sum
    const first = chainHash(GENESIS_HASH, '{"a":1}', "blake3");
    assert.equal(first, "8e2f5f5398a1c181af232307cab16816c0f73c88340e82cefdb650a6d2fa600d");
    assert.equal(
      chainHash(first, '{"b":2}', "blake3"),
      "6224462bcd0598d1f0c80631431787b41afc4d17b709b311a731c0abfc3743c0",
    );
  });

  test("BLAKE3 matches the official test vector at record size, and the library's one-shot path", () => {
    // BLAKE3's test_vectors.json, input_len 3072 (bytes 0, 1, ..., 250, 0, 1, ...): three 1 KiB chunks, as wide
    // as a typical record, so the SIMD paths a record takes are the ones checked. The chain reuses one streaming
    // hasher across records; the one-shot function is a second path through the library that must agree.
    const input = Buffer.alloc(3072);
    for (let index = 0; index < input.length; index++) input[index] = index % 251;
    assert.equal(chainHash("", input, "blake3"), "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2");
    let previous = GENESIS_HASH;
    for (const record of ['{"a":1}', input.toString("latin1"), "", '{"b":2}']) {
      const next = chainHash(previous, record, "blake3");
      assert.equal(next, blake3(Buffer.concat([Buffer.from(previous), Buffer.from(record)])).toString("hex"));
      previous = next;
    }
  });

  test("SHA-256 chains, those of databases created before schema version 2, still hash as they did", () => {
    //   printf '%s%s' "$(printf '0%.0s' $(seq 1 64))" '{"a":1}' | sha256sum
    const first = chainHash(GENESIS_HASH, '{"a":1}', "sha256");
    assert.equal(first, "fc6cee09194dd2578bd7664604fcb72a539066fd34544cea0009c43eb6cdc289");
    assert.equal(
      chainHash(first, '{"b":2}', "sha256"),
      "e3899cf384885c2580552e967c3095d9aed9aaaa1d72d6ea757965bea202715b",
    );
    const rows = chain(["a", "b", "c"], "sha256");
    assert.deepEqual(verify(rows, rows.at(-1), "sha256"), { ok: true, records: 3, first_seq: 1, last_seq: 3 });
    assert.equal(verify(rows, rows.at(-1), "blake3").ok, false);
  });

  test("a record hashes the same as a string and as its UTF-8 bytes", () => {
    //   printf '%s%s' "$(printf '0%.0s' $(seq 1 64))" '{"é":"ü€😀"}' | b3sum
    const text = '{"é":"ü€😀"}';
    const expected = "f3deb50df6bb72ee782a312872a17aa4019b6afde9129830ed75c74442dd9ed2";
    assert.equal(chainHash(GENESIS_HASH, text, "blake3"), expected);
    assert.equal(chainHash(GENESIS_HASH, Buffer.from(text), "blake3"), expected);
    assert.equal(chainHash(GENESIS_HASH, new Uint8Array(Buffer.from(text)), "blake3"), expected);
    assert.equal(chainHash(GENESIS_HASH, text, "sha256"), chainHash(GENESIS_HASH, Buffer.from(text), "sha256"));
  });

  test("SHA-256 is that of the previous hash followed by the record's UTF-8, whatever the record's size or form", () => {
    const reference = (previous: string, record: string | Uint8Array): string =>
      createHash("sha256").update(previous).update(record).digest("hex");
    // Beyond the one-shot path's 256 KiB scratch buffer, non-ASCII, a lone surrogate (encoded as U+FFFD by both
    // paths), and bytes that are a window on a larger buffer.
    const large = `{"x":"${"é😀a".repeat(200_000)}"}`;
    const bytes = Buffer.from(`--${large}--`).subarray(2, -2);
    const texts: (string | Uint8Array)[] = ['{"a":1}', '{"s":"\ud800 lone"}', "\ud800", large, bytes, "", "€"];
    let previous = GENESIS_HASH;
    for (const record of texts) {
      const expected = reference(previous, record);
      assert.equal(chainHash(previous, record, "sha256"), expected);
      previous = expected;
    }
    // A previous hash that is not hex (a tampered file) is encoded as UTF-8 too.
    assert.equal(chainHash("ü".repeat(64), "x", "sha256"), reference("ü".repeat(64), "x"));
  });

  test("a record that is edited then re-hashed shows up at the next record", () => {
    const rows = chain(["a", "b", "c", "d"]);
    rows[1] = { seq: 2, record: "B", hash: chainHash(rows[0]!.hash, "B", "blake3") };
    const verdict = verify(rows);
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 3);
  });

  test("records swapped in place break the chain at the first of them", () => {
    const rows = chain(["a", "b", "c", "d"]);
    const swapped = [rows[0]!, { ...rows[2]!, seq: 2 }, { ...rows[1]!, seq: 3 }, rows[3]!];
    const verdict = verify(swapped);
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 2);
  });

  test("records beyond the recorded head are reported", () => {
    const rows = chain(["a", "b", "c"]);
    const verdict = verify(rows, rows[1]);
    assert.ok(!verdict.ok);
    assert.equal(verdict.broken_seq, 3);
    assert.match(verdict.reason, /past the recorded chain head/);
  });
});
