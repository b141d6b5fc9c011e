import type { Server, Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/events';
import { fail, ok, type ApiError } from '../../../shared/result';
import type { AuditInput } from '../admin/index';
import { parseSimConfig } from '../simulator/config';
import { describeSimConfig, describeSimSummary } from '../simulator/describe';
import { SimulatorError, type SimulatorService } from '../simulator/service';

type IO = Server<ClientToServerEvents, ServerToClientEvents>;
type ClientSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

export interface SimHandlerDeps {
  simulator: SimulatorService;
  /** Why this socket may not control the simulator (not logged in, not a loopback host name, read-only), or null. */
  refusal?: (socket: ClientSocket) => ApiError | null;
  /** Audits a start, a stop or a refusal as this socket's actor. */
  audit?: (socket: ClientSocket, input: Omit<AuditInput, 'actor' | 'ip'>) => void;
}

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
 * its reason (`simulator_disabled`, the same sentence the panel shows). Starts, stops and refusals by
 * `refusal` are audited.
 */
export function registerSimHandlers(_io: IO, socket: ClientSocket, deps: SimHandlerDeps): void {
  const { simulator } = deps;
  const refused = (action: 'sim-start' | 'sim-stop') => {
    const { availability } = simulator.state();
    if (!availability.enabled) return fail('simulator_disabled', availability.reason);
    const why = deps.refusal?.(socket);
    if (!why) return null;
    deps.audit?.(socket, { action, result: 'refused', error: why });
    return fail(why.code, why.message);
  };
  socket.emit('sim:state', simulator.state());

  socket.on('sim:start', async (input, ack) => {
    if (typeof ack !== 'function') return;
    const denied = refused('sim-start');
    if (denied) return ack(denied);
    const parsed = parseSimConfig(input);
    if (!parsed.ok) return ack(fail('bad_request', `Invalid simulator settings: ${parsed.problems.join('; ')}`));
    try {
      const state = await simulator.start(parsed.config);
      deps.audit?.(socket, { action: 'sim-start', result: 'started', detail: describeSimConfig(state.config ?? parsed.config) });
      ack(ok(state));
    } catch (err) {
      ack(err instanceof SimulatorError ? fail(err.code, err.message) : fail('internal', 'The simulation could not start.'));
    }
  });

  socket.on('sim:stop', async (ack) => {
    if (typeof ack !== 'function') return;
    const denied = refused('sim-stop');
    if (denied) return ack(denied);
    try {
      const summary = await simulator.stop();
      deps.audit?.(socket, { action: 'sim-stop', result: 'stopped', detail: describeSimSummary(summary) });
      ack(ok(summary));
    } catch (err) {
      ack(err instanceof SimulatorError ? fail(err.code, err.message) : fail('internal', 'The simulation could not be stopped.'));
    }
  });
}
