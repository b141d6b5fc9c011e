import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { fail, ok, type ApiError } from '../../../shared/result';
import { parseSimConfig } from '../simulator/config';
import { SimulatorError, type SimulatorService } from '../simulator/service';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** Pushes the simulator's state changes and live stats to every browser. Call once per app; returns an unbinder. */
export function broadcastSimEvents(io: IO, simulator: SimulatorService): () => void {
  const onState = (state: Parameters<ServerToClientEvents['sim:state']>[0]) => io.emit('sim:state', state);
  const onStats = (stats: Parameters<ServerToClientEvents['sim:stats']>[0]) => io.emit('sim:stats', stats);
  simulator.on('state', onState);
  simulator.on('stats', onStats);
  return () => {
    simulator.off('state', onState);
    simulator.off('stats', onStats);
  };
}

/**
 * `sim:*` requests from one browser: every payload is validated, every request answered; the resulting state
 * change reaches everyone through `broadcastSimEvents` right after the reply. A disabled simulator answers with
 * its reason (`simulator_disabled`, the same sentence the panel shows); `refusal` says why this socket may not
 * control it (not logged in, not a loopback host name, read-only), or null when it may.
 */
export function registerSimHandlers(
  _io: IO,
  socket: ClientSocket,
  deps: { simulator: SimulatorService; refusal?: (socket: ClientSocket) => ApiError | null },
): void {
  const { simulator } = deps;
  const refused = () => {
    const { availability } = simulator.state();
    if (!availability.enabled) return fail('simulator_disabled', availability.reason);
    const why = deps.refusal?.(socket);
    return why ? fail(why.code, why.message) : null;
  };
  socket.emit('sim:state', simulator.state());

  socket.on('sim:start', async (input, ack) => {
    if (typeof ack !== 'function') return;
    const denied = refused();
    if (denied) return ack(denied);
    const parsed = parseSimConfig(input);
    if (!parsed.ok) return ack(fail('bad_request', `Invalid simulator settings: ${parsed.problems.join('; ')}`));
    try {
      ack(ok(await simulator.start(parsed.config)));
    } catch (err) {
      ack(err instanceof SimulatorError ? fail(err.code, err.message) : fail('internal', 'The simulation could not start.'));
    }
  });

  socket.on('sim:stop', async (ack) => {
    if (typeof ack !== 'function') return;
    const denied = refused();
    if (denied) return ack(denied);
    try {
      ack(ok(await simulator.stop()));
    } catch (err) {
      ack(err instanceof SimulatorError ? fail(err.code, err.message) : fail('internal', 'The simulation could not be stopped.'));
    }
  });
}
