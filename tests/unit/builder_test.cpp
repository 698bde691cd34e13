#define BOOST_TEST_MODULE builder
#include <boost/test/unit_test.hpp>

#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace {

using narrow::Architecture;
using narrow::Layer;
using narrow::Op;
using narrow::Shape;

struct SingleThreadedTorch {
  SingleThreadedTorch() {
    torch::set_num_threads(1);
    torch::manual_seed(20240501);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(SingleThreadedTorch);

// ------------------------------------------------------------------ building architectures

Shape map_shape(std::int64_t c, std::int64_t h, std::int64_t w) {
  Shape s;
  s.c = c;
  s.h = h;
  s.w = w;
  s.flat = false;
  return s;
}

Layer layer(std::string id, Op op, std::vector<std::string> inputs) {
  Layer l;
  l.id = std::move(id);
  l.op = op;
  l.inputs = std::move(inputs);
  return l;
}

Layer conv(std::string id, std::string in, std::int64_t out, std::array<std::int64_t, 2> kernel,
           std::array<std::int64_t, 2> stride = {1, 1},
           std::array<std::int64_t, 2> padding = {0, 0}, std::int64_t groups = 1,
           bool bias = true) {
  Layer l = layer(std::move(id), Op::conv2d, {std::move(in)});
  l.out_channels = out;
  l.kernel = kernel;
  l.stride = stride;
  l.padding = padding;
  l.groups = groups;
  l.bias = bias;
  return l;
}

Layer pool(std::string id, Op op, std::string in, std::array<std::int64_t, 2> kernel,
           std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding) {
  Layer l = layer(std::move(id), op, {std::move(in)});
  l.kernel = kernel;
  l.stride = stride;
  l.padding = padding;
  return l;
}

Layer linear(std::string id, std::string in, std::int64_t out, bool bias = true) {
  Layer l = layer(std::move(id), Op::linear, {std::move(in)});
  l.out_channels = out;
  l.bias = bias;
  return l;
}

Layer dropout(std::string id, std::string in, double p) {
  Layer l = layer(std::move(id), Op::dropout, {std::move(in)});
  l.p = p;
  return l;
}

Layer unary(std::string id, Op op, std::string in) {
  return layer(std::move(id), op, {std::move(in)});
}

/// Plain CNN: conv without bias, 2D batchnorm, relu, padded maxpool, strided conv, relu6,
/// padded avgpool, flatten, linear, flat batchnorm, dropout, linear.
Architecture plain_cnn() {
  Architecture a(map_shape(3, 32, 32), 10);
  a.add(conv("c1", "input", 16, {3, 3}, {1, 1}, {1, 1}, 1, false));  // [16,32,32]
  a.add(unary("bn1", Op::batchnorm, "c1"));
  a.add(unary("r1", Op::relu, "bn1"));
  a.add(pool("p1", Op::maxpool, "r1", {3, 3}, {2, 2}, {1, 1}));  // [16,16,16]
  a.add(conv("c2", "p1", 32, {3, 3}, {2, 2}));                   // [32,7,7]
  a.add(unary("r2", Op::relu6, "c2"));
  a.add(pool("p2", Op::avgpool, "r2", {3, 3}, {2, 2}, {1, 1}));  // [32,4,4]
  a.add(unary("flat", Op::flatten, "p2"));                       // [512]
  a.add(linear("fc1", "flat", 64));
  a.add(unary("bnf", Op::batchnorm, "fc1"));
  a.add(unary("rf", Op::relu, "bnf"));
  a.add(dropout("drop", "rf", 0.3));
  a.add(linear("fc2", "drop", 10));
  a.set_output("fc2");
  a.finalize();
  return a;
}
// By hand: c1 16*3*9 = 432; bn1 2*16 = 32; c2 32*16*9+32 = 4640; fc1 512*64+64 = 32832;
// bnf 2*64 = 128; fc2 64*10+10 = 650.
constexpr std::int64_t plain_cnn_params = 432 + 32 + 4640 + 32832 + 128 + 650;
// c1 16*27*32*32; c2 32*144*7*7; fc1 512*64; fc2 64*10.
constexpr std::int64_t plain_cnn_macs = 442368 + 225792 + 32768 + 640;

/// Grouped and depthwise convolutions, a three-way residual add, a concat of a conv, two
/// padded pools and the network input (read again at the very end), global average pooling.
Architecture residual_grouped() {
  Architecture a(map_shape(8, 16, 16), 5);
  a.add(conv("stem", "input", 16, {3, 3}, {1, 1}, {1, 1}, 2));  // groups 2
  a.add(unary("stem_bn", Op::batchnorm, "stem"));
  a.add(unary("stem_r", Op::relu, "stem_bn"));
  a.add(conv("dw", "stem_r", 16, {3, 3}, {1, 1}, {1, 1}, 16, false));  // depthwise
  a.add(unary("dw_bn", Op::batchnorm, "dw"));
  a.add(unary("dw_r", Op::relu6, "dw_bn"));
  a.add(conv("pw", "dw_r", 16, {1, 1}, {1, 1}, {0, 0}, 4));  // grouped pointwise
  a.add(layer("sum", Op::add, {"stem_r", "pw", "dw_r"}));
  a.add(conv("b1", "sum", 8, {1, 1}));
  a.add(pool("b2", Op::maxpool, "sum", {3, 3}, {1, 1}, {1, 1}));
  a.add(pool("b3", Op::avgpool, "sum", {3, 3}, {1, 1}, {1, 1}));
  a.add(layer("cat", Op::concat, {"b1", "b2", "b3", "input"}));  // 8+16+16+8 = 48
  a.add(unary("gap", Op::global_avgpool, "cat"));
  a.add(unary("flat", Op::flatten, "gap"));
  a.add(linear("fc", "flat", 5, false));
  a.finalize();
  return a;
}
// stem 16*(8/2)*9+16 = 592; stem_bn 32; dw 16*1*9 = 144; dw_bn 32; pw 16*(16/4)+16 = 80;
// b1 8*16+8 = 136; fc 48*5 = 240.
constexpr std::int64_t residual_grouped_params = 592 + 32 + 144 + 32 + 80 + 136 + 240;
// stem 16*36*256; dw 16*9*256; pw 16*4*256; b1 8*16*256; fc 48*5.
constexpr std::int64_t residual_grouped_macs = 147456 + 36864 + 16384 + 32768 + 240;

/// Operations on flat vectors: two linear branches, add and concat of vectors, flat
/// batchnorm, relu6, dropout.
Architecture flat_ops() {
  Architecture a(map_shape(4, 6, 6), 3);
  a.add(unary("flat", Op::flatten, "input"));  // [144]
  a.add(linear("l1", "flat", 20));
  a.add(linear("l2", "flat", 20));
  a.add(layer("sum", Op::add, {"l1", "l2"}));
  a.add(layer("cat", Op::concat, {"sum", "l1"}));  // [40]
  a.add(unary("bn", Op::batchnorm, "cat"));
  a.add(unary("r6", Op::relu6, "bn"));
  a.add(dropout("drop", "r6", 0.5));
  a.add(linear("out", "drop", 3));
  a.finalize();
  return a;
}
constexpr std::int64_t flat_ops_params = 2900 + 2900 + 80 + 123;
constexpr std::int64_t flat_ops_macs = 2880 + 2880 + 120;

/// Non-square kernels, strides and paddings.
Architecture rectangular_windows() {
  Architecture a(map_shape(2, 9, 7), 2);
  a.add(conv("c", "input", 4, {3, 1}, {2, 1}, {1, 0}));          // [4,5,7]
  a.add(pool("mp", Op::maxpool, "c", {2, 3}, {2, 1}, {1, 1}));   // [4,3,7]
  a.add(pool("ap", Op::avgpool, "mp", {1, 3}, {1, 2}, {0, 1}));  // [4,3,4]
  a.add(unary("flat", Op::flatten, "ap"));                       // [48]
  a.add(linear("fc", "flat", 2));
  a.finalize();
  return a;
}
constexpr std::int64_t rectangular_windows_params = (4 * 2 * 3 + 4) + (48 * 2 + 2);
constexpr std::int64_t rectangular_windows_macs = 4 * 2 * 3 * 5 * 7 + 48 * 2;

// ------------------------------------------------------------------ checking against LibTorch

std::vector<std::int64_t> dims(const Shape& s) {
  if (s.flat) return {s.c};
  return {s.c, s.h, s.w};
}

std::vector<std::int64_t> batched(std::int64_t n, const Shape& s) {
  std::vector<std::int64_t> d{n};
  for (auto v : dims(s)) d.push_back(v);
  return d;
}

std::string text(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(d[i]);
  }
  return s + "]";
}

bool has_weights(Op op) {
  return op == Op::conv2d || op == Op::batchnorm || op == Op::linear;
}

/// What LibTorch says about a built module.
struct TorchCounts {
  std::int64_t params = 0;
  std::int64_t macs = 0;
};

/// Builds the module, runs a batch-1 forward in eval mode, and checks LibTorch's shapes,
/// parameter count and multiply-accumulates (from the real submodules' weights and the real
/// output sizes) against shape inference and analyse(). With `compare_plain_forward`, also
/// checks that forward() gives exactly forward_recording()'s result.
TorchCounts check_against_libtorch(const Architecture& arch, bool compare_plain_forward = true) {
  TorchCounts counts;
  BOOST_TEST_CONTEXT("architecture " << arch.to_json_string()) {
    const narrow::Metrics metrics = narrow::analyse(arch);
    auto module = narrow::build_module(arch);
    module->eval();
    torch::NoGradGuard no_grad;

    const torch::Tensor x = torch::randn(batched(1, arch.input()));
    std::vector<std::vector<std::int64_t>> shapes;
    const torch::Tensor y = module->forward_recording(x, shapes);

    BOOST_TEST(text(y.sizes().vec()) == text({1, arch.classes()}));
    BOOST_TEST(text(y.sizes().slice(1).vec()) == text(dims(arch.shape(arch.output_index()))));
    BOOST_REQUIRE_EQUAL(shapes.size(), arch.layers().size());
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      BOOST_TEST_INFO("layer '" << arch.layers()[i].id << "' ("
                                << narrow::op_name(arch.layers()[i].op) << ")");
      BOOST_TEST(text(shapes[i]) == text(dims(arch.shape(i))));
    }

    // The submodules are exactly the layers with weights, named by id, of the right type.
    std::string expected_names, names;
    for (const Layer& l : arch.layers())
      if (has_weights(l.op)) expected_names += l.id + " ";
    for (const auto& item : module->named_children()) {
      names += item.key() + " ";
      const std::size_t i = arch.index_of(item.key());
      const Layer& l = arch.layers()[i];
      const int in = arch.input_indices(i).at(0);
      const bool flat_input = in < 0 ? arch.input().flat : arch.shape(std::size_t(in)).flat;
      const auto& child = item.value();
      BOOST_TEST_INFO("submodule '" << item.key() << "' of op " << narrow::op_name(l.op));
      if (auto* c = child->as<torch::nn::Conv2d>()) {
        BOOST_TEST((l.op == Op::conv2d));
        const auto w = c->weight.sizes();  // [out, in/groups, kh, kw]
        BOOST_REQUIRE_EQUAL(shapes[i].size(), 3u);
        counts.macs += w[0] * w[1] * w[2] * w[3] * shapes[i][1] * shapes[i][2];
        BOOST_TEST(c->bias.defined() == l.bias);
      } else if (auto* fc = child->as<torch::nn::Linear>()) {
        BOOST_TEST((l.op == Op::linear));
        counts.macs += fc->weight.numel();
        BOOST_TEST(fc->bias.defined() == l.bias);
      } else if (child->as<torch::nn::BatchNorm2d>()) {
        BOOST_TEST((l.op == Op::batchnorm && !flat_input));
      } else if (child->as<torch::nn::BatchNorm1d>()) {
        BOOST_TEST((l.op == Op::batchnorm && flat_input));
      } else {
        BOOST_ERROR("unexpected submodule type " << child->name());
      }
    }
    BOOST_TEST(names == expected_names);

    counts.params = narrow::count_parameters(*module);
    BOOST_TEST(counts.params == metrics.params);
    BOOST_TEST(counts.macs == metrics.macs);
    BOOST_TEST(metrics.flops == 2 * counts.macs);

    // The plain forward computes the same thing as the recording one.
    if (compare_plain_forward) BOOST_TEST(torch::equal(module->forward(x), y));
  }
  return counts;
}

std::unique_ptr<narrow::SearchSpace> load_space(narrow::Registry& reg, const std::string& name) {
  const char* build = std::getenv("NARROW_BUILD_DIR");
  BOOST_TEST_REQUIRE(build != nullptr, "NARROW_BUILD_DIR is not set (run the test through ctest)");
  narrow::PluginLoader loader(reg);
  loader.load_path(std::string(build) + "/lib/narrow/plugins");
  for (const auto& f : loader.failures()) BOOST_TEST_MESSAGE("plugin failed: " << f.error);
  return reg.create_space(name, {});
}

/// A CPU allocator that forwards to LibTorch's and keeps the live and peak byte counts. Its
/// blocks are LibTorch's own (data pointer = context, as some kernels require); it is only
/// the default allocator inside a Counting scope, but frees what it counted at any time.
class CountingAllocator final : public c10::Allocator {
 public:
  static CountingAllocator& instance() {
    static CountingAllocator* a = new CountingAllocator(c10::GetCPUAllocator());  // never freed
    return *a;
  }
  c10::DataPtr allocate(std::size_t n) const override {
    if (n == 0) return base_->allocate(0);
    void* p = base_->raw_allocate(n);
    std::lock_guard lock(mutex_);
    sizes_[p] = n;
    live_ += std::int64_t(n);
    peak_ = std::max(peak_, live_);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  std::int64_t live() const {
    std::lock_guard lock(mutex_);
    return live_;
  }
  std::int64_t peak() const {
    std::lock_guard lock(mutex_);
    return peak_;
  }
  void reset_peak() {
    std::lock_guard lock(mutex_);
    peak_ = live_;
  }
  c10::Allocator* base() const { return base_; }

 private:
  explicit CountingAllocator(c10::Allocator* base)
      : base_(base), base_deleter_(base->raw_deleter()) {
    BOOST_TEST_REQUIRE(base_deleter_ != nullptr, "LibTorch's CPU allocator has no raw deleter");
  }
  static void release(void* p) {
    CountingAllocator& self = instance();
    {
      std::lock_guard lock(self.mutex_);
      auto it = self.sizes_.find(p);
      if (it != self.sizes_.end()) {
        self.live_ -= std::int64_t(it->second);
        self.sizes_.erase(it);
      }
    }
    self.base_deleter_(p);
  }
  c10::Allocator* base_;
  c10::DeleterFnPtr base_deleter_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::size_t> sizes_;
  mutable std::int64_t live_ = 0, peak_ = 0;
};

/// Makes the counting allocator LibTorch's CPU allocator for its lifetime.
class Counting {
 public:
  Counting() { c10::SetCPUAllocator(&CountingAllocator::instance(), next_priority()); }
  ~Counting() { c10::SetCPUAllocator(CountingAllocator::instance().base(), next_priority()); }
  Counting(const Counting&) = delete;
  Counting& operator=(const Counting&) = delete;

 private:
  // SetCPUAllocator ignores a priority lower than the current one.
  static std::uint8_t next_priority() {
    static std::uint8_t priority = 100;
    return priority++;
  }
};

/// Peak of the bytes a forward allocates on top of what was live before it (the caller keeps
/// the input, so this is the network's own activation memory).
std::int64_t forward_peak_bytes(narrow::GraphModule& module, const torch::Tensor& x,
                                bool recording) {
  const Counting scope;
  auto& counter = CountingAllocator::instance();
  const std::int64_t before = counter.live();
  counter.reset_peak();
  {
    std::vector<std::vector<std::int64_t>> shapes;
    const torch::Tensor y = recording ? module->forward_recording(x, shapes) : module->forward(x);
  }
  return counter.peak() - before;
}

}  // namespace

// ------------------------------------------------------------------ hand-built architectures

BOOST_AUTO_TEST_CASE(plain_cnn_matches_inference_analytics_and_hand_counts) {
  const auto counts = check_against_libtorch(plain_cnn());
  BOOST_TEST(counts.params == plain_cnn_params);
  BOOST_TEST(counts.macs == plain_cnn_macs);
}

BOOST_AUTO_TEST_CASE(grouped_depthwise_residual_concat_matches) {
  const auto counts = check_against_libtorch(residual_grouped());
  BOOST_TEST(counts.params == residual_grouped_params);
  BOOST_TEST(counts.macs == residual_grouped_macs);
}

BOOST_AUTO_TEST_CASE(flat_vector_ops_match) {
  const auto counts = check_against_libtorch(flat_ops());
  BOOST_TEST(counts.params == flat_ops_params);
  BOOST_TEST(counts.macs == flat_ops_macs);
}

BOOST_AUTO_TEST_CASE(rectangular_kernels_strides_paddings_match) {
  const auto counts = check_against_libtorch(rectangular_windows());
  BOOST_TEST(counts.params == rectangular_windows_params);
  BOOST_TEST(counts.macs == rectangular_windows_macs);
}

BOOST_AUTO_TEST_CASE(every_op_is_covered_by_the_hand_built_architectures) {
  std::vector<bool> seen(narrow::op_count, false);
  bool grouped = false, depthwise = false, flat_bn = false, padded_max = false, padded_avg = false;
  for (const auto& arch : {plain_cnn(), residual_grouped(), flat_ops(), rectangular_windows()}) {
    for (std::size_t i = 0; i < arch.layers().size(); ++i) {
      const Layer& l = arch.layers()[i];
      seen[static_cast<std::size_t>(l.op)] = true;
      const int in = arch.input_indices(i)[0];
      const Shape& s = in < 0 ? arch.input() : arch.shape(std::size_t(in));
      if (l.op == Op::conv2d && l.groups > 1) (l.groups == s.c ? depthwise : grouped) = true;
      if (l.op == Op::batchnorm && s.flat) flat_bn = true;
      if (l.op == Op::maxpool && l.padding[0] > 0) padded_max = true;
      if (l.op == Op::avgpool && l.padding[0] > 0) padded_avg = true;
    }
  }
  for (int op = 0; op < narrow::op_count; ++op) {
    BOOST_TEST_INFO("op " << narrow::op_name(static_cast<Op>(op)));
    BOOST_TEST(bool(seen[static_cast<std::size_t>(op)]));
  }
  BOOST_TEST(grouped);
  BOOST_TEST(depthwise);
  BOOST_TEST(flat_bn);
  BOOST_TEST(padded_max);
  BOOST_TEST(padded_avg);
}

// ------------------------------------------------------------------ semantics of the ops

BOOST_AUTO_TEST_CASE(avgpool_counts_padding_and_maxpool_ignores_it) {
  // A 2x2 image under a 3x3 window with padding 1: every window covers 4 real pixels.
  for (Op op : {Op::avgpool, Op::maxpool}) {
    Architecture a(map_shape(1, 2, 2), 4);
    a.add(pool("p", op, "input", {3, 3}, {1, 1}, {1, 1}));
    a.add(unary("flat", Op::flatten, "p"));
    a.finalize();
    auto module = narrow::build_module(a);
    module->eval();
    torch::NoGradGuard no_grad;
    const float value = -1.0f;  // negative: a zero padding would win a max
    const torch::Tensor y = module->forward(torch::full({1, 1, 2, 2}, value));
    const float expected = op == Op::avgpool ? value * 4.0f / 9.0f : value;
    BOOST_TEST_INFO("op " << narrow::op_name(op));
    BOOST_TEST(torch::allclose(y, torch::full({1, 4}, expected)));
  }
}

BOOST_AUTO_TEST_CASE(relu_and_relu6_clip) {
  for (Op op : {Op::relu, Op::relu6}) {
    Architecture a(map_shape(1, 1, 4), 4);
    a.add(unary("act", op, "input"));
    a.add(unary("flat", Op::flatten, "act"));
    a.finalize();
    auto module = narrow::build_module(a);
    torch::NoGradGuard no_grad;
    const torch::Tensor y =
        module->forward(torch::tensor({-3.0f, 2.0f, 6.5f, 10.0f}).view({1, 1, 1, 4}));
    const torch::Tensor expected = op == Op::relu ? torch::tensor({0.0f, 2.0f, 6.5f, 10.0f})
                                                  : torch::tensor({0.0f, 2.0f, 6.0f, 6.0f});
    BOOST_TEST_INFO("op " << narrow::op_name(op));
    BOOST_TEST(torch::equal(y, expected.view({1, 4})));
  }
}

BOOST_AUTO_TEST_CASE(add_sums_and_concat_stacks_channels) {
  Architecture a(map_shape(2, 1, 1), 6);
  a.add(layer("sum", Op::add, {"input", "input"}));
  a.add(layer("cat", Op::concat, {"sum", "input", "sum"}));
  a.add(unary("flat", Op::flatten, "cat"));
  a.finalize();
  auto module = narrow::build_module(a);
  torch::NoGradGuard no_grad;
  const torch::Tensor y = module->forward(torch::tensor({1.0f, -2.0f}).view({1, 2, 1, 1}));
  BOOST_TEST(torch::equal(y, torch::tensor({2.0f, -4.0f, 1.0f, -2.0f, 2.0f, -4.0f}).view({1, 6})));
}

BOOST_AUTO_TEST_CASE(global_avgpool_keeps_a_1x1_map) {
  Architecture a(map_shape(3, 5, 4), 3);
  a.add(unary("gap", Op::global_avgpool, "input"));
  a.add(unary("flat", Op::flatten, "gap"));
  a.finalize();
  BOOST_TEST(text(dims(a.shape(0))) == "[3,1,1]");
  auto module = narrow::build_module(a);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 3, 5, 4});
  std::vector<std::vector<std::int64_t>> shapes;
  const torch::Tensor y = module->forward_recording(x, shapes);
  BOOST_TEST(text(shapes[0]) == "[3,1,1]");
  BOOST_TEST(torch::allclose(y, x.mean({2, 3})));
}

BOOST_AUTO_TEST_CASE(outputs_are_released_after_their_last_consumer) {
  // Large maps so that the activations dominate every other allocation.
  const Shape in = map_shape(16, 64, 64);
  const std::int64_t tensor = in.volume() * 4;  // bytes of one float32 map

  // A chain of eight activations: only the current input and output need to be alive.
  Architecture chain(in, 16);
  std::string prev = "input";
  for (int i = 0; i < 8; ++i) {
    const std::string id = "act" + std::to_string(i);
    chain.add(unary(id, i % 2 ? Op::relu6 : Op::relu, prev));
    prev = id;
  }
  chain.add(unary("gap", Op::global_avgpool, prev));
  chain.add(unary("flat", Op::flatten, "gap"));
  chain.finalize();

  // A diamond whose first tensor is read again at the end.
  Architecture diamond(in, 32);
  diamond.add(unary("a", Op::relu, "input"));
  diamond.add(pool("b", Op::avgpool, "a", {3, 3}, {1, 1}, {1, 1}));
  diamond.add(unary("c", Op::relu6, "a"));
  diamond.add(layer("s", Op::add, {"b", "c"}));       // a, b, c, s alive; then b and c go
  diamond.add(layer("cat", Op::concat, {"s", "a"}));  // a, s and the double-size cat alive
  diamond.add(unary("gap", Op::global_avgpool, "cat"));
  diamond.add(unary("flat", Op::flatten, "gap"));
  diamond.finalize();

  for (const auto& [arch, expected] :
       {std::pair{chain, 2 * tensor}, std::pair{diamond, 4 * tensor}}) {
    BOOST_TEST_CONTEXT("architecture " << arch.to_json_string()) {
      auto module = narrow::build_module(arch);
      module->eval();
      torch::NoGradGuard no_grad;
      const torch::Tensor x = torch::randn(batched(1, arch.input()));
      for (bool recording : {false, true}) {
        BOOST_TEST_INFO("forward_recording: " << recording);
        const std::int64_t peak = forward_peak_bytes(module, x, recording);
        // The counter sees the activations at all, and no more of them than needed.
        BOOST_TEST(peak >= expected);
        BOOST_TEST(peak <= expected + 4096);
        // narrow's exact peak (which also counts the input until its last reader) bounds it.
        BOOST_TEST(peak <= narrow::analyse(arch).activation_peak_bytes);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(dropout_follows_training_mode) {
  auto module = narrow::build_module(flat_ops());
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({8, 4, 6, 6});
  module->train();
  // Different masks on 8x40 activations: equal outputs would mean dropout is not applied.
  BOOST_TEST(!torch::equal(module->forward(x), module->forward(x)));
  module->eval();
  BOOST_TEST(torch::equal(module->forward(x), module->forward(x)));
}

BOOST_AUTO_TEST_CASE(training_reaches_every_parameter) {
  for (const auto& arch : {plain_cnn(), residual_grouped(), flat_ops(), rectangular_windows()}) {
    BOOST_TEST_CONTEXT("architecture " << arch.to_json_string()) {
      auto module = narrow::build_module(arch);
      module->train();
      const torch::Tensor x = torch::randn(batched(4, arch.input()));
      const torch::Tensor y = module->forward(x);
      BOOST_TEST(text(y.sizes().vec()) == text({4, arch.classes()}));
      torch::nn::functional::cross_entropy(y, torch::randint(arch.classes(), {4})).backward();
      for (const auto& p : module->named_parameters()) {
        BOOST_TEST_INFO("parameter " << p.key());
        BOOST_TEST_REQUIRE(p.value().grad().defined());
        // A bias right before a batchnorm in training mode gets a zero gradient by design;
        // weights must all receive something.
        const auto& key = p.key();
        if (key.size() > 7 && key.compare(key.size() - 7, 7, ".weight") == 0) {
          BOOST_TEST_INFO("parameter " << key);
          BOOST_TEST(p.value().grad().abs().sum().item<double>() > 0.0);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(parameters_are_named_after_layer_ids) {
  auto module = narrow::build_module(plain_cnn());
  std::string names;
  for (const auto& p : module->named_parameters()) names += p.key() + " ";
  BOOST_TEST(names ==
             "c1.weight bn1.weight bn1.bias c2.weight c2.bias fc1.weight fc1.bias bnf.weight "
             "bnf.bias fc2.weight fc2.bias ");
  // Running statistics are buffers, not parameters.
  std::string buffers;
  for (const auto& b : module->named_buffers()) buffers += b.key() + " ";
  BOOST_TEST(buffers.find("bn1.running_mean") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(count_parameters_skips_frozen_parameters) {
  auto module = narrow::build_module(plain_cnn());
  BOOST_TEST(narrow::count_parameters(*module) == plain_cnn_params);
  for (auto& p : module->named_parameters())
    if (p.key().rfind("fc1.", 0) == 0) p.value().set_requires_grad(false);
  BOOST_TEST(narrow::count_parameters(*module) == plain_cnn_params - 32832);
}

BOOST_AUTO_TEST_CASE(unfinalized_architectures_are_refused) {
  Architecture a(map_shape(3, 8, 8), 2);
  a.add(unary("flat", Op::flatten, "input"));
  a.add(linear("fc", "flat", 2));
  BOOST_CHECK_THROW(narrow::build_module(a), narrow::InvalidArchitecture);
  a.finalize();
  BOOST_CHECK_NO_THROW(narrow::build_module(a));
  a.add(linear("fc2", "fc", 2));  // adding a layer drops the finalized state
  BOOST_CHECK_THROW(narrow::build_module(a), narrow::InvalidArchitecture);
}

BOOST_AUTO_TEST_CASE(a_wrong_input_shape_is_an_input_error) {
  auto module = narrow::build_module(plain_cnn());
  torch::NoGradGuard no_grad;
  BOOST_CHECK_THROW(module->forward(torch::randn({1, 3, 31, 32})), narrow::InputError);
  BOOST_CHECK_THROW(module->forward(torch::randn({1, 4, 32, 32})), narrow::InputError);
  BOOST_CHECK_THROW(module->forward(torch::randn({3, 32, 32})), narrow::InputError);
  BOOST_CHECK_NO_THROW(module->forward(torch::randn({2, 3, 32, 32})));
}

BOOST_AUTO_TEST_CASE(an_architecture_read_back_from_json_builds_the_same_module) {
  const Architecture a = residual_grouped();
  const Architecture b = Architecture::from_json_string(a.to_json_string());
  torch::manual_seed(7);
  auto ma = narrow::build_module(a);
  torch::manual_seed(7);
  auto mb = narrow::build_module(b);
  ma->eval();
  mb->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 8, 16, 16});
  BOOST_TEST(torch::equal(ma->forward(x), mb->forward(x)));
}

// ------------------------------------------------------------------ the sequential space

BOOST_AUTO_TEST_CASE(sequential_space_random_architectures_match_libtorch) {
  narrow::Registry reg;
  auto space = load_space(reg, "sequential");
  BOOST_TEST_REQUIRE(space != nullptr);
  const narrow::Sampler sampler(*space, narrow::SamplingLaw::uniform(space->variables()), 42);
  std::int64_t min_params = -1, max_params = 0;
  for (std::uint64_t i = 0; i < 200; ++i) {
    const narrow::SampledArchitecture s = sampler.draw(i);
    BOOST_TEST_CONTEXT("draw " << i) {
      BOOST_TEST_REQUIRE(s.architecture.finalized());
      // Every fifth draw also runs the plain forward; the rest only the recording one.
      const auto counts = check_against_libtorch(s.architecture, i % 5 == 0);
      BOOST_TEST(s.metrics.params == counts.params);
      BOOST_TEST(s.metrics.macs == counts.macs);
      min_params = min_params < 0 ? counts.params : std::min(min_params, counts.params);
      max_params = std::max(max_params, counts.params);
    }
  }
  // Uniform draws over the whole space do not all give the same network.
  BOOST_TEST(min_params < max_params);
}

BOOST_AUTO_TEST_CASE(sequential_space_references_match_libtorch) {
  narrow::Registry reg;
  auto space = load_space(reg, "sequential");
  BOOST_TEST_REQUIRE(space != nullptr);
  const auto names = space->references();
  BOOST_TEST_REQUIRE(!names.empty());
  for (const auto& name : names) {
    BOOST_TEST_CONTEXT("reference '" << name << "'") {
      Architecture a = space->build(space->reference(name));
      a.finalize();
      check_against_libtorch(a);
    }
  }
}
