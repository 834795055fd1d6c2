// AceJudge's JUnit Platform listener, placed in the box by the Java runner and
// registered through META-INF/services, so the console launcher runs exactly
// as challenges/FORMAT.md says. It appends one JSON line per test to
// .acejudge-report.jsonl when the test starts and when it ends, with a single
// write each, so a run killed mid-suite keeps every result reported so far.
package acejudge;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

public class AceJudgeListener implements TestExecutionListener {
    private static final String REPORT = ".acejudge-report.jsonl";
    private final Map<String, Long> started = new ConcurrentHashMap<>();
    private FileOutputStream out;
    private TestPlan plan;

    private synchronized void emit(String json) {
        try {
            if (out == null) {
                out = new FileOutputStream(REPORT, true);
            }
            out.write((json + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            System.err.println("acejudge: cannot write the report: " + e);
        }
    }

    @Override
    public void testPlanExecutionStarted(TestPlan testPlan) {
        plan = testPlan;
    }

    @Override
    public void testPlanExecutionFinished(TestPlan testPlan) {
        emit("{\"event\":\"end\"}");
    }

    @Override
    public void executionStarted(TestIdentifier id) {
        started.put(id.getUniqueId(), System.nanoTime());
        if (id.isTest()) {
            emit("{\"event\":\"start\",\"name\":" + quote(name(id)) + "}");
        }
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
        if (id.isTest()) {
            emit(record(id, "skipped", null, reason));
        }
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        Optional<Throwable> thrown = result.getThrowable();
        switch (result.getStatus()) {
            case SUCCESSFUL:
                if (id.isTest()) {
                    emit(record(id, "pass", elapsed(id), null));
                }
                break;
            case ABORTED:
                if (id.isTest()) {
                    emit(record(id, "skipped", elapsed(id), thrown.map(Throwable::getMessage).orElse("aborted")));
                }
                break;
            default:
                // A container fails by itself when a @BeforeAll or its class cannot load.
                boolean assertion = thrown.map(t -> t instanceof AssertionError).orElse(false);
                String status = id.isTest() && assertion ? "fail" : "error";
                String message = thrown.map(t -> describe(t, assertion)).orElse("failed");
                emit(record(id, status, elapsed(id), message));
        }
    }

    private Double elapsed(TestIdentifier id) {
        Long t0 = started.get(id.getUniqueId());
        return t0 == null ? null : (System.nanoTime() - t0) / 1e6;
    }

    private String name(TestIdentifier id) {
        List<String> parts = new ArrayList<>();
        TestIdentifier current = id;
        while (current != null) {
            Optional<TestIdentifier> parent = plan == null ? Optional.empty() : plan.getParent(current);
            if (!parent.isPresent()) {
                break; // the engine ("JUnit Jupiter") is not part of the name
            }
            parts.add(current.getDisplayName());
            current = parent.get();
        }
        if (parts.isEmpty()) {
            parts.add(id.getDisplayName());
        }
        Collections.reverse(parts);
        return String.join(" > ", parts);
    }

    private String record(TestIdentifier id, String status, Double ms, String message) {
        return "{\"name\":" + quote(name(id)) + ",\"status\":\"" + status + "\",\"duration_ms\":"
                + (ms == null ? "null" : String.format(java.util.Locale.ROOT, "%.3f", ms)) + ",\"message\":"
                + (message == null ? "null" : quote(message)) + "}";
    }

    /** An assertion: its message and where in the user's tests it failed. Else: the stack trace, trimmed. */
    private static String describe(Throwable t, boolean assertion) {
        StringBuilder sb = new StringBuilder(t.toString());
        int frames = 0;
        for (StackTraceElement e : t.getStackTrace()) {
            String c = e.getClassName();
            if (c.startsWith("org.junit.") || c.startsWith("java.") || c.startsWith("jdk.")
                    || c.startsWith("sun.") || c.startsWith("org.opentest4j.") || c.startsWith("acejudge.")) {
                continue;
            }
            sb.append("\n\tat ").append(e);
            if (++frames == (assertion ? 1 : 8)) {
                break;
            }
        }
        Throwable cause = t.getCause();
        if (!assertion && cause != null && cause != t) {
            sb.append("\nCaused by: ").append(cause);
        }
        return sb.toString();
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }
}
