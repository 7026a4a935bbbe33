import { describe, expect, it } from "vitest";
import { forwardedFor, parseTrustedProxies } from "./client-address.mjs";

describe("the client address the app sees", () => {
  const none = parseTrustedProxies("");
  const proxies = parseTrustedProxies(" 10.0.0.5, 192.168.8.0/24 ,fd00::/8");

  it("replaces a client's own X-Forwarded-For with the socket's address", () => {
    expect(forwardedFor("203.0.113.7", "10.9.0.1", none)).toBe("203.0.113.7");
    expect(forwardedFor("203.0.113.7", "1.1.1.1, 2.2.2.2", none)).toBe("203.0.113.7");
    expect(forwardedFor("203.0.113.7", ["1.1.1.1", "2.2.2.2"], none)).toBe("203.0.113.7");
    expect(forwardedFor("::ffff:127.0.0.1", undefined, none)).toBe("::ffff:127.0.0.1");
    // Not a listed proxy: its header is not believed either.
    expect(forwardedFor("203.0.113.7", "10.9.0.1", proxies)).toBe("203.0.113.7");
  });

  it("keeps a listed proxy's chain and appends the proxy, so the chain can be walked from the right", () => {
    expect(forwardedFor("10.0.0.5", "198.51.100.4", proxies)).toBe("198.51.100.4, 10.0.0.5");
    expect(forwardedFor("::ffff:192.168.8.77", "spoof, 198.51.100.4", proxies)).toBe(
      "spoof, 198.51.100.4, ::ffff:192.168.8.77",
    );
    expect(forwardedFor("fd00::1", "2001:db8::9", proxies)).toBe("2001:db8::9, fd00::1");
    // A proxy that sent no header: the proxy itself is the client as far as anyone knows.
    expect(forwardedFor("10.0.0.5", undefined, proxies)).toBe("10.0.0.5");
    expect(forwardedFor("10.0.0.5", "  ", proxies)).toBe("10.0.0.5");
  });

  it("has no address to give when the socket has none", () => {
    expect(forwardedFor(undefined, "10.9.0.1", none)).toBeUndefined();
  });

  it("refuses a trusted-proxy entry that is not an address or range, naming it", () => {
    for (const bad of [
      "10.0.0",
      "10.0.0.0/33",
      "10.0.0.0/8/1",
      "proxy.internal",
      "10.0.0.0/x",
      "::1/129",
    ]) {
      expect(() => parseTrustedProxies(`10.0.0.5,${bad}`)).toThrow(
        `"${bad}" is not an IP address or CIDR range`,
      );
    }
  });
});
