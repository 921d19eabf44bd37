/**
 * The native pump: after node:net has accepted a client, dialled the endpoint
 * and written any PROXY header, it hands both sockets to the splice addon
 * (native/splice-pump), which moves the bytes in the kernel (splice(2) through
 * a pipe per direction) on its own epoll thread until the connection ends, and
 * then reports the end here, on the JS thread. It keeps the carrier contract
 * (carrier.ts), as the JS pump does: half-close passed on, resets passed on,
 * backpressure, idle and half-close timeouts, reset on demand (drain), byte
 * counts, one CarrierResult at the end.
 *
 * The hand-off, and why it is safe (docs/operations.md has the same, longer):
 *  1. Nothing may be in flight in Node: no pending write (the PROXY header must
 *     have reached the kernel; with one queued, the connection stays in JS), and
 *     bytes Node already read into the socket's buffer are taken out with read()
 *     and given to the addon, which writes them first (nothing lost, no reorder).
 *  2. The addon dup()s both descriptors. A dup shares the socket (the open file
 *     description) and keeps it alive: closing the other fd sends nothing.
 *  3. Reading stops (`readStop`): libuv reads only inside its poll phase, and we
 *     are in JS now, so no byte can enter Node between steps 1 and 4.
 *  4. socket.destroy() makes libuv uv_close() its handle: uv__stream_close ->
 *     uv__io_close -> uv__platform_invalidate_fd, which does
 *     epoll_ctl(EPOLL_CTL_DEL) on libuv's epoll set *before* uv__close(fd). That
 *     order matters: epoll keys registrations on (file, fd), and a registration
 *     whose fd was closed while a dup keeps the file open can never be deleted
 *     and reports events forever. libuv < 1.49 could queue that DEL through
 *     io_uring when called from inside its poll phase (libuv#4323, fixed in
 *     1.49.0); on such a libuv the destroy is deferred with setImmediate, which
 *     runs outside the poll phase, where the DEL was always immediate. No
 *     shutdown() and no SO_LINGER happen on a plain destroy (never
 *     resetAndDestroy() here: SO_LINGER would stick to the shared socket), and
 *     no write was pending, so uv_close cancels nothing.
 * After that no net.Socket refers to the connection; the carrier keeps a slot
 * number and the byte counts Node had seen.
 */
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { NativeThreadStats, SpliceAddon } from '../native/splice-addon.js';
import { carrierEnd, type ByteCounts, type Carrier, type CarrierDone, type CarrierOptions, type CarrierResult } from './carrier.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** The errno's name (ECONNRESET, ETIMEDOUT from keepalive...), '' for 0 (a clean end): what the JS pump reports as the error code. */
function errnoName(errno: number): string {
  return errno === 0 ? '' : (ERRNO_NAMES.get(errno) ?? `errno ${errno}`);
}

export interface NativePumpLimits {
  /** Connections the addon can own at once; more stay with the JS pump (fallback `slots`). */
  readonly slots: number;
  /** Pipes that may exist at once (each 2 fds and up to 64 KiB of kernel memory); past it, chunks are copied. */
  readonly maxPipes: number;
  /** Empty pipes kept for reuse; the rest are closed as soon as they are empty. */
  readonly maxSparePipes: number;
}

const DEFAULT_NATIVE_LIMITS: NativePumpLimits = { slots: 65_536, maxPipes: 1024, maxSparePipes: 16 };

/** What the JS side counts about hand-offs, for metrics. */
export interface NativePumpCounts {
  /** Connections handed to the addon. */
  handedOff: number;
  /** Connections kept in JS although eligible, by reason (`dup:EMFILE`, `pipe:EMFILE`, `pending_write`, `slots`, ...). */
  readonly fallbacks: Map<string, number>;
}

interface StreamHandle {
  readonly fd: number;
  reading?: boolean;
  readStop(): number;
}

function handleOf(socket: Socket): StreamHandle | undefined {
  // net.Socket's libuv handle is not in @types/node; `fd` and readStop() are what the hand-off needs.
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  return handle ?? undefined;
}

/** True when libuv deletes a closed fd from epoll at once even inside its poll phase (1.49.0, libuv#4323). */
export function immediateEpollDelete(uvVersion: string = process.versions.uv ?? '0.0.0'): boolean {
  const [major = 0, minor = 0] = uvVersion.split('.').map(Number);
  return major > 1 || (major === 1 && minor >= 49);
}

function ignore(): void {
  // A released socket has nobody to tell about an error; its connection lives on in the addon.
}

/** Lets go of a socket whose descriptor the addon has duplicated (see step 4 above). */
function release(socket: Socket): void {
  socket.on('error', ignore);
  socket.destroy();
}

function releaseDeferred(downstream: Socket, upstream: Socket): void {
  release(downstream);
  release(upstream);
}

/** One connection owned by the addon: its live byte counts and a way to reset it. */
export class NativeCarrier implements Carrier {
  private result: CarrierResult | undefined;

  constructor(
    private readonly pump: NativePump,
    readonly slot: number,
    /** Bytes Node had read from each side before the hand-off (including any passed on as a prefix). */
    private readonly before: { readonly fromDownstream: number; readonly fromUpstream: number },
    private readonly done: CarrierDone,
  ) {}

  /** Bytes so far, received from the client and from the endpoint; read from the shared counters, no call into the addon. */
  bytes(): ByteCounts {
    const r = this.result;
    if (r !== undefined) return { fromDownstream: r.bytesFromDownstream, fromUpstream: r.bytesFromUpstream };
    const live = this.pump.liveBytes(this.slot);
    return { fromDownstream: this.before.fromDownstream + live[0], fromUpstream: this.before.fromUpstream + live[1] };
  }

  /** Resets both sides now (the drain deadline); the end is still reported through `done`, as `drain`. */
  abort(): void {
    if (this.result === undefined) this.pump.abort(this.slot);
  }

  get ended(): boolean {
    return this.result !== undefined;
  }

  /** Called once by the pump when the addon reports the end (`end`: the C enum's number, see CARRIER_ENDS). */
  finish(end: number, errno: number, fromDownstream: number, fromUpstream: number): void {
    const result: CarrierResult = {
      end: carrierEnd(end),
      bytesFromDownstream: this.before.fromDownstream + fromDownstream,
      bytesFromUpstream: this.before.fromUpstream + fromUpstream,
      errorCode: errnoName(errno),
    };
    this.result = result;
    this.done(result);
  }
}

/** The process's native pump: one addon thread, a table of connection slots. */
export class NativePump {
  readonly counts: NativePumpCounts = { handedOff: 0, fallbacks: new Map() };
  private readonly counters: Float64Array;
  private readonly carriers: Array<NativeCarrier | undefined>;
  private readonly freeSlots: number[];
  private readonly deferRelease: boolean;

  /**
   * @param deferRelease destroy the released sockets from setImmediate (outside
   *   libuv's poll phase); the default is true only on a libuv older than 1.49.
   */
  constructor(
    private readonly addon: SpliceAddon,
    readonly limits: NativePumpLimits = DEFAULT_NATIVE_LIMITS,
    deferRelease = !immediateEpollDelete(),
  ) {
    this.deferRelease = deferRelease;
    this.counters = new Float64Array(limits.slots * 2);
    this.carriers = Array.from<NativeCarrier | undefined>({ length: limits.slots });
    // Popped from the end: slot 0 first, so a quiet process touches few counter pages.
    this.freeSlots = Array.from({ length: limits.slots }, (_, i) => limits.slots - 1 - i);
    addon.start(this.counters, limits.maxPipes, limits.maxSparePipes, (slot, end, errno, down, up) => this.onDone(slot, end, errno, down, up));
  }

  /** Connections the addon owns now. */
  get active(): number {
    return this.limits.slots - this.freeSlots.length;
  }

  /**
   * Hands a connected pair to the addon. Returns the carrier, or why the pair
   * stays with the caller (who then runs the JS pump on it, untouched: any bytes
   * taken out of Node's buffers are put back).
   */
  handOff(downstream: Socket, upstream: Socket, options: CarrierOptions, done: CarrierDone): NativeCarrier | string {
    const down = handleOf(downstream);
    const up = handleOf(upstream);
    if (down === undefined || up === undefined || downstream.destroyed || upstream.destroyed || down.fd < 0 || up.fd < 0) {
      return this.fallback('no_fd');
    }
    // A write still queued in Node (a PROXY header the kernel did not take at once) would be cancelled by the close.
    if (downstream.writableLength > 0 || upstream.writableLength > 0) return this.fallback('pending_write');
    const slot = this.freeSlots.pop();
    if (slot === undefined) return this.fallback('slots');
    // Bytes Node already read (the client is paused from accept, but the endpoint may have spoken): they go first.
    const toUp = takeBuffered(downstream);
    const toDown = takeBuffered(upstream);
    const failure = this.addon.adopt(down.fd, up.fd, slot, options.idleTimeoutMs, options.halfCloseTimeoutMs, toUp, toDown);
    if (failure !== '') {
      this.freeSlots.push(slot);
      // Back to JS as it was: the bytes return to the front of the buffers; the JS pump's resume() restarts reading.
      if (toUp !== undefined) downstream.unshift(toUp);
      if (toDown !== undefined) upstream.unshift(toDown);
      return this.fallback(failure);
    }
    // From here the addon owns the connection. Nothing can be read by libuv before its poll phase, but a
    // deferred release lets one pass: stop reading now.
    stopReading(down);
    stopReading(up);
    const carrier = new NativeCarrier(this, slot, { fromDownstream: downstream.bytesRead, fromUpstream: upstream.bytesRead }, done);
    this.carriers[slot] = carrier;
    this.counts.handedOff++;
    if (this.deferRelease) setImmediate(releaseDeferred, downstream, upstream);
    else {
      release(downstream);
      release(upstream);
    }
    return carrier;
  }

  /** Resets every connection the addon owns; each still reports its end (`drain`). */
  abortAll(): void {
    if (this.active > 0) this.addon.abort();
  }

  /** The addon thread's own figures: connections, pipes, pipe failures, copied chunks. */
  threadStats(): NativeThreadStats {
    return this.addon.stats();
  }

  /** @internal for NativeCarrier */
  liveBytes(slot: number): [number, number] {
    return [this.counters[2 * slot] ?? 0, this.counters[2 * slot + 1] ?? 0];
  }

  /** @internal for NativeCarrier */
  abort(slot: number): void {
    this.addon.abort(slot);
  }

  private fallback(reason: string): string {
    this.counts.fallbacks.set(reason, (this.counts.fallbacks.get(reason) ?? 0) + 1);
    return reason;
  }

  private onDone(slot: number, end: number, errno: number, fromDownstream: number, fromUpstream: number): void {
    const carrier = this.carriers[slot];
    if (carrier === undefined) return; // cannot happen: the addon reports each slot it was given once
    this.carriers[slot] = undefined;
    this.freeSlots.push(slot);
    carrier.finish(end, errno, fromDownstream, fromUpstream);
  }
}

/** Empties a paused socket's read buffer without starting a read. */
function takeBuffered(socket: Socket): Buffer | undefined {
  if (socket.readableLength === 0) return undefined;
  const chunk: unknown = socket.read();
  return Buffer.isBuffer(chunk) && chunk.length > 0 ? chunk : undefined;
}

function stopReading(handle: StreamHandle): void {
  // read() may have asked libuv to start reading; nothing is read before the poll phase, so stopping now loses nothing.
  if (handle.reading === true) handle.reading = false;
  handle.readStop();
}
