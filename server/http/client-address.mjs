// Who sent a request, for the web server (server/http/web.mjs). Plain JavaScript: the web server
// runs it before anything is compiled.
import { BlockList, isIP } from "node:net";

/**
 * Parses SANDBOXER_TRUSTED_PROXIES: comma-separated addresses or CIDR ranges of the reverse
 * proxies in front of the web server. Throws naming the entry that is neither.
 */
export function parseTrustedProxies(value) {
  const list = new BlockList();
  const entries = (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const bits = family === 4 ? 32 : 128;
    const ok =
      family !== 0 &&
      extra === undefined &&
      (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits));
    if (!ok) {
      throw new Error(
        `SANDBOXER_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/24)`,
      );
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return { entries, has: (ip) => entries.length > 0 && matches(list, ip) };
}

function matches(list, ip) {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip ?? "");
  const address = mapped ? mapped[1] : ip;
  const family = isIP(address ?? "");
  if (family === 0) return false;
  return list.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The X-Forwarded-For value the app should see. A client's own X-Forwarded-For is never taken
 * on trust: from a peer that is not a listed proxy the header is replaced by the peer's address;
 * from a listed proxy the peer is appended to the chain the proxy sent, so the auth library,
 * given the same list, walks the chain from the right past the proxies to the client.
 */
export function forwardedFor(peer, header, trusted) {
  const incoming = Array.isArray(header) ? header.join(", ") : header;
  if (!peer) return undefined;
  if (trusted.has(peer) && incoming && incoming.trim()) return `${incoming}, ${peer}`;
  return peer;
}
