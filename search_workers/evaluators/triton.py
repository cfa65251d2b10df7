"""The Evaluator over Triton Inference Server (gRPC): the one module that knows Triton's wire format.

Every tensor name, dtype and shape that crosses the wire lives here; `models.triton_export`
renders `config.pbtxt` from `wire_tensors` below, so the server's model and this client
cannot drift apart. Per model (always a batching model, `max_batch_size > 0`; shapes are per
row, Triton adds the leading batch dimension -1):

    input  "features"       TYPE_FP32  [C, N, N]   feature planes (search_workers.go.features)
    output "policy_logits"  TYPE_FP32  [N*N+1]     raw logits, pass last; masking/softmax are done here
    output "value"          TYPE_FP32  [1]         tanh value for the side to move

"value" is [1] on the wire, not []: Triton's batching models need at least one dimension per
row, and the network returns value [B], so the config adds `reshape { shape: [ ] }` (the model
produces [B], clients see [B, 1]). The output order matters for the libtorch backend: output
names without "__<index>" are bound by config order (its STRICT_CONFIG_ORDERING), so
policy_logits must stay first, as in `PolicyValueNet.forward`'s tuple.

Softmax happens client-side in float64 over the legal moves only, so servers never see legal
masks (the wire stays one input) and illegal moves get exactly 0.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Self

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from search_workers.go.features import NUM_FEATURE_PLANES
from search_workers.search.evaluator import EvaluationError, EvaluatorUnavailableError

INPUT_FEATURES = "features"
OUTPUT_POLICY_LOGITS = "policy_logits"
OUTPUT_VALUE = "value"
WIRE_DTYPE = "FP32"  # tritonclient / metadata spelling
CONFIG_DTYPE = "TYPE_FP32"  # config.pbtxt spelling of the same type
NUMPY_DTYPE = np.float32

log = logging.getLogger(__name__)

DEFAULT_URL = "127.0.0.1:8001"
DEFAULT_TIMEOUT_S = 10.0  # per gRPC call; a 9x9 batch of 256 takes milliseconds on a GPU
DEFAULT_MAX_RETRIES = 3  # attempts after the first while the server is UNAVAILABLE
DEFAULT_BACKOFF_S = 0.1  # first retry delay; doubles each retry (0.1, 0.2, 0.4: under a second)
DEFAULT_INFLIGHT = 4  # concurrent requests per evaluator: enough to overlap transfer and compute
MAX_BACKOFF_S = 2.0  # the longest pause between two tries while waiting out an outage (wait_s)

# gRPC status codes (as tritonclient spells them) that mean "no server there right now".
_UNAVAILABLE = ("StatusCode.UNAVAILABLE",)
# What a server that is up but does not hold the model answers an inference with (it restarted
# without it, or it was unloaded): the model must be loaded again, then the request retried.
_MODEL_MISSING = ("unknown model", "is not found", "not ready", "no available versions", "is not loaded")


class TensorSpec(NamedTuple):
    """One wire tensor: dims per batch row; `reshape` is what the model itself sees (None: dims)."""

    name: str
    dims: tuple[int, ...]
    reshape: tuple[int, ...] | None = None


def wire_tensors(board_size: int, input_planes: int = NUM_FEATURE_PLANES) -> tuple[tuple[TensorSpec, ...],
                                                                                   tuple[TensorSpec, ...]]:
    """(inputs, outputs) of a model for N = board_size; outputs in the network's return order."""
    inputs = (TensorSpec(INPUT_FEATURES, (input_planes, board_size, board_size)),)
    outputs = (TensorSpec(OUTPUT_POLICY_LOGITS, (board_size * board_size + 1,)),
               TensorSpec(OUTPUT_VALUE, (1,), reshape=()))
    return inputs, outputs


class TritonEvaluatorError(RuntimeError):
    """The server or the model cannot serve this evaluator (not a bad network output)."""


class TritonUnavailableError(TritonEvaluatorError, EvaluatorUnavailableError):
    """No server answered at the URL, even after the retries."""


class TritonModelError(TritonEvaluatorError):
    """The model is missing, not ready, or its inputs/outputs differ from the wire format."""


@dataclass(frozen=True)
class ServerStatistics:
    """Cumulative counters of one model version since it was loaded (Triton's statistics API).

    inference_count counts rows (a request of batch 8 adds 8), execution_count counts model
    executions, request_count successful requests. Merged requests show as
    execution_count < request_count; mean_batch is the rows per execution.
    """

    model: str
    version: str
    request_count: int
    inference_count: int
    execution_count: int
    queue_ns: int  # total time requests waited in the scheduler queue
    compute_infer_ns: int  # total time spent in model execution
    batch_sizes: dict[int, int] = field(default_factory=dict)  # executed batch size -> executions

    @property
    def mean_batch(self) -> float:
        return self.inference_count / self.execution_count if self.execution_count else 0.0


def _is_unavailable(error: BaseException) -> bool:
    return isinstance(error, InferenceServerException) and error.status() in _UNAVAILABLE


def _is_model_missing(error: BaseException) -> bool:
    if not isinstance(error, InferenceServerException):
        return False
    text = (error.message() or "").lower()
    return error.status() == "StatusCode.NOT_FOUND" or any(words in text for words in _MODEL_MISSING)


def _shape(dims) -> list[int]:
    return [int(d) for d in dims]


class _Pending:
    """One chunk's request: filled by the gRPC callback thread, awaited by the caller."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result = None
        self.error: BaseException | None = None


class TritonEvaluator:
    """Evaluator (search_workers.search.Evaluator) backed by a Triton model over gRPC.

    evaluate(features [B, C, N, N] float32, legal [B, N*N+1] bool)
        -> (policy [B, N*N+1] float32, value [B] float32)

    A batch of at most `chunk_size` rows (default: the model's max_batch_size) is one blocking
    request on the calling thread; larger batches are split and sent with async_infer, at most
    `inflight` requests at once per evaluator (shared by all threads), and reassembled in order.
    Thread-safe: MCTS workers may share one instance.

    Outages (ARENA_TRITON_WAIT_S): while the server is UNAVAILABLE, a call is retried with
    exponential backoff (`backoff_s` doubling, at most MAX_BACKOFF_S apart) for `max_retries`
    tries and at least `wait_s` seconds, on a fresh gRPC channel each time (a channel that saw
    its server go keeps its own, much longer, reconnect backoff). A server that answers but has
    lost the model (restarted without it) gets `reload()` called, the way registration loads a
    model, and the request is retried within the same bound. Games in play thus wait for a
    restarting server instead of failing.
    """

    def __init__(self, url: str = DEFAULT_URL, *, model_name: str, model_version: str = "",
                 board_size: int, input_planes: int = NUM_FEATURE_PLANES,
                 timeout_s: float = DEFAULT_TIMEOUT_S, max_retries: int = DEFAULT_MAX_RETRIES,
                 backoff_s: float = DEFAULT_BACKOFF_S, inflight: int = DEFAULT_INFLIGHT,
                 chunk_size: int | None = None, wait_s: float = 0.0,
                 reload: Callable[[], None] | None = None):
        if not model_name:
            raise ValueError("model_name must be a model of the server's repository")
        if timeout_s <= 0 or max_retries < 0 or backoff_s < 0 or inflight < 1:
            raise ValueError(f"bad settings: timeout_s={timeout_s}, max_retries={max_retries}, "
                             f"backoff_s={backoff_s}, inflight={inflight}")
        self.url, self.model_name, self.model_version = url, model_name, str(model_version)
        self.board_size, self.input_planes = board_size, input_planes
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.wait_s, self._reload = max(0.0, wait_s), reload
        # One InferInput and one output list for all calls: async_infer serialises the request
        # before it returns, so after that the objects are free for the next chunk. The lock
        # keeps two threads from filling the same InferInput at once (and guards the client swap).
        self._submit_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._reloaded_at = -math.inf
        self._client = grpcclient.InferenceServerClient(url=url)
        try:
            self.max_batch_size = self._check_model()
        except BaseException:
            self._client.close()
            raise
        if chunk_size is not None and not 1 <= chunk_size <= self.max_batch_size:
            self._client.close()
            raise ValueError(f"chunk_size must be in [1, {self.max_batch_size}] (the model's max_batch_size)")
        self.chunk_size = chunk_size or self.max_batch_size
        self._slots = threading.BoundedSemaphore(inflight)
        self._input = grpcclient.InferInput(INPUT_FEATURES, [1, input_planes, board_size, board_size], WIRE_DTYPE)
        self._outputs = [grpcclient.InferRequestedOutput(OUTPUT_POLICY_LOGITS),
                         grpcclient.InferRequestedOutput(OUTPUT_VALUE)]
        self._closed = False

    # ---- construction-time checks -------------------------------------------------------

    def _retrying(self, what: str, call):
        """call() with exponential backoff while the server is UNAVAILABLE, then a clear error."""
        start = time.monotonic()
        attempt = 0
        while True:
            try:
                return call()
            except InferenceServerException as error:
                if not _is_unavailable(error):
                    raise
                if not self._pause(attempt, start):
                    raise TritonUnavailableError(
                        f"Triton at {self.url} is unavailable ({what}): {attempt + 1} attempts over "
                        f"{time.monotonic() - start:.2f}s; last error: {error.message()}") from error
                attempt += 1

    def _pause(self, attempt: int, start: float) -> bool:
        """After failed try number `attempt` (0-based): sleep the backoff and reconnect, True; or
        False when the tries and `wait_s` are both spent."""
        elapsed = time.monotonic() - start
        if attempt >= self.max_retries and elapsed >= self.wait_s:
            return False
        delay = min(self.backoff_s * 2 ** attempt, MAX_BACKOFF_S)
        if attempt >= self.max_retries:  # only the wait is left: do not sleep past it
            delay = min(delay, max(0.0, self.wait_s - elapsed))
        time.sleep(delay)
        if attempt >= 1:
            self._reconnect()
        return True

    def _reconnect(self) -> None:
        """A fresh gRPC client: the old channel may sit in a long reconnect backoff. Calls still
        in flight on the old one finish there; it is closed when nothing refers to it any more."""
        with self._submit_lock:
            self._client = grpcclient.InferenceServerClient(url=self.url)

    def _model_label(self) -> str:
        return f"'{self.model_name}'" + (f" version {self.model_version}" if self.model_version else "")

    def _check_model(self) -> int:
        """Check liveness, readiness and the wire format; return the model's max_batch_size."""
        t = self.timeout_s
        if not self._retrying("checking liveness", lambda: self._client.is_server_live(client_timeout=t)):
            raise TritonUnavailableError(f"Triton at {self.url} answers but is not live")
        ready = self._retrying("checking the model", lambda: self._client.is_model_ready(
            self.model_name, self.model_version, client_timeout=t))
        if not ready:
            index = self._client.get_model_repository_index(client_timeout=t)
            listing = ", ".join(f"{m.name} v{m.version or '-'} {m.state or 'UNLOADED'}"
                                + (f" ({m.reason})" if m.reason else "") for m in index.models) or "empty"
            raise TritonModelError(f"Triton at {self.url} has no ready model {self._model_label()}; "
                                   f"models in its repository index: {listing}")
        meta = self._client.get_model_metadata(self.model_name, self.model_version, client_timeout=t)
        config = self._client.get_model_config(self.model_name, self.model_version, client_timeout=t).config
        problems = []
        if config.max_batch_size < 1:
            problems.append(f"max_batch_size is {config.max_batch_size}, a batching model (> 0) is required")
        inputs, outputs = wire_tensors(self.board_size, self.input_planes)
        served = {"input": {x.name: x for x in meta.inputs}, "output": {x.name: x for x in meta.outputs}}
        for kind, expected in (("input", inputs), ("output", outputs)):
            for spec in expected:
                got = served[kind].get(spec.name)
                want_shape = [-1, *spec.dims]
                if got is None:
                    problems.append(f"{kind} '{spec.name}' is missing (it has {sorted(served[kind])})")
                elif got.datatype != WIRE_DTYPE or _shape(got.shape) != want_shape:
                    problems.append(f"{kind} '{spec.name}' is {got.datatype} {_shape(got.shape)}, expected "
                                    f"{WIRE_DTYPE} {want_shape}")
        extra = sorted(set(served["input"]) - {s.name for s in inputs})
        if extra:
            problems.append(f"unexpected inputs {extra}")
        if problems:
            raise TritonModelError(f"Triton model {self._model_label()} at {self.url} does not match a "
                                   f"{self.board_size}x{self.board_size} evaluator with {self.input_planes} "
                                   f"planes: " + "; ".join(problems))
        return int(config.max_batch_size)

    # ---- evaluation ---------------------------------------------------------------------

    def evaluate(self, features: np.ndarray, legal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """features [B, C, N, N] float32, legal [B, N*N+1] bool -> policy [B, N*N+1] f32, value [B] f32."""
        if self._closed:
            raise RuntimeError("TritonEvaluator is closed")
        n, moves = self.board_size, self.board_size ** 2 + 1
        features = np.ascontiguousarray(features, dtype=NUMPY_DTYPE)
        legal = np.asarray(legal, dtype=bool)
        batch = features.shape[0] if features.ndim == 4 else -1
        if features.shape[1:] != (self.input_planes, n, n) or legal.shape != (batch, moves):
            raise ValueError(f"expected features [B, {self.input_planes}, {n}, {n}] and legal [B, {moves}], "
                             f"got {features.shape} and {legal.shape}")
        if batch == 0:
            return np.zeros((0, moves), np.float32), np.zeros(0, np.float32)
        if not legal.any(axis=1).all():
            raise ValueError("every position needs at least one legal move (pass is always legal)")
        logits, value = self._infer(features)
        source = self._model_label()
        return _masked_softmax(logits, legal, source=source), _check_value(value, source)

    def _infer(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw (policy_logits [B, N*N+1], value [B]) from the server, chunked and in order."""
        batch, moves = features.shape[0], self.board_size ** 2 + 1
        bounds = [(s, min(s + self.chunk_size, batch)) for s in range(0, batch, self.chunk_size)]
        logits = np.empty((batch, moves), NUMPY_DTYPE)
        value = np.empty(batch, NUMPY_DTYPE)
        todo, start, attempt = list(range(len(bounds))), time.monotonic(), 0
        while True:
            if len(todo) == 1:  # the usual case: one request, sent and awaited on this thread
                pending = [(todo[0], self._call(features[slice(*bounds[todo[0]])]))]
            else:
                pending = [(i, self._submit(features[slice(*bounds[i])])) for i in todo]
            todo, last_error, missing = [], None, False
            for i, call in pending:
                # The client_timeout fires the callback; the extra wait only guards a lost callback.
                if not call.done.wait(self.timeout_s + 5.0):
                    raise TritonEvaluatorError(f"no answer from {self.url} for {self._model_label()} "
                                               f"within {self.timeout_s + 5.0:.1f}s")
                if call.error is not None:
                    gone = self._reload is not None and _is_model_missing(call.error)
                    if not gone and not _is_unavailable(call.error):
                        raise TritonEvaluatorError(f"inference on {self._model_label()} at {self.url} failed: "
                                                   f"{call.error}") from call.error
                    todo.append(i)
                    last_error, missing = call.error, missing or gone
                    continue
                lo, hi = bounds[i]
                logits[lo:hi], value[lo:hi] = self._unpack(call.result, hi - lo)
            if not todo:
                return logits, value
            if missing:
                self._load_again(last_error)
            if not self._pause(attempt, start):
                break
            attempt += 1
        raise TritonUnavailableError(
            f"Triton at {self.url} is unavailable (inference on {self._model_label()}): {attempt + 1} "
            f"attempts over {time.monotonic() - start:.2f}s; last error: {last_error}") from last_error

    def _load_again(self, error: BaseException | None) -> None:
        """The server lost the model: load it again (one thread at a time; the others wait and
        then find it loaded). A failure is logged and the wait goes on: the server may still be
        starting."""
        with self._reload_lock:
            if time.monotonic() - self._reloaded_at < 1.0:
                return  # another thread just did
            log.warning("Triton at %s lost model %s (%s); loading it again", self.url, self._model_label(), error)
            try:
                assert self._reload is not None
                self._reload()
            except Exception as exc:  # noqa: BLE001 -- retried within wait_s
                log.warning("loading %s again failed: %s", self._model_label(), exc)
            self._reloaded_at = time.monotonic()

    def _call(self, rows: np.ndarray) -> _Pending:
        """One blocking request on the calling thread. Cheaper than `_submit` for a single
        chunk: grpcio's future API starts a thread per call to drive the channel; a request cost
        its client about 0.9 ms of CPU that way against 0.6 ms blocking (docs/benchmarks.md)."""
        call = _Pending()
        request = grpcclient.InferInput(INPUT_FEATURES, list(rows.shape), WIRE_DTYPE)  # per call: threads share self
        with self._slots:
            try:
                request.set_data_from_numpy(rows)
                call.result = self._client.infer(self.model_name, [request], model_version=self.model_version,
                                                 outputs=self._outputs, client_timeout=self.timeout_s)
            except Exception as error:  # noqa: BLE001 - reported through the chunk like any failure
                call.error = error
        call.done.set()
        return call

    def _submit(self, rows: np.ndarray) -> _Pending:
        call = _Pending()

        def done(result, error) -> None:  # runs on a gRPC thread
            call.result, call.error = result, error
            self._slots.release()
            call.done.set()

        self._slots.acquire()  # bounds requests in flight: waits for an earlier chunk's answer
        try:
            with self._submit_lock:
                self._input.set_shape(list(rows.shape))
                self._input.set_data_from_numpy(rows)
                self._client.async_infer(self.model_name, [self._input], done, model_version=self.model_version,
                                         outputs=self._outputs, client_timeout=self.timeout_s)
        except Exception as error:  # noqa: BLE001 - reported through the chunk like any failure
            done(None, error)
        return call

    def _unpack(self, result, rows: int) -> tuple[np.ndarray, np.ndarray]:
        logits = result.as_numpy(OUTPUT_POLICY_LOGITS)
        value = result.as_numpy(OUTPUT_VALUE)
        moves = self.board_size ** 2 + 1
        if logits is None or value is None or logits.shape != (rows, moves) or value.size != rows:
            raise EvaluationError(f"{self._model_label()} returned policy_logits "
                                  f"{None if logits is None else logits.shape} and value "
                                  f"{None if value is None else value.shape} for {rows} rows; expected "
                                  f"({rows}, {moves}) and ({rows}, 1)")
        return logits, value.reshape(rows)

    # ---- statistics and lifetime --------------------------------------------------------

    def server_statistics(self, model: str | None = None, version: str | None = None) -> ServerStatistics:
        """Triton's cumulative counters for `model` (default: this evaluator's model)."""
        name = model or self.model_name
        version = self.model_version if version is None else version
        reply = self._retrying("reading statistics", lambda: self._client.get_inference_statistics(
            name, version, client_timeout=self.timeout_s))
        if not reply.model_stats:
            raise TritonModelError(f"Triton at {self.url} has no statistics for model '{name}'")
        stats = reply.model_stats[0]
        return ServerStatistics(
            model=stats.name, version=stats.version, request_count=int(stats.inference_stats.success.count),
            inference_count=int(stats.inference_count), execution_count=int(stats.execution_count),
            queue_ns=int(stats.inference_stats.queue.ns), compute_infer_ns=int(stats.inference_stats.compute_infer.ns),
            batch_sizes={int(b.batch_size): int(b.compute_infer.count) for b in stats.batch_stats})

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"TritonEvaluator(url={self.url!r}, model_name={self.model_name!r}, "
                f"model_version={self.model_version!r}, board_size={self.board_size})")


def _masked_softmax(logits: np.ndarray, legal: np.ndarray, *, source: str) -> np.ndarray:
    """Softmax of logits [B, M] over legal [B, M] only, in float64; illegal moves get exactly 0."""
    if not np.isfinite(logits).all():
        rows = np.flatnonzero(~np.isfinite(logits).all(axis=1))[:5].tolist()
        raise EvaluationError(f"{source} returned non-finite policy logits for positions {rows}")
    masked = np.where(legal, logits.astype(np.float64), -math.inf)
    weights = np.exp(masked - masked.max(axis=1, keepdims=True))  # exp(-inf) = 0 on illegal moves
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _check_value(value: np.ndarray, source: str) -> np.ndarray:
    if not np.isfinite(value).all():
        raise EvaluationError(f"{source} returned a non-finite value for positions "
                              f"{np.flatnonzero(~np.isfinite(value))[:5].tolist()}")
    return value
