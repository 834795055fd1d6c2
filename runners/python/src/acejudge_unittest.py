"""AceJudge's unittest driver, placed in the box by the Python runner.

Does what `python3 -I -S -m unittest discover -s . -p 'test_*.py' -v` does (the
same discovery, the same verbose output on stderr, the same exit status) and
also appends one JSON line per test to .acejudge-report.jsonl the moment the
test starts and ends, with a single write each, so a run killed mid-suite keeps
every result reported so far.
"""

import json
import os
import sys
import time
import traceback
import unittest

REPORT = ".acejudge-report.jsonl"


def main():
    fd = os.open(REPORT, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)

    def emit(record):
        os.write(fd, (json.dumps(record) + "\n").encode("utf-8", "replace"))

    def name_of(test):
        if isinstance(test, unittest.loader._FailedTest):
            return "%s (could not be imported)" % test._testMethodName
        return test.id()

    def location(tb):
        """The innermost frame in a file of the box, as `File "x.py", line N, in f`."""
        here = os.getcwd() + os.sep
        found = None
        for frame in traceback.extract_tb(tb):
            if frame.filename.startswith(here) and not frame.filename.endswith("acejudge_unittest.py"):
                found = frame
        if found is None:
            return ""
        return '\n  File "%s", line %d, in %s' % (os.path.basename(found.filename), found.lineno, found.name)

    class Result(unittest.TextTestResult):
        def startTest(self, test):
            self._acejudge_started = time.perf_counter()
            emit({"event": "start", "name": name_of(test)})
            super().startTest(test)

        def _record(self, test, status, message=None):
            started = getattr(self, "_acejudge_started", None)
            duration = None if started is None else round((time.perf_counter() - started) * 1000, 3)
            emit({"name": name_of(test), "status": status, "duration_ms": duration, "message": message})

        def addSuccess(self, test):
            super().addSuccess(test)
            self._record(test, "pass")

        def addFailure(self, test, err):
            super().addFailure(test, err)
            exc = "".join(traceback.format_exception_only(err[0], err[1])).strip()
            self._record(test, "fail", exc + location(err[2]))

        def addError(self, test, err):
            super().addError(test, err)
            self._record(test, "error", self._exc_info_to_string(err, test).strip())

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            self._record(test, "skipped", reason)

        def addExpectedFailure(self, test, err):
            super().addExpectedFailure(test, err)
            self._record(test, "pass", "failed as expected")

        def addUnexpectedSuccess(self, test):
            super().addUnexpectedSuccess(test)
            self._record(test, "fail", "passed, but was marked as an expected failure")

        def addSubTest(self, test, subtest, err):
            super().addSubTest(test, subtest, err)
            if err is None:
                return
            if issubclass(err[0], test.failureException):
                exc = "".join(traceback.format_exception_only(err[0], err[1])).strip()
                self._record(subtest, "fail", exc + location(err[2]))
            else:
                self._record(subtest, "error", self._exc_info_to_string(err, test).strip())

    runner = unittest.TextTestRunner(resultclass=Result, verbosity=2)
    argv = ["python -m unittest", "discover"] + sys.argv[1:]
    program = unittest.main(module=None, argv=argv, testRunner=runner, exit=False)
    result = program.result
    emit({"event": "end", "tests_run": result.testsRun})
    os.close(fd)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
