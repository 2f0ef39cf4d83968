// DeepGuard-TS native shim: a thin, uniform C ABI over libtorch.
//
// Conventions (declared once in ffi/ops.ts, checked against this file by tests/ffi_table.test.ts):
// - A tensor handle is an opaque pointer to a heap-allocated at::Tensor.
// - One failure convention: a fallible function returns either a handle (NULL = failed) or an
//   int32 status (negative = failed, otherwise 0 or the value asked for). Results that are neither
//   (a double, two handles) go through out-parameters, so no legal value doubles as an error.
//   The message is kept in a thread-local buffer read by dg_last_error(). No C++ exception ever
//   crosses this boundary. Only the runtime queries marked "cannot fail" return anything else.
// - Shapes and dim lists are passed as double arrays (ptr + length): int64 values, exact up to
//   2^53; single dims and indices as int32; scalars as double.
// - dtype codes: 0 f32, 1 f16, 2 bf16, 3 i64, 4 i32, 5 bool, 6 u8, 7 f64.
// - device: (type, index) with type 0 = cpu, 1 = cuda.
// One C function per libtorch op; no model logic lives here.

#include <ATen/record_function.h>
#include <torch/torch.h>

#ifdef DG_CUDA
// CUDA-only extras (memory statistics, CUDA graphs). ffi/native.ts defines DG_CUDA when libtorch
// has its CUDA libraries and the CUDA runtime headers are found; without it these functions
// report an error.
#include <c10/cuda/CUDACachingAllocator.h>
#if __has_include(<ATen/cuda/CUDAGraph.h>)
#define DG_CUDA_GRAPHS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#endif
#endif

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

typedef void* dg_t;

static thread_local std::string g_last_error;
// Handles created minus handles freed on the calling thread. Deno calls the shim (and runs
// FinalizationRegistry callbacks) on the thread of the isolate that owns the tensor, so this is a
// per-isolate count: a Worker's tensors never show in the main thread's count.
static thread_local int64_t g_live = 0;

// Op and host-read counting (docs/ffi.md, "Counting"). An op is a top-level ATen op: a
// RecordFunction of scope FUNCTION that starts while no other such op is running on the same
// thread, so an op's internal calls (linear -> matmul -> mm) count once. tools/bench_generate_hf.py
// loads this library into the Python process and uses the same callback, so both sides count
// with one definition. Host reads are the shim's device->host transfers (dg_item,
// dg_copy_to_host), counted whether or not counting of ops is on.
static std::atomic<int64_t> g_ops{0};
static std::atomic<int64_t> g_host_reads{0};
static thread_local int32_t g_op_depth = 0;
static at::CallbackHandle g_op_callback = 0;

static std::unique_ptr<at::ObserverContext> op_enter(const at::RecordFunction&) {
  if (g_op_depth++ == 0) g_ops.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}
static void op_exit(const at::RecordFunction&, at::ObserverContext*) {
  if (g_op_depth > 0) g_op_depth--;
}

#ifdef DG_CUDA_GRAPHS
// What a CUDA graph handle points to (see dg_cuda_graph_new).
struct DgGraph {
  at::cuda::CUDAGraph graph;
  c10::cuda::CUDAStream side;
  std::optional<c10::cuda::CUDAStream> previous;  // the current stream before begin, until end
  c10::DeviceIndex previous_device = 0;            // the current device before begin
  bool capturing = false;
  bool captured = false;
  explicit DgGraph(c10::DeviceIndex device) : side(c10::cuda::getStreamFromPool(false, device)) {}
};
#define G(h) (*reinterpret_cast<DgGraph*>(h))
// Makes `to` wait for the work queued on `from` so far.
static void stream_wait(c10::cuda::CUDAStream from, c10::cuda::CUDAStream to) {
  cudaEvent_t event;
  C10_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  C10_CUDA_CHECK(cudaEventRecord(event, from.stream()));
  C10_CUDA_CHECK(cudaStreamWaitEvent(to.stream(), event, 0));
  C10_CUDA_CHECK(cudaEventDestroy(event));
}
#endif

static void set_error(const char* msg) { g_last_error = msg ? msg : "unknown error"; }

#define DG_TRY(...)                                                     \
  try {                                                                \
    g_last_error.clear();                                              \
    __VA_ARGS__                                                        \
  } catch (const c10::Error& e) {                                      \
    set_error(e.what_without_backtrace());                             \
  } catch (const std::exception& e) {                                  \
    set_error(e.what());                                               \
  } catch (...) {                                                      \
    set_error("unknown C++ exception");                                \
  }

#define T(h) (*reinterpret_cast<at::Tensor*>(h))
#define RET_T(expr) DG_TRY(return wrap(expr);) return nullptr;
#define RET_I(expr) DG_TRY(return (int32_t)(expr);) return -1;
#define RET_OK(stmt) DG_TRY(stmt; return 0;) return -1;

static dg_t wrap(at::Tensor t) {
  g_live++;
  return new at::Tensor(std::move(t));
}

static at::ScalarType to_scalar_type(int32_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kHalf;
    case 2: return at::kBFloat16;
    case 3: return at::kLong;
    case 4: return at::kInt;
    case 5: return at::kBool;
    case 6: return at::kByte;
    case 7: return at::kDouble;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

static int32_t from_scalar_type(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return 0;
    case at::kHalf: return 1;
    case at::kBFloat16: return 2;
    case at::kLong: return 3;
    case at::kInt: return 4;
    case at::kBool: return 5;
    case at::kByte: return 6;
    case at::kDouble: return 7;
    default:
      throw std::invalid_argument(std::string("tensor has dtype ") + c10::toString(s) +
                                  ", which the toolkit does not model");
  }
}

static at::Device to_device(int32_t type, int32_t index) {
  if (type == 0) return at::Device(at::kCPU);
  if (type == 1) {
    if (!torch::cuda::is_available()) {
      throw std::runtime_error("CUDA device requested but CUDA is not available in this libtorch/machine");
    }
    if (index < 0 || index >= (int32_t)torch::cuda::device_count()) {
      throw std::runtime_error("CUDA device index " + std::to_string(index) + " out of range (" +
                               std::to_string(torch::cuda::device_count()) + " devices)");
    }
    return at::Device(at::kCUDA, (c10::DeviceIndex)index);
  }
  throw std::invalid_argument("unknown device type " + std::to_string(type));
}

static at::TensorOptions opts(int32_t dtype, int32_t dev_type, int32_t dev_index) {
  return at::TensorOptions().dtype(to_scalar_type(dtype)).device(to_device(dev_type, dev_index));
}

// A shape or dim list: integral values that fit int64 (ffi/ validates first, with better words).
static std::vector<int64_t> dims(const double* p, int32_t n) {
  std::vector<int64_t> v(n);
  for (int32_t i = 0; i < n; i++) {
    if (!(std::trunc(p[i]) == p[i] && std::fabs(p[i]) < 9223372036854775808.0)) {
      throw std::invalid_argument("shape/dim entry " + std::to_string(p[i]) +
                                  " is not an int64 integer");
    }
    v[i] = (int64_t)p[i];
  }
  return v;
}

static std::vector<at::Tensor> tensor_list(dg_t* hs, int32_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int32_t i = 0; i < n; i++) v.push_back(T(hs[i]));
  return v;
}

static c10::optional<at::Tensor> opt_t(dg_t h) {
  if (h == nullptr) return c10::nullopt;
  return T(h);
}

// ---------------------------------------------------------------- elementwise tables
// The code of an elementwise op is its row in these tables; ffi/elementwise.ts holds the same
// names in the same order, and dg_op_name lets tests/ffi_table.test.ts compare the two.
// Adding an elementwise op is one row here and one row there.
using Bin = at::Tensor (*)(const at::Tensor&, const at::Tensor&);
using BinS = at::Tensor (*)(const at::Tensor&, double);
using Un = at::Tensor (*)(const at::Tensor&);
struct BinaryOp {
  const char* name;
  Bin tensor;
  BinS scalar;  // nullptr: no scalar form
};
struct UnaryOp {
  const char* name;
  Un fn;
};
#define BIN(name, expr_t, expr_s)                                               \
  {name, [](const at::Tensor& x, const at::Tensor& y) -> at::Tensor { return expr_t; }, \
   [](const at::Tensor& x, double s) -> at::Tensor { return expr_s; }}
static const BinaryOp kBinary[] = {
    BIN("add", x + y, x + s),
    BIN("sub", x - y, x - s),
    BIN("mul", x * y, x * s),
    BIN("div", x / y, x / s),
    BIN("pow", x.pow(y), x.pow(s)),
    BIN("max", at::maximum(x, y), x.clamp_min(s)),
    BIN("min", at::minimum(x, y), x.clamp_max(s)),
    BIN("eq", x.eq(y), x.eq(s)),
    BIN("ne", x.ne(y), x.ne(s)),
    BIN("lt", x.lt(y), x.lt(s)),
    BIN("le", x.le(y), x.le(s)),
    BIN("gt", x.gt(y), x.gt(s)),
    BIN("ge", x.ge(y), x.ge(s)),
    {"and", [](const at::Tensor& x, const at::Tensor& y) { return at::logical_and(x, y); },
     nullptr},
    {"or", [](const at::Tensor& x, const at::Tensor& y) { return at::logical_or(x, y); }, nullptr},
};
#undef BIN
#define UN(name, expr) {name, [](const at::Tensor& x) -> at::Tensor { return expr; }}
static const UnaryOp kUnary[] = {
    UN("neg", x.neg()),
    UN("exp", x.exp()),
    UN("log", x.log()),
    UN("sqrt", x.sqrt()),
    UN("rsqrt", x.rsqrt()),
    UN("abs", x.abs()),
    UN("relu", at::relu(x)),
    UN("silu", at::silu(x)),
    UN("gelu", at::gelu(x)),
    UN("geluTanh", at::gelu(x, "tanh")),
    UN("sigmoid", x.sigmoid()),
    UN("tanh", x.tanh()),
    UN("sin", x.sin()),
    UN("cos", x.cos()),
    UN("not", x.logical_not()),
    UN("isnan", x.isnan()),
    UN("isfinite", x.isfinite()),
    UN("sign", x.sign()),
};
#undef UN
static constexpr int32_t kNumBinary = sizeof(kBinary) / sizeof(kBinary[0]);
static constexpr int32_t kNumUnary = sizeof(kUnary) / sizeof(kUnary[0]);

extern "C" {

// ---------------------------------------------------------------- runtime, errors, memory
// cannot fail: dg_last_error, dg_live_count, dg_free, dg_torch_version, dg_cxx11_abi,
// dg_is_grad_enabled, dg_op_name, dg_op_count, dg_host_read_count, dg_cuda_graphs_available.
const char* dg_last_error() { return g_last_error.c_str(); }
double dg_live_count() { return (double)g_live; }
void dg_free(dg_t h) {
  if (h == nullptr) return;
  delete reinterpret_cast<at::Tensor*>(h);
  g_live--;
}
const char* dg_torch_version() { return TORCH_VERSION; }
int32_t dg_cxx11_abi() {
#ifdef _GLIBCXX_USE_CXX11_ABI
  return _GLIBCXX_USE_CXX11_ABI;
#else
  return -1;
#endif
}
int32_t dg_cuda_is_available() { RET_I(torch::cuda::is_available() ? 1 : 0) }
int32_t dg_cuda_device_count() { RET_I(torch::cuda::device_count()) }
int32_t dg_cuda_synchronize(int32_t index) {
  RET_OK(if (!torch::cuda::is_available()) throw std::runtime_error("CUDA is not available");
         torch::cuda::synchronize(index))
}
int32_t dg_manual_seed(double seed) {
  RET_OK(if (!(seed >= 0 && seed <= 9007199254740991.0 && std::trunc(seed) == seed)) throw
         std::invalid_argument("seed must be an integer in [0, 2^53-1]");
         torch::manual_seed((uint64_t)seed))
}
int32_t dg_set_num_threads(int32_t n) { RET_OK(at::set_num_threads(n)) }
int32_t dg_get_num_threads() { RET_I(at::get_num_threads()) }
int32_t dg_set_grad_enabled(int32_t on) {
  DG_TRY(bool prev = c10::GradMode::is_enabled(); c10::GradMode::set_enabled(on != 0);
         return prev ? 1 : 0;)
  return -1;
}
int32_t dg_is_grad_enabled() { return c10::GradMode::is_enabled() ? 1 : 0; }
// Starts (on != 0) or stops counting top-level ATen ops (a global RecordFunction callback, all
// threads); idempotent. Counting adds a callback to every op, so it is off unless asked for.
int32_t dg_count_ops(int32_t on) {
  RET_OK(if (on != 0 && g_op_callback == 0) {
    g_op_callback = at::addGlobalCallback(
        at::RecordFunctionCallback(op_enter, op_exit).scopes({at::RecordScope::FUNCTION}));
  } else if (on == 0 && g_op_callback != 0) {
    at::removeCallback(g_op_callback);
    g_op_callback = 0;
  })
}
// The counters since the process started (ops only while counting was on); never fail.
double dg_op_count() { return (double)g_ops.load(std::memory_order_relaxed); }
double dg_host_read_count() { return (double)g_host_reads.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- queries
// Writes the sizes into out (room for `cap` entries); returns the number of dimensions.
int32_t dg_shape(dg_t t, double* out, int32_t cap) {
  DG_TRY(auto s = T(t).sizes();
         if ((int64_t)s.size() > cap) throw std::invalid_argument("tensor has too many dims");
         for (size_t i = 0; i < s.size(); i++) out[i] = (double)s[i];
         return (int32_t)s.size();)
  return -1;
}
int32_t dg_dtype(dg_t t) { RET_I(from_scalar_type(T(t).scalar_type())) }
int32_t dg_device_type(dg_t t) { RET_I(T(t).device().is_cuda() ? 1 : 0) }
int32_t dg_device_index(dg_t t) { RET_I(T(t).device().is_cuda() ? T(t).device().index() : 0) }
int32_t dg_requires_grad(dg_t t) { RET_I(T(t).requires_grad() ? 1 : 0) }
// The value of a one-element tensor, into *out.
int32_t dg_item(dg_t t, double* out) {
  RET_OK(g_host_reads.fetch_add(1, std::memory_order_relaxed); *out = T(t).item<double>())
}

// ---------------------------------------------------------------- creation and copies
dg_t dg_from_data(const uint8_t* data, double nbytes, const double* shape, int32_t ndim,
                  int32_t dtype) {
  DG_TRY({
    auto t = at::empty(dims(shape, ndim), opts(dtype, 0, 0));
    size_t want = (size_t)t.numel() * t.element_size();
    if ((size_t)nbytes != want) {
      throw std::invalid_argument("data has " + std::to_string((size_t)nbytes) +
                                  " bytes but shape and dtype need " + std::to_string(want));
    }
    if (want > 0) std::memcpy(t.data_ptr(), data, want);
    return wrap(t);
  })
  return nullptr;
}

// Reads `nbytes` at `offset` of a file into a new CPU tensor of `file_dtype`, then casts/moves it.
dg_t dg_from_file(const char* path, double offset, double nbytes, const double* shape,
                  int32_t ndim, int32_t file_dtype, int32_t dtype, int32_t dev_type,
                  int32_t dev_index) {
  DG_TRY({
    at::Device dev = to_device(dev_type, dev_index);
    // For a CUDA target the bytes land in pinned host memory and are copied without blocking
    // (the caching host allocator keeps the buffer until the copy is done).
    auto t = at::empty(dims(shape, ndim), opts(file_dtype, 0, 0).pinned_memory(dev.is_cuda()));
    size_t want = (size_t)t.numel() * t.element_size();
    if ((size_t)nbytes != want) {
      throw std::invalid_argument("byte range of " + std::to_string((size_t)nbytes) +
                                  " bytes does not match shape and dtype (" +
                                  std::to_string(want) + " bytes)");
    }
    if (!(offset >= 0 && std::trunc(offset) == offset)) {
      throw std::invalid_argument("offset must be a non-negative integer");
    }
    FILE* f = std::fopen(path, "rb");
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    bool ok = fseeko(f, (off_t)offset, SEEK_SET) == 0 &&
              (want == 0 || std::fread(t.data_ptr(), 1, want, f) == want);
    std::fclose(f);
    if (!ok) throw std::runtime_error(std::string("short read from ") + path);
    return wrap(t.to(dev, to_scalar_type(dtype), /*non_blocking=*/dev.is_cuda()));
  })
  return nullptr;
}

// Copies a tensor's elements (made contiguous, moved to CPU) into `out` (exactly nbytes).
int32_t dg_copy_to_host(dg_t t, uint8_t* out, double nbytes) {
  DG_TRY({
    g_host_reads.fetch_add(1, std::memory_order_relaxed);
    const at::Tensor& src = T(t);
    // a contiguous CPU tensor is read as is (no detach/copy ops)
    at::Tensor c = src.is_cpu() && src.is_contiguous() ? src : src.detach().to(at::kCPU).contiguous();
    size_t have = (size_t)c.numel() * c.element_size();
    if (have != (size_t)nbytes) throw std::invalid_argument("host buffer size mismatch");
    if (have > 0) std::memcpy(out, c.data_ptr(), have);
    return 0;
  })
  return -1;
}

dg_t dg_empty(const double* s, int32_t n, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::empty(dims(s, n), opts(dt, dv, di)))
}
dg_t dg_zeros(const double* s, int32_t n, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::zeros(dims(s, n), opts(dt, dv, di)))
}
dg_t dg_ones(const double* s, int32_t n, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::ones(dims(s, n), opts(dt, dv, di)))
}
dg_t dg_full(const double* s, int32_t n, double v, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::full(dims(s, n), v, opts(dt, dv, di)))
}
dg_t dg_arange(double start, double end, double step, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::arange(start, end, step, opts(dt, dv, di)))
}
dg_t dg_rand(const double* s, int32_t n, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::rand(dims(s, n), opts(dt, dv, di)))
}
dg_t dg_randn(const double* s, int32_t n, int32_t dt, int32_t dv, int32_t di) {
  RET_T(at::randn(dims(s, n), opts(dt, dv, di)))
}
dg_t dg_randint(double low, double high, const double* s, int32_t n, int32_t dt, int32_t dv,
                int32_t di) {
  RET_T(at::randint((int64_t)low, (int64_t)high, dims(s, n), opts(dt, dv, di)))
}
dg_t dg_multinomial(dg_t probs, int32_t n, int32_t replacement) {
  RET_T(at::multinomial(T(probs), n, replacement != 0))
}
dg_t dg_to_dtype(dg_t t, int32_t dt) { RET_T(T(t).to(to_scalar_type(dt))) }
dg_t dg_to_device(dg_t t, int32_t dv, int32_t di) { RET_T(T(t).to(to_device(dv, di))) }
dg_t dg_clone(dg_t t) { RET_T(T(t).clone()) }
dg_t dg_contiguous(dg_t t) { RET_T(T(t).contiguous()) }
/** In-place copy of src into dst (broadcasting, casting); dst may be a view (e.g. a cache slot). */
int32_t dg_copy_(dg_t dst, dg_t src) { RET_OK(T(dst).copy_(T(src))) }
/** In-place dst.index_copy_(dim, index, src): one op writing src's slices at index (a KV cache). */
int32_t dg_index_copy_(dg_t dst, int32_t dim, dg_t index, dg_t src) {
  RET_OK(T(dst).index_copy_(dim, T(index), T(src)))
}

// ---------------------------------------------------------------- views and layout
dg_t dg_reshape(dg_t t, const double* s, int32_t n) { RET_T(T(t).reshape(dims(s, n))) }
dg_t dg_view(dg_t t, const double* s, int32_t n) { RET_T(T(t).view(dims(s, n))) }
dg_t dg_expand(dg_t t, const double* s, int32_t n) { RET_T(T(t).expand(dims(s, n))) }
dg_t dg_permute(dg_t t, const double* s, int32_t n) { RET_T(T(t).permute(dims(s, n))) }
dg_t dg_transpose(dg_t t, int32_t a, int32_t b) { RET_T(T(t).transpose(a, b)) }
dg_t dg_narrow(dg_t t, int32_t dim, int32_t start, int32_t len) {
  RET_T(T(t).narrow(dim, start, len))
}
dg_t dg_slice(dg_t t, int32_t dim, int32_t start, int32_t end, int32_t step) {
  RET_T(T(t).slice(dim, start, end, step))
}
dg_t dg_select(dg_t t, int32_t dim, int32_t index) { RET_T(T(t).select(dim, index)) }
dg_t dg_index_select(dg_t t, int32_t dim, dg_t idx) { RET_T(T(t).index_select(dim, T(idx))) }
dg_t dg_gather(dg_t t, int32_t dim, dg_t idx) { RET_T(T(t).gather(dim, T(idx))) }
dg_t dg_scatter(dg_t t, int32_t dim, dg_t idx, dg_t src) {
  RET_T(T(t).scatter(dim, T(idx), T(src)))
}
dg_t dg_index_add(dg_t t, int32_t dim, dg_t idx, dg_t src) {
  RET_T(T(t).index_add(dim, T(idx), T(src)))
}
dg_t dg_cat(dg_t* hs, int32_t n, int32_t dim) { RET_T(at::cat(tensor_list(hs, n), dim)) }
dg_t dg_stack(dg_t* hs, int32_t n, int32_t dim) { RET_T(at::stack(tensor_list(hs, n), dim)) }
// Views of consecutive pieces of sizes s[0..n) along dim (at::split_with_sizes: one op), whose
// handles go into out[0..n).
int32_t dg_split(dg_t t, const double* s, int32_t n, int32_t dim, dg_t* out) {
  DG_TRY(auto parts = T(t).split_with_sizes(dims(s, n), dim);
         for (int32_t i = 0; i < n; i++) out[i] = wrap(parts[i]);
         return 0;)
  return -1;
}
dg_t dg_squeeze(dg_t t, int32_t dim) { RET_T(T(t).squeeze(dim)) }
dg_t dg_unsqueeze(dg_t t, int32_t dim) { RET_T(T(t).unsqueeze(dim)) }
dg_t dg_repeat_interleave(dg_t t, int32_t repeats, int32_t dim) {
  RET_T(T(t).repeat_interleave(repeats, dim))
}
dg_t dg_roll(dg_t t, int32_t shift, int32_t dim) { RET_T(T(t).roll(shift, dim)) }
dg_t dg_tril(dg_t t, int32_t k) { RET_T(T(t).tril(k)) }
dg_t dg_triu(dg_t t, int32_t k) { RET_T(T(t).triu(k)) }
dg_t dg_masked_fill(dg_t t, dg_t mask, double v) { RET_T(T(t).masked_fill(T(mask), v)) }
dg_t dg_where(dg_t c, dg_t a, dg_t b) { RET_T(at::where(T(c), T(a), T(b))) }

// ---------------------------------------------------------------- elementwise
// The name of elementwise op `code` of table `kind` (0 binary, 1 unary); NULL past the end.
const char* dg_op_name(int32_t kind, int32_t code) {
  if (code < 0) return nullptr;
  if (kind == 0) return code < kNumBinary ? kBinary[code].name : nullptr;
  if (kind == 1) return code < kNumUnary ? kUnary[code].name : nullptr;
  return nullptr;
}
dg_t dg_binary(int32_t op, dg_t a, dg_t b) {
  DG_TRY({
    if (op < 0 || op >= kNumBinary) {
      throw std::invalid_argument("unknown binary op " + std::to_string(op));
    }
    return wrap(kBinary[op].tensor(T(a), T(b)));
  })
  return nullptr;
}
dg_t dg_binary_scalar(int32_t op, dg_t a, double s) {
  DG_TRY({
    if (op < 0 || op >= kNumBinary || kBinary[op].scalar == nullptr) {
      throw std::invalid_argument("unknown scalar op " + std::to_string(op));
    }
    return wrap(kBinary[op].scalar(T(a), s));
  })
  return nullptr;
}
dg_t dg_rsub_scalar(double s, dg_t a) { RET_T(s - T(a)) }
dg_t dg_unary(int32_t op, dg_t a) {
  DG_TRY({
    if (op < 0 || op >= kNumUnary) {
      throw std::invalid_argument("unknown unary op " + std::to_string(op));
    }
    return wrap(kUnary[op].fn(T(a)));
  })
  return nullptr;
}
// NaN bound means "no bound".
dg_t dg_clamp(dg_t t, double lo, double hi) {
  DG_TRY({
    c10::optional<at::Scalar> l, h;
    if (!std::isnan(lo)) l = lo;
    if (!std::isnan(hi)) h = hi;
    return wrap(at::clamp(T(t), l, h));
  })
  return nullptr;
}

// ---------------------------------------------------------------- linear algebra
dg_t dg_matmul(dg_t a, dg_t b) { RET_T(at::matmul(T(a), T(b))) }
dg_t dg_bmm(dg_t a, dg_t b) { RET_T(at::bmm(T(a), T(b))) }
dg_t dg_linear(dg_t x, dg_t w, dg_t b) { RET_T(at::linear(T(x), T(w), opt_t(b))) }

// ---------------------------------------------------------------- reductions
dg_t dg_softmax(dg_t t, int32_t dim) { RET_T(at::softmax(T(t), dim)) }
dg_t dg_log_softmax(dg_t t, int32_t dim) { RET_T(at::log_softmax(T(t), dim)) }
// ndims == 0 reduces over all elements (keepdim ignored then).
dg_t dg_sum(dg_t t, const double* d, int32_t n, int32_t keep) {
  RET_T(n == 0 ? T(t).sum() : T(t).sum(dims(d, n), keep != 0))
}
dg_t dg_mean(dg_t t, const double* d, int32_t n, int32_t keep) {
  RET_T(n == 0 ? T(t).mean() : T(t).mean(dims(d, n), keep != 0))
}
dg_t dg_max_all(dg_t t) { RET_T(T(t).max()) }
dg_t dg_min_all(dg_t t) { RET_T(T(t).min()) }
// Two-output reductions write their handles into out[0] (values) and out[1] (indices).
int32_t dg_max_dim(dg_t t, int32_t dim, int32_t keep, dg_t* out) {
  DG_TRY(auto r = T(t).max(dim, keep != 0); out[0] = wrap(std::get<0>(r));
         out[1] = wrap(std::get<1>(r)); return 0;)
  return -1;
}
int32_t dg_min_dim(dg_t t, int32_t dim, int32_t keep, dg_t* out) {
  DG_TRY(auto r = T(t).min(dim, keep != 0); out[0] = wrap(std::get<0>(r));
         out[1] = wrap(std::get<1>(r)); return 0;)
  return -1;
}
int32_t dg_topk(dg_t t, int32_t k, int32_t dim, int32_t largest, int32_t sorted, dg_t* out) {
  DG_TRY(auto r = T(t).topk(k, dim, largest != 0, sorted != 0); out[0] = wrap(std::get<0>(r));
         out[1] = wrap(std::get<1>(r)); return 0;)
  return -1;
}
int32_t dg_sort(dg_t t, int32_t dim, int32_t descending, dg_t* out) {
  DG_TRY(auto r = T(t).sort(dim, descending != 0); out[0] = wrap(std::get<0>(r));
         out[1] = wrap(std::get<1>(r)); return 0;)
  return -1;
}
dg_t dg_argmax(dg_t t, int32_t dim, int32_t keep) { RET_T(T(t).argmax(dim, keep != 0)) }
dg_t dg_cumsum(dg_t t, int32_t dim) { RET_T(T(t).cumsum(dim)) }
dg_t dg_norm(dg_t t, double p) { RET_T(T(t).norm(p)) }
dg_t dg_any(dg_t t) { RET_T(T(t).any()) }

// ---------------------------------------------------------------- nn functions
dg_t dg_embedding(dg_t w, dg_t ids) { RET_T(at::embedding(T(w), T(ids))) }
dg_t dg_layer_norm(dg_t x, const double* s, int32_t n, dg_t w, dg_t b, double eps) {
  RET_T(at::layer_norm(T(x), dims(s, n), opt_t(w), opt_t(b), eps))
}
// x * rsqrt(mean(x^2) + eps) [* weight] over the trailing dims, computed in float32 for reduced
// precision inputs and cast back (at::rms_norm; one fused kernel where the backend has one).
dg_t dg_rms_norm(dg_t x, const double* s, int32_t n, dg_t w, double eps) {
  RET_T(at::rms_norm(T(x), dims(s, n), opt_t(w), eps))
}
dg_t dg_dropout(dg_t x, double p, int32_t train) { RET_T(at::dropout(T(x), p, train != 0)) }
// reduction: 0 none, 1 mean, 2 sum
dg_t dg_cross_entropy(dg_t logits, dg_t target, int32_t ignore_index, int32_t reduction,
                      double label_smoothing) {
  RET_T(at::cross_entropy_loss(T(logits), T(target), {}, reduction, ignore_index,
                               label_smoothing))
}
// scale NaN = default 1/sqrt(d).
dg_t dg_sdpa(dg_t q, dg_t k, dg_t v, dg_t mask, double dropout_p, int32_t causal, double scale,
             int32_t enable_gqa) {
  DG_TRY({
    c10::optional<double> sc;
    if (!std::isnan(scale)) sc = scale;
    return wrap(at::scaled_dot_product_attention(T(q), T(k), T(v), opt_t(mask), dropout_p,
                                                 causal != 0, sc, enable_gqa != 0));
  })
  return nullptr;
}

// SDPA backends allowed (ATen's global switches), a bit each: 1 math, 2 flash, 4 memory-efficient,
// 8 cuDNN. libtorch picks among the allowed ones per call; dg_sdpa_backend says which.
int32_t dg_sdpa_set_backends(int32_t mask) {
  RET_OK(if (mask <= 0 || mask > 15) throw std::invalid_argument(
             "SDPA backend mask must be 1..15 (1 math, 2 flash, 4 efficient, 8 cudnn)");
         auto& c = at::globalContext(); c.setSDPUseMath(mask & 1); c.setSDPUseFlash(mask & 2);
         c.setSDPUseMemEfficient(mask & 4); c.setSDPUseCuDNN(mask & 8))
}
// The backend SDPA picks for these inputs (at::SDPBackend: 0 math, 1 flash, 2 efficient, 3 cuDNN,
// 4 overrideable); an error when none of the allowed ones fits.
int32_t dg_sdpa_backend(dg_t q, dg_t k, dg_t v, dg_t mask, int32_t causal, int32_t enable_gqa) {
  DG_TRY({
    int64_t b = at::_fused_sdp_choice(T(q), T(k), T(v), opt_t(mask), 0.0, causal != 0,
                                      c10::nullopt, enable_gqa != 0);
    if (b < 0) throw std::runtime_error("no allowed SDPA backend fits these inputs");
    return (int32_t)b;
  })
  return -1;
}
// TF32 matmuls and convolutions on CUDA (off by default, as in PyTorch); no effect on a CPU.
int32_t dg_set_tf32(int32_t on) {
  RET_OK(at::globalContext().setAllowTF32CuBLAS(on != 0);
         at::globalContext().setAllowTF32CuDNN(on != 0))
}
// CUDA caching-allocator bytes of device `index`: out[0] allocated now, out[1] peak since the last
// reset (reset != 0 resets the peak after reading). An error in a build without DG_CUDA.
int32_t dg_cuda_memory(int32_t index, int32_t reset, double* out) {
  DG_TRY({
#ifdef DG_CUDA
    to_device(1, index);
    namespace alloc = c10::cuda::CUDACachingAllocator;
    auto stats = alloc::getDeviceStats((c10::DeviceIndex)index);
    auto& all = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
    out[0] = (double)all.current;
    out[1] = (double)all.peak;
    if (reset != 0) alloc::resetPeakStats((c10::DeviceIndex)index);
    return 0;
#else
    (void)index, (void)reset, (void)out;
    throw std::runtime_error("the shim was built without CUDA memory statistics (no DG_CUDA)");
#endif
  })
  return -1;
}

// ---------------------------------------------------------------- CUDA graphs
// A graph handle is an opaque pointer to a DgGraph: one at::cuda::CUDAGraph (with its private
// memory pool) and the side stream it is warmed up and captured on (capture needs a stream other
// than the default one). dg_cuda_graph_begin makes the side stream current (after the work queued
// so far), capturing into the graph when `capture` != 0; dg_cuda_graph_end ends the capture and
// makes the previous stream current again, after the side stream's work. Replays run on the
// current stream. In a build without DG_CUDA_GRAPHS every function but the query is an error.
int32_t dg_cuda_graphs_available() {
#ifdef DG_CUDA_GRAPHS
  return 1;
#else
  return 0;
#endif
}
#ifdef DG_CUDA_GRAPHS
#define DG_GRAPHS_ONLY(...) __VA_ARGS__
#else
#define DG_GRAPHS_ONLY(...) \
  throw std::runtime_error(                                                                \
      "the shim was built without CUDA graphs (no DG_CUDA or no ATen/cuda/CUDAGraph.h)");
#endif
dg_t dg_cuda_graph_new(int32_t index) {
  DG_TRY(DG_GRAPHS_ONLY(return new DgGraph(to_device(1, index).index());)) return nullptr;
}
int32_t dg_cuda_graph_begin(dg_t g, int32_t capture) {
  RET_OK(DG_GRAPHS_ONLY({
    auto& gr = G(g);
    if (gr.previous) throw std::runtime_error("CUDA graph: begin twice without end");
    if (capture != 0 && gr.captured) throw std::runtime_error("CUDA graph: already captured");
    auto current = c10::cuda::getCurrentCUDAStream(gr.side.device_index());
    stream_wait(current, gr.side);
    // capture_begin takes the current device's current stream
    gr.previous_device = c10::cuda::ExchangeDevice(gr.side.device_index());
    gr.previous = current;
    c10::cuda::setCurrentCUDAStream(gr.side);
    if (capture != 0) {
      try {
        gr.graph.capture_begin();
      } catch (...) {
        c10::cuda::setCurrentCUDAStream(current);
        c10::cuda::set_device(gr.previous_device);
        gr.previous.reset();
        throw;
      }
      gr.capturing = true;
    }
  }))
}
int32_t dg_cuda_graph_end(dg_t g) {
  RET_OK(DG_GRAPHS_ONLY({
    auto& gr = G(g);
    if (!gr.previous) throw std::runtime_error("CUDA graph: end without begin");
    auto previous = *gr.previous;
    gr.previous.reset();
    bool capturing = gr.capturing;
    gr.capturing = false;
    std::string failed;
    if (capturing) {
      try {
        gr.graph.capture_end();
        gr.captured = true;
      } catch (const c10::Error& e) {
        failed = e.what_without_backtrace();
      } catch (const std::exception& e) {
        failed = e.what();
      }
    }
    c10::cuda::setCurrentCUDAStream(previous);
    c10::cuda::set_device(gr.previous_device);
    stream_wait(gr.side, previous);
    if (!failed.empty()) throw std::runtime_error("CUDA graph capture failed: " + failed);
  }))
}
int32_t dg_cuda_graph_replay(dg_t g) {
  RET_OK(DG_GRAPHS_ONLY({
    if (!G(g).captured) throw std::runtime_error("CUDA graph: replay before a capture");
    G(g).graph.replay();
  }))
}
int32_t dg_cuda_graph_free(dg_t g) {
  RET_OK(DG_GRAPHS_ONLY(if (g != nullptr) delete reinterpret_cast<DgGraph*>(g);))
}
#undef DG_GRAPHS_ONLY

// ---------------------------------------------------------------- autograd
int32_t dg_set_requires_grad(dg_t t, int32_t on) { RET_OK(T(t).requires_grad_(on != 0)) }
int32_t dg_backward(dg_t t, dg_t grad, int32_t retain_graph) {
  RET_OK(T(t).backward(grad ? T(grad) : at::Tensor(), retain_graph != 0))
}
// Backward of several outputs at once (for layer-wise recomputation / gradient checkpointing).
int32_t dg_backward_many(dg_t* outs, dg_t* grads, int32_t n) {
  RET_OK(torch::autograd::backward(tensor_list(outs, n), tensor_list(grads, n)))
}
int32_t dg_has_grad(dg_t t) { RET_I(T(t).grad().defined() ? 1 : 0) }
dg_t dg_grad(dg_t t) {
  DG_TRY({
    auto g = T(t).grad();
    if (!g.defined()) throw std::runtime_error("tensor has no gradient");
    return wrap(g);
  })
  return nullptr;
}
int32_t dg_zero_grad(dg_t t) { RET_OK(T(t).mutable_grad().reset()) }
dg_t dg_detach(dg_t t) { RET_T(T(t).detach()) }

// ---------------------------------------------------------------- optimisation
// Decoupled-weight-decay Adam (AdamW) step over a parameter list, in place, with libtorch's fused
// multi-tensor kernel (at::_fused_adamw_, torch.optim.AdamW(fused=True)): per parameter
// p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = b2*v + (1-b2)*g^2;
// p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps). Parameters without a gradient are
// skipped; the others are grouped by device and dtype (one kernel call per group). `hs` holds 3n
// handles: the n parameters, then their n first moments, then their n second moments.
int32_t dg_adamw_step(dg_t* hs, int32_t n, double step, double lr, double beta1, double beta2,
                      double eps, double weight_decay) {
  DG_TRY({
    at::NoGradGuard guard;
    struct Group {
      std::vector<at::Tensor> p, g, m, v, steps;
    };
    std::vector<std::pair<std::pair<at::Device, at::ScalarType>, Group>> groups;
    for (int32_t i = 0; i < n; i++) {
      const at::Tensor& p = T(hs[i]);
      if (!p.grad().defined()) continue;
      auto key = std::make_pair(p.device(), p.scalar_type());
      auto it = std::find_if(groups.begin(), groups.end(), [&](auto& e) { return e.first == key; });
      if (it == groups.end()) it = groups.insert(groups.end(), {key, Group{}});
      Group& gr = it->second;
      gr.p.push_back(p);
      gr.g.push_back(p.grad());
      gr.m.push_back(T(hs[n + i]));
      gr.v.push_back(T(hs[2 * n + i]));
      gr.steps.push_back(at::full({}, step, at::TensorOptions().dtype(at::kFloat).device(p.device())));
    }
    for (auto& [key, gr] : groups) {
      at::_fused_adamw_(gr.p, gr.g, gr.m, gr.v, {}, gr.steps, lr, beta1, beta2, weight_decay, eps,
                        /*amsgrad=*/false, /*maximize=*/false);
    }
    return 0;
  })
  return -1;
}
// Global-norm gradient clipping over a parameter list; writes the total norm before clipping
// into *out.
int32_t dg_clip_grad_norm(dg_t* hs, int32_t n, double max_norm, double* out) {
  RET_OK(*out = torch::nn::utils::clip_grad_norm_(tensor_list(hs, n), max_norm, 2.0))
}

}  // extern "C"
