"""twinrt from Python: the C API (twin.h) through ctypes, numpy arrays in and out. No build step.

    import numpy as np, twinrt
    with twinrt.Twin("configs/plate.yaml") as twin:
        for cycle in range(10):
            twin.ingest(times, sensor_indices, values)    # or a list of sensor names
            advice = twin.step()                          # the config's deadline
            apply(advice.controls)                        # numpy array, inside the envelope

The library is found from $TWINRT_LIBRARY, then two folders up (where `cmake --install` puts
this file: LIBDIR/twinrt/python), then the linker's search path. Failures raise TwinError with the C API's status
and message. docs/embedding.md is the contract: call order, collectiveness, threads, errors.
"""
import ctypes
import ctypes.util
import os
import numpy as np

__all__ = ["Twin", "TwinError", "Advice", "library", "version"]

_STATUS = ["TWIN_OK", "TWIN_ERROR_ARGUMENT", "TWIN_ERROR_CONFIG", "TWIN_ERROR_DATA", "TWIN_ERROR_MPI",
           "TWIN_ERROR_RUNTIME", "TWIN_ERROR_MEMORY"]
_MODES = ["nominal", "fallback", "advisor_off", "safe_hold"]

class Advice:
    """One cycle's advice: controls (numpy array, config order), mode (a name), reason (decoded
    when first read: a control loop that does not look at it does not pay for it)."""

    __slots__ = ("controls", "mode", "_reason")

    def __init__(self, controls, mode, reason):
        self.controls, self.mode, self._reason = controls, mode, reason

    @property
    def reason(self):
        if isinstance(self._reason, bytes):
            self._reason = self._reason.decode(errors="replace")
        return self._reason

    def __repr__(self):
        return "Advice(controls=%r, mode=%r, reason=%r)" % (self.controls, self.mode, self.reason)


class TwinError(RuntimeError):
    """A failed C API call: `status` is the twin_status name, the message says what and where."""

    def __init__(self, status, message):
        self.status = _STATUS[status] if 0 <= status < len(_STATUS) else str(status)
        super().__init__("%s: %s" % (self.status, message))


def _candidates():
    env = os.environ.get("TWINRT_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "..", "..", "libtwinrt.so")
    found = ctypes.util.find_library("twinrt")
    if found:
        yield found


_lib = None


def library():
    """The loaded libtwinrt (loaded once, RTLD_GLOBAL: Open MPI's components need its symbols)."""
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            break
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    else:
        raise OSError("twinrt: libtwinrt.so not found (set TWINRT_LIBRARY): " + "; ".join(errors))
    P, I, D, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_size_t
    # Arrays go as plain addresses (numpy's .ctypes.data): the cheapest conversion per call.
    pd, pi = ctypes.c_void_p, ctypes.c_void_p
    sigs = {
        "twin_version": (None, [ctypes.POINTER(I)] * 3),
        "twin_version_string": (ctypes.c_char_p, []),
        "twin_create": (I, [ctypes.c_char_p, ctypes.POINTER(I), ctypes.c_char_p, ctypes.POINTER(P)]),
        "twin_create_from_yaml": (I, [ctypes.c_char_p, ctypes.POINTER(I), ctypes.c_char_p, ctypes.POINTER(P)]),
        "twin_destroy": (None, [P]),
        "twin_errmsg": (ctypes.c_char_p, [P]),
        "twin_last_error": (ctypes.c_char_p, []),
        "twin_sensor_count": (I, [P]),
        "twin_control_count": (I, [P]),
        "twin_parameter_count": (I, [P]),
        "twin_sensor_name": (ctypes.c_char_p, [P, I]),
        "twin_control_name": (ctypes.c_char_p, [P, I]),
        "twin_parameter_name": (ctypes.c_char_p, [P, I]),
        "twin_control_period": (D, [P]),
        "twin_deadline_ms": (D, [P]),
        "twin_cycle": (I, [P]),
        "twin_time": (D, [P]),
        "twin_ingest": (I, [P, S, pd, pi, pd]),
        "twin_ingest_named": (I, [P, S, pd, ctypes.POINTER(ctypes.c_char_p), pd]),
        "twin_apply_controls": (I, [P, S, pd]),
        "twin_step": (I, [P, D, pd, S, P, ctypes.c_char_p, S]),
        "twin_step_info": (I, [P, P, P, P, P, P]),
        "twin_sensor_estimates": (I, [P, S, pd, pd]),
        "twin_parameter_estimates": (I, [P, S, pd, pd]),
        "twin_save_snapshot": (I, [P, ctypes.c_char_p]),
        "twin_restore": (I, [P, ctypes.c_char_p]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    _lib = lib
    return lib


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return library().twin_version_string().decode()


def _doubles(a, n=None, name="array"):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        raise ValueError("%s: expected a 1-D array%s, got shape %s" % (name, "" if n is None else " of %d" % n, a.shape))
    return a


class Twin:
    """One twin (a twin_runtime handle). Collective methods (constructor, step, save_snapshot,
    restore, close) are called by every rank of `comm` in the same order."""

    def __init__(self, config=None, yaml=None, comm=None, run_dir=None):
        """config: a YAML file's path, or yaml: its text. comm: an MPI communicator as a Fortran
        handle (an int, e.g. mpi4py's comm.py2f()), None for a single process. run_dir: where
        series.h5 and metrics.prom go (None: no files)."""
        self._lib = library()
        if (config is None) == (yaml is None):
            raise ValueError("Twin: give exactly one of config (a path) or yaml (the text)")
        handle = ctypes.c_void_p()
        fcomm = None if comm is None else ctypes.byref(ctypes.c_int(int(comm)))
        rd = None if run_dir is None else os.fsencode(run_dir)
        if config is not None:
            st = self._lib.twin_create(os.fsencode(config), fcomm, rd, ctypes.byref(handle))
        else:
            st = self._lib.twin_create_from_yaml(yaml.encode(), fcomm, rd, ctypes.byref(handle))
        if st != 0:
            raise TwinError(st, self._lib.twin_last_error().decode(errors="replace"))
        self._h = handle
        lib, h = self._lib, self._h
        self.sensors = [lib.twin_sensor_name(h, i).decode() for i in range(lib.twin_sensor_count(h))]
        self.controls = [lib.twin_control_name(h, i).decode() for i in range(lib.twin_control_count(h))]
        self.parameters = [lib.twin_parameter_name(h, i).decode() for i in range(lib.twin_parameter_count(h))]
        self.control_period = lib.twin_control_period(h)
        self.deadline_ms = lib.twin_deadline_ms(h)
        self._index = {name: i for i, name in enumerate(self.sensors)}
        # step's mode and reason, allocated once (their addresses taken once too)
        self._mode = ctypes.c_int()
        self._mode_ref = ctypes.addressof(self._mode)
        self._reason = ctypes.create_string_buffer(512)
        self._info = (ctypes.c_int * 4)()
        self._info_ms = ctypes.c_double()

    def _check(self, status):
        if status != 0:
            raise TwinError(status, self._lib.twin_errmsg(self._h).decode(errors="replace"))

    def _handle(self):
        if self._h is None:
            raise TwinError(1, "the twin is closed")
        return self._h

    @property
    def cycle(self):
        return self._lib.twin_cycle(self._handle())

    @property
    def time(self):
        return self._lib.twin_time(self._handle())

    def ingest(self, times, sensors, values):
        """Queues readings for the next step: times [s], sensors (indices or names), values.
        Bad values are not errors (QC rejects them); an index out of range raises."""
        h = self._handle()
        t = _doubles(times, name="times")
        v = _doubles(values, len(t), "values")
        sensors = list(sensors) if not isinstance(sensors, np.ndarray) else sensors
        if len(sensors) != len(t):
            raise ValueError("ingest: %d times but %d sensors" % (len(t), len(sensors)))
        if len(sensors) and isinstance(sensors[0], str):
            names = (ctypes.c_char_p * len(sensors))(*[s.encode() for s in sensors])
            self._check(self._lib.twin_ingest_named(h, len(t), t.ctypes.data, names, v.ctypes.data))
        else:
            idx = np.ascontiguousarray(sensors, dtype=np.intc)
            self._check(self._lib.twin_ingest(h, len(t), t.ctypes.data, idx.ctypes.data, v.ctypes.data))

    def apply_controls(self, controls):
        """The facility applies these controls (config order) instead of the last advice."""
        c = _doubles(controls, len(self.controls), "controls")
        self._check(self._lib.twin_apply_controls(self._handle(), len(c), c.ctypes.data))

    def step(self, deadline_ms=None, out=None):
        """Runs one cycle (collective) and returns its Advice. `out`: a float64 numpy array of
        len(controls) the controls are written into (no allocation per cycle); by default a new
        array each step."""
        d = self.deadline_ms if deadline_ms is None else float(deadline_ms)
        if out is None:
            out = np.empty(len(self.controls))
        elif out.dtype != np.float64 or out.shape != (len(self.controls),) or not out.flags.c_contiguous:
            raise ValueError("step: out must be a contiguous float64 array of %d" % len(self.controls))
        self._check(self._lib.twin_step(self._handle(), d, out.ctypes.data, len(out), self._mode_ref, self._reason,
                                        len(self._reason)))
        return Advice(out, _MODES[self._mode.value], self._reason.value)

    def step_info(self):
        """The last step's figures: a dict of accepted, rejected, deadline_missed, total_ms, anomaly_flagged."""
        i, base, size = self._info, ctypes.addressof(self._info), ctypes.sizeof(ctypes.c_int)
        self._check(self._lib.twin_step_info(self._handle(), base, base + size, base + 2 * size,
                                             ctypes.addressof(self._info_ms), base + 3 * size))
        return {"accepted": i[0], "rejected": i[1], "deadline_missed": bool(i[2]), "total_ms": self._info_ms.value,
                "anomaly_flagged": bool(i[3])}

    def _estimates(self, fn, n):
        mean, spread = np.empty(n), np.empty(n)
        self._check(fn(self._handle(), n, mean.ctypes.data, spread.ctypes.data))
        return mean, spread

    def sensor_estimates(self):
        """(mean, stated 1-sigma uncertainty) at the sensors after the last step, numpy arrays in config order."""
        return self._estimates(self._lib.twin_sensor_estimates, len(self.sensors))

    def parameter_estimates(self):
        """(mean, stated 1-sigma uncertainty) of the estimated parameters (ensemble.parameters order)."""
        return self._estimates(self._lib.twin_parameter_estimates, len(self.parameters))

    def save_snapshot(self, state_dir):
        self._check(self._lib.twin_save_snapshot(self._handle(), os.fsencode(state_dir)))

    def restore(self, state_dir):
        self._check(self._lib.twin_restore(self._handle(), os.fsencode(state_dir)))

    def close(self):
        """Releases the twin (collective); also on leaving a `with` block."""
        if getattr(self, "_h", None) is not None:
            self._lib.twin_destroy(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
