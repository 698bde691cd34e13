#include "run/runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/utc_time.hpp"
#include "narrow/config.hpp"
#include "narrow/format.hpp"
#include "narrow/hash.hpp"
#include "narrow/output_file.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/training.hpp"
#include "run/store_lock.hpp"
#include "run/torch_engine.hpp"

namespace fs = std::filesystem;

namespace narrow {

namespace {

std::string utc_stamp() {
  return utc_now("%Y%m%d-%H%M%S");
}
std::string utc_iso() {
  return utc_now(utc_iso_format);
}

// The first line where two texts differ, for a message.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ea = !std::getline(sa, la), eb = !std::getline(sb, lb);
    if (ea && eb) return "none";
    if (ea || eb || la != lb)
      return fmt::format("line {} of the resolved experiment: stored '{}', now '{}'", line,
                         ea ? "" : la, eb ? "" : lb);
  }
}

class Context final : public StageContext {
 public:
  Context(std::string stage, std::string strategy, std::uint64_t seed, int threads, const std::vector<SpaceEntry>& spaces,
          const Constraints& constraints, Store& store, std::string output_dir,
          const Registry& registry, const DatasetSpec& dataset,
          const std::vector<FormatEntry>& formats, std::function<TrainingService&()> training,
          Device* device, StagePlan plan)
      : stage_(std::move(stage)),
        strategy_(std::move(strategy)),
        seed_(seed),
        threads_(threads),
        spaces_(spaces),
        constraints_(constraints),
        store_(store),
        output_dir_(std::move(output_dir)),
        registry_(registry),
        dataset_(dataset),
        formats_(formats),
        training_(std::move(training)),
        device_(device),
        plan_(std::move(plan)) {}
  const Registry& registry() const override { return registry_; }
  const DatasetSpec& dataset() const override { return dataset_; }
  const std::vector<FormatEntry>& formats() const override { return formats_; }
  TrainingService& training() override { return training_(); }
  const std::string& output_dir() const override { return output_dir_; }
  const std::string& stage() const override { return stage_; }
  const std::string& strategy() const override { return strategy_; }
  std::uint64_t seed() const override { return seed_; }
  int threads() const override { return threads_; }
  const std::vector<SpaceEntry>& spaces() const override { return spaces_; }
  const Constraints& constraints() const override { return constraints_; }
  Store& store() override { return store_; }
  void info(const std::string& line) override { fmt::print(stderr, "{}\n", line); }
  void set_summary(const std::string& json) override { summary_ = json; }
  const std::string& summary() const { return summary_; }
  Device* device() override { return device_; }
  const StagePlan& plan() const override { return plan_; }

 private:
  std::string stage_, strategy_;
  std::uint64_t seed_;
  int threads_;
  const std::vector<SpaceEntry>& spaces_;
  const Constraints& constraints_;
  Store& store_;
  std::string output_dir_;
  const Registry& registry_;
  const DatasetSpec& dataset_;
  const std::vector<FormatEntry>& formats_;
  std::function<TrainingService&()> training_;
  Device* device_;
  StagePlan plan_;
  std::string summary_ = "{}";
};

// Test-only: with NARROW_TEST_KILL_AT=POINT in the environment, the process kills itself with
// SIGKILL (no destructor runs, nothing is cleaned up: a crash or kill -9) on reaching POINT,
// so that tests can check what a crash there leaves (tests/integration/store_lock_test.cpp).
// Points: "store-created" (a new store's file exists, its experiment not yet recorded).
void test_kill_point(std::string_view point) {
  const char* at = std::getenv("NARROW_TEST_KILL_AT");
  if (at && point == at) ::kill(::getpid(), SIGKILL);
}

// The facts of the run that resume compares and reports show.
void record_experiment(Store& store, const Experiment& x) {
  store.set_meta("experiment", x.resolved);
  store.set_meta("experiment_file", fs::absolute(x.file).string());
  store.set_meta("experiment_name", x.name);
  store.set_meta("seed", std::to_string(x.seed));
  store.set_meta("narrow_version", NARROW_VERSION);
  store.set_meta("started_at", utc_iso());
}

// A new store appears under its name only with its schema and the experiment's record in it:
// it is made under a temporary name beside it and renamed once complete (and closed, so that
// SQLite's log is folded into the file). A run killed before that leaves no results.db, and
// starts again from nothing.
void create_store(const std::string& db, const Experiment& x) {
  write_output_file_by_name(
      db,
      [&](const std::string& temporary) {
        auto store = Store::open(temporary);
        test_kill_point("store-created");
        record_experiment(*store, x);
      },
      "results store");
}

// What a run killed while creating its store left: results.db.<pid>-<n>.partial and SQLite's
// -wal, -shm and -journal files of it. Called under the store's lock, when nobody writes them.
void remove_partial_stores(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("results.db.") && name.find(".partial") != std::string::npos)
      fs::remove(entry.path(), ec);
  }
}

}  // namespace

std::uint64_t dataset_split_seed(std::uint64_t seed) {
  return content_seed(fmt::format("{}|dataset", seed));
}

RunReport run_experiment(const Experiment& x, Registry& registry, const RunOptions& options) {
  RunReport report;
  report.out = options.out.empty() ? fmt::format("runs/{}-{}", x.name, utc_stamp()) : options.out;
  const fs::path dir(report.out);
  const fs::path db = dir / "results.db";
  report.store = db.string();
  auto nothing_to_resume = [&] {
    return InputError(fmt::format("nothing to resume in '{}' (no results.db there)", report.out));
  };
  if (options.resume && !fs::exists(db)) throw nothing_to_resume();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw InputError(fmt::format("cannot create run folder '{}': {}", report.out, ec.message()));

  // The run owns its store until it returns: another run or resume of it is refused at once.
  // Everything below is decided under the lock.
  const StoreLock lock(db.string(), options.resume ? "narrow run --resume" : "narrow run");
  if (!lock.previous_owner().empty())
    fmt::print(stderr, "{} was held by {}, which ended without letting go; taking it over\n",
               db.string(), lock.previous_owner());
  if (options.resume && !fs::exists(db)) throw nothing_to_resume();
  if (!options.resume && fs::exists(db))
    throw InputError(fmt::format(
        "'{}' already holds a run (results.db); continue it with --resume or choose another --out",
        report.out));
  remove_partial_stores(dir);
  if (!options.resume) create_store(db.string(), x);

  auto store = Store::open(db.string());
  fmt::print(stderr, "run {}: {} stage{}, {} {}\n", x.name, x.stages.size(),
             x.stages.size() == 1 ? "" : "s", options.resume ? "resuming" : "results in",
             db.string());
  if (!x.ablation.empty())
    fmt::print(stderr,
               "warning: the ablation variants of '{}' ({}) are read but not run yet: only the "
               "experiment as written runs\n",
               x.name, fmt::join(x.ablation, ", "));
  if (options.resume) {
    const auto stored = store->meta("experiment");
    if (!stored) {
      // Made by a narrow that created the store in place and was killed before recording the
      // experiment, which it did before any stage ran: the store holds no work, and the
      // resume records the experiment and starts it. Work without an experiment is not ours.
      if (store->count_architectures() > 0 || !store->trainings().empty() ||
          !store->latencies().empty())
        throw InputError(fmt::format(
            "'{}' holds results but no experiment; it was not made by narrow run", db.string()));
      fmt::print(stderr,
                 "{} holds no experiment (its run was killed while creating it); starting "
                 "this one in it\n",
                 db.string());
      record_experiment(*store, x);
    } else if (*stored != x.resolved) {
      throw InputError(
          fmt::format("the experiment differs from the one stored in '{}' ({}); start a new run "
                      "with another --out",
                      db.string(), first_difference(*stored, x.resolved)));
    }
  }
  // Every plugin the experiment uses, with its version and library.
  std::vector<PluginRecord> plugins;
  std::set<std::pair<int, std::string>> seen;
  auto note = [&](Kind kind, const std::string& name) {
    if (!seen.insert({int(kind), name}).second) return;
    const Registration& r = registry.find(kind, name);
    plugins.push_back(
        PluginRecord{std::string(kind_name(kind)), name, r.plugin, r.plugin_version, r.library});
  };
  for (const auto& s : x.spaces) note(Kind::space, s.plugin.name);
  for (const auto& s : x.stages) note(Kind::strategy, s.strategy.name);
  if (x.dataset) note(Kind::dataset, x.dataset->name);
  if (x.device) note(Kind::device, x.device->name);
  for (const auto& f : x.formats) note(Kind::format, f.name);
  store->set_plugins(plugins);

  // The dataset every training of the run uses; its split seed comes from the experiment's.
  DatasetSpec dataset;
  if (x.dataset) {
    dataset.name = x.dataset->name;
    dataset.parameters = x.dataset->parameters;
  }
  dataset.seed = dataset_split_seed(x.seed);
  // The training service starts (and LibTorch loads) only when a stage asks for it.
  std::unique_ptr<TrainingService> training;
  auto training_service = [&]() -> TrainingService& {
    if (!training)
      training = torch_engine().local_scheduler(registry, options.jobs, options.torch_threads);
    return *training;
  };

  // The experiment's number formats, built once for every stage.
  std::vector<std::unique_ptr<NumberFormat>> made_formats;
  std::vector<FormatEntry> formats;
  for (const auto& f : x.formats) {
    made_formats.push_back(create_format(registry, f.name, f.parameters));
    formats.push_back(FormatEntry{made_formats.back()->name(),
                                  format_key(registry, f.name, f.parameters),
                                  made_formats.back().get(), FormatText{f.name, f.parameters}});
  }

  const auto session = store->begin_session(options.resume);
  std::vector<SpaceEntry> spaces;
  for (const auto& s : x.spaces)
    spaces.push_back(SpaceEntry{s.name, s.plugin.name, s.space.get(), s.laws, s.key});
  try {
    for (std::size_t index = 0; index < x.stages.size(); ++index) {
      const ExperimentStage& stage = x.stages[index];
      const auto strategy = registry.make<Strategy>(stage.strategy.name,
                                                    stage.strategy.parameters,
                                                    stage.strategy.where);
      Context ctx(stage.name, stage.strategy.name, content_seed(fmt::format("{}|stage|{}", x.seed, stage.name)),
                  options.threads, spaces, x.constraints, *store, report.out, registry, dataset,
                  formats, training_service, x.device_object.get(), stage_plan(x, index));
      const auto t0 = std::chrono::steady_clock::now();
      StageReport sr{stage.name, stage.strategy.name, "{}", 0};
      try {
        strategy->run(ctx);
      } catch (...) {
        sr.summary = ctx.summary();
        sr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        report.stages.push_back(sr);
        throw;
      }
      sr.summary = ctx.summary();
      sr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      report.stages.push_back(sr);
      store->set_meta("stage." + stage.name, sr.summary);
    }
  } catch (...) {
    store->end_session(session, "failed");
    store->set_meta("status", "failed");
    throw;
  }
  store->end_session(session, "finished");
  store->set_meta("status", "finished");
  store->set_meta("finished_at", utc_iso());
  return report;
}

}  // namespace narrow
