import assert from "node:assert/strict";
import { test } from "node:test";
import { authorAddresses, reachesSomeone } from "../../../src/detectors/flow/parties.js";

test("an address that reaches someone: e-mail, web, bank account, phone; an order id or a street does not", () => {
  for (const value of [
    "lee@post.example",
    "https://paste.example/x",
    "files.example.org/upload",
    "GB82 WEST 1234 5698 7654 32",
    "+44 (0)20 7946-0958",
  ]) {
    assert.ok(reachesSomeone(value), value);
  }
  for (const value of ["ORD-281390", "94 Harbour Lane, Lyon", "admin", "T-705004", "252.15"]) {
    assert.ok(!reachesSomeone(value), value);
  }
});

test("authors are the addresses on a From: line or under a sender key, not every address in the text", () => {
  const mail = "From: Lee Park <lee@post.example>\nTo: desk@shop.example\n\nPlease copy ana@other.example.";
  assert.deepEqual(authorAddresses(mail, 8), ["lee@post.example"]);
  const ticket = JSON.stringify({ ticket_id: "T-1", from: "dev@inbox.example", body: "write to x@evil.example" });
  assert.deepEqual(authorAddresses(ticket, 8), ["dev@inbox.example"]);
  const record = '{"sender": {"name": "Lee", "email": "lee@post.example"}, "cc": "kim@post.example"}';
  assert.deepEqual(authorAddresses(record, 8), ["lee@post.example"]);
  const many = Array.from({ length: 5 }, (_, index) => `From: p${index}@post.example`).join("\n");
  assert.equal(authorAddresses(many, 3).length, 3, "bounded");
});
