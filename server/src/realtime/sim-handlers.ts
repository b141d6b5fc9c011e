import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { fail, ok } from '../../../shared/result';
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
 * change reaches everyone through `broadcastSimEvents` right after the reply.
 */
export function registerSimHandlers(
  _io: IO,
  socket: ClientSocket,
  deps: { simulator: SimulatorService; mayControl?: (socket: ClientSocket) => boolean },
): void {
  const { simulator } = deps;
  const refused = () =>
    deps.mayControl && !deps.mayControl(socket)
      ? fail('unauthorized', 'Log in as admin to start or stop simulations: they write to Redis.')
      : null;
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
