#include "run/runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/utc_time.hpp"
#include "narrow/config.hpp"
#include "narrow/hash.hpp"
#include "narrow/output_file.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "narrow/training.hpp"
#include "run/run_stages.hpp"
#include "run/runs.hpp"
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

void test_kill_point(std::string_view point) {
  const char* at = std::getenv("NARROW_TEST_KILL_AT");
  if (at && point == at) ::kill(::getpid(), SIGKILL);
}

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
  if (x.ablation.size() + x.seeds.size() > 1)
    fmt::print(stderr, "{} run{}: {} seed{} × (the experiment{})\n",
               x.seeds.size() * (1 + x.ablation.size()),
               x.seeds.size() * (1 + x.ablation.size()) == 1 ? "" : "s", x.seeds.size(),
               x.seeds.size() == 1 ? "" : "s",
               x.ablation.empty() ? std::string()
                                  : fmt::format(" and {} variant{}", x.ablation.size(),
                                                x.ablation.size() == 1 ? "" : "s"));
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
  // Every plugin the experiment and its variants use, with its version and library.
  std::vector<PluginRecord> plugins;
  std::set<std::pair<int, std::string>> seen;
  auto note = [&](Kind kind, const std::string& name) {
    if (!seen.insert({int(kind), name}).second) return;
    const Registration& r = registry.find(kind, name);
    plugins.push_back(
        PluginRecord{std::string(kind_name(kind)), name, r.plugin, r.plugin_version, r.library});
  };
  auto note_all = [&](const Experiment& e) {
    for (const auto& s : e.spaces) note(Kind::space, s.plugin.name);
    for (const auto& s : e.stages) note(Kind::strategy, s.strategy.name);
    if (e.dataset) note(Kind::dataset, e.dataset->name);
    if (e.device) note(Kind::device, e.device->name);
    for (const auto& f : e.formats) note(Kind::format, f.name);
  };
  note_all(x);
  for (const auto& v : x.ablation) note_all(*v.experiment);
  store->set_plugins(plugins);

  // Stored runs of an earlier session must be the runs of this file.
  std::map<std::string, std::string> stored;
  for (const StoredRun& r : stored_runs(*store)) stored[r.id] = r.experiment;

  // The training service starts (and LibTorch loads) only when a stage asks for it; every run
  // shares it.
  std::unique_ptr<TrainingService> training;
  auto training_service = [&]() -> TrainingService& {
    if (!training)
      training = torch_engine().local_scheduler(registry, options.jobs, options.torch_threads);
    return *training;
  };

  // Every seed runs the experiment as written, then each variant.
  std::vector<RunPlan> plan;
  for (const std::uint64_t seed : x.seeds) {
    plan.push_back(RunPlan{run_id("base", seed, x.seed), "base", seed, &x});
    for (const auto& v : x.ablation)
      plan.push_back(RunPlan{run_id(v.name, seed, x.seed), v.name, seed, v.experiment.get()});
  }
  for (const RunPlan& p : plan)
    if (auto it = stored.find(p.id); it != stored.end() && !it->second.empty() &&
                                      it->second != p.experiment->resolved)
      throw InputError(fmt::format(
          "run '{}' in '{}' was made by another experiment ({}); start a new run with another "
          "--out",
          p.id, db.string(), first_difference(it->second, p.experiment->resolved)));

  const auto session = store->begin_session(options.resume);
  try {
    for (std::size_t i = 0; i < plan.size(); ++i) {
      if (plan.size() > 1)
        fmt::print(stderr, "run {}/{}: {} at seed {}\n", i + 1, plan.size(),
                   plan[i].variant == "base" ? std::string("the experiment")
                                             : "variant " + plan[i].variant,
                   plan[i].seed);
      report.runs.push_back(run_stages(plan[i], *store, registry, report.out, options,
                                       training_service));
    }
  } catch (...) {
    store->end_session(session, "failed");
    store->set_meta("status", "failed");
    throw;
  }
  for (const auto& r : report.runs)
    if (r.id.empty()) report.stages = r.stages;
  if (report.stages.empty() && !report.runs.empty()) report.stages = report.runs.front().stages;
  store->end_session(session, "finished");
  store->set_meta("status", "finished");
  store->set_meta("finished_at", utc_iso());
  return report;
}

}  // namespace narrow
