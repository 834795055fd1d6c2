# AceJudge's warm start for Python programs: run by `python3 -I -S -c` before
# the program exists, in the program's own sandbox. It waits for one line on
# the descriptor named by ACEJUDGE_START_FD (the entry file, relative to the
# box), then runs that file as `python3 -I -S FILE` would: a fresh __main__
# with the same names, sys.argv == [FILE], __file__ absolute, the same
# tracebacks (this bootstrap's own frames are left out) and exit status.
def _acejudge_warm_start():
    import builtins
    import os
    import sys

    fd = int(os.environ.pop("ACEJUDGE_START_FD"))
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        line += chunk
    os.close(fd)
    entry = line.decode().strip()
    path = os.path.join(os.getcwd(), entry)
    with open(path, "rb") as source_file:
        source = source_file.read()
    sys.argv[:] = [entry]
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", path)
    main = sys.modules["__main__"].__dict__
    main.clear()
    main.update(
        __name__="__main__",
        __doc__=None,
        __package__=None,
        __loader__=loader,
        __spec__=None,
        __annotations__={},
        __builtins__=builtins,
        __file__=path,
        __cached__=None,
    )

    def without_bootstrap(kind, value, tb, report=sys.excepthook):
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        if isinstance(value, BaseException):
            value = value.with_traceback(tb)
        report(kind, value, tb)

    sys.excepthook = without_bootstrap
    exec(compile(source, path, "exec"), main)


_acejudge_warm_start()
