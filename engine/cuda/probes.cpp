#include "engine/cuda/probes.h"

#include <algorithm>
#include <vector>

#include <cuda_runtime.h>

#include "engine/cuda/convert.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemm.h"

namespace yardstick::cuda {

namespace {

// Median milliseconds of `reps` runs of fn on stream, each timed with its own events.
template <class Fn>
double median_ms(cudaStream_t stream, int reps, Fn&& fn) {
  fn();   // warm-up: module load, plans, clocks
  check(cudaStreamSynchronize(stream), "warming up a probe");
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "creating an event");
  check(cudaEventCreate(&stop), "creating an event");
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    check(cudaEventRecord(start, stream), "recording an event");
    fn();
    check(cudaEventRecord(stop, stream), "recording an event");
    check(cudaEventSynchronize(stop), "timing a probe");
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, start, stop), "reading a probe's time");
    times.push_back(double(ms));
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Stream {
  Stream() { check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream"); }
  ~Stream() { cudaStreamDestroy(s); }
  cudaStream_t s = nullptr;
};

}  // namespace

double measure_copy_bandwidth(size_t bytes, int reps) {
  Stream stream;
  DeviceBuffer src(bytes, "the copy probe's source"), dst(bytes, "the copy probe's destination");
  fill_random_bf16(src.as<bf16>(), bytes / sizeof(bf16), 1, 0.f, 1.f, stream.s);
  const double ms = median_ms(stream.s, reps, [&] {
    check(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream.s), "the copy probe");
  });
  return 2.0 * double(bytes) / (ms * 1e-3);
}

double measure_gemm_rate(int n, int reps) {
  Stream stream;
  const size_t elems = size_t(n) * size_t(n);
  DeviceBuffer a(elems * sizeof(bf16), "the GEMM probe"), b(elems * sizeof(bf16), "the GEMM probe"),
      c(elems * sizeof(bf16), "the GEMM probe");
  // Random data: a product of zeros runs measurably faster than real data (METHOD.md).
  fill_random_bf16(a.as<bf16>(), elems, 2, 0.f, 1.f, stream.s);
  fill_random_bf16(b.as<bf16>(), elems, 3, 0.f, 1.f, stream.s);
  Gemm gemm;
  const double ms = median_ms(stream.s, reps, [&] {
    gemm.linear(a.as<bf16>(), b.as<bf16>(), c.get(), false, n, n, n, stream.s);
  });
  return 2.0 * double(n) * double(n) * double(n) / (ms * 1e-3);
}

}  // namespace yardstick::cuda
