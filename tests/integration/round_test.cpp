#define BOOST_TEST_MODULE round_command
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/process.hpp>

#include "support/run.hpp"

namespace fs = std::filesystem;
using narrow::test::RunResult;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Runs `narrow args...` with `input` on stdin and extra environment entries ("NAME=value");
/// stdout and stderr are captured byte for byte.
RunResult run_with_input(const std::vector<std::string>& args, const std::string& input,
                         const std::vector<std::string>& extra_env = {}) {
  namespace bp = boost::process;
  static int counter = 0;
  const fs::path dir =
      fs::temp_directory_path() /
      ("narrow_round_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  { std::ofstream(dir / "in", std::ios::binary) << input; }
  bp::environment env = boost::this_process::environment();
  for (const auto& kv : extra_env) env[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  bp::child c(narrow::test::env("NARROW_EXE"), bp::args(args),
              bp::std_in<(dir / "in").string(), bp::std_out>(dir / "out").string(),
              bp::std_err > (dir / "err").string(), env);
  c.wait();
  RunResult r;
  r.exit_code = c.exit_code();
  r.out = read_file(dir / "out");
  r.err = read_file(dir / "err");
  fs::remove_all(dir);
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string to_bytes(const std::vector<float>& v) {
  std::string s(v.size() * sizeof(float), '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

std::vector<float> from_bytes(const std::string& s) {
  std::vector<float> v(s.size() / sizeof(float));
  std::memcpy(v.data(), s.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(help_explains_the_command) {
  const auto r = narrow::test::run_narrow({"round", "--help"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.out.find("--format") != std::string::npos);
  BOOST_TEST(r.out.find("examples") != std::string::npos);
  const auto all = narrow::test::run_narrow({"--help"});
  BOOST_TEST(all.out.find("round") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(text_decimal_and_hex_input_give_exact_hex_output) {
  const auto r = run_with_input({"round", "--format", "e4m3"},
                                "0.1\n0x1.8p-3\n  -2.5  \n\n500\n1e-3\n-0\ninf\nnan\n448\n");
  BOOST_TEST(r.exit_code == 0, r.err);
  const std::vector<std::string> want{"0x1.ap-4", "0x1.8p-3", "-0x1.4p+1", "0x1.cp+8", "0x1p-9",
                                      "-0x0p+0",  "0x1.cp+8", "nan",       "0x1.cp+8"};
  BOOST_TEST(lines(r.out) == want, r.out);
  const auto e5 = run_with_input({"round", "--format", "e5m2"}, "70000\n-inf\n3\n");
  BOOST_TEST(lines(e5.out) == (std::vector<std::string>{"inf", "-inf", "0x1.8p+1"}), e5.out);
  const auto e5sat =
      run_with_input({"round", "--format", "e5m2", "--param", "saturate=yes"}, "70000\n");
  BOOST_TEST(lines(e5sat.out) == std::vector<std::string>{"0x1.cp+15"}, e5sat.out);
  const auto fixed = run_with_input({"round", "--format", "fixed(3,4)", "--rounding", "down"},
                                    "0.1\n-0.1\n100\nnan\n");
  BOOST_TEST(
      lines(fixed.out) == (std::vector<std::string>{"0x1p-4", "-0x1p-3", "0x1.fcp+2", "0x0p+0"}),
      fixed.out);
  // Decimal input is read correctly rounded to float32: 0.1f's exact value comes back.
  const auto idem = run_with_input({"round", "--format", "fixed(0,31)"}, "0.1\n");
  BOOST_TEST(std::strtod(lines(idem.out).at(0).c_str(), nullptr) == double(0.1f));
}

BOOST_AUTO_TEST_CASE(output_parses_back_exactly) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1000.0f, 1000.0f);
  std::vector<float> xs(2000);
  std::string input;
  for (auto& x : xs) {
    x = u(gen);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g\n", double(x));
    input += buf;
  }
  const auto text = run_with_input({"round", "--format", "e5m2"}, input);
  const auto bin = run_with_input({"round", "--format", "e5m2", "--binary"}, to_bytes(xs));
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(bin.exit_code == 0);
  const auto out = lines(text.out);
  const auto values = from_bytes(bin.out);
  BOOST_TEST_REQUIRE(out.size() == xs.size());
  BOOST_TEST_REQUIRE(values.size() == xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i)
    BOOST_TEST_REQUIRE(std::strtof(out[i].c_str(), nullptr) == values[i]);
}

BOOST_AUTO_TEST_CASE(binary_round_trip) {
  std::vector<float> xs{
      0.0f, -0.0f, 1.0f, 0.3f, -7.99f, 1e10f, std::numeric_limits<float>::infinity()};
  const auto r = run_with_input({"round", "--format", "fixed(3,4)", "--binary"}, to_bytes(xs));
  BOOST_TEST(r.exit_code == 0, r.err);
  const auto got = from_bytes(r.out);
  BOOST_TEST(got == (std::vector<float>{0.0f, 0.0f, 1.0f, 0.3125f, -8.0f, 7.9375f, 7.9375f}));
  // Rounding what was rounded changes nothing.
  const auto again = run_with_input({"round", "--format", "fixed(3,4)", "--binary"}, r.out);
  BOOST_TEST(again.out == r.out);
  // A trailing partial value is an error.
  const auto bad = run_with_input({"round", "--format", "e4m3", "--binary"}, to_bytes(xs) + "ab");
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("stdin: error: the input ends with 2 bytes after 7 float32") !=
                 std::string::npos,
             bad.err);
  const auto empty = run_with_input({"round", "--format", "e4m3", "--binary"}, "");
  BOOST_TEST(empty.exit_code == 0);
  BOOST_TEST(empty.out.empty());
}

BOOST_AUTO_TEST_CASE(bad_input_and_usage_exit_2) {
  const auto bad = run_with_input({"round", "--format", "e4m3"}, "1\n2\n\nxyz\n4\n");
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("stdin:4: error: 'xyz' is not a number") != std::string::npos, bad.err);
  const auto trailing = run_with_input({"round", "--format", "e4m3"}, "1.5x\n");
  BOOST_TEST(trailing.exit_code == 2);
  BOOST_TEST(trailing.err.find("stdin:1:") != std::string::npos, trailing.err);
  const auto nul = run_with_input({"round", "--format", "e4m3"}, std::string("1\0x\n", 4));
  BOOST_TEST(nul.exit_code == 2);
  BOOST_TEST(nul.err.find("stdin:1: error: '1\\x00x'") != std::string::npos, nul.err);
  const auto unknown = run_with_input({"round", "--format", "e9m9"}, "1\n");
  BOOST_TEST(unknown.exit_code == 2);
  BOOST_TEST(unknown.err.find("e4m3") != std::string::npos, unknown.err);  // lists valid names
  BOOST_TEST(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1, unknown.err);
  const auto no_format = run_with_input({"round"}, "1\n");
  BOOST_TEST(no_format.exit_code == 2);
  const auto bad_mode =
      run_with_input({"round", "--format", "e4m3", "--rounding", "sideways"}, "1\n");
  BOOST_TEST(bad_mode.exit_code == 2);
  BOOST_TEST(bad_mode.err.find("stochastic") != std::string::npos, bad_mode.err);
  const auto bad_param =
      run_with_input({"round", "--format", "fixed(3,4)", "--param", "q=1"}, "1\n");
  BOOST_TEST(bad_param.exit_code == 2);
  const auto too_wide = run_with_input({"round", "--format", "fixed(20,20)"}, "1\n");
  BOOST_TEST(too_wide.exit_code == 2, too_wide.err);
}

// NARROW_IEEE_NO_AVX2=1 (the ieee plugin's baseline loop) changes no result; a value other
// than 1, 0 or empty is one line and exit code 2.
BOOST_AUTO_TEST_CASE(ieee_baseline_loop_switch) {
  const std::string input = "0.1\n-3.14159\n65519\n1e-7\n-0\n";
  for (const char* format : {"half", "bfloat16", "ieee(3,2)"}) {
    const auto plain = run_with_input({"round", "--format", format}, input);
    const auto baseline =
        run_with_input({"round", "--format", format}, input, {"NARROW_IEEE_NO_AVX2=1"});
    BOOST_TEST(plain.exit_code == 0, plain.err);
    BOOST_TEST(baseline.exit_code == 0, baseline.err);
    BOOST_TEST(lines(plain.out).size() == 5u);
    BOOST_TEST(baseline.out == plain.out, format);
  }
  const auto bad = run_with_input({"round", "--format", "half"}, input, {"NARROW_IEEE_NO_AVX2=yes"});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("NARROW_IEEE_NO_AVX2='yes': allowed are 1") != std::string::npos,
             bad.err);
  BOOST_TEST(std::count(bad.err.begin(), bad.err.end(), '\n') == 1, bad.err);
}

BOOST_AUTO_TEST_CASE(stochastic_is_seeded_and_chunking_does_not_change_results) {
  std::mt19937 gen(2);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> xs(300000);
  for (auto& x : xs) x = u(gen);
  const std::string in = to_bytes(xs);
  const std::vector<std::string> base{"round",      "--format",   "e4m3",   "--binary",
                                      "--rounding", "stochastic", "--seed", "9"};
  const auto whole = run_with_input(base, in);
  BOOST_TEST_REQUIRE(whole.exit_code == 0, whole.err);
  BOOST_TEST(whole.out.size() == in.size());
  auto chunked_args = base;
  chunked_args.insert(chunked_args.end(), {"--chunk", "1000"});
  BOOST_TEST(run_with_input(chunked_args, in).out == whole.out);
  chunked_args.back() = "77777";
  BOOST_TEST(run_with_input(chunked_args, in).out == whole.out);
  BOOST_TEST(run_with_input(base, in).out == whole.out);  // same seed, same output
  auto other = base;
  other[7] = "10";
  BOOST_TEST(run_with_input(other, in).out != whole.out);
  // Text input in chunks as well.
  std::string text;
  for (std::size_t i = 0; i < 20000; ++i) text += std::to_string(xs[i]) + "\n";
  const std::vector<std::string> tbase{"round",      "--format", "fixed(2,5)", "--rounding",
                                       "stochastic", "--seed",   "3"};
  auto tchunk = tbase;
  tchunk.insert(tchunk.end(), {"--chunk", "333"});
  const auto t1 = run_with_input(tbase, text), t2 = run_with_input(tchunk, text);
  BOOST_TEST(t1.exit_code == 0);
  BOOST_TEST(lines(t1.out).size() == 20000u);
  BOOST_TEST(t1.out == t2.out);
}

BOOST_AUTO_TEST_CASE(int8_sees_the_input_as_one_tensor) {
  const auto r = run_with_input({"round", "--format", "int8"}, "-1\n0\n1\n0.5\n");
  BOOST_TEST(r.exit_code == 0, r.err);
  const auto out = lines(r.out);
  BOOST_TEST_REQUIRE(out.size() == 4u);
  // The same per-tensor parameters as the int8 format computes from min -1 and max 1.
  const double scale = double(float(2.0 / 255.0));
  const double zp = std::nearbyint(-128.0 - (-1.0) / scale);
  const auto expect = [&](double x) {
    const double q = std::clamp(std::nearbyint(x / scale) + zp, -128.0, 127.0);
    return double(float((q - zp) * scale));
  };
  BOOST_TEST(std::strtod(out[0].c_str(), nullptr) == expect(-1.0));
  BOOST_TEST(out[1] == "0x0p+0");
  BOOST_TEST(std::strtod(out[2].c_str(), nullptr) == expect(1.0));
  BOOST_TEST(std::strtod(out[3].c_str(), nullptr) == expect(0.5));
  BOOST_TEST(std::fabs(expect(1.0) - 1.0) <= scale);
}
