import assert from "node:assert/strict";
import { test } from "node:test";
import { DlpEngine, defaultDlpSettings } from "../../../src/defence/dlp/index.js";

const engine = new DlpEngine(defaultDlpSettings());

/** The rule ids found in `text`, with the text each covers. */
function found(text: string): Array<[string, string]> {
  return engine.scanText(text).map((match) => [match.rule, text.slice(match.start, match.end)]);
}

function assertFinds(text: string, rule: string, value: string): void {
  assert.deepEqual(
    found(text).filter(([id]) => id === rule),
    [[rule, value]],
    `${rule} in ${JSON.stringify(text)}: ${JSON.stringify(found(text))}`,
  );
}

function assertClean(text: string): void {
  assert.deepEqual(found(text), [], JSON.stringify(text));
}

// Test tokens are assembled at run time so that this file holds no literal credential.
const mixed = (length: number, seed = 7): string => {
  const alphabet = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU1vW0xYzCiDoFuHe";
  let state = seed;
  let text = "";
  for (let index = 0; index < length; index++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    text += alphabet[state % alphabet.length];
  }
  return text;
};
const hex = (length: number): string => {
  let text = "";
  for (let index = 0; index < length; index++) text += "0123456789abcdef"[(index * 7 + (index >> 2)) % 16];
  return text;
};

test("cloud provider keys", () => {
  const aws = `AKIA${"Z7VQ3M5XKJ2WN4PB"}`;
  assertFinds(`aws_access_key_id = ${aws}`, "aws_access_key_id", aws);
  assertClean(`aws_access_key_id = AKIA${"IOSFODNN7"}EXAMPLE`);
  assertClean("TODAYINASIAASACKOFRICEFELLOVER");
  const secret = mixed(40).replace(/[^A-Za-z0-9]/g, "x");
  assertFinds(`aws_secret_access_key = ${secret}`, "aws_secret_access_key", secret);
  const gcp = `AIza${mixed(35)}`;
  assertFinds(`{"apiKey": "${gcp}"}`, "gcp_api_key", gcp);
  const azure = `${mixed(3)}8Q~${mixed(34)}`;
  assertFinds(`client_secret=${azure}`, "azure_ad_client_secret", azure);
  const storage = `${mixed(86).replace(/[^A-Za-z0-9]/g, "+")}==`;
  assert.equal(
    found(`DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${storage};`)[0]?.[0],
    "azure_storage_key",
  );
});

test("source hosts, chat and payment keys", () => {
  const github = `ghp_${mixed(36)}`;
  assertFinds(`export GITHUB_TOKEN=${github}`, "github_token", github);
  assertClean(`ghp_${"x".repeat(36)}`);
  assertClean(`ghp_${mixed(35)}`);
  const gitlab = `glpat-${mixed(20)}`;
  assertFinds(`token: ${gitlab}`, "gitlab_token", gitlab);
  const slack = `xoxb-${"781236542736"}-${"2364535789652"}-${mixed(24)}`;
  assertFinds(slack, "slack_token", slack);
  assertClean("xoxb-xoxb-my-bot-token");
  const webhook = `https://hooks.slack.com/services/T${"0ABCDEF12"}/B${"0GHIJKL34"}/${mixed(24)}`;
  assertFinds(`post to ${webhook} now`, "slack_webhook", webhook);
  const telegram = `${"123456789"}:AA${mixed(33)}`;
  assertFinds(`bot ${telegram}`, "telegram_bot_token", telegram);
  const stripe = `sk_live_${mixed(24)}`;
  assertFinds(`Stripe.apiKey = "${stripe}";`, "stripe_key", stripe);
  const sendgrid = `SG.${mixed(22)}.${mixed(43, 11)}`;
  assertFinds(sendgrid, "sendgrid_api_key", sendgrid);
  const twilio = `SK${hex(32)}`;
  assertFinds(`key ${twilio}`, "twilio_api_key", twilio);
});

test("AI provider and package registry tokens", () => {
  const openai = `sk-proj-${mixed(30)}T3BlbkFJ${mixed(30, 5)}`;
  assertFinds(`OPENAI_API_KEY=${openai}`, "openai_api_key", openai);
  const anthropic = `sk-ant-api03-${mixed(93)}AA`;
  assertFinds(anthropic, "anthropic_api_key", anthropic);
  const huggingface = `hf_${mixed(34).replace(/[^A-Za-z]/g, "Q")}`;
  assertFinds(`huggingface-cli login --token ${huggingface}`, "huggingface_token", huggingface);
  assertClean("- (id)hf_requiredCharacteristicTypesForDisplayMetadata;");
  const npm = `npm_${mixed(36)}`;
  assertFinds(`//registry.npmjs.org/:_authToken=${npm}`, "npm_token", npm);
  assertClean("task-list desk-lamp"); // `sk-` inside words is no OpenAI key
});

test("private keys and JWTs", () => {
  const body = `${mixed(64)}\n${mixed(64, 3)}\n${mixed(20, 5)}==`;
  const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`;
  assertFinds(`key:\n${pem}\nrest`, "private_key", pem);
  assertClean("-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----");
  assertClean("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----");
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url");
  const payload = Buffer.from('{"sub":"user-42","exp":1900000000}').toString("base64url");
  const jwt = `${header}.${payload}.${mixed(43)}`;
  assertFinds(`Authorization: Bearer ${jwt}`, "jwt", jwt);
  // An eyJ blob that is base64 JSON without a JWT header is not a token.
  const blob = `${Buffer.from('{"auths":{"x":1}}').toString("base64url")}.${payload}.sig`;
  assert.equal(found(blob).filter(([id]) => id === "jwt").length, 0);
});

test("database URLs: the password is the finding", () => {
  assertFinds(
    "DATABASE_URL=postgres://app:S3cr3t-Pa55@db.internal:5432/orders",
    "connection_string_password",
    "S3cr3t-Pa55",
  );
  assertFinds("mongodb+srv://svc:hT9wq2Lm@cluster0.example.net/db", "connection_string_password", "hT9wq2Lm");
  assertFinds("amqp://guest:Gu3stPw0rd@rabbit:5672", "connection_string_password", "Gu3stPw0rd");
  assertClean(`postgres://app:${"$"}{DB_PASSWORD}@db:5432/orders`);
  assertClean("postgres://app@db:5432/orders");
  assertClean("see https://example.com/a/b for details");
});

test("generic credentials near a keyword: entropy, placeholders and names", () => {
  assertFinds('password = "hT9!wq2Lm#x"', "generic_secret", "hT9!wq2Lm#x");
  assertFinds(
    '{"client_secret": "6da89121079f83b2eb6acccf8219ea98"}',
    "generic_secret",
    "6da89121079f83b2eb6acccf8219ea98",
  );
  assertFinds("DB_PASSWORD: Tr0ub4dor&3x", "generic_secret", "Tr0ub4dor&3x");
  for (const clean of [
    'password = "changeme"',
    `password: ${"$"}{DB_PASSWORD}`,
    'token = "<token>"',
    "api_key: xxxxxxxxxxxxxxxxxxxx",
    "const token = request.headers.authorization;",
    "password_length: 16",
    "credentialsId: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'",
    "tokenizer: bert-base-uncased-v2",
    "administrator_login_password = var.db_password",
    "The password reset link expires in one hour.",
  ]) {
    assertClean(clean);
  }
});

test("personal data: email, phone, card, IBAN, SSN, IP", () => {
  assertFinds("contact jane.doe@example.org today", "email", "jane.doe@example.org");
  assertClean("logo@2x.png and git@github");
  assertFinds("call +44 20 7946 0958 now", "phone_number", "+44 20 7946 0958");
  assertFinds("call (415) 555-2671", "phone_number", "(415) 555-2671");
  assertFinds("call 415-555-2671", "phone_number", "415-555-2671");
  assertClean("order 4155552671 shipped on 2024-05-01 at 12:30:45");
  assertFinds("card 4539 1488 0343 6467 exp 12/27", "credit_card", "4539 1488 0343 6467");
  assertFinds("card 4539-1488-0343-6467", "credit_card", "4539-1488-0343-6467");
  assertClean("card 4539 1488 0343 6468");
  assertClean("id 1234567890123456");
  assertFinds("pay to GB82 WEST 1234 5698 7654 32 please", "iban", "GB82 WEST 1234 5698 7654 32");
  assertFinds("IBAN DE89370400440532013000.", "iban", "DE89370400440532013000");
  assertClean("ref GB83WEST12345698765432");
  assertFinds("ssn 123-45-6789", "us_ssn", "123-45-6789");
  assertClean("ssn 666-45-6789 and 000-12-3456");
  assertFinds("client 81.2.69.160 connected", "ipv4_address", "81.2.69.160");
  assertClean("bind 10.0.0.12 and 192.168.1.20 and 127.0.0.1; version v1.2.3.4");
  assertFinds("from 2a00:1450:4001:81c::200e", "ipv6_address", "2a00:1450:4001:81c::200e");
  assertClean("at 12:34:56 on 2001:db8::1");
});
