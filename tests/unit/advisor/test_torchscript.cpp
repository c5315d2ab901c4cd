// `twin models import`: TorchScript modules made here with LibTorch (as PyTorch's
// torch.jit.save would), imported into a registry beside a trained surrogate, loaded only after
// their sha256 matches, and refused with a reason when their outputs have the wrong shape.
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>

#include "advisor/model.hpp"
#include "decision/features.hpp"
#include "io/model_registry.hpp"
#include "train/train.hpp"
#include "twin/error.hpp"

namespace {

namespace fs = std::filesystem;

twin::Config tiny() {
  twin::Config c = twin::load_config(std::string(TWIN_SOURCE_DIR) + "/tests/data/small_plate.yaml");
  c.advisor = twin::AdvisorConfig{};
  c.training.control_sequences = 1;
  c.training.members_per_solver = 2;
  c.training.segments = 2;
  c.training.warmup_cycles = 1;
  c.training.lead_cycles = {1, 2};
  c.training.epochs = 5;
  c.training.ensemble = 2;
  c.training.hidden = {8};
  return c;
}

fs::path scratch() {
  static const fs::path p = fs::temp_directory_path() / ("twin_test_torchscript_" + std::to_string(::getpid()));
  return p;
}

// A fresh registry with a trained surrogate v1 (its statistics serve the imports).
std::string registry_with_surrogate(const std::string& name) {
  const std::string dir = (scratch() / name).string();
  fs::remove_all(dir);
  twin::detail::TrainOptions o;
  o.registry = dir;
  o.only = "surrogate";
  o.progress = false;
  twin::detail::train_models(tiny(), MPI_COMM_SELF, o);
  return dir;
}

// Saves a module whose forward is `body` (TorchScript source) and returns its path.
std::string module_file(const std::string& name, const std::string& body) {
  torch::jit::Module m("twin_test_" + name);
  m.define("def forward(self, x):\n    " + body + "\n");
  fs::create_directories(scratch());
  const std::string path = (scratch() / (name + ".pt")).string();
  m.save(path);
  return path;
}

twin::detail::ImportOptions options(const std::string& registry, const std::string& file) {
  twin::detail::ImportOptions o;
  o.registry = registry;
  o.file = file;
  o.name = "surrogate";
  return o;
}

TEST(TorchScript, ImportedModuleAnswersAndWaitsForPromotion) {
  const twin::Config c = tiny();
  const int outputs = static_cast<int>(twin::detail::surrogate_layout(c).outputs.size());
  const std::string reg = registry_with_surrogate("import_ok");
  const std::string file = module_file("half", "return x[:, 0:1].repeat(1, " + std::to_string(outputs) + ") * 0.0 + 0.5");
  const int v = twin::detail::import_torchscript(c, options(reg, file));
  EXPECT_EQ(v, 2);
  twin::io::ModelRegistry r(reg);
  EXPECT_EQ(r.active("surrogate"), 1);  // imported, not yet trusted
  const twin::advisor::ModelPackage p = twin::io::read_model(r.path("surrogate", 2));
  EXPECT_EQ(p.kind, twin::advisor::kind_torchscript);
  EXPECT_EQ(p.ensemble, 1);
  EXPECT_EQ(p.lineage.parent_version, 1);
  EXPECT_EQ(p.attributes.at("statistics_from"), "surrogate v1");
  const twin::advisor::Model model(p);
  std::vector<double> mean, sd;
  model.predict_moments(p.training.mean.data(), 1, mean, sd);
  ASSERT_EQ(static_cast<int>(mean.size()), outputs);
  for (double m : mean) EXPECT_FLOAT_EQ(m, 0.5);
  r.promote("surrogate", 2);
  EXPECT_EQ(r.active("surrogate"), 2);
}

TEST(TorchScript, MembersFollowFromTheOutputShape) {
  const twin::Config c = tiny();
  const int outputs = static_cast<int>(twin::detail::surrogate_layout(c).outputs.size());
  const std::string reg = registry_with_surrogate("import_members");
  const std::string file =
      module_file("three", "y = x[:, 0:1].repeat(1, " + std::to_string(outputs) + ") * 0.0\n    return torch.stack([y, y + 1.0, y + 2.0])");
  auto o = options(reg, file);
  o.activate = true;
  EXPECT_EQ(twin::detail::import_torchscript(c, o), 2);
  twin::io::ModelRegistry r(reg);
  EXPECT_EQ(r.active("surrogate"), 2);
  const twin::advisor::Model model(twin::io::read_model(r.path("surrogate", 2)));
  EXPECT_EQ(model.members(), 3);
  std::vector<double> mean, sd;
  model.predict_moments(model.package().training.mean.data(), 1, mean, sd);
  EXPECT_FLOAT_EQ(mean[0], 1.0);
  EXPECT_FLOAT_EQ(sd[0], 1.0);
}

TEST(TorchScript, WrongShapesNonFiniteOutputsAndMissingStatisticsAreRefused) {
  const twin::Config c = tiny();
  const int outputs = static_cast<int>(twin::detail::surrogate_layout(c).outputs.size());
  const std::string reg = registry_with_surrogate("import_bad");
  const std::string narrow = module_file("narrow", "return x[:, 0:3]");
  try {
    twin::detail::import_torchscript(c, options(reg, narrow));
    ADD_FAILURE() << "a module with 3 outputs was imported";
  } catch (const twin::Error& e) {
    EXPECT_NE(std::string(e.what()).find("forward returned shape"), std::string::npos) << e.what();
  }
  const std::string nan = module_file("nan", "return x[:, 0:1].repeat(1, " + std::to_string(outputs) + ") * float('nan')");
  EXPECT_THROW(twin::detail::import_torchscript(c, options(reg, nan)), twin::DataError);
  twin::io::ModelRegistry r(reg);
  EXPECT_EQ(r.list().size(), 1u);  // nothing was added
  auto o = options(reg, narrow);
  o.statistics_from = "anomaly";  // none in this registry
  EXPECT_THROW(twin::detail::import_torchscript(c, o), twin::DataError);
  o = options(reg, (scratch() / "no_such.pt").string());
  EXPECT_THROW(twin::detail::import_torchscript(c, o), twin::DataError);
}

TEST(TorchScript, AFlippedByteIsCaughtBeforeLibTorchSeesIt) {
  const twin::Config c = tiny();
  const int outputs = static_cast<int>(twin::detail::surrogate_layout(c).outputs.size());
  const std::string reg = registry_with_surrogate("import_flip");
  const std::string file = module_file("flip", "return x[:, 0:1].repeat(1, " + std::to_string(outputs) + ") * 0.0 + 0.25");
  twin::detail::import_torchscript(c, options(reg, file));
  twin::io::ModelRegistry r(reg);
  twin::advisor::ModelPackage p = twin::io::read_model(r.path("surrogate", 2));
  p.script[p.script.size() / 2] ^= 0x01;
  try {
    const twin::advisor::Model m(p);
    ADD_FAILURE() << "a modified TorchScript module was loaded";
  } catch (const twin::AdvisorError& e) {
    EXPECT_NE(std::string(e.what()).find("sha256 mismatch"), std::string::npos) << e.what();
  }
}

// A module that segfaults LibTorch 1.13's loader (tests/data/make_hostile_torchscript.py): the
// crash happens in the probe process, the import is refused as bad input, and this process, which
// would have died of it, goes on and can still import a good module.
TEST(TorchScript, AModuleThatCrashesLibTorchIsRefusedNotFatal) {
  const twin::Config c = tiny();
  const int outputs = static_cast<int>(twin::detail::surrogate_layout(c).outputs.size());
  const std::string reg = registry_with_surrogate("import_crash");
  const std::string hostile = std::string(TWIN_SOURCE_DIR) + "/tests/data/torchscript_tuple1_crash.pt";
  try {
    twin::detail::import_torchscript(c, options(reg, hostile));
    ADD_FAILURE() << "a module that crashes LibTorch was imported";
  } catch (const twin::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("crashes LibTorch when loaded or run (signal 11"), std::string::npos) << e.what();
  }
  twin::io::ModelRegistry r(reg);
  EXPECT_EQ(r.active("surrogate"), 1);
  const std::string good = module_file("after_crash", "return x[:, 0:1].repeat(1, " + std::to_string(outputs) + ") * 0.0 + 0.25");
  EXPECT_EQ(twin::detail::import_torchscript(c, options(reg, good)), 2);
}

}  // namespace
