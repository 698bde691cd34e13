#define BOOST_TEST_MODULE space_kit
// The space kit (narrow/space_kit.hpp): the `input` and `classes` parameters, the start of a
// reference assignment, the bound check of references and the graph builder's layers.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/space_kit.hpp"

using namespace narrow;

namespace {
std::string message_of(const std::string& reference, std::initializer_list<ReferenceBound> b) {
  try {
    check_reference_bounds(reference, b);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(input_and_classes_parameters) {
  const ParamSchema schema{input_parameter({3, 32, 32}), classes_parameter()};
  BOOST_TEST(schema[0].allowed() == "1..4096");
  BOOST_TEST(schema[0].help == "input shape [C,H,W]");
  BOOST_TEST(schema[1].allowed() == "1..100000");
  BOOST_TEST(schema[1].help == "number of classes");
  BOOST_TEST(classes_parameter(12, "keywords").help == "keywords");
  auto p = Parameters::resolve(schema, {{"input", "1x49x10"}}, "space 'kit'");
  BOOST_TEST(input_shape(p, "kit").to_string() == "[1,49,10]");
  BOOST_TEST(p.integer("classes") == 10);
  p.set("input", std::vector<std::int64_t>{1, 28});
  BOOST_CHECK_EXCEPTION(input_shape(p, "kit"), InputError, [](const InputError& e) {
    return std::string(e.what()) == "space 'kit': input must be 3 integers [C,H,W], got 2";
  });
}

BOOST_AUTO_TEST_CASE(references_start_at_the_minima_and_name_the_bounds_they_need) {
  std::vector<Variable> vars;
  add_variable(vars, "depth", Variable::Kind::integer, 1, 4, {}, -1, 0, "");
  add_variable(vars, "act", Variable::Kind::choice, 0, 1, {"relu", "relu6"}, -1, 0, "");
  add_variable(vars, "width", Variable::Kind::integer, 8, 64, {}, 0, 1, "");
  BOOST_TEST(minimum_assignment(vars) == (Assignment{1, 0, 8}));

  BOOST_CHECK_NO_THROW(check_reference_bounds("r", {{"max_depth", 2, 2}, {"max_units", 1, 9}}));
  BOOST_TEST(message_of("r", {{"max_depth", 3, 2}}) ==
             "reference 'r' needs max_depth >= 3 (this space has 2)");
  BOOST_TEST(message_of("r", {{"a", 1, 1}, {"b", 5, 4}}) ==
             "reference 'r' needs a >= 1 and b >= 5 (this space has 1 and 4)");
  BOOST_TEST(message_of("r", {{"a", 2, 1}, {"b", 1, 1}, {"c", 1, 1}}) ==
             "reference 'r' needs a >= 2, b >= 1 and c >= 1 (this space has 1, 1 and 1)");
}

BOOST_AUTO_TEST_CASE(graph_builder_adds_the_layers_it_names) {
  Architecture arch(Shape{3, 8, 8, false}, 5);
  GraphBuilder b(arch);
  std::string x = b.conv_unit({"c", "n", "r"}, "input", Conv::same(4, 3, 2), Op::relu6);
  BOOST_TEST(x == "r");
  const std::string d = b.conv_unit({"d", "", ""}, x, Conv::depthwise(4, 3));
  const std::string p = b.norm_act_conv({"pc", "pn", "pr"}, x, Conv::same(4, 1));
  x = b.add("a", d, p);
  x = b.concat("k", {x, d});
  x = b.pool("mp", Op::maxpool, x, Window::square(3, 2, 1));
  BOOST_TEST(b.pooled_head(x, {.pool = "gap", .flatten = "flat"}, 0.25) == "fc");
  arch.finalize();

  std::vector<std::string> ids;
  for (const auto& l : arch.layers()) ids.push_back(l.id);
  BOOST_TEST(ids == (std::vector<std::string>{"c", "n", "r", "d", "pn", "pr", "pc", "a", "k", "mp",
                                              "gap", "flat", "drop", "fc"}));
  const auto& c = arch.layers()[0];
  BOOST_TEST((c.op == Op::conv2d));
  BOOST_TEST(c.out_channels == 4);
  BOOST_TEST(c.kernel[0] == 3);
  BOOST_TEST(c.stride[1] == 2);
  BOOST_TEST(c.padding[0] == 1);
  BOOST_TEST(!c.bias);
  BOOST_TEST((arch.layers()[2].op == Op::relu6));
  BOOST_TEST(arch.layers()[3].groups == 4);
  BOOST_TEST(arch.layers()[4].inputs == (std::vector<std::string>{"r"}));
  BOOST_TEST(arch.layers()[8].inputs == (std::vector<std::string>{"a", "d"}));
  BOOST_TEST(arch.shape(arch.index_of("mp")).to_string() == "[8,2,2]");
  BOOST_TEST(arch.layers()[12].p == 0.25);
  BOOST_TEST(arch.output() == "fc");
  BOOST_TEST(arch.shape(arch.output_index()).to_string() == "[5]");

  // classifier() alone: one linear layer with bias and one output per class.
  Architecture mlp(Shape{1, 2, 2, false}, 3);
  GraphBuilder m(mlp);
  x = m.unary("flatten", Op::flatten, "input");
  x = m.linear("fc1", x, 6);
  x = m.dropout("drop1", x, 0.5);
  BOOST_TEST(m.classifier("classifier", x) == "classifier");
  mlp.finalize();
  BOOST_TEST(mlp.layers().size() == 4u);
  BOOST_TEST(mlp.layers()[3].out_channels == 3);
  BOOST_TEST(mlp.layers()[3].bias);
  BOOST_TEST(mlp.output() == "classifier");
}
