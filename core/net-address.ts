/** @module core/net-address — IP address ranges both planes agree on: named classes (loopback, link-local…), CIDR parsing, and the compiled check the host runs on every address it connects to. */
import { isIP } from 'node:net';

/** An address range the host refuses to connect to, as the policy of an environment says; travels in the AgentSpec. */
export interface NetAddressRule {
  /** `network/prefix`, canonical (e.g. `127.0.0.0/8`, `fe80::/10`). */
  cidr: string;
  /** What denials name: the class (`loopback`) or the policy entry as written (`10.1.2.3`). */
  label: string;
  /** Id of the policy rule that denies it. */
  rule: string;
  /** Only this port, when the policy entry named one (`127.0.0.1:6379`). */
  port?: number;
}

/**
 * Named address classes a policy may deny with `net.denyAddresses`. Each IPv4 range also covers its IPv4-mapped
 * IPv6 form; IPv6 forms that embed an IPv4 address (IPv4-compatible, NAT64, 6to4, Teredo) are checked on the
 * embedded address too (see {@link embeddedIpv4}).
 */
export const ADDRESS_CLASSES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  // 0.0.0.0 and :: connect to the host itself on Linux; 0/8 is "this network".
  unspecified: ['0.0.0.0/8', '::/128'],
  loopback: ['127.0.0.0/8', '::1/128'],
  'link-local': ['169.254.0.0/16', 'fe80::/10'],
  // Cloud instance metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba.
  metadata: ['169.254.169.254/32', 'fd00:ec2::254/128', '100.100.100.200/32'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fec0::/10'],
  // Carrier-grade NAT (RFC 6598): often the provider's own internal network.
  shared: ['100.64.0.0/10'],
  multicast: ['224.0.0.0/4', 'ff00::/8'],
  reserved: ['240.0.0.0/4', '192.0.0.0/24', '198.18.0.0/15', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '100::/64'],
});

/** `addr[/prefix]` with the address validated by node:net; `undefined` when it is neither an IP nor a CIDR. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6'; cidr: string } | undefined {
  const slash = text.indexOf('/');
  let address = (slash === -1 ? text : text.slice(0, slash)).trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  const prefix = Number(prefixText);
  const canonical = version === 4 ? address : compressIpv6(ipv6Words(address));
  return { address: canonical, prefix, family: version === 4 ? 'ipv4' : 'ipv6', cidr: `${canonical}/${prefix}` };
}

/**
 * The CIDRs a `net.denyAddresses` entry stands for: a class name from {@link ADDRESS_CLASSES}, an IP or a CIDR.
 * @returns `undefined` for an entry that is none of these.
 */
export function expandAddressEntry(entry: string): readonly string[] | undefined {
  const named = ADDRESS_CLASSES[entry.trim().toLowerCase()];
  if (named) return named;
  const parsed = parseCidr(entry);
  return parsed ? [parsed.cidr] : undefined;
}

/** The eight 16-bit words of a valid IPv6 address (an embedded dotted quad included). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((word) => parseInt(word, 16));
}

function compressIpv6(words: number[]): string {
  // Longest run of zero words (at least two) becomes "::", as RFC 5952 writes it.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function ipv4Of(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach it: IPv4-mapped (`::ffff:a.b.c.d`),
 * IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`),
 * 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001:0::/32`, client address inverted).
 */
export function embeddedIpv4(address: string): string | undefined {
  const words = embeddedWords(ipv6Words(address));
  return words && ipv4Of(words[0], words[1]);
}

/** {@link embeddedIpv4} on words: the IPv4 address as two 16-bit words. */
function embeddedWords(w: readonly number[]): [number, number] | undefined {
  const zeros = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (w[i] !== 0) return false;
    return true;
  };
  if (zeros(0, 5) && w[5] === 0xffff) return [w[6]!, w[7]!];
  if (zeros(0, 4) && w[4] === 0xffff && w[5] === 0) return [w[6]!, w[7]!];
  // ::/96 minus :: and ::1, which are IPv6's own unspecified and loopback addresses.
  if (zeros(0, 6) && (w[6] !== 0 || w[7]! > 1)) return [w[6]!, w[7]!];
  if (w[0] === 0x64 && w[1] === 0xff9b && (zeros(2, 6) || w[2] === 1)) return [w[6]!, w[7]!];
  if (w[0] === 0x2002) return [w[1]!, w[2]!];
  if (w[0] === 0x2001 && w[1] === 0) return [w[6]! ^ 0xffff, w[7]! ^ 0xffff];
  return undefined;
}

/** Why an address may not be connected to. */
export interface AddressDenial {
  /** The address that was checked, or the IPv4 address it embeds when that is what a rule caught. */
  address: string;
  rule: NetAddressRule;
}

/** A rule compiled to words: two 16-bit words for IPv4, eight for IPv6, and the prefix length in bits. */
interface CompiledRule {
  rule: NetAddressRule;
  v4: boolean;
  words: number[];
  prefix: number;
}

function ipv4Words(address: string): [number, number] {
  const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

function inPrefix(words: readonly number[], network: readonly number[], prefix: number): boolean {
  let bits = prefix;
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if (((words[i]! ^ network[i]!) & mask) !== 0) return false;
  }
  return true;
}

/**
 * The address rules of one spec, compiled once into words so that a check is a few integer comparisons (about a
 * microsecond; node:net's BlockList costs several microseconds per check, most of it building a SocketAddress).
 * An IPv6 address is checked as itself and, when it embeds an IPv4 address (mapped, NAT64, 6to4…), as that
 * address too; an IPv6 rule for the mapped range (`::ffff:a.b.c.d/96+n`) is compiled as the IPv4 rule it means.
 */
export class AddressRules {
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly NetAddressRule[]) {
    this.#rules = rules.map((rule) => {
      const parsed = parseCidr(rule.cidr);
      // Rules come from a validated policy; one that does not parse would be a bug, and denying nothing is not the
      // safe reading of it, so it is kept as a rule that catches every address.
      if (!parsed) return { rule, v4: !rule.cidr.includes(':'), words: [0, 0, 0, 0, 0, 0, 0, 0], prefix: 0 };
      if (parsed.family === 'ipv4') return { rule, v4: true, words: ipv4Words(parsed.address), prefix: parsed.prefix };
      const words = ipv6Words(parsed.address);
      if (parsed.prefix >= 96 && words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
        return { rule, v4: true, words: words.slice(6), prefix: parsed.prefix - 96 };
      }
      return { rule, v4: false, words, prefix: parsed.prefix };
    });
  }

  get size(): number {
    return this.#rules.length;
  }

  /**
   * The first rule that denies connecting to `address` on `port`.
   * @param address an IP address as node:net gives it (no brackets).
   * @param port the port connected to; `undefined` for "any port" (a grant without one), which rules for one port also deny.
   */
  denial(address: string, port?: number): AddressDenial | undefined {
    const family = isIP(address);
    if (family === 0) return { address, rule: { cidr: '', label: 'not an IP address', rule: '(internal)' } };
    const v6 = family === 6 ? ipv6Words(address) : undefined;
    const v4 = v6 ? embeddedWords(v6) : ipv4Words(address);
    for (const compiled of this.#rules) {
      const { rule } = compiled;
      if (rule.port !== undefined && port !== undefined && rule.port !== port) continue;
      if (compiled.v4 ? v4 !== undefined && inPrefix(v4, compiled.words, compiled.prefix) : v6 !== undefined && inPrefix(v6, compiled.words, compiled.prefix)) {
        return { address: v6 && compiled.v4 && v4 ? ipv4Of(v4[0], v4[1]) : address, rule };
      }
    }
    return undefined;
  }
}
