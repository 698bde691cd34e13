#define BOOST_TEST_MODULE store
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/store.hpp"
#include "support/files.hpp"

using namespace narrow;
namespace fs = std::filesystem;

namespace {

struct TempDir : narrow::test::TempDir {
  TempDir() : narrow::test::TempDir("store-test") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}
std::uint32_t header_u32(const std::string& bytes, std::size_t offset) {
  BOOST_REQUIRE(bytes.size() >= offset + 4);
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  return v;
}
void patch_u32(std::string& bytes, std::size_t offset, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i)
    bytes[offset + i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}

// Offsets in the 100-byte SQLite file header.
constexpr std::size_t kUserVersionOffset = 60;
constexpr std::size_t kApplicationIdOffset = 68;

Metrics metrics(std::int64_t params) {
  Metrics m;
  m.params = params;
  m.macs = params * 10;
  m.flops = params * 20;
  m.weight_bytes = params * 4;
  m.memory_eq6_bytes = params * 4 + 1000;
  m.activation_peak_bytes = 777 + params;
  m.layers = 3;
  return m;
}
ArchitectureRecord arch(const std::string& hash, std::int64_t params,
                         const std::string& json = "") {
  return ArchitectureRecord{hash, json.empty() ? "{\"arch\":\"" + hash + "\"}" : json,
                             metrics(params)};
}
DrawRecord draw(const std::string& stage, const std::string& space, const std::string& law,
                std::int64_t n, DrawStatus status, const std::string& hash,
                const std::string& reason = "") {
  DrawRecord d;
  d.stage = stage;
  d.space = space;
  d.law = law;
  d.draw = n;
  d.status = status;
  d.hash = hash;
  d.reason = reason;
  d.assignment = "{\"depth\":" + std::to_string(n) + "}";
  return d;
}
std::string key_of(const DrawRecord& d) {
  return d.stage + "/" + d.space + "/" + d.law + "/" + std::to_string(d.draw);
}

/// "prefix" followed by the number (written so that GCC 12's -Wstringop-overflow stays quiet).
std::string numbered(std::string prefix, std::int64_t n) {
  return prefix.append(std::to_string(n));
}

/// The sqlite3 shell shows the file as a user sees it. scripts/setup.sh installs it, so its
/// absence fails the test instead of skipping the checks made through it.
bool have_sqlite_cli() {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null 2>&1") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  return true;
}
/// Runs SQL with the sqlite3 shell (read-only unless `write`): what a user sees of the file.
std::string sqlite_cli(const TempDir& tmp, const std::string& db, const std::string& sql,
                       int* status = nullptr, bool write = false) {
  const std::string script = tmp.file("query.sql");
  write_bytes(script, sql);
  std::string cmd = "sqlite3 -batch -bail " + std::string(write ? "" : "-readonly ") + "'" + db +
                    "' < '" + script + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int rc = ::pclose(p);
  if (status)
    *status = rc;
  else
    BOOST_REQUIRE_MESSAGE(rc == 0, "sqlite3 failed on `" + sql + "`: " + out);
  return out;
}

template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    BOOST_FAIL(std::string("expected an InputError, got: ") + e.what());
  }
  BOOST_FAIL("expected an InputError, nothing was thrown");
  return {};
}
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    BOOST_FAIL(std::string("expected a plain narrow::Error, got an InputError: ") + e.what());
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    BOOST_FAIL(std::string("expected a narrow::Error, got: ") + e.what());
  }
  BOOST_FAIL("expected a narrow::Error, nothing was thrown");
  return {};
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(draw_status_names) {
  BOOST_TEST(draw_status_name(DrawStatus::accepted) == "accepted");
  BOOST_TEST(draw_status_name(DrawStatus::rejected) == "rejected");
  BOOST_TEST(draw_status_name(DrawStatus::invalid) == "invalid");
  BOOST_TEST(draw_status_name(static_cast<DrawStatus>(42)) == "unknown");
}

BOOST_AUTO_TEST_CASE(creates_the_schema_and_reopens) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  {
    auto s = Store::open(db);
    BOOST_TEST(fs::exists(db));
    BOOST_TEST(s->count_architectures() == 0);
    BOOST_TEST(!s->meta("experiment"));
    BOOST_TEST(s->draws().empty());
    BOOST_TEST(s->plugins().empty());
    s->set_meta("seed", "7");
    s->commit_unit("u1", "sample", "st", "{\"n\":1}", {arch("h1", 10)},
                   {draw("st", "sp", "law", 0, DrawStatus::accepted, "h1")});
  }
  // Closed cleanly: the log is folded into the file, whose header marks it as ours.
  BOOST_TEST(!fs::exists(db + "-wal"));
  const std::string bytes = read_bytes(db);
  BOOST_TEST(bytes.substr(0, 16) == std::string("SQLite format 3\0", 16));
  BOOST_TEST(header_u32(bytes, kApplicationIdOffset) == 0x4E525257u);
  BOOST_TEST(header_u32(bytes, kUserVersionOffset) == 6u);
  BOOST_TEST(static_cast<int>(bytes[18]) == 2);  // WAL write version
  BOOST_TEST(static_cast<int>(bytes[19]) == 2);  // WAL read version

  auto s = Store::open(db);
  BOOST_TEST(*s->meta("seed") == "7");
  BOOST_TEST(*s->unit_result("u1") == "{\"n\":1}");
  BOOST_TEST(s->count_architectures() == 1);
  BOOST_TEST(s->draws().size() == 1u);

  // A second connection to the same file sees what the first commits.
  auto other = Store::open(db);
  s->commit_unit("u2", "sample", "st", "{}", {arch("h2", 20)},
                 {draw("st", "sp", "law", 1, DrawStatus::accepted, "h2")});
  BOOST_TEST(other->count_architectures() == 2);
  BOOST_TEST(other->unit_result("u2").has_value());
}

BOOST_AUTO_TEST_CASE(schema_as_the_sqlite_shell_sees_it) {
  if (!have_sqlite_cli()) {
    BOOST_TEST_MESSAGE("sqlite3 shell not installed: schema checks through it skipped");
    return;
  }
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  Store::open(db);
  auto columns = [&](const std::string& table) {
    return sqlite_cli(tmp, db,
                      "SELECT group_concat(name, ',') FROM pragma_table_info('" + table + "');");
  };
  BOOST_TEST(columns("meta") == "key,value\n");
  BOOST_TEST(columns("sessions") == "id,started_at,finished_at,status,resumed\n");
  BOOST_TEST(columns("plugins") == "kind,name,plugin,version,library\n");
  BOOST_TEST(columns("units") == "key,kind,stage,result,finished_at\n");
  std::string expected = "hash,json";
  for (auto name : metric_names) expected.append(",").append(name);
  BOOST_TEST(columns("architectures") == expected + "\n");
  BOOST_TEST(columns("draws") == "stage,space,law,draw,status,hash,reason,assignment,unit\n");
  BOOST_TEST(columns("precisions") ==
             "key,stage,training,hash,format,format_key,bits,split,rounding,parameters,"
             "weight_bytes,accuracy,loss,seconds,result\n");
  BOOST_TEST(columns("latencies") ==
             "key,stage,hash,device,mean,median,cv,threads,measurement\n");
  BOOST_TEST(columns("records") == "id,kind,stage,unit,data\n");
  BOOST_TEST(sqlite_cli(tmp, db, "PRAGMA journal_mode;") == "wal\n");
  const std::string indexes =
      sqlite_cli(tmp, db,
                 "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema "
                 "WHERE type = 'index' AND tbl_name = 'draws' AND sql IS NOT NULL ORDER BY name);");
  BOOST_TEST(indexes == "draws_by_hash,draws_by_status,draws_by_unit\n");

  // The constraints hold for anyone writing to the file, not only through narrow.
  int status = 0;
  std::string out = sqlite_cli(tmp, db,
                               "PRAGMA foreign_keys=ON; INSERT INTO units VALUES('u','k','s','{}',"
                               "'t'); INSERT INTO draws VALUES('s','sp','l',0,'maybe',NULL,'',"
                               "'{}','u');",
                               &status, true);
  BOOST_TEST(status != 0);
  BOOST_TEST(contains(out, "CHECK constraint failed"), out);
  out = sqlite_cli(tmp, db,
                   "PRAGMA foreign_keys=ON; INSERT INTO draws VALUES('s','sp','l',0,'accepted',"
                   "'nohash','','{}','nounit');",
                   &status, true);
  BOOST_TEST(status != 0);
  BOOST_TEST(contains(out, "FOREIGN KEY constraint failed"), out);
}

BOOST_AUTO_TEST_CASE(meta_round_trip) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  const std::string yaml = "name: quick\nseed: 7\nstages:\n  - name: 'sample'\n    n: 100\n";
  {
    auto s = Store::open(db);
    BOOST_TEST(!s->meta("experiment").has_value());
    s->set_meta("experiment", yaml);
    s->set_meta("status", "running");
    s->set_meta("status", "finished");  // replaces
    s->set_meta("empty", "");
    s->set_meta("unicode", "µs – ✓");
    BOOST_TEST(*s->meta("status") == "finished");
  }
  auto s = Store::open(db);
  BOOST_TEST(*s->meta("experiment") == yaml);
  BOOST_TEST(*s->meta("status") == "finished");
  BOOST_TEST(s->meta("empty").has_value());
  BOOST_TEST(s->meta("empty")->empty());
  BOOST_TEST(*s->meta("unicode") == "µs – ✓");
  BOOST_TEST(!s->meta("Status").has_value());  // keys are case-sensitive
}

BOOST_AUTO_TEST_CASE(sessions) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  std::int64_t first = 0, second = 0;
  {
    auto s = Store::open(db);
    first = s->begin_session(false);
    s->end_session(first, "failed");
  }
  {
    auto s = Store::open(db);
    second = s->begin_session(true);
    BOOST_TEST(second > first);
    const std::string message = error_of([&] { s->end_session(second + 100, "finished"); });
    BOOST_TEST(contains(message, "no session " + std::to_string(second + 100)), message);
  }
  if (!have_sqlite_cli()) return;
  const std::string rows = sqlite_cli(
      tmp, db, "SELECT id, status, resumed, finished_at IS NULL FROM sessions ORDER BY id;");
  BOOST_TEST(rows ==
             std::to_string(first) + "|failed|0|0\n" + std::to_string(second) + "|running|1|1\n");
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  const std::string started = sqlite_cli(
      tmp, db, "SELECT started_at FROM sessions WHERE id = " + std::to_string(first) + ";");
  const std::string finished = sqlite_cli(
      tmp, db, "SELECT finished_at FROM sessions WHERE id = " + std::to_string(first) + ";");
  BOOST_TEST(std::regex_match(started.substr(0, started.size() - 1), iso), started);
  BOOST_TEST(std::regex_match(finished.substr(0, finished.size() - 1), iso), finished);
  BOOST_TEST(started <= finished);
}

BOOST_AUTO_TEST_CASE(plugins) {
  TempDir tmp;
  auto s = Store::open(tmp.file("results.db"));
  std::vector<PluginRecord> list{{"strategy", "random", "narrow_random", "0.1.0", "/a/b.so"},
                                 {"space", "sequential", "narrow_spaces", "0.1.0", "/a/c.so"},
                                 {"space", "resnet", "narrow_spaces", "0.1.0", "/a/c.so"}};
  s->set_plugins(list);
  auto got = s->plugins();
  BOOST_REQUIRE(got.size() == 3u);
  // Sorted by kind, then name.
  BOOST_TEST(got[0].kind == "space");
  BOOST_TEST(got[0].name == "resnet");
  BOOST_TEST(got[1].name == "sequential");
  BOOST_TEST(got[2].kind == "strategy");
  BOOST_TEST(got[2].plugin == "narrow_random");
  BOOST_TEST(got[2].version == "0.1.0");
  BOOST_TEST(got[2].library == "/a/b.so");

  // Replacing the list drops what is not in it.
  s->set_plugins({{"device", "host", "narrow_devices", "0.2.0", "/x.so"}});
  got = s->plugins();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].name == "host");

  // A list naming one (kind, name) twice is refused and the stored list stays as it was.
  const std::string message = error_of([&] {
    s->set_plugins({{"space", "a", "p", "1", "l"}, {"space", "a", "q", "2", "m"}});
  });
  BOOST_TEST(contains(message, "UNIQUE constraint failed"), message);
  got = s->plugins();
  BOOST_REQUIRE(got.size() == 1u);
  BOOST_TEST(got[0].name == "host");
}

BOOST_AUTO_TEST_CASE(commit_unit_stores_everything) {
  TempDir tmp;
  auto s = Store::open(tmp.file("results.db"));
  BOOST_TEST(!s->unit_result("wave-1").has_value());
  s->commit_unit("wave-1", "sample", "sample", "{\"accepted\":1,\"rejected\":1,\"invalid\":1}",
                 {arch("ha", 100), arch("hb", 200)},
                 {draw("sample", "seq", "law0", 0, DrawStatus::accepted, "ha"),
                  draw("sample", "seq", "law0", 1, DrawStatus::rejected, "hb", "params > 150"),
                  draw("sample", "seq", "law0", 2, DrawStatus::invalid, "", "kernel too big")});
  BOOST_TEST(*s->unit_result("wave-1") == "{\"accepted\":1,\"rejected\":1,\"invalid\":1}");
  BOOST_TEST(s->count_architectures() == 2);
  BOOST_TEST(*s->architecture_json("ha") == "{\"arch\":\"ha\"}");
  BOOST_TEST(!s->architecture_json("hc").has_value());
  auto d = s->draws();
  BOOST_REQUIRE(d.size() == 3u);
  BOOST_TEST((d[1].status == DrawStatus::rejected));
  BOOST_TEST(d[1].hash == "hb");
  BOOST_TEST(d[1].reason == "params > 150");
  BOOST_TEST(d[1].assignment == "{\"depth\":1}");
  BOOST_TEST((d[2].status == DrawStatus::invalid));
  BOOST_TEST(d[2].hash.empty());
  BOOST_TEST(d[2].reason == "kernel too big");

  // A unit with no rows at all (a latency measurement, say) is fine.
  s->commit_unit("latency-ha", "latency", "calibrate", "{\"ms\":1.5}", {}, {});
  BOOST_TEST(*s->unit_result("latency-ha") == "{\"ms\":1.5}");
}

BOOST_AUTO_TEST_CASE(architectures_already_stored_are_kept) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  auto s = Store::open(db);
  s->commit_unit("u1", "sample", "a", "{}", {arch("h1", 10, "{\"first\":true}")},
                 {draw("a", "sp", "l", 0, DrawStatus::accepted, "h1")});
  // The same hash again, also twice within one call: kept once, the first JSON stays.
  s->commit_unit("u2", "sample", "b", "{}",
                 {arch("h1", 99, "{\"second\":true}"), arch("h2", 20), arch("h2", 20)},
                 {draw("b", "sp", "l", 0, DrawStatus::accepted, "h1"),
                  draw("b", "sp", "l", 1, DrawStatus::accepted, "h2")});
  BOOST_TEST(s->count_architectures() == 2);
  BOOST_TEST(*s->architecture_json("h1") == "{\"first\":true}");
  BOOST_TEST(s->draws().size() == 3u);
  // A draw may name an architecture stored by an earlier unit without passing it again.
  s->commit_unit("u3", "sample", "c", "{}", {},
                 {draw("c", "sp", "l", 0, DrawStatus::rejected, "h2", "too slow")});
  BOOST_TEST(s->draws("c").size() == 1u);
  if (have_sqlite_cli()) {
    BOOST_TEST(sqlite_cli(tmp, db,
                          "SELECT params, macs, layers FROM architectures WHERE hash = "
                          "'h1';") == "10|100|3\n");
  }
}

namespace {
/// State of a store that must not change when a commit fails.
struct Snapshot {
  std::int64_t architectures = 0;
  std::vector<std::string> draw_keys;
  bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const Store& s) {
  Snapshot out;
  out.architectures = s.count_architectures();
  for (const auto& d : s.draws()) out.draw_keys.push_back(key_of(d));
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_failing_commit_stores_nothing) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  auto s = Store::open(db);
  s->commit_unit("good", "sample", "st", "{}", {arch("h1", 10)},
                 {draw("st", "sp", "l", 0, DrawStatus::accepted, "h1")});
  const Snapshot before = snapshot(*s);

  // Each bad call writes its unit and a new architecture before the row that fails.
  struct Case {
    std::string name, expected;
    std::vector<DrawRecord> draws;
  };
  std::vector<Case> cases{
      {"duplicate draw within the call",
       "UNIQUE constraint failed",
       {draw("st", "sp", "l", 5, DrawStatus::accepted, "hnew"),
        draw("st", "sp", "l", 5, DrawStatus::rejected, "hnew", "dup")}},
      {"draw already stored by another unit",
       "UNIQUE constraint failed",
       {draw("st", "sp", "l", 6, DrawStatus::accepted, "hnew"),
        draw("st", "sp", "l", 0, DrawStatus::accepted, "h1")}},
      {"draw naming an architecture never stored",
       "FOREIGN KEY constraint failed",
       {draw("st", "sp", "l", 7, DrawStatus::accepted, "hnew"),
        draw("st", "sp", "l", 8, DrawStatus::accepted, "nowhere")}},
      {"draw whose status violates the CHECK",
       "CHECK constraint failed",
       {draw("st", "sp", "l", 9, DrawStatus::accepted, "hnew"),
        draw("st", "sp", "l", 10, static_cast<DrawStatus>(42), "hnew")}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const std::string message = error_of([&] {
        s->commit_unit("bad", "sample", "st", "{\"bad\":true}", {arch("hnew", 5)}, c.draws);
      });
      BOOST_TEST(contains(message, c.expected), message);
      BOOST_TEST(contains(message, "bad"), message);
      BOOST_TEST(!s->unit_result("bad").has_value());
      BOOST_TEST(!s->architecture_json("hnew").has_value());
      BOOST_TEST((snapshot(*s) == before));
    }
  }

  // A unit key already stored: refused with its own message, nothing of the call is kept.
  const std::string message = error_of([&] {
    s->commit_unit("good", "sample", "st", "{\"again\":1}", {arch("hnew", 5)},
                   {draw("st", "sp", "l", 11, DrawStatus::accepted, "hnew")});
  });
  BOOST_TEST(contains(message, "unit good is already stored"), message);
  BOOST_TEST(*s->unit_result("good") == "{}");
  BOOST_TEST(!s->architecture_json("hnew").has_value());
  BOOST_TEST((snapshot(*s) == before));

  // Nothing was left half-open: the store takes the same unit once it is right, and a fresh
  // connection sees exactly the committed state.
  s->commit_unit("bad", "sample", "st", "{\"bad\":false}", {arch("hnew", 5)},
                 {draw("st", "sp", "l", 5, DrawStatus::accepted, "hnew")});
  BOOST_TEST(*s->unit_result("bad") == "{\"bad\":false}");
  auto fresh = Store::open(db);
  BOOST_TEST(fresh->count_architectures() == 2);
  BOOST_TEST(fresh->draws().size() == 2u);
}

BOOST_AUTO_TEST_CASE(draws_are_ordered_and_filtered_by_stage) {
  TempDir tmp;
  auto s = Store::open(tmp.file("results.db"));
  // Written out of order, across units; draw numbers compare as numbers (2 < 10).
  s->commit_unit("u1", "sample", "zeta", "{}", {arch("h", 1)},
                 {draw("zeta", "b", "l1", 10, DrawStatus::accepted, "h"),
                  draw("zeta", "a", "l2", 0, DrawStatus::invalid, ""),
                  draw("zeta", "b", "l1", 2, DrawStatus::rejected, "h", "r")});
  s->commit_unit("u2", "sample", "alpha", "{}", {},
                 {draw("alpha", "z", "l", 1, DrawStatus::accepted, "h"),
                  draw("alpha", "a", "m", 0, DrawStatus::accepted, "h"),
                  draw("alpha", "a", "l", 3, DrawStatus::accepted, "h")});
  s->commit_unit("u3", "sample", "zeta", "{}", {},
                 {draw("zeta", "a", "l1", 7, DrawStatus::accepted, "h")});

  std::vector<std::string> all;
  for (const auto& d : s->draws()) all.push_back(key_of(d));
  const std::vector<std::string> expected_all{"alpha/a/l/3", "alpha/a/m/0", "alpha/z/l/1",
                                              "zeta/a/l1/7", "zeta/a/l2/0", "zeta/b/l1/2",
                                              "zeta/b/l1/10"};
  BOOST_TEST(all == expected_all, boost::test_tools::per_element());

  std::vector<std::string> zeta;
  for (const auto& d : s->draws("zeta")) zeta.push_back(key_of(d));
  const std::vector<std::string> expected_zeta(expected_all.begin() + 3, expected_all.end());
  BOOST_TEST(zeta == expected_zeta, boost::test_tools::per_element());
  BOOST_TEST(s->draws("alpha").size() == 3u);
  BOOST_TEST(s->draws("nope").empty());
}

namespace {
TrainJob training_job(const std::string& hash, std::uint64_t seed) {
  TrainJob j;
  j.architecture_hash = hash;
  j.architecture_json = "{\"arch\":\"" + hash + "\"}";
  j.dataset.name = "synthetic";
  j.seed = seed;
  j.key = "train-" + hash + "-" + std::to_string(seed);
  return j;
}
TrainResult training_result(const TrainJob& j, double accuracy) {
  TrainResult r;
  r.key = j.key;
  r.architecture_hash = j.architecture_hash;
  r.epochs = 2;
  r.iterations = 20;
  r.parameters = 10;
  r.history = {EpochRecord{1, 0.1, 1.5, 0.4, 1.2, 0.5, 0.25}, EpochRecord{2, 0.05, 0.9, 0.7, 0.8,
                                                                          accuracy, 0.25}};
  r.validation = Evaluation{10, 0.8, accuracy, {{5, 0}, {0, 5}}};
  r.test = Evaluation{4, 0.7, 0.75, {{2, 1}, {0, 1}}};
  r.seconds = 0.5;
  r.images_per_second = 400;
  r.weights = std::string("\0\1\2weights", 10);
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(trainings_are_units_with_results_and_weights) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  auto s = Store::open(db);
  const TrainJob a = training_job("ha", 1), b = training_job("hb", 2);
  s->commit_training("train", a, training_result(a, 0.9), metrics(10));
  TrainResult failed = training_result(b, 0.1);
  failed.status = "failed";
  failed.reason = "loss became NaN at epoch 2";
  failed.test.loss = std::nan("");
  failed.weights.clear();
  s->commit_training("other", b, failed, metrics(20));

  BOOST_TEST(*s->unit_result(a.key) == training_result(a, 0.9).to_json().dump());
  const auto all = s->trainings();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].to_json() == training_result(a, 0.9).to_json());
  BOOST_TEST(all[1].status == "failed");
  BOOST_TEST(std::isnan(all[1].test.loss));
  BOOST_TEST(s->trainings("other").size() == 1u);
  BOOST_TEST(*s->training_weights(a.key) == std::string("\0\1\2weights", 10));
  BOOST_TEST(!s->training_weights(b.key));
  BOOST_TEST(!s->training_weights("nope"));
  // The architecture came with the training.
  BOOST_TEST(*s->architecture_json("ha") == a.architecture_json);
  // A training is stored once.
  BOOST_TEST(contains(error_of([&] { s->commit_training("train", a, training_result(a, 0.5),
                                                           metrics(10)); }),
                      "already stored"));
  if (have_sqlite_cli()) {
    s.reset();
    BOOST_TEST(sqlite_cli(tmp, db,
                          "SELECT stage, status, epochs, val_accuracy, test_loss IS NULL, "
                          "json_array_length(history), length(weights) FROM trainings ORDER BY "
                          "key;") == "train|ok|2|0.9|0|2|10\nother|failed|2|0.1|1|2|\n");
  }
}

namespace {
PrecisionRecord precision_record(const TrainJob& j, const std::string& format, int bits,
                                 double accuracy) {
  PrecisionRecord p;
  p.key = "precision-" + j.key + "-" + format;
  p.stage = "precision";
  p.training_key = j.key;
  p.architecture_hash = j.architecture_hash;
  p.format_key = format == "float32" ? "float32" : format + "@ieee:0.1.0|";
  p.split = "test";
  p.rounding = "nearest_even";
  p.result.format = format;
  p.result.bits = bits;
  p.result.parameters = 10;
  p.result.weight_bytes = weight_bytes_for(10, bits);
  p.result.evaluation = Evaluation{4, 0.6, accuracy, {{2, 0}, {1, 1}}};
  p.result.seconds = 0.01;
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(precision_evaluations_are_units_of_a_training) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  auto s = Store::open(db);
  const TrainJob a = training_job("ha", 1);
  s->commit_training("train", a, training_result(a, 0.9), metrics(10));
  auto diverged = precision_record(a, "ieee(1,1)", 3, 0.25);
  diverged.result.evaluation.loss = std::numeric_limits<double>::infinity();
  s->commit_precision(precision_record(a, "float32", 32, 0.75));
  s->commit_precision(precision_record(a, "half", 16, 0.75));
  s->commit_precision(diverged);
  BOOST_TEST(s->unit_result(diverged.key).has_value());
  // Ordered by architecture, then bits.
  const auto all = s->precisions();
  BOOST_REQUIRE(all.size() == 3u);
  BOOST_TEST(all[0].result.format == "ieee(1,1)");
  BOOST_TEST(all[1].result.format == "half");
  BOOST_TEST(all[2].result.format == "float32");
  BOOST_TEST(all[1].result.to_json() == precision_record(a, "half", 16, 0.75).result.to_json());
  BOOST_TEST(all[1].format_key == "half@ieee:0.1.0|");
  BOOST_TEST(all[1].training_key == a.key);
  BOOST_TEST(std::isnan(all[0].result.evaluation.loss));  // stored as NULL
  BOOST_TEST(all[0].result.evaluation.confusion == diverged.result.evaluation.confusion);
  BOOST_TEST(s->precisions("precision").size() == 3u);
  BOOST_TEST(s->precisions("other").empty());
  BOOST_TEST(contains(error_of([&] { s->commit_precision(precision_record(a, "half", 16, 0.5)); }),
                      "already stored"));
  // An evaluation belongs to a stored training.
  const TrainJob ghost = training_job("hz", 9);
  BOOST_TEST(contains(error_of([&] { s->commit_precision(precision_record(ghost, "half", 16, 1)); }),
                      "FOREIGN KEY"));
  BOOST_TEST(!s->unit_result(precision_record(ghost, "half", 16, 1).key));  // nothing half-stored
  if (have_sqlite_cli()) {
    s.reset();
    BOOST_TEST(sqlite_cli(tmp, db,
                          "SELECT format, bits, weight_bytes, accuracy, loss IS NULL FROM "
                          "precisions ORDER BY bits;") ==
               "ieee(1,1)|3|4|0.25|1\nhalf|16|20|0.75|0\nfloat32|32|40|0.75|0\n");
  }
}

BOOST_AUTO_TEST_CASE(accepted_architectures_by_stage) {
  auto s = Store::open(":memory:");
  s->commit_unit("u1", "sample", "a", "{}", {arch("h1", 10), arch("h2", 20)},
                 {draw("a", "sp", "law", 0, DrawStatus::accepted, "h1"),
                  draw("a", "sp", "law", 1, DrawStatus::rejected, "h2")});
  s->commit_unit("u2", "sample", "b", "{}", {arch("h3", 30)},
                 {draw("b", "sp", "law", 0, DrawStatus::accepted, "h3"),
                  draw("b", "sp", "law", 1, DrawStatus::accepted, "h1")});
  auto hashes = [](const std::vector<ArchitectureRecord>& v) {
    std::string out;
    for (const auto& a : v) out += a.hash + ",";
    return out;
  };
  BOOST_TEST(hashes(s->accepted_architectures()) == "h1,h3,");
  BOOST_TEST(hashes(s->accepted_architectures("a")) == "h1,");
  BOOST_TEST(hashes(s->accepted_architectures("b")) == "h1,h3,");
  const auto all = s->accepted_architectures();
  BOOST_TEST(all[1].metrics.params == 30);
  BOOST_TEST(all[1].metrics.activation_peak_bytes == metrics(30).activation_peak_bytes);
}

namespace {
LatencyRecord latency_record(const std::string& hash, double mean) {
  LatencyRecord r;
  r.key = "latency-" + hash;
  r.stage = "train";
  r.architecture_hash = hash;
  r.device = R"({"name":"host"})";
  r.measurement.mean = mean;
  r.measurement.median = mean * 0.99;
  r.measurement.stddev = mean / 50;
  r.measurement.cv = 0.02;
  r.measurement.runs = 2;
  r.measurement.threads = 1;
  r.measurement.cpu = "test CPU";
  r.measurement.times = {mean * 0.98, mean * 1.02};
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(latency_measurements_are_units_of_an_architecture) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  auto s = Store::open(db);
  s->commit_unit("u1", "sample", "sample", "{}", {arch("hb", 20), arch("ha", 10)}, {});
  s->commit_latency(latency_record("hb", 2e-3));
  s->commit_latency(latency_record("ha", 1e-4));
  // The unit's result is the measurement, as a resumed stage reads it back.
  const auto unit = s->unit_result("latency-ha");
  BOOST_REQUIRE(unit.has_value());
  BOOST_TEST(LatencyMeasurement::from_json(nlohmann::json::parse(*unit)).mean == 1e-4);
  const auto all = s->latencies();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].architecture_hash == "ha");  // by hash
  BOOST_TEST(all[0].device == R"({"name":"host"})");
  BOOST_TEST(all[0].measurement.to_json() == latency_record("ha", 1e-4).measurement.to_json());
  BOOST_TEST(s->latencies("train").size() == 2u);
  BOOST_TEST(s->latencies("other").empty());
  BOOST_TEST(contains(error_of([&] { s->commit_latency(latency_record("ha", 1e-4)); }),
                      "already stored"));
  // A measurement belongs to a stored architecture; a failed one leaves nothing behind.
  BOOST_TEST(contains(error_of([&] { s->commit_latency(latency_record("hz", 1e-4)); }),
                      "FOREIGN KEY"));
  BOOST_TEST(!s->unit_result("latency-hz"));
  if (have_sqlite_cli()) {
    s.reset();
    BOOST_TEST(sqlite_cli(tmp, db, "SELECT hash, mean, threads FROM latencies ORDER BY mean;") ==
               "ha|0.0001|1\nhb|0.002|1\n");
  }
}

BOOST_AUTO_TEST_CASE(records_of_a_strategys_own_kinds_are_stored_with_their_unit) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  {
    auto s = Store::open(db);
    s->commit_records("u1", "search.generation", "search", R"({"generation":0})",
                      {{"search.law", "", "", R"({"law":"L1","fitness":0.5})"},
                       {"search.law", "", "", R"({"law":"L2","fitness":0.25})"},
                       {"search.trace", "", "", "[1,2,3]"}});
    s->commit_records("u2", "search.generation", "other", "{}",
                      {{"search.law", "", "", R"({"law":"L3","fitness":1})"}});
    BOOST_TEST(*s->unit_result("u1") == R"({"generation":0})");

    const auto laws = s->records("search.law");
    BOOST_REQUIRE(laws.size() == 3u);
    BOOST_TEST(laws[0].data == R"({"law":"L1","fitness":0.5})");  // in the order written
    BOOST_TEST(laws[1].data == R"({"law":"L2","fitness":0.25})");
    BOOST_TEST(laws[0].stage == "search");
    BOOST_TEST(laws[0].unit == "u1");
    BOOST_TEST(laws[2].stage == "other");
    BOOST_TEST(laws[2].unit == "u2");
    BOOST_TEST(s->records("search.law", "other").size() == 1u);
    BOOST_TEST(s->records("search.trace").size() == 1u);
    BOOST_TEST(s->records("nothing").empty());

    // Data that is not JSON, or a record without a kind: nothing of the unit is stored.
    BOOST_TEST(contains(error_of([&] {
                          s->commit_records("u3", "search.generation", "search", "{}",
                                            {{"search.law", "", "", R"({"law":"L4"})"},
                                             {"search.law", "", "", "not json"}});
                        }),
                        "its data must be JSON"));
    BOOST_TEST(!s->unit_result("u3"));
    BOOST_TEST(s->records("search.law").size() == 3u);
    BOOST_TEST(contains(error_of([&] {
                          s->commit_records("u4", "search.generation", "search", "{}",
                                            {{"", "", "", "{}"}});
                        }),
                        "its kind not empty"));
    BOOST_TEST(!s->unit_result("u4"));
    // A unit is stored once.
    BOOST_TEST(contains(error_of([&] { s->commit_records("u1", "x", "search", "{}", {}); }),
                        "already stored"));
  }
  // Users query records with SQLite's JSON functions.
  BOOST_REQUIRE(have_sqlite_cli());
  BOOST_TEST(sqlite_cli(tmp, db,
                        "SELECT json_extract(data, '$.law') FROM records WHERE kind = 'search.law' "
                        "ORDER BY json_extract(data, '$.fitness') DESC;") == "L3\nL1\nL2\n");
}

BOOST_AUTO_TEST_CASE(a_version_1_store_gains_the_trainings_and_precisions_tables) {
  if (!have_sqlite_cli()) {
    BOOST_TEST_MESSAGE("sqlite3 shell missing: skipped");
    return;
  }
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  {
    auto s = Store::open(db);
    s->set_meta("seed", "3");
  }
  // What narrow's first schema looked like: no trainings table, user_version 1.
  sqlite_cli(tmp, db,
             "DROP TABLE uses; DROP TABLE runs; DROP TABLE records; DROP TABLE latencies; "
             "DROP TABLE precisions; DROP TABLE trainings; PRAGMA user_version = 1;",
             nullptr, true);
  BOOST_TEST(sqlite_cli(tmp, db, "PRAGMA user_version;") == "1\n");
  {
    auto s = Store::open(db);
    BOOST_TEST(*s->meta("seed") == "3");
    BOOST_TEST(s->trainings().empty());
  }
  BOOST_TEST(sqlite_cli(tmp, db, "PRAGMA user_version;") == "6\n");
  BOOST_TEST(sqlite_cli(tmp, db, "SELECT count(*) FROM trainings;") == "0\n");
  BOOST_TEST(sqlite_cli(tmp, db, "SELECT count(*) FROM uses;") == "0\n");
  BOOST_TEST(sqlite_cli(tmp, db, "SELECT count(*) FROM records;") == "0\n");
  BOOST_TEST(sqlite_cli(tmp, db, "SELECT count(*) FROM precisions;") == "0\n");
  BOOST_TEST(sqlite_cli(tmp, db, "SELECT count(*) FROM latencies;") == "0\n");
}

BOOST_AUTO_TEST_CASE(stores_of_versions_2_to_5_gain_the_tables_they_lack_and_keep_their_rows) {
  if (!have_sqlite_cli()) {
    BOOST_TEST_MESSAGE("sqlite3 shell missing: skipped");
    return;
  }
  const TrainJob a = training_job("ha", 1);
  // Version 2 had no precisions, latencies and records tables, version 3 no latencies and
  // records tables, version 4 no records table, version 5 no runs and uses tables.
  for (const int version : {2, 3, 4, 5}) {
    BOOST_TEST_CONTEXT("version " << version) {
      TempDir tmp;
      const std::string db = tmp.file("results.db");
      {
        auto s = Store::open(db);
        s->commit_training("train", a, training_result(a, 0.9), metrics(10));
        if (version >= 3) s->commit_precision(precision_record(a, "half", 16, 0.75));
        if (version >= 4) s->commit_latency(latency_record("ha", 1e-3));
      }
      const char* drop[] = {"", "",
                            "DROP TABLE records; DROP TABLE latencies; DROP TABLE precisions; "
                            "PRAGMA user_version = 2;",
                            "DROP TABLE records; DROP TABLE latencies; PRAGMA user_version = 3;",
                            "DROP TABLE records; PRAGMA user_version = 4;",
                            "PRAGMA user_version = 5;"};
      sqlite_cli(tmp, db,
                 std::string("DROP TABLE uses; DROP TABLE runs; ") + drop[version] +
                     " INSERT INTO meta(key, value) VALUES('experiment', 'name: x'), "
                     "('seed', '7');",
                 nullptr, true);
      {
        auto s = Store::open(db);
        BOOST_TEST(s->trainings().size() == 1u);
        BOOST_TEST(s->precisions().size() == (version >= 3 ? 1u : 0u));
        BOOST_TEST(s->latencies().size() == (version >= 4 ? 1u : 0u));
        BOOST_TEST(s->records("test.kind").empty());
        if (version < 3) s->commit_precision(precision_record(a, "half", 16, 0.75));
        if (version < 4) s->commit_latency(latency_record("ha", 1e-3));
        s->commit_records("unit-r", "test.unit", "train", "{}", {{"test.kind", "", "", "[1]"}});
      }
      BOOST_TEST(sqlite_cli(tmp, db, "PRAGMA user_version;") == "6\n");
      BOOST_TEST(sqlite_cli(tmp, db, "SELECT kind, data FROM records;") == "test.kind|[1]\n");
      // The one run an older store holds, using every unit it held when it was upgraded.
      BOOST_TEST(sqlite_cli(tmp, db, "SELECT id, variant, seed, experiment FROM runs;") ==
                 "|base|7|name: x\n");
      BOOST_TEST(sqlite_cli(tmp, db, "SELECT run, stage, unit FROM uses WHERE unit = '" +
                                         a.key + "';") == "|train|" + a.key + "\n");
      BOOST_TEST(sqlite_cli(tmp, db, "SELECT format FROM precisions;") == "half\n");
      BOOST_TEST(sqlite_cli(tmp, db, "SELECT hash FROM latencies;") == "ha\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(refuses_files_that_are_not_narrow_stores) {
  TempDir tmp;
  const std::string expected_suffix = " is not a narrow results store";

  // Random bytes, and a short text file.
  std::string noise(8192, '\0');
  std::mt19937 gen(1234);
  for (auto& c : noise) c = static_cast<char>(gen() & 0xff);
  const std::string random_file = tmp.file("random.bin");
  write_bytes(random_file, noise);
  std::string message = input_error_of([&] { Store::open(random_file); });
  BOOST_TEST(message == random_file + expected_suffix);
  BOOST_TEST(read_bytes(random_file) == noise);  // left as it was

  const std::string text_file = tmp.file("notes.txt");
  write_bytes(text_file, "these are notes, not a database\n");
  message = input_error_of([&] { Store::open(text_file); });
  BOOST_TEST(message == text_file + expected_suffix);

  // A SQLite file of another application: our store with its application id cleared (same
  // tables, so only the id tells), and with another application's id.
  const std::string ours = tmp.file("ours.db");
  Store::open(ours)->set_meta("k", "v");
  BOOST_REQUIRE(!fs::exists(ours + "-wal"));
  const std::string good = read_bytes(ours);
  for (std::uint32_t id : {0u, 0x12345678u}) {
    std::string bytes = good;
    patch_u32(bytes, kApplicationIdOffset, id);
    bytes[18] = bytes[19] = 1;  // a rollback-journal file: opening it must not turn on WAL
    const std::string foreign = tmp.file("foreign-" + std::to_string(id) + ".db");
    write_bytes(foreign, bytes);
    message = input_error_of([&] { Store::open(foreign); });
    BOOST_TEST(message == foreign + expected_suffix);
    BOOST_TEST((read_bytes(foreign) == bytes));  // not even switched to WAL or given a schema
  }

  // A narrow store of a newer schema version.
  std::string newer = good;
  patch_u32(newer, kUserVersionOffset, 7);
  const std::string newer_file = tmp.file("newer.db");
  write_bytes(newer_file, newer);
  message = input_error_of([&] { Store::open(newer_file); });
  BOOST_TEST(contains(message, newer_file), message);
  BOOST_TEST(contains(message, "schema version 7"), message);

  // A SQLite file made by someone else, with a table of its own.
  if (have_sqlite_cli()) {
    const std::string other = tmp.file("other.db");
    sqlite_cli(tmp, other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, true);
    const std::string bytes = read_bytes(other);
    message = input_error_of([&] { Store::open(other); });
    BOOST_TEST(message == other + expected_suffix);
    BOOST_TEST((read_bytes(other) == bytes));
  }

  // An empty file is a new store.
  const std::string empty = tmp.file("empty.db");
  write_bytes(empty, "");
  Store::open(empty)->set_meta("k", "v");
  BOOST_TEST(*Store::open(empty)->meta("k") == "v");
}

BOOST_AUTO_TEST_CASE(paths_that_cannot_be_opened) {
  TempDir tmp;
  const std::string missing = tmp.file("no/such/folder/results.db");
  std::string message = input_error_of([&] { Store::open(missing); });
  BOOST_TEST(contains(message, missing), message);
  BOOST_TEST(contains(message, "does not exist"), message);
  BOOST_TEST(!fs::exists(tmp.dir / "no"));

  message = input_error_of([&] { Store::open(tmp.dir.string()); });
  BOOST_TEST(contains(message, tmp.dir.string()), message);

  // A folder nobody may create files in, even root.
  if (fs::is_directory("/proc/self")) {
    const std::string proc = "/proc/self/narrow-results.db";
    message = input_error_of([&] { Store::open(proc); });
    BOOST_TEST(contains(message, proc), message);
  }

  // File permissions do not stop root: check them only as another user.
  if (::geteuid() != 0) {
    const std::string ro = tmp.file("readonly.db");
    Store::open(ro)->set_meta("k", "v");
    fs::permissions(ro, fs::perms::owner_read, fs::perm_options::replace);
    message = input_error_of([&] { Store::open(ro); });
    BOOST_TEST(contains(message, ro), message);

    const fs::path locked = tmp.dir / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec,
                    fs::perm_options::replace);
    const std::string inside = (locked / "results.db").string();
    message = input_error_of([&] { Store::open(inside); });
    BOOST_TEST(contains(message, inside), message);
  }
}

BOOST_AUTO_TEST_CASE(in_memory_store) {
  auto s = Store::open(":memory:");
  s->commit_unit("u", "sample", "st", "{}", {arch("h", 1)},
                 {draw("st", "sp", "l", 0, DrawStatus::accepted, "h")});
  BOOST_TEST(s->draws().size() == 1u);
  BOOST_TEST_REQUIRE(!fs::exists(":memory:"));
}

// A run killed (SIGKILL, no chance to clean up) while a large unit is being written: the
// units committed before are all there with their rows, and nothing of the one in flight.
BOOST_AUTO_TEST_CASE(a_killed_writer_leaves_only_complete_units) {
  TempDir tmp;
  const std::string db = tmp.file("results.db");
  const std::string wal = db + "-wal";
  constexpr int kUnits = 25, kArchsPerUnit = 3, kDrawsPerUnit = 8;
  constexpr int kBigArchs = 20000, kBigDraws = 200000;

  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    // The child: no Boost.Test here, only an exit code.
    ::close(pipe_fds[0]);
    int code = 0;
    try {
      auto s = Store::open(db);
      for (int u = 0; u < kUnits; ++u) {
        std::vector<ArchitectureRecord> archs;
        std::vector<DrawRecord> draws;
        for (int a = 0; a < kArchsPerUnit; ++a)
          archs.push_back(arch(numbered(numbered("u", u) + "a", a), a + 1));
        for (int d = 0; d < kDrawsPerUnit; ++d)
          draws.push_back(draw("sample", "sp", "law", u * kDrawsPerUnit + d, DrawStatus::accepted,
                               archs[static_cast<std::size_t>(d % kArchsPerUnit)].hash));
        s->commit_unit(numbered("unit-", u), "sample", "sample", "{}", archs, draws);
      }
      const char committed = 'c';
      if (::write(pipe_fds[1], &committed, 1) != 1) ::_exit(5);

      std::vector<ArchitectureRecord> archs;
      std::vector<DrawRecord> draws;
      const std::string padding(600, 'x');
      for (int a = 0; a < kBigArchs; ++a)
        archs.push_back(arch(numbered("big", a), a, "{\"pad\":\"" + padding + "\"}"));
      for (int d = 0; d < kBigDraws; ++d)
        draws.push_back(draw("big", "sp", "law", d, DrawStatus::rejected,
                             archs[static_cast<std::size_t>(d % kBigArchs)].hash,
                             "over the memory budget by a few bytes"));
      const char starting = 'b';
      if (::write(pipe_fds[1], &starting, 1) != 1) ::_exit(5);
      s->commit_unit("big", "sample", "big", "{}", archs, draws);
      code = 3;  // finished before the parent killed it
    } catch (...) {
      code = 4;
    }
    ::_exit(code);
  }

  ::close(pipe_fds[1]);
  char signal_byte = 0;
  BOOST_REQUIRE(::read(pipe_fds[0], &signal_byte, 1) == 1);
  BOOST_REQUIRE(signal_byte == 'c');
  BOOST_REQUIRE(fs::exists(wal));
  const auto wal_before = fs::file_size(wal);
  BOOST_REQUIRE(::read(pipe_fds[0], &signal_byte, 1) == 1);
  BOOST_REQUIRE(signal_byte == 'b');
  ::close(pipe_fds[0]);

  // Kill it once the big transaction has spilled uncommitted pages into the log: then it is
  // certainly in the middle of writing.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool grew = false;
  int status = 0;
  pid_t done = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    const auto size = fs::file_size(wal, ec);
    if (!ec && size > wal_before + 4 * 1024 * 1024) {
      grew = true;
      break;
    }
    done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (done != child) {
    ::kill(child, SIGKILL);
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
  }
  BOOST_TEST_REQUIRE(grew, "the log did not grow while the big unit was written");
  BOOST_TEST_REQUIRE(WIFSIGNALED(status), "the child exited with code "
                                              << WEXITSTATUS(status)
                                              << " (3: it finished the big unit before "
                                                 "it was killed)");
  BOOST_TEST_REQUIRE(WTERMSIG(status) == SIGKILL);
  BOOST_TEST(fs::exists(wal));  // left behind by the killed writer

  // What resume sees.
  auto s = Store::open(db);
  for (int u = 0; u < kUnits; ++u) BOOST_TEST(s->unit_result(numbered("unit-", u)).has_value());
  BOOST_TEST(!s->unit_result("big").has_value());
  BOOST_TEST(s->count_architectures() == kUnits * kArchsPerUnit);
  BOOST_TEST(!s->architecture_json("big0").has_value());
  const auto d = s->draws();
  BOOST_REQUIRE(d.size() == static_cast<std::size_t>(kUnits * kDrawsPerUnit));
  for (std::size_t i = 0; i < d.size(); ++i) {
    BOOST_TEST(d[i].stage == "sample");
    BOOST_TEST(d[i].draw == static_cast<std::int64_t>(i));
    const auto unit = static_cast<std::int64_t>(i / kDrawsPerUnit);
    const auto a = static_cast<std::int64_t>(i % kDrawsPerUnit % kArchsPerUnit);
    BOOST_TEST(d[i].hash == numbered(numbered("u", unit) + "a", a));
  }
  BOOST_TEST(s->draws("big").empty());

  // Resume redoes the lost unit.
  s->commit_unit("big", "sample", "big", "{}", {arch("big0", 1)},
                 {draw("big", "sp", "law", 0, DrawStatus::accepted, "big0")});
  BOOST_TEST(s->draws("big").size() == 1u);
}
