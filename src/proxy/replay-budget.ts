import { ShareBudget } from '../util/share-budget.js';
import { defaultEndpointWindowsConfig } from '../config/endpoint-windows.js';

/**
 * Request bytes the router keeps for a transparent retry after it has passed them on, over the
 * process, with a share per client address (counted in its ClientUsage's `replayBytes`).
 *
 * A call keeps up to 64 KiB of its request until an endpoint answers, so a refused stream can be
 * replayed on another endpoint. Passed on, those bytes have left every window and read budget, so
 * kept copies were bounded by nothing but the calls: a pod with 5,000 calls that each sent 64 KiB
 * to an endpoint that had not answered yet held 320 MB. Past the budget, or its client's share, a
 * call keeps nothing more for a replay: it is still served, but not retried on another endpoint.
 * Sized by `endpointWindows.replayBytes` and `replayBytesPerClient` (`configureEndpointWindows`).
 */
const DEFAULTS = defaultEndpointWindowsConfig();
export const REPLAY_BUDGET = new ShareBudget('replayBytes', DEFAULTS.replayBytes, DEFAULTS.replayBytesPerClient);
