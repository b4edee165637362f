import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChainVerifier, chainHash, GENESIS, GENESIS_HASH } from "../../src/store/audit-chain.js";

function chain(texts: string[]): { seq: number; record: string; hash: string }[] {
  let previous = GENESIS_HASH;
  return texts.map((record, index) => {
    previous = chainHash(previous, record);
    return { seq: index + 1, record, hash: previous };
  });
}

function verify(rows: { seq: number; record: string; hash: string }[], head = rows.at(-1)) {
  const verifier = new ChainVerifier(GENESIS);
  for (const row of rows) {
    const verdict = verifier.add(row);
    if (verdict) return verdict;
  }
  return verifier.finish(head ? { seq: head.seq, hash: head.hash } : GENESIS);
}

describe("audit chain", () => {
  test("the hash is SHA-256 of the previous hex hash followed by the record text", () => {
    // Worked out with coreutils so the rule in docs/store.md stays checkable from a shell:
    //   printf '%s%s' "$(printf '0%.0s' $(seq 1 64))" '{"a":1}' | sha256sum
    const first = chainHash(GENESIS_HASH, '{"a":1}');
    assert.equal(first, "fc6cee09194dd2578bd7664604fcb72a539066fd34544cea0009c43eb6cdc289");
    assert.equal(chainHash(first, '{"b":2}'), "e3899cf384885c2580552e967c3095d9aed9aaaa1d72d6ea757965bea202715b");
  });

  test("a record that is edited then re-hashed shows up at the next record", () => {
    const rows = chain(["a", "b", "c", "d"]);
    rows[1] = { seq: 2, record: "B", hash: chainHash(rows[0]!.hash, "B") };
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
