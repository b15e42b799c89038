# A warm worker of the Python calculator (tools/python_tool.h), embedded into
# ponder at build time, sent to the interpreter on stdin and run with
# sys.argv = [-c, ISOLATION, OUTPUT_BYTES, TIMEOUT_S, CPU_S, MEMORY_MB, TMP_MB].
#
# It never runs model code itself: each call runs in a fresh child forked
# from it, so no state passes from one call to the next, and the worker
# outlives whatever a call does. With full isolation it is PID 1 of its
# sandbox: after each call it SIGKILLs every other process in the namespace
# (daemons a call left behind die with it) and empties /tmp.
#
# Protocol on stdin/stdout. Request: u32 length (little-endian), then the code.
# Reply: u8 status, u8 truncated, u32 output length, u32 note length, the
# output (at most OUTPUT_BYTES raw bytes of the call's stdout and stderr),
# then the note (why the call stopped, for the model). The first reply, with
# status READY, carries the Python version instead.
import ast
import builtins
import io
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback

ISOLATED = sys.argv[1] == "full"
OUTPUT_BYTES = int(sys.argv[2])
TIMEOUT_S = float(sys.argv[3])
CPU_S = int(sys.argv[4])
MEMORY_MB = int(sys.argv[5])
TMP_MB = int(sys.argv[6])

OK, ERROR, TIMEOUT, LIMIT, READY = 0, 1, 2, 3, 255
# How a call's child reports what the parent cannot see from its exit.
EXIT_ERROR, EXIT_MEMORY = 1, 2

# Modules calculations commonly use, imported once here so that a call's
# `import` costs a dictionary lookup. Not `random` (nor `statistics`, which
# imports it): imported here, every call would draw the same numbers unless
# reseeded, and a call that imports it itself gets a fresh seed for free.
for module in ("math", "cmath", "fractions", "decimal", "itertools", "functools",
               "collections", "re", "string", "datetime", "json"):
    try:
        __import__(module)
    except ImportError:
        pass


def read_exact(size):
    data = bytearray()
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def send(status, truncated, output, note):
    note = note.encode()
    frame = memoryview(struct.pack("<BBII", status, truncated, len(output), len(note))
                       + bytes(output) + note)
    while frame:
        frame = frame[os.write(1, frame):]


def evaluate(source):
    """Runs the code; the value of a final expression statement is returned."""
    tree = ast.parse(source, "<call>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(tree, "<call>", "exec"), namespace)
    if last is not None:
        return eval(compile(last, "<call>", "eval"), namespace)
    return None


def run_child(source, out_fd, null_fd):
    code = EXIT_ERROR
    try:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.dup2(null_fd, 0)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        if not ISOLATED:
            os.setpgid(0, 0)
        # A fresh process starts at zero CPU time, so the limit is per call.
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S + 1))
        # Line-buffered, so that what a call printed before being stopped is
        # shown. (sys.stdin already reads fd 0, now /dev/null.)
        stream = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True)
        sys.stdout = sys.stderr = stream
        try:
            value = evaluate(source)
            if value is not None:
                print(repr(value))
            code = 0
        except SystemExit as stop:
            if stop.code is None or stop.code == 0:
                code = 0
            else:
                stream.write(f"SystemExit: {stop.code}\n")
        except MemoryError:
            code = EXIT_MEMORY
        except BaseException as error:
            stream.write("".join(traceback.format_exception_only(type(error), error)))
        stream.flush()
    except MemoryError:
        code = EXIT_MEMORY
    except BaseException:
        pass
    os._exit(code)


def drain(fd, output):
    """Reads what the pipe holds into output; False at end of file."""
    while len(output) <= OUTPUT_BYTES:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        output += chunk
    return True


def stop_everything(pid):
    """Kills whatever the call left running and reaps it; returns the call's
    wait status and resource usage."""
    status, usage = 0, None
    if ISOLATED:
        # As PID 1, kill(-1) reaches every other process in the namespace,
        # and every orphan is this process's child to reap.
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                reaped, wait_status, rusage = os.wait4(-1, 0)
            except ChildProcessError:
                break
            if reaped == pid:
                status, usage = wait_status, rusage
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status, usage = os.wait4(pid, 0)
    return status, usage


def seconds(value):
    return f"{value:g}"


def classify(status, usage, timed_out, over):
    """The call's status and the note that explains it."""
    if timed_out:
        return TIMEOUT, f"TimeoutError: the call ran past the {seconds(TIMEOUT_S)} s wall-time limit"
    if over:
        return LIMIT, ""
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == 0:
            return OK, ""
        if code == EXIT_ERROR:
            return ERROR, ""
        if code == EXIT_MEMORY:
            return LIMIT, f"MemoryError: the call ran past the {MEMORY_MB} MiB memory limit"
        return ERROR, f"the call exited with status {code}"
    number = os.WTERMSIG(status)
    cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu >= CPU_S):
        return LIMIT, f"the call ran past the {CPU_S} s CPU-time limit"
    if number == signal.SIGXFSZ:
        return LIMIT, f"the call wrote a file past the {TMP_MB} MiB size limit"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return ERROR, f"the call was killed by {name}"


def run_call(source, null_fd):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        run_child(source, write_fd, null_fd)
    os.close(write_fd)
    if not ISOLATED:
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first
        except OSError:
            pass
    deadline = time.monotonic() + TIMEOUT_S
    pidfd = os.pidfd_open(pid)
    os.set_blocking(read_fd, False)
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    output = bytearray()
    timed_out = over = exited = False
    while not exited and not over:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == pidfd:
                exited = True
            elif not drain(read_fd, output):
                poller.unregister(read_fd)
        over = len(output) > OUTPUT_BYTES
    os.close(pidfd)
    status, usage = stop_everything(pid)
    if not over:
        drain(read_fd, output)
        over = len(output) > OUTPUT_BYTES
    os.close(read_fd)
    result, note = classify(status, usage, timed_out, over)
    return result, over, output[:OUTPUT_BYTES], note


def clear_tmp():
    """Empties /tmp, so the next call finds nothing of this one; False when
    something would not go (the pool then replaces this worker)."""
    try:
        if not os.listdir("/tmp"):
            return True
        for root, dirs, _ in os.walk("/tmp"):  # top-down: open folders before entering
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o700)
        for root, dirs, files in os.walk("/tmp", topdown=False):
            for name in files:
                os.unlink(os.path.join(root, name))
            for name in dirs:
                path = os.path.join(root, name)
                os.unlink(path) if os.path.islink(path) else os.rmdir(path)
        return not os.listdir("/tmp")
    except OSError:
        return False


def main():
    # As PID 1 of a namespace, a signal with the default action is ignored
    # when it comes from inside: a call cannot interrupt the worker.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    null_fd = os.open(os.devnull, os.O_RDWR)
    send(READY, 0, sys.version.split()[0].encode(), "")
    while True:
        header = read_exact(4)
        source = read_exact(struct.unpack("<I", header)[0]) if header else None
        if source is None:
            return  # the pool closed the pipe: stop
        try:
            status, truncated, output, note = run_call(source, null_fd)
        except Exception as error:  # e.g. fork failing: the call fails, the worker lives
            status, truncated, output, note = ERROR, False, b"", f"the sandbox could not run the call: {error}"
        send(status, truncated, output, note)
        if ISOLATED and not clear_tmp():
            return


main()
