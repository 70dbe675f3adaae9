-- Loaded by bench/lib.py with `wrk -s`: after the run, print one line the Python side parses.
-- Latencies are in microseconds; errors.status counts responses outside 2xx and 3xx.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d "
    .. "mean=%.1f max=%d p50=%d p75=%d p90=%d p95=%d p99=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(95), latency:percentile(99)))
end
