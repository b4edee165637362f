/**
 * Resources named in tool-call arguments: the external domains of e-mail addresses and URLs, the directories of
 * paths, and channels. Record ids are left out on purpose: they are expected to vary and say nothing about reach.
 */

import { nameWords } from "../../defence/name-words.js";
import { type ArgumentLeaf, leafContentClass } from "./argument-values.js";
import { argumentRole } from "./generic-vocabulary.js";
import { hashText } from "./hashed-set.js";

export const RESOURCE_KINDS = ["domain", "directory", "channel"] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** A resource a call touches, e.g. `{ kind: "domain", name: "example.org" }`. */
export interface Resource {
  kind: ResourceKind;
  name: string;
  /** The argument it came from. */
  argument: string;
  /** Hash of kind and name, what the neighbourhoods keep. */
  hash: number;
}

/** Resources read from one call; the rest are not modelled. */
export const MAX_RESOURCES_PER_CALL = 8;
/** Free text is scanned for links and addresses in its first characters only. */
const SCAN_CHARS = 512;
const EMBEDDED = /\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#:'"<>)]+)|[\w.+-]+@([\w-]+(?:\.[\w-]+)+)/gi;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

const NO_RESOURCES: readonly Resource[] = Object.freeze([]);

/** The resources named by a call's argument leaves, at most {@link MAX_RESOURCES_PER_CALL}, without repeats. */
export function extractResources(leaves: readonly ArgumentLeaf[]): readonly Resource[] {
  // Most calls name no resource: nothing is allocated for them.
  let resources: Resource[] | null = null;
  for (const leaf of leaves) {
    if (resources !== null && resources.length >= MAX_RESOURCES_PER_CALL) break;
    if (typeof leaf.value !== "string") continue;
    const value = leaf.value.trim();
    const slashed = value.includes("/") || value.includes("\\");
    if (slashed && leafContentClass(leaf) === "path") {
      resources = withResource(resources, "directory", directoryOf(value), leaf.path);
      continue;
    }
    if (isChannel(leaf.path, value)) {
      resources = withResource(resources, "channel", value.replace(/^#/, "").toLowerCase(), leaf.path);
      continue;
    }
    const text = value.length > SCAN_CHARS ? value.slice(0, SCAN_CHARS) : value;
    if (!text.includes("@") && !text.includes("://")) continue;
    for (const match of text.matchAll(EMBEDDED)) {
      const host = match[1] ?? match[2];
      if (host !== undefined) resources = withResource(resources, "domain", registrableDomain(host), leaf.path);
    }
  }
  return resources ?? NO_RESOURCES;
}

/** `resources` with the named one added unless it is empty, a repeat or one too many; made when the first comes. */
function withResource(
  resources: Resource[] | null,
  kind: ResourceKind,
  name: string,
  argument: string,
): Resource[] | null {
  if (name.length === 0) return resources;
  const found = resources ?? [];
  if (found.length >= MAX_RESOURCES_PER_CALL) return found;
  // A call names few resources: a scan is cheaper than a set made for every call.
  for (const known of found) if (known.kind === kind && known.name === name) return found;
  found.push({ kind, name, argument, hash: hashText(`${kind}:${name}`) });
  return found;
}

const channelMemo = new Map<string, boolean>();

function isChannel(path: string, value: string): boolean {
  if (value.startsWith("#")) return /^#[\w.-]{1,80}$/.test(value);
  let named = channelMemo.get(path);
  if (named === undefined) {
    if (channelMemo.size >= 4_096) channelMemo.clear();
    named = argumentRole(path) === "destination" && nameWords(path).includes("channel");
    channelMemo.set(path, named);
  }
  return named && /^[\w.#-]{1,80}$/.test(value);
}

/**
 * The neighbourhood of a path: its first two directories when it has more below them (`/home/ana/x/y` →
 * `/home/ana`), else its first (`/etc/passwd` → `/etc`). Separators and case are normalised.
 */
export function directoryOf(path: string): string {
  const normalised = path.replace(/\\/g, "/").toLowerCase();
  const absolute = normalised.startsWith("/") ? "/" : "";
  const segments = normalised.split("/").filter((segment) => segment.length > 0 && segment !== ".");
  const depth = segments.length >= 3 ? 2 : 1;
  return absolute + segments.slice(0, Math.min(depth, Math.max(1, segments.length - 1))).join("/");
}

/** `mail.eu.example.co.uk` → `example.co.uk`; `www.example.org:8080` → `example.org`; IP addresses stay whole. */
const domainMemo = new Map<string, string>();

export function registrableDomain(host: string): string {
  const known = domainMemo.get(host);
  if (known !== undefined) return known;
  if (domainMemo.size >= 4_096) domainMemo.clear();
  const domain = judgeDomain(host);
  domainMemo.set(host, domain);
  return domain;
}

function judgeDomain(host: string): string {
  const name = host.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  if (IPV4.test(name)) return name;
  const labels = name.split(".");
  if (labels.length <= 2) return name;
  const last = labels[labels.length - 1]!;
  const second = labels[labels.length - 2]!;
  // Country-code second levels (co.uk, com.au, gov.br): the registrable name has one more label.
  const keep = last.length === 2 && second.length <= 3 ? 3 : 2;
  return labels.slice(-keep).join(".");
}
