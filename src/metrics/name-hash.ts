/**
 * A 32-bit FNV-1a hash of a name (a tool name), for per-session sets: a session keeps a number per
 * distinct tool rather than the name, so a client calling many long made-up tool names cannot grow a
 * session's memory with them. Two names colliding makes a session count one tool fewer; with the few
 * hundred tools a session calls at most, the chance is about one in ten million.
 */
export function nameHash(name: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index++) {
    hash = Math.imul(hash ^ name.charCodeAt(index), 0x01000193);
  }
  return hash | 0;
}
