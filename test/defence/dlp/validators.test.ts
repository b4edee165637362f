import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cardNumberValid,
  ibanValid,
  jwtValid,
  luhnValid,
  publicIpv4,
  publicIpv6,
  shannonEntropy,
  ssnValid,
} from "../../../src/defence/dlp/index.js";

test("Luhn accepts the published test card numbers and rejects a changed digit", () => {
  for (const number of [
    "4539148803436467",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
  ]) {
    assert.ok(luhnValid(number), number);
    assert.ok(cardNumberValid(number), number);
  }
  assert.equal(luhnValid("4539148803436468"), false);
  assert.equal(luhnValid("12a4"), false);
  // Luhn-valid but no issuer uses the prefix 9: an order number, not a card.
  assert.equal(cardNumberValid("9000000000000008"), false);
  // Right prefix, wrong length for the network.
  assert.equal(cardNumberValid("378282246310005" + "0"), false);
});

test("IBAN: registry examples pass, a changed check digit or a wrong length fails", () => {
  for (const iban of [
    "GB82WEST12345698765432",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
  ]) {
    assert.ok(ibanValid(iban), iban);
  }
  assert.equal(ibanValid("GB83WEST12345698765432"), false);
  assert.equal(ibanValid("GB82WEST1234569876543"), false);
  assert.equal(ibanValid("ZZ82WEST12345698765432"), false);
});

test("SSN: area, group and serial rules", () => {
  assert.ok(ssnValid("123-45-6789"));
  assert.ok(ssnValid("899-99-9999"));
  for (const invalid of [
    "000-12-3456",
    "666-12-3456",
    "900-12-3456",
    "123-00-4567",
    "123-45-0000",
    "078-05-1120",
    "12-345-6789",
  ]) {
    assert.equal(ssnValid(invalid), false, invalid);
  }
});

test("Shannon entropy in bits per character", () => {
  assert.equal(shannonEntropy(""), 0);
  assert.equal(shannonEntropy("aaaa"), 0);
  assert.equal(shannonEntropy("abcd"), 2);
  assert.ok(Math.abs(shannonEntropy("aabb") - 1) < 1e-9);
});

test("JWT: header must decode to JSON naming alg or typ", () => {
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");
  const payload = Buffer.from('{"sub":"1234567890"}').toString("base64url");
  assert.ok(jwtValid(`${header}.${payload}.c2lnbmF0dXJl`));
  assert.ok(jwtValid(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`));
  const notHeader = Buffer.from('{"name":"x","kind":"y"}').toString("base64url");
  assert.equal(jwtValid(`${notHeader}.${payload}.c2ln`), false);
  assert.equal(jwtValid(`${header}.${payload}`), false);
});

test("IP addresses: only public ranges count as personal data", () => {
  assert.ok(publicIpv4("8.8.8.8"));
  assert.ok(publicIpv4("81.2.69.160"));
  for (const address of [
    "10.1.2.3",
    "192.168.0.1",
    "172.16.5.4",
    "127.0.0.1",
    "169.254.1.1",
    "100.64.0.1",
    "192.0.2.1",
    "203.0.113.9",
    "256.1.1.1",
    "0.0.0.0",
  ]) {
    assert.equal(publicIpv4(address), false, address);
  }
  assert.ok(publicIpv6("2a00:1450:4001:81c::200e"));
  assert.equal(publicIpv6("2001:db8::1"), false);
  assert.equal(publicIpv6("fe80::1"), false);
  assert.equal(publicIpv6("12:34:56"), false);
});
