import t from 'tap';
import { proxyHeaderV1, proxyHeaderV2 } from '../../src/proxy/proxy-protocol.js';

const v4 = { sourceAddress: '127.0.0.5', sourcePort: 51000, destinationAddress: '127.0.0.1', destinationPort: 8080 };
const v6 = { sourceAddress: '::1', sourcePort: 51000, destinationAddress: '2001:db8::7', destinationPort: 443 };

t.test('v1: the text line, TCP4 and TCP6; IPv4-mapped clients are IPv4', async (t) => {
  t.equal(proxyHeaderV1(v4).toString(), 'PROXY TCP4 127.0.0.5 127.0.0.1 51000 8080\r\n');
  t.equal(proxyHeaderV1(v6).toString(), 'PROXY TCP6 ::1 2001:db8::7 51000 443\r\n');
  t.equal(proxyHeaderV1({ ...v4, sourceAddress: '::ffff:127.0.0.5' }).toString(), 'PROXY TCP4 127.0.0.5 127.0.0.1 51000 8080\r\n');
  t.equal(proxyHeaderV1({ ...v4, destinationAddress: '::1' }).toString(), 'PROXY UNKNOWN\r\n');
});

t.test('v2: signature, version/command, family, length, addresses and ports in network order', async (t) => {
  t.equal(proxyHeaderV2(v4).toString('hex'), '0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + '7f000005' + '7f000001' + 'c738' + '1f90');
  t.equal(
    proxyHeaderV2(v6).toString('hex'),
    '0d0a0d0a000d0a515549540a' + '21' + '21' + '0024' + '00000000000000000000000000000001' + '20010db8000000000000000000000007' + 'c738' + '01bb',
  );
  t.equal(proxyHeaderV2({ ...v4, destinationAddress: '::1' }).toString('hex'), '0d0a0d0a000d0a515549540a' + '21' + '00' + '0000');
});
