#define BOOST_TEST_MODULE architecture
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"

using namespace narrow;

namespace {
Layer L(std::string id, Op op, std::vector<std::string> in) {
  Layer l;
  l.id = std::move(id);
  l.op = op;
  l.inputs = std::move(in);
  return l;
}
Layer conv(std::string id, std::string in, std::int64_t out, std::int64_t k, std::int64_t s = 1,
           std::int64_t p = 0, std::int64_t g = 1, bool bias = true) {
  Layer l = L(std::move(id), Op::conv2d, {std::move(in)});
  l.out_channels = out;
  l.kernel = {k, k};
  l.stride = {s, s};
  l.padding = {p, p};
  l.groups = g;
  l.bias = bias;
  return l;
}
Layer linear(std::string id, std::string in, std::int64_t out) {
  Layer l = L(std::move(id), Op::linear, {std::move(in)});
  l.out_channels = out;
  return l;
}

// A small residual network with a branch that is concatenated: input [3,8,8], 5 classes.
Architecture residual() {
  Architecture a(Shape{3, 8, 8}, 5);
  a.add(conv("c1", "input", 4, 3, 1, 1, 1, false));  // [4,8,8]
  a.add(L("b1", Op::batchnorm, {"c1"}));
  a.add(L("r1", Op::relu, {"b1"}));
  a.add(conv("c2", "r1", 4, 3, 1, 1, 2));      // grouped, [4,8,8]
  a.add(L("sum", Op::add, {"c2", "r1"}));      // [4,8,8]
  a.add(conv("c3", "sum", 2, 1));              // [2,8,8]
  a.add(L("cat", Op::concat, {"sum", "c3"}));  // [6,8,8]
  Layer pool = L("pool", Op::maxpool, {"cat"});
  pool.kernel = {2, 2};
  pool.stride = {2, 2};
  a.add(pool);                                    // [6,4,4]
  a.add(L("gap", Op::global_avgpool, {"pool"}));  // [6,1,1]
  a.add(L("flat", Op::flatten, {"gap"}));         // [6]
  Layer d = L("drop", Op::dropout, {"flat"});
  d.p = 0.25;
  a.add(d);
  a.add(linear("fc", "drop", 5));
  a.set_output("fc");
  a.finalize();
  return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE(shapes_are_inferred) {
  auto a = residual();
  BOOST_TEST(a.shape(a.index_of("c2")).to_string() == "[4,8,8]");
  BOOST_TEST(a.shape(a.index_of("cat")).to_string() == "[6,8,8]");
  BOOST_TEST(a.shape(a.index_of("pool")).to_string() == "[6,4,4]");
  BOOST_TEST(a.shape(a.index_of("gap")).to_string() == "[6,1,1]");
  BOOST_TEST(a.shape(a.index_of("fc")).to_string() == "[5]");
  BOOST_TEST(a.last_consumer(a.index_of("r1")) == int(a.index_of("sum")));
  BOOST_TEST(a.last_consumer(a.index_of("sum")) == int(a.index_of("cat")));
}

BOOST_AUTO_TEST_CASE(metrics_by_hand) {
  auto a = residual();
  auto m = analyse(a);
  // params: c1 3*4*9 = 108 (no bias); b1 8; c2 4*(4/2)*9+4 = 76; c3 4*2+2 = 10; fc 6*5+5 = 35.
  BOOST_TEST(m.params == 108 + 8 + 76 + 10 + 35);
  // macs: c1 4*64*27 = 6912; c2 4*64*18 = 4608; c3 2*64*4 = 512; fc 30.
  BOOST_TEST(m.macs == 6912 + 4608 + 512 + 30);
  BOOST_TEST(m.flops == 2 * m.macs);
  BOOST_TEST(m.layers == 4);
  BOOST_TEST(m.weight_bytes == 4 * m.params);
  BOOST_TEST(analyse(a, 4).weight_bytes == (m.params * 4 + 7) / 8);
  // Largest volume of any layer's input or output: cat output 6*64 = 384.
  BOOST_TEST(m.memory_eq6_bytes == 4 * (m.params + 384));
  // Live tensors (floats): input 192; c1 +256 = 448 (input freed after); b1: 256+256 = 512;
  // r1: 512 (b1 freed after) -> r1 256; c2: 256+256 = 512; sum: 512+256 = 768, then c2 and r1
  // are freed -> 256; c3: 256+128 = 384; cat: 384+384 = 768. Peak 768 floats.
  BOOST_TEST(m.activation_peak_bytes == 4 * 768);
}

BOOST_AUTO_TEST_CASE(json_round_trip_keeps_graph_and_hash) {
  auto a = residual();
  auto text = a.to_json_string();
  auto b = Architecture::from_json_string(text);
  BOOST_TEST(b.to_json_string() == text);
  BOOST_TEST(b.hash() == a.hash());
  BOOST_TEST(a.hash().size() == 32u);
  auto j = nlohmann::json::parse(text);
  BOOST_TEST(j["input"] == nlohmann::json({3, 8, 8}));
  BOOST_TEST(j["classes"] == 5);
  BOOST_TEST(j["output"] == "fc");
  BOOST_TEST(j["layers"][0]["op"] == "conv2d");
  BOOST_TEST(j["layers"][0]["kernel"] == nlohmann::json({3, 3}));
  BOOST_TEST(j["layers"][0]["bias"] == false);
  BOOST_TEST(j["layers"].back()["out_features"] == 5);
}

BOOST_AUTO_TEST_CASE(hash_ignores_ids_but_not_structure) {
  auto a = residual();
  auto j = a.to_json();
  // Renaming a layer keeps the hash; changing a width does not.
  std::string text = j.dump();
  auto renamed = nlohmann::json::parse(text);
  renamed["layers"][0]["id"] = "stem";
  renamed["layers"][1]["inputs"][0] = "stem";
  BOOST_TEST(Architecture::from_json(renamed).hash() == a.hash());
  auto wider = nlohmann::json::parse(text);
  wider["layers"][5]["out_channels"] = 3;
  BOOST_TEST(Architecture::from_json(wider).hash() != a.hash());
}

BOOST_AUTO_TEST_CASE(hash_ignores_the_order_of_independent_branches) {
  // Two branches from the input, concatenated: list branch b before branch a.
  auto two_branches = [](bool a_first) {
    Architecture x(Shape{1, 6, 6}, 3);
    auto a = conv("a", "input", 2, 3, 1, 1);
    auto b = conv("b", "input", 5, 1);
    if (a_first) {
      x.add(a);
      x.add(b);
    } else {
      x.add(b);
      x.add(a);
    }
    x.add(L("cat", Op::concat, {"a", "b"}));
    x.add(L("f", Op::flatten, {"cat"}));
    x.add(linear("o", "f", 3));
    x.finalize();
    return x;
  };
  BOOST_TEST(two_branches(true).hash() == two_branches(false).hash());
  // The order of a concat's inputs is part of the computation.
  Architecture swapped(Shape{1, 6, 6}, 3);
  swapped.add(conv("a", "input", 2, 3, 1, 1));
  swapped.add(conv("b", "input", 5, 1));
  swapped.add(L("cat", Op::concat, {"b", "a"}));
  swapped.add(L("f", Op::flatten, {"cat"}));
  swapped.add(linear("o", "f", 3));
  swapped.finalize();
  BOOST_TEST(swapped.hash() != two_branches(true).hash());
}

BOOST_AUTO_TEST_CASE(layers_out_of_order_are_sorted) {
  auto j = residual().to_json();
  auto layers = j["layers"];
  std::reverse(layers.begin(), layers.end());
  j["layers"] = layers;
  auto b = Architecture::from_json(j);
  BOOST_TEST(b.hash() == residual().hash());
}

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InvalidArchitecture& e) {
    return e.what();
  }
  return "";
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(invalid_graphs_are_rejected_with_reason) {
  auto build = [](std::vector<Layer> layers, std::int64_t classes = 10) {
    Architecture a(Shape{1, 8, 8}, classes);
    for (auto& l : layers) a.add(l);
    a.finalize();
  };
  auto e = error_of([&] {
    build({conv("c", "input", 4, 9), L("f", Op::flatten, {"c"}), linear("o", "f", 10)});
  });
  BOOST_TEST(contains(e, "layer 'c' (conv2d)"), e);
  BOOST_TEST(contains(e, "larger than the padded input [1,8,8]"), e);
  e = error_of([&] { build({linear("o", "input", 10)}); });
  BOOST_TEST(contains(e, "needs a flat vector, got the feature map [1,8,8]"), e);
  e = error_of([&] {
    build({conv("a", "input", 2, 1), conv("b", "input", 3, 1), L("s", Op::add, {"a", "b"}),
           L("f", Op::flatten, {"s"}), linear("o", "f", 10)});
  });
  BOOST_TEST(contains(e, "input shapes differ: 'a' is [2,8,8], 'b' is [3,8,8]"), e);
  e = error_of([&] {
    build({conv("c", "input", 3, 1, 1, 0, 2), L("f", Op::flatten, {"c"}), linear("o", "f", 10)});
  });
  BOOST_TEST(contains(e, "groups 2 must divide"), e);
  e = error_of([&] { build({L("f", Op::flatten, {"nope"}), linear("o", "f", 10)}); });
  BOOST_TEST(contains(e, "reads unknown layer 'nope'"), e);
  e = error_of([&] { build({L("f", Op::flatten, {"input"}), linear("o", "f", 7)}); });
  BOOST_TEST(contains(e, "must be the flat vector [10]"), e);
  e = error_of([&] {
    build({L("f", Op::flatten, {"input"}), linear("x", "f", 3), linear("o", "f", 10)});
  });
  BOOST_TEST(contains(e, "layer 'x' (linear) is never used"), e);
  e = error_of([&] {
    build({L("f", Op::flatten, {"input"}), L("f", Op::relu, {"f"}), linear("o", "f", 10)});
  });
  BOOST_TEST(contains(e, "used twice"), e);
  Layer pool = L("p", Op::maxpool, {"input"});
  pool.kernel = {2, 2};
  pool.padding = {2, 2};
  e = error_of([&] { build({pool, L("f", Op::flatten, {"p"}), linear("o", "f", 10)}); });
  BOOST_TEST(contains(e, "more than half the kernel"), e);
}

BOOST_AUTO_TEST_CASE(bad_json_is_rejected_with_path) {
  auto e = error_of([] { Architecture::from_json_string("{\"input\": [1,8,8]"); });
  BOOST_TEST(contains(e, "not valid JSON"), e);
  e = error_of([] {
    Architecture::from_json_string(
        R"({"input":[1,8,8],"classes":2,"output":"o","layers":[{"id":"f","op":"flatten","inputs":["input"]},{"id":"o","op":"lineer","inputs":["f"]}]})");
  });
  BOOST_TEST(contains(e, "layers[1] ('o'): unknown op 'lineer' (valid: add, avgpool"), e);
  e = error_of([] {
    Architecture::from_json_string(
        R"({"input":[1,8,8],"classes":2,"output":"o","layers":[{"id":"f","op":"flatten","inputs":["input"],"kernel":3},{"id":"o","op":"linear","out_features":2,"inputs":["f"]}]})");
  });
  BOOST_TEST(contains(e, "unknown attribute 'kernel' for flatten"), e);
  e = error_of([] {
    Architecture::from_json_string(
        R"({"input":[1,8,8],"classes":2,"output":"b","layers":[{"id":"a","op":"relu","inputs":["b"]},{"id":"b","op":"relu","inputs":["a"]}]})");
  });
  BOOST_TEST(contains(e, "cycle"), e);
  e = error_of(
      [] { Architecture::from_json_string(R"({"input":[1,8,8],"classes":2,"layers":[]})"); });
  BOOST_TEST(contains(e, "missing key 'output'"), e);
}
