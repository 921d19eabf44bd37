/**
 * PROXY protocol headers (haproxy.org/download/2.8/doc/proxy-protocol.txt),
 * sent to the upstream before any byte of the client's, so the backend sees
 * the original client address and the address the client dialled.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ConnectionAddresses {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
}

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** `::ffff:1.2.3.4` is an IPv4 client on a dual-stack socket: report it as IPv4. */
function unmap(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function family(a: ConnectionAddresses): 4 | 6 | 0 {
  const src = unmap(a.sourceAddress);
  const dst = unmap(a.destinationAddress);
  if (isIPv4(src) && isIPv4(dst)) return 4;
  if (isIPv6(src) && isIPv6(dst)) return 6;
  return 0;
}

/** Version 1, text: `PROXY TCP4 src dst sport dport\r\n` (`PROXY UNKNOWN\r\n` when families differ). */
export function proxyHeaderV1(a: ConnectionAddresses): Buffer {
  const f = family(a);
  if (f === 0) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const line = `PROXY TCP${f} ${unmap(a.sourceAddress)} ${unmap(a.destinationAddress)} ${a.sourcePort} ${a.destinationPort}\r\n`;
  return Buffer.from(line, 'latin1');
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/** 16 bytes of an IPv6 address, `::` expanded. */
function ipv6Bytes(address: string): number[] {
  const [head = '', tail = ''] = address.split('::');
  const parts = (text: string): string[] => (text === '' ? [] : text.split(':'));
  const left = parts(head);
  const right = parts(tail);
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  const bytes: number[] = [];
  for (const g of groups) {
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

/** Version 2, binary: PROXY command over TCP, with the addresses in network order. */
export function proxyHeaderV2(a: ConnectionAddresses): Buffer {
  const f = family(a);
  if (f === 0) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x00])]); // AF_UNSPEC: no addresses
  const src = unmap(a.sourceAddress);
  const dst = unmap(a.destinationAddress);
  const addresses = f === 4 ? [...ipv4Bytes(src), ...ipv4Bytes(dst)] : [...ipv6Bytes(src), ...ipv6Bytes(dst)];
  const body = Buffer.alloc(addresses.length + 4);
  Buffer.from(addresses).copy(body, 0);
  body.writeUInt16BE(a.sourcePort, addresses.length);
  body.writeUInt16BE(a.destinationPort, addresses.length + 2);
  const head = Buffer.from([0x21, f === 4 ? 0x11 : 0x21, 0x00, 0x00]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}
