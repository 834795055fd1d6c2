import java.util.concurrent.Callable;

/**
 * Idempotent request handling: runs a handler once per (client, key) and replays its
 * response for ttlMillis after it was stored. Must be thread-safe.
 */
public class IdempotencyStore {

    /** Tells the store the current time in milliseconds. Tests inject a fake. */
    public interface Clock {
        long nowMillis();
    }

    /** The key was already used with a different payload (stored or still in flight). */
    public static class ConflictException extends RuntimeException {
        public ConflictException(String message) {
            super(message);
        }
    }

    /** @throws IllegalArgumentException if ttlMillis <= 0 */
    public IdempotencyStore(Clock clock, long ttlMillis) {
        // TODO
    }

    /**
     * Runs handler at most once for (clientId, key) and returns its response.
     * <ul>
     *   <li>stored response, same payload: return it without calling the handler;</li>
     *   <li>stored or in flight, different payload: throw ConflictException at once;</li>
     *   <li>in flight, same payload: wait for it, then return its response or throw its exception;</li>
     *   <li>otherwise: call the handler; store its response, or store nothing if it threw
     *       (the exception is rethrown unchanged).</li>
     * </ul>
     */
    public String execute(String clientId, String key, String payload, Callable<String> handler) throws Exception {
        // TODO
        throw new UnsupportedOperationException("not implemented");
    }

    /** Number of keys held: in flight, or stored and not yet expired. */
    public int size() {
        // TODO
        return 0;
    }
}
