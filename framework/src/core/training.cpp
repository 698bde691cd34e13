#include "narrow/training.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/registry.hpp"
#include "narrow/unit_key.hpp"

namespace narrow {

using nlohmann::json;

TrainingService::~TrainingService() = default;

ParamSchema TrainingConfig::schema() {
  const TrainingConfig d;
  return {
      ParamSpec::integer("epochs", d.epochs, 0, 10000, "passes over the training set"),
      ParamSpec::integer("iterations", d.iterations, 0, 100000000,
                         "stop after this many batches (a partial 'traction' training); 0: "
                         "train for 'epochs'"),
      ParamSpec::integer("batch_size", d.batch_size, 1, 65536, "images per batch"),
      ParamSpec::real("learning_rate", d.learning_rate, 0, 1e6, "initial SGD learning rate"),
      ParamSpec::real("momentum", d.momentum, 0, 0.999, "SGD momentum"),
      ParamSpec::boolean("nesterov", d.nesterov, "Nesterov momentum"),
      ParamSpec::real("weight_decay", d.weight_decay, 0, 1, "L2 weight decay"),
      ParamSpec::choice("schedule", d.schedule, {"cosine", "step", "constant"},
                        "learning-rate schedule: cosine annealing to 0, steps of 'gamma', or none"),
      ParamSpec::integer("step_epochs", d.step_epochs, 1, 10000,
                         "step schedule: epochs between two steps"),
      ParamSpec::real("gamma", d.gamma, 0, 1, "step schedule: factor per step"),
      ParamSpec::real("label_smoothing", d.label_smoothing, 0, 0.99,
                      "share of the target mass spread over all classes"),
  };
}

TrainingConfig TrainingConfig::from(const Parameters& p) {
  TrainingConfig c;
  c.epochs = p.integer("epochs");
  c.iterations = p.integer("iterations");
  c.batch_size = p.integer("batch_size");
  c.learning_rate = p.real("learning_rate");
  c.momentum = p.real("momentum");
  c.nesterov = p.boolean("nesterov");
  c.weight_decay = p.real("weight_decay");
  c.schedule = p.string("schedule");
  c.step_epochs = p.integer("step_epochs");
  c.gamma = p.real("gamma");
  c.label_smoothing = p.real("label_smoothing");
  if (c.epochs == 0 && c.iterations == 0)
    throw InputError("training needs 'epochs' > 0 or 'iterations' > 0");
  return c;
}

json TrainingConfig::to_json() const {
  return json{{"epochs", epochs},
              {"iterations", iterations},
              {"batch_size", batch_size},
              {"learning_rate", learning_rate},
              {"momentum", momentum},
              {"nesterov", nesterov},
              {"weight_decay", weight_decay},
              {"schedule", schedule},
              {"step_epochs", step_epochs},
              {"gamma", gamma},
              {"label_smoothing", label_smoothing}};
}

TrainingConfig TrainingConfig::from_json(const json& j) {
  TrainingConfig c;
  c.epochs = j.at("epochs").get<std::int64_t>();
  c.iterations = j.at("iterations").get<std::int64_t>();
  c.batch_size = j.at("batch_size").get<std::int64_t>();
  c.learning_rate = j.at("learning_rate").get<double>();
  c.momentum = j.at("momentum").get<double>();
  c.nesterov = j.at("nesterov").get<bool>();
  c.weight_decay = j.at("weight_decay").get<double>();
  c.schedule = j.at("schedule").get<std::string>();
  c.step_epochs = j.at("step_epochs").get<std::int64_t>();
  c.gamma = j.at("gamma").get<double>();
  c.label_smoothing = j.at("label_smoothing").get<double>();
  return c;
}

void TrainJob::make_key(const Registry& registry) {
  // Threads and whether weights are kept do not change what is trained, so they stay out.
  const json what{{"architecture", architecture_hash},
                  {"dataset", dataset.key(registry)},
                  {"training", config.to_json()},
                  {"seed", std::to_string(seed)}};
  json extended = what;
  if (!init_weights.empty()) extended["init_weights"] = content_hash(init_weights);
  if (search) extended["search"] = search->to_json();
  key = content_key(kind() == "train" ? "train" : kind(), extended);
}

json TrainJob::to_json() const {
  json j{{"key", key},
              {"architecture_hash", architecture_hash},
              {"architecture", architecture_json},
              {"dataset", dataset.to_json()},
              {"training", config.to_json()},
              {"seed", std::to_string(seed)},
              {"threads", threads},
              {"keep_weights", keep_weights}};
  if (search) j["search"] = search->to_json();
  if (!init_weights.empty()) j["init_weights"] = content_hash(init_weights);
  return j;
}

TrainJob TrainJob::from_json(const json& j) {
  TrainJob t;
  t.key = j.at("key").get<std::string>();
  t.architecture_hash = j.at("architecture_hash").get<std::string>();
  t.architecture_json = j.at("architecture").get<std::string>();
  t.dataset = DatasetSpec::from_json(j.at("dataset"));
  t.config = TrainingConfig::from_json(j.at("training"));
  t.seed = std::stoull(j.at("seed").get<std::string>());
  t.threads = j.at("threads").get<int>();
  t.keep_weights = j.at("keep_weights").get<bool>();
  if (j.contains("search")) t.search = ChannelSearch::from_json(j.at("search"));
  return t;
}

json Evaluation::to_json() const {
  return json{{"count", count}, {"loss", loss}, {"accuracy", accuracy}, {"confusion", confusion}};
}

Evaluation Evaluation::from_json(const json& j) {
  Evaluation e;
  e.count = j.at("count").get<std::int64_t>();
  e.loss = j.at("loss").get<double>();
  e.accuracy = j.at("accuracy").get<double>();
  e.confusion = j.at("confusion").get<std::vector<std::vector<std::int64_t>>>();
  return e;
}

json json_number(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

namespace {

double number(const json& j) {
  return j.is_null() ? std::nan("") : j.get<double>();
}

}  // namespace

json TrainResult::to_json() const {
  json h = json::array();
  for (const auto& e : history)
    h.push_back(json{{"epoch", e.epoch},
                     {"learning_rate", e.learning_rate},
                     {"train_loss", json_number(e.train_loss)},
                     {"train_accuracy", e.train_accuracy},
                     {"val_loss", json_number(e.val_loss)},
                     {"val_accuracy", e.val_accuracy},
                     {"seconds", e.seconds}});
  json v = validation.to_json(), t = test.to_json();
  v["loss"] = json_number(validation.loss);
  t["loss"] = json_number(test.loss);
  json j{{"key", key},
              {"architecture_hash", architecture_hash},
              {"status", status},
              {"reason", reason},
              {"epochs", epochs},
              {"iterations", iterations},
              {"parameters", parameters},
              {"history", h},
              {"validation", v},
              {"test", t},
              {"seconds", seconds},
              {"images_per_second", images_per_second},
              {"threads", threads}};
  if (!architecture_json.empty()) j["architecture"] = architecture_json;
  if (!details.empty()) j["details"] = json::parse(details);
  return j;
}

TrainResult TrainResult::from_json(const json& j) {
  TrainResult r;
  r.key = j.at("key").get<std::string>();
  r.architecture_hash = j.at("architecture_hash").get<std::string>();
  r.status = j.at("status").get<std::string>();
  r.reason = j.at("reason").get<std::string>();
  r.epochs = j.at("epochs").get<std::int64_t>();
  r.iterations = j.at("iterations").get<std::int64_t>();
  r.parameters = j.at("parameters").get<std::int64_t>();
  for (const auto& e : j.at("history"))
    r.history.push_back(EpochRecord{e.at("epoch").get<std::int64_t>(),
                                    e.at("learning_rate").get<double>(),
                                    number(e.at("train_loss")), e.at("train_accuracy").get<double>(),
                                    number(e.at("val_loss")), e.at("val_accuracy").get<double>(),
                                    e.at("seconds").get<double>()});
  auto eval = [](const json& x) {
    json y = x;
    const double loss = number(x.at("loss"));
    y["loss"] = 0.0;
    Evaluation e = Evaluation::from_json(y);
    e.loss = loss;
    return e;
  };
  r.validation = eval(j.at("validation"));
  r.test = eval(j.at("test"));
  r.seconds = j.at("seconds").get<double>();
  r.images_per_second = j.at("images_per_second").get<double>();
  r.threads = j.at("threads").get<int>();
  if (j.contains("architecture")) r.architecture_json = j.at("architecture").get<std::string>();
  if (j.contains("details")) r.details = j.at("details").dump();
  return r;
}

json PrecisionResult::to_json() const {
  json e = evaluation.to_json();
  e["loss"] = json_number(evaluation.loss);
  return json{{"format", format},           {"bits", bits},
              {"parameters", parameters},   {"weight_bytes", weight_bytes},
              {"evaluation", std::move(e)}, {"seconds", seconds}};
}

PrecisionResult PrecisionResult::from_json(const json& j) {
  PrecisionResult r;
  r.format = j.at("format").get<std::string>();
  r.bits = j.at("bits").get<int>();
  r.parameters = j.at("parameters").get<std::int64_t>();
  r.weight_bytes = j.at("weight_bytes").get<std::int64_t>();
  json e = j.at("evaluation");
  const double loss = number(e.at("loss"));
  e["loss"] = 0.0;
  r.evaluation = Evaluation::from_json(e);
  r.evaluation.loss = loss;
  r.seconds = j.at("seconds").get<double>();
  return r;
}

bool ranks_before(const TrainResult& a, const TrainResult& b) {
  const bool a_ok = a.status == "ok", b_ok = b.status == "ok";
  if (a_ok != b_ok) return a_ok;
  if (a.validation.accuracy != b.validation.accuracy)
    return a.validation.accuracy > b.validation.accuracy;
  return a.key < b.key;
}

const TrainResult* best_training(const std::vector<TrainResult>& trainings) {
  const TrainResult* best = nullptr;
  for (const auto& t : trainings)
    if (t.status == "ok" && (!best || ranks_before(t, *best))) best = &t;
  return best;
}

void check_fits(const Architecture& arch, const PreparedData& data) {
  const Shape images{data.train.channels, data.train.height, data.train.width};
  if (!(arch.input() == images))
    throw InputError(fmt::format(
        "architecture {} takes input {} but the images of dataset '{}' are {}; set the space's "
        "input to match",
        arch.hash().substr(0, 12), arch.input().to_string(), data.name, images.to_string()));
  if (arch.classes() != data.classes)
    throw InputError(fmt::format(
        "architecture {} has {} classes but dataset '{}' has {}; set the space's classes to match",
        arch.hash().substr(0, 12), arch.classes(), data.name, data.classes));
}

}  // namespace narrow
